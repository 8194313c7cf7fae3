"""Security cards (보안카드): issue (and reissue), challenge, verify, and unlock by approved request.

Rules: ``otp.securitycard`` (pure). The 30 codes are stored as one AES-GCM ciphertext whose
associated data is the purpose and the card's serial, so a ciphertext copied onto another card
does not decrypt there. They leave the service once, in the ``IssuedSecurityCard`` returned by
``security_card_issue`` for the printed card, and are never shown again.

A locked card is unlocked only through a staff request approved by a branch manager
(``StaffRequest.Kind.SECURITY_CARD_UNLOCK``, executor registered at the end of this module); a
replacement is a reissue, which retires the old card.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer, StaffRequest
from accounts.services._approval import claim_approved_request, target_id
from accounts.services._common import (
    Actor,
    require_customer_or_perm,
    require_not_own_record,
    require_perm,
    user_or_none,
)
from accounts.services.staff_requests import staff_request_executor
from bankportal import crypto
from bankportal.audit.services import audit_record
from otp import securitycard as rules
from otp.models import SecurityCard

CODES_PURPOSE = "otp.securitycard.codes"
ISSUE_PERMISSION = "otp.add_securitycard"
UNLOCK_PERMISSION = "otp.unlock_securitycard"
VERIFY_PERMISSION = "otp.verify_securitycard"

# Shown on every challenge screen (and printed on the card).
ANTI_PHISHING_NOTICE = _(
    "The bank never asks for all the numbers on your security card. "
    "If a page or a caller asks for more than two, stop and call the bank."
)
ERR_CARD_LOCKED = _(
    "The security card is locked after 5 wrong answers. Visit a branch with your ID to unlock or replace it."
)
ERR_CARD_RETIRED = _("This security card is no longer valid. Use your newest card or visit a branch.")
ERR_NOT_LOCKED = _("The customer has no locked security card to unlock.")
ERR_LOCKED_NEEDS_APPROVAL = _(
    "This customer's security card is locked. Record a request to unlock it; once a branch manager has "
    "approved it, the card can be used again or replaced."
)
ERR_CARD_CHANGED = _("The security card changed after the request was made; record a new request.")


class SecurityCardRefusal(enum.Enum):
    WRONG = "wrong"
    LOCKED = "locked"
    EXPIRED_CHALLENGE = "expired_challenge"
    NO_CHALLENGE = "no_challenge"
    RETIRED = "retired"


REFUSAL_MESSAGES = {
    SecurityCardRefusal.WRONG: _("The security card numbers are not correct."),
    SecurityCardRefusal.LOCKED: ERR_CARD_LOCKED,
    SecurityCardRefusal.EXPIRED_CHALLENGE: _(
        "The security card request has expired (it is valid for 5 minutes). Ask for new numbers."
    ),
    SecurityCardRefusal.NO_CHALLENGE: _("Ask for the security card numbers first."),
    SecurityCardRefusal.RETIRED: ERR_CARD_RETIRED,
}


class SecurityCardUnavailable(ValidationError):
    """No challenge can be given: the card is locked or retired (``refusal`` says which)."""

    def __init__(self, refusal: SecurityCardRefusal) -> None:
        super().__init__(REFUSAL_MESSAGES[refusal], code=f"security_card_{refusal.value}")
        self.refusal = refusal


@dataclass(frozen=True)
class IssuedSecurityCard:
    """A new card and its 30 codes, for the one printed view. Never store or log ``codes``."""

    card: SecurityCard
    codes: tuple[str, ...]
    retired: SecurityCard | None = None  # the card this one replaces, if any

    def __repr__(self) -> str:  # keep the codes out of tracebacks and debug output
        return f"IssuedSecurityCard(card={self.card.pk}, retired={self.retired.pk if self.retired else None})"


@dataclass(frozen=True)
class SecurityCardChallenge:
    """The pending challenge: give the first two digits of code ``first`` and the last two of ``second``."""

    card_id: int
    serial: str
    first: int
    second: int
    expires_at: dt.datetime
    created: bool  # False when an unexpired pending challenge was handed out again
    notice: Any = ANTI_PHISHING_NOTICE


@dataclass(frozen=True)
class SecurityCardResult:
    ok: bool
    refusal: SecurityCardRefusal | None = None
    failures: int = 0
    tries_left: int = 0

    @property
    def message(self) -> str:
        return str(REFUSAL_MESSAGES[self.refusal]) if self.refusal else ""


# --- Encryption ---------------------------------------------------------------------------------


def _seal_codes(codes: tuple[str, ...], serial: str) -> tuple[str, str]:
    """``(key_id, token)``: the packed codes under the newest key, bound to ``serial``."""
    return crypto.encrypt(rules.pack_codes(codes), ring=crypto.current_ring(), purpose=CODES_PURPOSE, bound_to=serial)


def security_card_codes(card: SecurityCard) -> tuple[str, ...]:
    """Decrypt the codes for a check. Never render or log the result.

    Raises ``crypto.DecryptionError`` for a ciphertext that belongs to another card (moved or
    swapped), a corrupt one, or a key id missing from ``FIELD_ENCRYPTION_KEYS``.
    """
    packed = crypto.decrypt(
        card.codes_ciphertext,
        key_id=card.codes_key_id,
        ring=crypto.current_ring(),
        purpose=CODES_PURPOSE,
        bound_to=card.serial,
    )
    try:
        return rules.unpack_codes(packed)
    except rules.MalformedCodes:
        raise crypto.DecryptionError(f"security card {card.pk}: codes do not have the card's shape") from None


# --- Who may act --------------------------------------------------------------------------------


def _require_may_answer(actor: Any, card: SecurityCard) -> None:
    """The card's customer (any of their users), or staff/jobs given ``otp.verify_securitycard``."""
    require_customer_or_perm(
        actor, card.customer_id, VERIFY_PERMISSION, refusal="this actor may not answer this security card"
    )


