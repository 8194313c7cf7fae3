"""Additional authentication (추가인증): a one-time code to the registered phone, by SMS or ARS call.

Certificate reissue and registering another bank's certificate ask for it (domain.md, "Joint
certificate"); those flows call ``additional_auth_start`` and then ``additional_auth_verify``.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer
from accounts.services._common import (
    Actor,
    require_customer_or_perm,
)
from bankportal.audit.services import audit_record
from bankportal.notifications.backends import ars_available
from bankportal.notifications.services import send_ars_on_commit, send_sms_on_commit
from otp import additionalauth as rules
from otp.models import AdditionalAuthChallenge

ERR_ARS_UNAVAILABLE = _("Codes by ARS call are not available at the moment. Choose a text message (SMS).")
ERR_TOO_MANY_CODES = _("Too many codes were requested. Try again in an hour, or call the customer centre.")
ERR_NO_PHONE = _("No mobile number is registered. Visit a branch to register one.")

Purpose = AdditionalAuthChallenge.Purpose
Channel = AdditionalAuthChallenge.Channel


class Refusal(enum.Enum):
    WRONG = "wrong"
    TOO_MANY_TRIES = "too_many_tries"
    EXPIRED = "expired"
    NO_CHALLENGE = "no_challenge"


REFUSAL_MESSAGES = {
    Refusal.WRONG: _("The code is not correct."),
    Refusal.TOO_MANY_TRIES: _("The code was entered wrongly 5 times. Request a new code."),
    Refusal.EXPIRED: _("The code has expired (codes are valid for 3 minutes). Request a new code."),
    Refusal.NO_CHALLENGE: _("Request a code first."),
}


@dataclass(frozen=True)
class AdditionalAuthResult:
    ok: bool
    refusal: Refusal | None = None
    tries_left: int = 0

    @property
    def message(self) -> str:
        return str(REFUSAL_MESSAGES[self.refusal]) if self.refusal else ""


def _key() -> bytes:
    # A sub-key of SECRET_KEY, which lives outside the database like the other keys.
    return hashlib.sha256(f"bankportal.additional-auth\x00{settings.SECRET_KEY}".encode()).digest()


def _require_may_act_for(actor: Any, customer: Customer) -> None:
    """The customer themselves, the bank's staff (phone centre), or a job given the right."""
    require_customer_or_perm(
        actor,
        customer.pk,
        "otp.add_additionalauthchallenge",
        refusal="this actor may not authenticate for this customer",
    )


def _message(code: str, channel: str) -> str:
    bank = settings.BANK_NAME_KO
    if channel == Channel.ARS:
        # Read out digit by digit, twice, as ARS scripts do.
        spoken = " ".join(code)
        return str(_("%(bank)s. Your verification code is %(code)s. Again: %(code)s.") % {"bank": bank, "code": spoken})
    return str(
        _("[%(bank)s] Verification code %(code)s (valid 3 minutes). Never tell it to anyone, bank staff included.")
        % {"bank": bank, "code": code}
    )


@transaction.atomic
def additional_auth_start(
    *, customer: Customer, purpose: str, channel: str, actor: Actor, now: dt.datetime | None = None
) -> AdditionalAuthChallenge:
    """Send a new 6-digit code to the customer's registered phone (SMS, or ARS call).

    A new code replaces any earlier one for the same purpose. Raises ``ValidationError`` when ARS is
    not offered, no phone is registered, or too many codes were asked for within the hour;
    ``PermissionDenied`` for an actor who may not act for this customer.
    """
    _require_may_act_for(actor, customer)
    if purpose not in Purpose.values:
        raise ValueError(f"unknown additional-authentication purpose {purpose!r}")
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    if channel == Channel.ARS and not ars_available():
        raise ValidationError(ERR_ARS_UNAVAILABLE, code="ars_unavailable")
    if not customer.phone:
        raise ValidationError(ERR_NO_PHONE, code="no_phone")
    now = now or timezone.now()
    # Lock the customer row: two requests at once must both count towards the sending brake.
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    recent = AdditionalAuthChallenge.objects.filter(
        customer=customer, purpose=purpose, created_at__gt=now - rules.SEND_WINDOW
    ).count()
    if recent >= rules.MAX_SENDS:
        raise ValidationError(ERR_TOO_MANY_CODES, code="too_many_codes")
    AdditionalAuthChallenge.objects.filter(
        customer=customer, purpose=purpose, state=AdditionalAuthChallenge.State.PENDING
    ).update(state=AdditionalAuthChallenge.State.SUPERSEDED)
    code, nonce = rules.new_code(), rules.new_nonce()
    challenge = AdditionalAuthChallenge.objects.create(
        customer=customer,
        purpose=purpose,
        channel=channel,
        nonce=nonce,
        code_mac=rules.code_mac(code, nonce=nonce, key=_key()),
        created_at=now,
        expires_at=rules.expires_at(now),
    )
    send = send_ars_on_commit if channel == Channel.ARS else send_sms_on_commit
    send(to=customer.phone, body=_message(code, channel), purpose="additional_auth")
    audit_record(
        action="additional_auth.start",
        actor=actor,
        customer_id=customer.pk,
        obj=challenge,
        details={"purpose": purpose, "channel": channel},
    )
    return challenge


