"""Reads of ``otp`` for views, admin and the security centre. Never a seed, a code or a card number."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from bankportal.qr import qr_data_uri, qr_svg, qr_terminal
from otp.additionalauth import verification_usable
from otp.models import AdditionalAuthChallenge, OtpRegistration, OtpToken, SecurityCard
from otp.totp import mask_serial

__all__ = [
    "PhoneCheck",
    "SecurityMedium",
    "customer_phone_check",
    "customer_active_otp",
    "customer_has_active_otp",
    "customer_otp_accident_reported",
    "customer_security_media",
    "qr_data_uri",
    "qr_svg",
    "qr_terminal",
]


@dataclass(frozen=True)
class SecurityMedium:
    """One line of "my security media": what it is, its masked serial, and its state."""

    medium: str  # "otp" or "security_card"
    kind: str  # OtpToken.Kind value, or "security_card"
    kind_label: Promise | str
    serial_masked: str
    status: str
    status_label: Promise | str
    registered_at: Any
    issuer: str = ""
    usable: bool = False


def customer_active_otp(customer_id: int) -> OtpRegistration | None:
    """The customer's active, usable OTP registration here (the token neither locked nor reported lost)."""
    return (
        OtpRegistration.objects.filter(
            customer_id=customer_id, status=OtpRegistration.Status.ACTIVE, token__status=OtpToken.Status.ACTIVE
        )
        .select_related("token")
        .first()
    )


def customer_has_active_otp(customer_id: int) -> bool:
    """Whether the customer holds a usable OTP (the security tier: safe / corporate safe)."""
    return customer_active_otp(customer_id) is not None


def customer_otp_accident_reported(customer_id: int) -> bool:
    """Whether the customer's current OTP here (the latest past enrollment) is reported lost."""
    latest = (
        OtpRegistration.objects.filter(customer_id=customer_id)
        .exclude(status=OtpRegistration.Status.PENDING)
        .order_by("-registered_at", "-pk")
        .values_list("status", flat=True)
        .first()
    )
    return latest == OtpRegistration.Status.ACCIDENT_REPORTED


def _otp_status(registration: OtpRegistration) -> tuple[str, Promise | str]:
    # A locked token is the token's state (shared by every institution); otherwise the registration's.
    if registration.status == OtpRegistration.Status.ACTIVE and registration.token.status == OtpToken.Status.LOCKED:
        return OtpToken.Status.LOCKED.value, OtpToken.Status.LOCKED.label
    return registration.status, registration.get_status_display()


def customer_security_media(customer: Any, *, include_ended: bool = False) -> list[SecurityMedium]:
    """The customer's OTPs registered here and security cards, newest first, for the security centre.

    Active, locked and accident-reported media by default; ``include_ended`` adds retired ones.
    """
    registrations = OtpRegistration.objects.filter(customer_id=customer.pk).select_related("token")
    if not include_ended:
        registrations = registrations.exclude(
            status__in=[OtpRegistration.Status.RETIRED, OtpRegistration.Status.PENDING]
        )
    media: list[SecurityMedium] = []
    for registration in registrations.order_by("-registered_at", "-pk"):
        status, label = _otp_status(registration)
        media.append(
            SecurityMedium(
                medium="otp",
                kind=registration.token.kind,
                kind_label=registration.token.get_kind_display(),
                serial_masked=registration.token.serial_masked,
                status=status,
                status_label=label,
                registered_at=registration.registered_at,
                issuer=registration.token.issuer,
                usable=status == OtpRegistration.Status.ACTIVE,
            )
        )
    cards = SecurityCard.objects.filter(customer_id=customer.pk)
    if not include_ended:
        cards = cards.filter(status__in=SecurityCard.LIVE_STATUSES)
    for card in cards.order_by("-issued_at", "-pk"):
        media.append(
            SecurityMedium(
                medium="security_card",
                kind="security_card",
                kind_label=_("Security card"),
                serial_masked=mask_serial(card.serial),
                status=card.status,
                status_label=card.get_status_display(),
                registered_at=card.issued_at,
                usable=card.status == SecurityCard.Status.ACTIVE,
            )
        )
    return media


def customer_live_security_card(customer_id: int) -> SecurityCard | None:
    """The customer's card that is not retired (active or locked), if any."""
    return (
        SecurityCard.objects.filter(customer_id=customer_id, status__in=SecurityCard.LIVE_STATUSES)
        .order_by("-issued_at", "-pk")
        .first()
    )


def customer_has_locked_otp(customer_id: int) -> bool:
    """Whether the customer's active registration here is on a token locked by too many errors."""
    return OtpRegistration.objects.filter(
        customer_id=customer_id, status=OtpRegistration.Status.ACTIVE, token__status=OtpToken.Status.LOCKED
    ).exists()


@dataclass(frozen=True)
class PhoneCheck:
    """Where a customer is in a phone check (추가인증) for one purpose: a code waiting, or a
    verification still usable (``otp.additionalauth.verification_usable``). For display only."""

    code_sent: bool
    verified: bool
    channel: str = ""


def customer_phone_check(customer_id: int, purpose: str, *, now: Any) -> PhoneCheck:
    State = AdditionalAuthChallenge.State
    latest = (
        AdditionalAuthChallenge.objects.filter(customer_id=customer_id, purpose=purpose)
        .filter(state__in=[State.PENDING, State.VERIFIED])
        .order_by("-created_at", "-pk")
        .first()
    )
    verified = (
        AdditionalAuthChallenge.objects.filter(customer_id=customer_id, purpose=purpose, state=State.VERIFIED)
        .order_by("-verified_at", "-pk")
        .first()
    )
    return PhoneCheck(
        code_sent=latest is not None and latest.state == State.PENDING,
        verified=verified is not None
        and verified.verified_at is not None
        and verification_usable(verified.verified_at, now),
        channel=latest.channel if latest is not None else "",
    )
