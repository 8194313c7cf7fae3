"""Create a teller or branch manager and enrol the authenticator that opens the staff admin."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.management.staff_enrolment import write_enrolment
from accounts.services.staff import ROLE_GROUPS, staff_create
from bankportal.actors import system_actor
from bankportal.middleware import RequestContext, use_context

STAFF_CREATE_ACTOR = system_actor("command:staff_create", ["accounts.add_user", "otp_totp.add_totpdevice"])


def validation_messages(exc: ValidationError) -> str:
    return " ".join(str(message) for message in exc.messages)


def command_context(command: str) -> RequestContext:
    """The audit context of an operations command: its name and the OS user who ran it (best effort)."""
    try:
        operator = getpass.getuser()
    except (KeyError, OSError):
        operator = "unknown"
    return RequestContext(ip=None, user_agent=f"manage.py {command}; os user {operator}"[:300], channel="command")


def read_password(options: dict[str, Any], *, stdin_is_tty: bool) -> str:
    """From ``--password-file`` (its first line), or typed twice at a prompt; never from the command line."""
    path = options.get("password_file")
    if path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise CommandError(f"cannot read the password file: {exc.strerror}") from None
        if not lines or not lines[0]:
            raise CommandError("the password file is empty: put the password on its first line.")
        return lines[0]
    if not stdin_is_tty:
        raise CommandError("no terminal to type a password in: use --password-file FILE.")
    password = getpass.getpass("Password: ")
    if password != getpass.getpass("Password (again): "):
        raise CommandError("the two passwords differ; nothing was created.")
    return password


class Command(BaseCommand):
    help = (
        "Operations only: create a staff user (teller or branch manager) in the role's group, with a confirmed "
        "authenticator (TOTP device) for the staff admin, and print its enrolment QR code, otpauth URI and secret. "
        "The staff admin asks every staff user for user name, password and the authenticator's 6-digit code. "
        "The password is typed at a prompt or read from --password-file, never given on the command line. "
        "Audited as staff.create."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, help=f"one of: {', '.join(ROLE_GROUPS)}")
        parser.add_argument("--name", default="", help="the staff member's name as shown in the admin")
        parser.add_argument("--password-file", help="read the password from the first line of this file")

    def handle(self, *args: object, **options: Any) -> None:
        role = options["role"]
        if role not in ROLE_GROUPS:
            raise CommandError(f"unknown role {role!r}: choose one of {', '.join(ROLE_GROUPS)}.")
        password = read_password(options, stdin_is_tty=sys.stdin.isatty())
        with use_context(command_context("staff_create")):
            try:
                enrolment = staff_create(
                    username=options["username"],
                    role=role,
                    password=password,
                    name=options["name"],
                    actor=STAFF_CREATE_ACTOR,
                )
            except ValidationError as exc:
                raise CommandError(validation_messages(exc)) from None
            except PermissionDenied as exc:
                raise CommandError(str(exc)) from None
        user = enrolment.user
        self.stdout.write(self.style.SUCCESS(f"Created staff user {user.username} ({ROLE_GROUPS[role]})."))
        self.stdout.write(
            "Scan this with the staff member's authenticator app (or type the secret); the staff admin asks for "
            "user name, password and the app's 6-digit code. Show it to them only: it opens the admin."
        )
        write_enrolment(self.stdout, enrolment.device)