# --- Issue --------------------------------------------------------------------------------------


def _unused_serial() -> str:
    # 9 * 10**11 serials: a collision is rare, and the unique index backs this check up.
    for _attempt in range(10):
        serial = rules.new_serial()
        if not SecurityCard.objects.filter(serial=serial).exists():
            return serial
    raise RuntimeError("could not find an unused security card serial")


def _retire(card: SecurityCard, *, now: dt.datetime, actor: Actor, reason: str) -> None:
    card.status = SecurityCard.Status.RETIRED
    card.retired_at = now
    _clear_challenge(card)
    card.save(update_fields=["status", "retired_at", *_CHALLENGE_FIELDS])
    audit_record(
        action="security_card.retire",
        actor=actor,
        customer_id=card.customer_id,
        obj=card,
        details={"serial": card.serial, "reason": reason},
    )


@transaction.atomic
def security_card_issue(*, customer: Customer, actor: Actor) -> IssuedSecurityCard:
    """Issue a new card to ``customer``; the active card they hold is retired.

    Returns the card and its 30 codes for the one printed view: the codes are stored only
    encrypted and can never be shown again. A locked card is not replaced here: unlocking or
    replacing it needs a branch manager's approval (``security_card_unlock``), so a teller alone
    cannot hand a locked-out medium's replacement to whoever stands at the counter. Raises
    ``ValidationError`` for a locked card; ``PermissionDenied`` without ``otp.add_securitycard`` or on
    the staff member's own customer record.
    """
    require_perm(actor, ISSUE_PERMISSION)
    require_not_own_record(actor, customer.pk)
    now = timezone.now()
    # Lock the customer: two issues at once must leave one live card, not fail on the unique
    # index or retire each other's new card.
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    previous = (
        SecurityCard.objects.select_for_update()
        .filter(customer=customer, status__in=SecurityCard.LIVE_STATUSES)
        .order_by("pk")
        .first()
    )
    if previous is not None and previous.status == SecurityCard.Status.LOCKED:
        raise ValidationError(ERR_LOCKED_NEEDS_APPROVAL, code="security_card_locked_needs_approval")
    if previous is not None:
        _retire(previous, now=now, actor=actor, reason="reissued")
    codes = rules.new_codes()
    serial = _unused_serial()
    key_id, token = _seal_codes(codes, serial)
    card = SecurityCard.objects.create(
        customer=customer,
        name=str(_("Security card")),
        confirmed=True,
        serial=serial,
        codes_ciphertext=token,
        codes_key_id=key_id,
        issued_at=now,
        issued_by=user_or_none(actor),
    )
    audit_record(
        action="security_card.reissue" if previous else "security_card.issue",
        actor=actor,
        customer_id=customer.pk,
        obj=card,
        details={"serial": serial, "replaces": previous.serial if previous else None},
    )
    return IssuedSecurityCard(card=card, codes=codes, retired=previous)


