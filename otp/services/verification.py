"""One way for the rest of the portal to check "the customer's security medium" (보안매체).

Transfers, certificate issue, limit raises and suspension releases call only this module:
``security_medium_challenge`` says what to ask for (an OTP code, or two security-card numbers),
``security_medium_verify`` checks the answer and returns a clear refusal. ``security_tier`` gives
the tier the transfer limits follow (domain.md, "Transfer limits by security tier").

The medium is the strongest usable one: an active OTP here (safe tier), else an active security
card (general tier). A lost or locked OTP therefore falls back to the card, as the tier does.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.limits import Tier
from accounts.models import Customer
from accounts.services._common import Actor
from bankportal.audit.services import audit_record
from otp.selectors import (
    customer_active_otp,
    customer_has_locked_otp,
    customer_live_security_card,
    customer_otp_accident_reported,
)
from otp.services.cards import (
    ANTI_PHISHING_NOTICE,
    SecurityCardRefusal,
    SecurityCardUnavailable,
    security_card_challenge,
    security_card_verify,
)
from otp.services.tokens import OtpResult, otp_verify


class Purpose(models.TextChoices):
    TRANSFER = "transfer", _("Transfer")
    CERTIFICATE_ISSUE = "certificate_issue", _("Certificate issue")
    LIMIT_RAISE = "limit_raise", _("Raising a transfer limit")
    SUSPENSION_RELEASE = "suspension_release", _("Releasing a suspension")
    AGREEMENT_REGISTRATION = "agreement_registration", _("Internet banking registration")


class Medium(enum.Enum):
    OTP = "otp"
    SECURITY_CARD = "security_card"


class Refusal(enum.Enum):
    WRONG = "wrong"
    LOCKED = "locked"
    EXPIRED_CHALLENGE = "expired_challenge"
    NO_MEDIUM = "no_medium"
    ACCIDENT_REPORTED = "accident_reported"
    REPLAYED = "replayed"


REFUSAL_MESSAGES = {
    Refusal.WRONG: _("The security medium's number is not correct."),
    Refusal.LOCKED: _(
        "Your security medium is locked after too many wrong entries. Visit a branch with your ID to unlock it."
    ),
    Refusal.EXPIRED_CHALLENGE: _("The security card numbers asked for have expired. Enter the new ones shown."),
    Refusal.NO_MEDIUM: _("You have no security medium registered. Visit a branch for a security card or an OTP."),
    Refusal.ACCIDENT_REPORTED: _(
        "Your OTP was reported lost. Visit a branch to register a replacement, or use your security card."
    ),
    Refusal.REPLAYED: _("This OTP number was already used. Wait for the next number and enter it."),
}

_FROM_OTP = {
    OtpResult.WRONG: Refusal.WRONG,
    OtpResult.LOCKED: Refusal.LOCKED,
    OtpResult.REPLAYED: Refusal.REPLAYED,
    OtpResult.ACCIDENT_REPORTED: Refusal.ACCIDENT_REPORTED,
    OtpResult.NO_DEVICE: Refusal.NO_MEDIUM,
}
_FROM_CARD = {
    SecurityCardRefusal.WRONG: Refusal.WRONG,
    SecurityCardRefusal.LOCKED: Refusal.LOCKED,
    SecurityCardRefusal.EXPIRED_CHALLENGE: Refusal.EXPIRED_CHALLENGE,
    SecurityCardRefusal.NO_CHALLENGE: Refusal.EXPIRED_CHALLENGE,
    SecurityCardRefusal.RETIRED: Refusal.NO_MEDIUM,
}


class SecurityMediumRefused(ValidationError):
    """No usable medium to challenge: ``refusal`` says why (no medium, locked, reported lost)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(REFUSAL_MESSAGES[refusal], code=f"security_medium_{refusal.value}")
        self.refusal = refusal


@dataclass(frozen=True)
class MediumChallenge:
    """What to ask the customer for. For a card: the two code numbers; for an OTP: the 6 digits shown."""

    medium: Medium
    purpose: str
    card_first: int | None = None
    card_second: int | None = None
    expires_at: dt.datetime | None = None
    notice: Any = ANTI_PHISHING_NOTICE