def additional_auth_verify(
    *, customer: Customer, purpose: str, answer: str, actor: Actor, now: dt.datetime | None = None
) -> AdditionalAuthResult:
    """Check the code the customer typed against their latest pending challenge for ``purpose``.

    Its own transaction (call it outside any other): a wrong try counts even though the caller
    then refuses. The 5th wrong try ends the challenge; a right one consumes it. Raises
    ``PermissionDenied`` for an actor who may not act for this customer.
    """
    _require_may_act_for(actor, customer)
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the challenge: two tries at once must both be counted, and a code used only once.
        challenge = (
            AdditionalAuthChallenge.objects.select_for_update()
            .filter(customer=customer, purpose=purpose, state=AdditionalAuthChallenge.State.PENDING)
            .order_by("-created_at", "-pk")
            .first()
        )
        if challenge is None:
            return AdditionalAuthResult(ok=False, refusal=Refusal.NO_CHALLENGE)
        if rules.is_expired(challenge.expires_at, now):
            challenge.state = AdditionalAuthChallenge.State.EXPIRED
            challenge.save(update_fields=["state"])
            return AdditionalAuthResult(ok=False, refusal=Refusal.EXPIRED)
        if rules.code_matches(answer, nonce=challenge.nonce, key=_key(), mac=challenge.code_mac):
            challenge.state = AdditionalAuthChallenge.State.VERIFIED
            challenge.verified_at = now
            challenge.save(update_fields=["state", "verified_at"])
            audit_record(
                action="additional_auth.verified",
                actor=actor,
                customer_id=customer.pk,
                obj=challenge,
                details={"purpose": purpose},
            )
            return AdditionalAuthResult(ok=True)
        challenge.attempts += 1
        exhausted = rules.tries_exhausted(challenge.attempts)
        if exhausted:
            challenge.state = AdditionalAuthChallenge.State.FAILED
        challenge.save(update_fields=["attempts", "state"])
        audit_record(
            action="additional_auth.failed",
            actor=actor,
            customer_id=customer.pk,
            obj=challenge,
            details={"purpose": purpose, "attempts": challenge.attempts, "exhausted": exhausted},
        )
        if exhausted:
            return AdditionalAuthResult(ok=False, refusal=Refusal.TOO_MANY_TRIES)
        return AdditionalAuthResult(ok=False, refusal=Refusal.WRONG, tries_left=rules.MAX_TRIES - challenge.attempts)


def additional_auth_use(
    *, customer: Customer, purpose: str, actor: Actor, now: dt.datetime | None = None
) -> AdditionalAuthChallenge | None:
    """Spend the customer's latest verification for ``purpose`` on the action it allows, once.

    Usable when verified within ``rules.VERIFIED_USABLE_FOR`` and not used yet; it is then marked
    USED (audited) and returned. Returns ``None`` when there is none to use. Call it inside the
    transaction of the action, so a refused action leaves the verification unspent. Raises
    ``PermissionDenied`` for an actor who may not act for this customer.
    """
    _require_may_act_for(actor, customer)
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the verification: two requests at once must not both spend it.
        challenge = (
            AdditionalAuthChallenge.objects.select_for_update()
            .filter(customer=customer, purpose=purpose, state=AdditionalAuthChallenge.State.VERIFIED)
            .order_by("-verified_at", "-pk")
            .first()
        )
        if challenge is None or challenge.verified_at is None:
            return None
        if not rules.verification_usable(challenge.verified_at, now):
            return None
        challenge.state = AdditionalAuthChallenge.State.USED
        challenge.used_at = now
        challenge.save(update_fields=["state", "used_at"])
        audit_record(
            action="additional_auth.used",
            actor=actor,
            customer_id=customer.pk,
            obj=challenge,
            details={"purpose": purpose},
        )
        return challenge