# --- Challenge and verify -----------------------------------------------------------------------

_CHALLENGE_FIELDS = ["challenge_first", "challenge_second", "challenge_issued_at", "challenge_expires_at"]


def _clear_challenge(card: SecurityCard) -> None:
    card.challenge_first = card.challenge_second = None
    card.challenge_issued_at = card.challenge_expires_at = None


def _pending(card: SecurityCard) -> rules.Challenge | None:
    if card.challenge_first is None or card.challenge_second is None:
        return None
    return rules.Challenge(first=card.challenge_first, second=card.challenge_second)


def _unavailable(card: SecurityCard) -> SecurityCardRefusal | None:
    if card.status == SecurityCard.Status.RETIRED:
        return SecurityCardRefusal.RETIRED
    if card.status == SecurityCard.Status.LOCKED:
        return SecurityCardRefusal.LOCKED
    return None


@transaction.atomic
def security_card_challenge(
    *, card: SecurityCard, actor: Actor, now: dt.datetime | None = None
) -> SecurityCardChallenge:
    """The card's pending challenge; a new one only when none is pending or it has expired.

    The same two numbers come back on every call until they are answered or 5 minutes pass, so
    reloading a page never reveals more of the card. Raises ``SecurityCardUnavailable`` (a
    ``ValidationError`` with ``refusal`` LOCKED or RETIRED) for a card that cannot be answered;
    ``PermissionDenied`` for an actor who may not answer this card.
    """
    _require_may_answer(actor, card)
    now = now or timezone.now()
    # Lock the card: two page loads at once must hand out one challenge, not two.
    locked = SecurityCard.objects.select_for_update().get(pk=card.pk)
    refusal = _unavailable(locked)
    if refusal is not None:
        raise SecurityCardUnavailable(refusal)
    pending = _pending(locked)
    expires_at = locked.challenge_expires_at
    if pending is not None and expires_at is not None and rules.challenge_is_live(expires_at, now):
        return SecurityCardChallenge(
            card_id=locked.pk,
            serial=locked.serial,
            first=pending.first,
            second=pending.second,
            expires_at=expires_at,
            created=False,
        )
    challenge = rules.new_challenge()
    locked.challenge_first, locked.challenge_second = challenge.first, challenge.second
    locked.challenge_issued_at = now
    locked.challenge_expires_at = rules.challenge_expires_at(now)
    locked.save(update_fields=_CHALLENGE_FIELDS)
    audit_record(
        action="security_card.challenge",
        actor=actor,
        customer_id=locked.customer_id,
        obj=locked,
        details={"numbers": [challenge.first, challenge.second], "replaced_expired": pending is not None},
    )
    return SecurityCardChallenge(
        card_id=locked.pk,
        serial=locked.serial,
        first=challenge.first,
        second=challenge.second,
        expires_at=locked.challenge_expires_at,
        created=True,
    )


def security_card_verify(
    *, card: SecurityCard, answer: str, actor: Actor, now: dt.datetime | None = None
) -> SecurityCardResult:
    """Check ``answer`` (4 digits) against the card's pending challenge.

    Its own transaction (call it outside any other): a wrong answer counts even though the caller
    then refuses. A right answer consumes the challenge and resets the count; the 5th consecutive
    wrong answer locks the card (refusal LOCKED). A malformed answer counts as wrong. Raises
    ``PermissionDenied`` for an actor who may not answer this card; ``crypto.DecryptionError`` if
    the stored codes do not belong to this card.
    """
    _require_may_answer(actor, card)
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the card: two answers at once must both be counted, and a challenge used once.
        locked = SecurityCard.objects.select_for_update().get(pk=card.pk)
        result, action = _check(locked, answer, now)
        audit_record(
            action=action,
            actor=actor,
            customer_id=locked.customer_id,
            obj=locked,
            details={
                "serial": locked.serial,
                "result": result.refusal.value if result.refusal else "ok",
                "failures": result.failures,
            },
        )
    return result