@dataclass(frozen=True)
class MediumResult:
    ok: bool
    medium: Medium | None
    refusal: Refusal | None = None
    tries_left: int = 0

    @property
    def message(self) -> str:
        return str(REFUSAL_MESSAGES[self.refusal]) if self.refusal else ""


def security_tier(customer: Customer) -> Tier:
    """Safe with a usable OTP, general with an active security card, otherwise none.

    Corporate customers with an OTP are in the corporate safe tier: the same ``Tier.SAFE``, which
    ``accounts.limits.maximum_limit(corporate=True, ...)`` turns into the corporate maxima.
    """
    if customer_active_otp(customer.pk) is not None:
        return Tier.SAFE
    card = customer_live_security_card(customer.pk)
    if card is not None and card.status == card.Status.ACTIVE:
        return Tier.GENERAL
    return Tier.NONE


def _unusable_reason(customer: Customer) -> Refusal:
    card = customer_live_security_card(customer.pk)
    if customer_has_locked_otp(customer.pk) or (card is not None and card.status == card.Status.LOCKED):
        return Refusal.LOCKED
    if customer_otp_accident_reported(customer.pk):
        return Refusal.ACCIDENT_REPORTED
    return Refusal.NO_MEDIUM


def _check_purpose(purpose: str) -> None:
    if purpose not in Purpose.values:
        raise ValueError(f"unknown security-medium purpose {purpose!r}")


def security_medium_challenge(
    *, customer: Customer, purpose: str, actor: Actor, now: dt.datetime | None = None
) -> MediumChallenge:
    """What to ask for now. Raises ``SecurityMediumRefused`` when no medium can be used."""
    _check_purpose(purpose)
    if customer_active_otp(customer.pk) is not None:
        return MediumChallenge(medium=Medium.OTP, purpose=purpose)
    card = customer_live_security_card(customer.pk)
    if card is not None and card.status == card.Status.ACTIVE:
        try:
            challenge = security_card_challenge(card=card, actor=actor, now=now)
        except SecurityCardUnavailable as exc:
            raise SecurityMediumRefused(_FROM_CARD[exc.refusal]) from None
        return MediumChallenge(
            medium=Medium.SECURITY_CARD,
            purpose=purpose,
            card_first=challenge.first,
            card_second=challenge.second,
            expires_at=challenge.expires_at,
        )
    raise SecurityMediumRefused(_unusable_reason(customer))


def security_medium_verify(
    *, customer: Customer, purpose: str, answer: str, actor: Actor, now: dt.datetime | None = None
) -> MediumResult:
    """Check the customer's answer with their current medium; a wrong answer stays counted.

    Call it outside any other transaction (the medium's own check commits its failure count).
    The outcome for ``purpose`` is audited. Raises ``PermissionDenied`` for an actor who may not
    act for this customer.
    """
    _check_purpose(purpose)
    result: MediumResult
    if customer_active_otp(customer.pk) is not None:
        outcome = otp_verify(customer=customer, code=answer, actor=actor, now=now)
        result = MediumResult(
            ok=outcome.ok,
            medium=Medium.OTP,
            refusal=None if outcome.ok else _FROM_OTP.get(outcome.result, Refusal.WRONG),
            tries_left=0 if outcome.ok else outcome.errors_left,
        )
    else:
        card = customer_live_security_card(customer.pk)
        if card is not None and card.status == card.Status.ACTIVE:
            checked = security_card_verify(card=card, answer=answer, actor=actor, now=now)
            result = MediumResult(
                ok=checked.ok,
                medium=Medium.SECURITY_CARD,
                refusal=None if checked.ok or checked.refusal is None else _FROM_CARD[checked.refusal],
                tries_left=checked.tries_left,
            )
        else:
            result = MediumResult(ok=False, medium=None, refusal=_unusable_reason(customer))
    audit_record(
        action="security_medium.verified" if result.ok else "security_medium.refused",
        actor=actor,
        customer_id=customer.pk,
        details={
            "purpose": purpose,
            "medium": result.medium.value if result.medium else None,
            "refusal": result.refusal.value if result.refusal else None,
        },
    )
    return result
