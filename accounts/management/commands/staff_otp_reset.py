"""Re-enrol a staff member's admin authenticator (lost or replaced phone)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.management.commands.staff_create import command_context, validation_messages
from accounts.management.staff_enrolment import write_enrolment
from accounts.models import User
from accounts.services.staff import staff_otp_enrol
from bankportal.actors import system_actor
from bankportal.middleware import use_context

STAFF_OTP_RESET_ACTOR = system_actor(
    "command:staff_otp_reset", ["otp_totp.add_totpdevice", "otp_totp.delete_totpdevice"]
)


class Command(BaseCommand):
    help = (
        "Operations only: give a staff user a new authenticator for the staff admin (a lost or replaced phone, "
        "or a staff user created without one, such as by createsuperuser). Retires every authenticator they had, "
        "so sessions confirmed with the old one stop opening the admin, and prints the new enrolment QR code, "
        "otpauth URI and secret. This hands admin access to whoever holds the new code: confirm who asked, and "
        "why, before running it. Audited as staff.otp_enrol with the reason given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--reason", required=True, help="why, for the audit trail (e.g. 'lost phone, ticket OPS-123')"
        )

    def handle(self, *args: object, **options: Any) -> None:
        reason = options["reason"].strip()
        if not reason:
            raise CommandError("give a --reason for the audit trail.")
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user named {options['username']!r}.")
        with use_context(command_context("staff_otp_reset")):
            try:
                device = staff_otp_enrol(user=user, actor=STAFF_OTP_RESET_ACTOR, reason=reason[:200])
            except ValidationError as exc:
                raise CommandError(validation_messages(exc)) from None
            except PermissionDenied as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(f"New authenticator enrolled for {user.username}; any older one is retired.")
        )
        self.stdout.write("Scan this with their authenticator app (or type the secret). Show it to them only.")
        write_enrolment(self.stdout, device)