def _check(card: SecurityCard, answer: str, now: dt.datetime) -> tuple[SecurityCardResult, str]:
    """Decide, write the card's new state (the caller holds the row lock); return the audit action."""
    refusal = _unavailable(card)
    if refusal is not None:
        return SecurityCardResult(ok=False, refusal=refusal, failures=card.failures), "security_card.verify_refused"
    pending = _pending(card)
    if pending is None or card.challenge_expires_at is None:
        refused = SecurityCardResult(ok=False, refusal=SecurityCardRefusal.NO_CHALLENGE, failures=card.failures)
        return refused, "security_card.verify_refused"
    if not rules.challenge_is_live(card.challenge_expires_at, now):
        refused = SecurityCardResult(
            ok=False,
            refusal=SecurityCardRefusal.EXPIRED_CHALLENGE,
            failures=card.failures,
            tries_left=rules.attempts_left(card.failures),
        )
        return refused, "security_card.verify_refused"
    if rules.answer_matches(security_card_codes(card), pending, answer):
        card.failures = 0
        _clear_challenge(card)
        card.save(update_fields=["failures", *_CHALLENGE_FIELDS])
        return SecurityCardResult(ok=True, tries_left=rules.MAX_FAILURES), "security_card.verified"
    card.failures += 1
    if rules.locks_after(card.failures):
        card.status = SecurityCard.Status.LOCKED
        card.locked_at = now
        _clear_challenge(card)
        card.save(update_fields=["failures", "status", "locked_at", *_CHALLENGE_FIELDS])
        return SecurityCardResult(ok=False, refusal=SecurityCardRefusal.LOCKED, failures=card.failures), (
            "security_card.lock"
        )
    card.save(update_fields=["failures"])
    wrong = SecurityCardResult(
        ok=False,
        refusal=SecurityCardRefusal.WRONG,
        failures=card.failures,
        tries_left=rules.attempts_left(card.failures),
    )
    return wrong, "security_card.verify_failed"


# --- Unlock through an approved staff request (책임자 승인) ----------------------------------------


def _prepare_unlock(request: StaffRequest, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The customer's locked card, named in the request (its id and serial; nothing secret)."""
    card = (
        SecurityCard.objects.filter(customer_id=target_id(request.customer_id), status=SecurityCard.Status.LOCKED)
        .order_by("-pk")
        .first()
    )
    if card is None:
        raise ValidationError(ERR_NOT_LOCKED, code="security_card_not_locked")
    return {"card": card.pk, "serial": card.serial}


@transaction.atomic
def security_card_unlock(*, request: StaffRequest, actor: Actor) -> SecurityCard:
    """Unlock the card named in an approved ``security_card_unlock`` request (once).

    Clears the failure count and any challenge. Runs as the approval's executor (the approving
    manager) or by the requester afterwards. Raises ``PermissionDenied`` without
    ``otp.unlock_securitycard``, outside an approved request (see ``claim_approved_request``) or
    on the actor's own record; ``ValidationError`` when the card is no longer locked (unlocked or
    replaced since) or the request is not approved, used or expired.
    """
    require_perm(actor, UNLOCK_PERMISSION)
    # The staff request row first (the document this unlock acts on), then the card.
    request = claim_approved_request(request=request, kind=StaffRequest.Kind.SECURITY_CARD_UNLOCK, actor=actor)
    require_not_own_record(actor, request.customer_id)
    card_id = (request.payload or {}).get("card")
    if not isinstance(card_id, int):
        raise ValidationError(ERR_CARD_CHANGED, code="security_card_changed")
    # Lock the card: a wrong answer counted at this moment must not be lost under the unlock.
    locked = (
        SecurityCard.objects.select_for_update().filter(pk=card_id, customer_id=target_id(request.customer_id)).first()
    )
    if locked is None or locked.status != SecurityCard.Status.LOCKED:
        raise ValidationError(ERR_CARD_CHANGED, code="security_card_changed")
    failures = locked.failures
    locked.status = SecurityCard.Status.ACTIVE
    locked.failures = 0
    locked.locked_at = None
    _clear_challenge(locked)
    locked.save(update_fields=["status", "failures", "locked_at", *_CHALLENGE_FIELDS])
    audit_record(
        action="security_card.unlock",
        actor=actor,
        customer_id=locked.customer_id,
        obj=locked,
        details={"serial": locked.serial, "failures": failures, "staff_request": request.pk},
    )
    return locked


staff_request_executor(
    kind=StaffRequest.Kind.SECURITY_CARD_UNLOCK,
    target="customer",
    permission=UNLOCK_PERMISSION,
    execute=security_card_unlock,
    prepare=_prepare_unlock,
)
