"""What the staff commands print for an authenticator: the QR code to scan, the URI and the secret."""

from __future__ import annotations

from django.core.management.base import OutputWrapper
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services.staff import staff_otpauth_uri, staff_totp_secret
from bankportal.qr import qr_terminal


def write_enrolment(stdout: OutputWrapper, device: TOTPDevice, *, qr: bool = True, indent: str = "  ") -> None:
    """Print how to add ``device`` to an authenticator app: scan the QR, or type the secret."""
    uri = staff_otpauth_uri(device)
    secret = staff_totp_secret(device)
    if qr:
        stdout.write(qr_terminal(uri), ending="")
    stdout.write(f"{indent}otpauth URI:  {uri}")
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    stdout.write(f"{indent}secret (manual entry, time-based, 6 digits, 30 s): {grouped}")
