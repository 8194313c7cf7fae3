"""Development only: the current staff-admin code of a (demo) staff user's authenticator."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


def current_code(device: TOTPDevice, *, now: float) -> tuple[str, int]:
    """The code the device's authenticator shows at ``now`` and the seconds it has left."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = now
    remaining = device.step - int(now - device.t0) % device.step
    return f"{totp.token():0{device.digits}d}", remaining


class Command(BaseCommand):
    help = (
        "Development only (refuses with DEBUG off): print the current 6-digit code of a staff user's "
        "authenticator, as their authenticator app would show it, for signing in to the staff admin "
        "without a phone. A code works once: if it was just used, wait for the next one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: object, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("staff_otp_code reads an authenticator's secret; refusing with DEBUG off.")
        device = TOTPDevice.objects.filter(user__username=options["username"], confirmed=True).order_by("-pk").first()
        if device is None:
            raise CommandError(
                f"{options['username']!r} has no authenticator enrolled: run seed_demo, or staff_otp_reset."
            )
        code, remaining = current_code(device, now=time.time())
        self.stdout.write(f"{code}  (valid for {remaining} more seconds; a code works once)")
