"""Account passwords (계좌 비밀번호): checking with a failure count, and the branch reset.

Passwords are stored keyed (``accounts.pins``): HMAC-SHA256 under the newest ``ACCOUNT_PIN_KEY``,
bound to the account number, with the key id in ``password_key_id``. A successful check under an
older key, or of a wrapped pre-keyed hash, rewrites the row in the newest keyed form.
"""

from __future__ import annotations

import enum
from typing import Any

from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import pins
from accounts.models import Account, StaffRequest
from accounts.services._approval import claim_approved_request, target_id
from accounts.services._common import (
    Actor,
    require_customer_or_perm,
    require_not_own_record,
    require_perm,
)
from bankportal import crypto
from bankportal.audit.services import audit_record

ERR_ACCOUNT_PASSWORD_FORMAT = _("The account password must be exactly 4 digits.")
ERR_ACCOUNT_PASSWORD_WEAK = _("Choose an account password that is not four equal digits or a straight run like 1234.")
ERR_ACCOUNT_PASSWORD_WRONG = _("The account password is wrong.")
ERR_ACCOUNT_PASSWORD_LOCKED = _(
    "The account password is locked after 5 wrong entries. Visit a branch with your ID to reset it."
)


class PasswordCheck(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"


class PinStorageError(RuntimeError):
    """A stored account password in a form this release never verifies (a bare, unkeyed hasher
    string written by an older release). ``manage.py reencrypt_fields`` wraps such rows."""


def validate_account_password(password: str) -> None:
    """Raise ``ValidationError`` unless ``password`` is acceptable as a new account password."""
    problem = pins.pin_problem(password)
    if problem == "format":
        raise ValidationError(ERR_ACCOUNT_PASSWORD_FORMAT, code="account_password_format")
    if problem == "weak":
        raise ValidationError(ERR_ACCOUNT_PASSWORD_WEAK, code="account_password_weak")


def hash_account_password(password: str, *, account_number: str) -> tuple[str, str]:
    """``(key_id, stored)`` for ``password`` on the account numbered ``account_number``."""
    ring = crypto.current_pin_ring()
    return ring.current_id, pins.pin_hash(password, account_number=account_number, key=ring.key(ring.current_id))


def _stored_password_matches(account: Account, password: str, ring: crypto.KeyRing) -> bool:
    stored = account.password_hash
    if not stored:
        return False
    if not (pins.is_keyed(stored) or pins.is_wrapped(stored)):
        # Never accept a bare hasher string: anyone able to write the table could plant one for a
        # password of their choosing, whereas a keyed or wrapped value needs the key.
        raise PinStorageError(f"account {account.pk} has an unkeyed password hash; run manage.py reencrypt_fields")
    # An unknown key id raises: a key dropped while rows still use it is an operator error to
    # surface, not a wrong password to count against the customer.
    key = ring.key(account.password_key_id)
    if pins.is_keyed(stored):
        return pins.pin_hash_matches(password, stored, account_number=account.number, key=key)
    try:
        legacy = pins.unwrap_legacy_hash(stored, account_number=account.number, key=key)
    except crypto.DecryptionError:
        return False  # sealed for another account and copied here: not this account's password
    return check_password(password, legacy)


def _rehash_if_stale(account: Account, password: str, ring: crypto.KeyRing, actor: Actor) -> None:
    """After a successful check: move a wrapped or old-key hash to the newest keyed form."""
    if pins.is_keyed(account.password_hash) and account.password_key_id == ring.current_id:
        return
    previous = {"form": "keyed" if pins.is_keyed(account.password_hash) else "wrapped", "key": account.password_key_id}
    account.password_key_id, account.password_hash = hash_account_password(password, account_number=account.number)
    account.save(update_fields=["password_hash", "password_key_id"])
    audit_record(
        action="account.password_rehashed",
        actor=actor,
        customer_id=account.holder_id,
        obj=account,
        details={"from": previous, "to_key": account.password_key_id},
    )


def _require_may_check(actor: Any, account: Account) -> None:
    """Who may present an account password: its holder, counter staff, or a job given the right."""
    require_customer_or_perm(
        actor,
        account.holder_id,
        "accounts.check_account_password",
        staff_perm="accounts.take_cash",
        refusal="this actor may not check the account password",
    )


def account_password_check(*, account: Account, password: str, actor: Actor) -> PasswordCheck:
    """Check the 4-digit account password, counting consecutive failures; the 5th locks it.

    Runs in its own transaction so the failure count is kept even when the caller then refuses
    the operation. Call it outside any surrounding transaction. Raises ``PermissionDenied`` for an
    actor who may not present this account's password.
    """
    _require_may_check(actor, account)
    ring = crypto.current_pin_ring()
    with transaction.atomic():
        # Lock the row: two wrong guesses at once must both be counted, and a rehash after a
        # success must not overwrite a reset made at the same moment.
        locked = Account.objects.select_for_update().get(pk=account.pk)
        if locked.password_locked_at is not None:
            return PasswordCheck.LOCKED
        if _stored_password_matches(locked, password, ring):
            if locked.password_failures:
                locked.password_failures = 0
                locked.save(update_fields=["password_failures"])
            _rehash_if_stale(locked, password, ring, actor)
            return PasswordCheck.OK
        locked.password_failures += 1
        now_locked = pins.locks_after(locked.password_failures)
        if now_locked:
            locked.password_locked_at = timezone.now()
        locked.save(update_fields=["password_failures", "password_locked_at"])
        audit_record(
            action="account.password_locked" if now_locked else "account.password_failed",
            actor=actor,
            customer_id=locked.holder_id,
            obj=locked,
            details={"failures": locked.password_failures},
        )
        return PasswordCheck.LOCKED if now_locked else PasswordCheck.WRONG


def require_account_password(*, account: Account, password: str, actor: Actor) -> None:
    """Raise ``ValidationError`` unless the password is right (see ``account_password_check``)."""
    result = account_password_check(account=account, password=password, actor=actor)
    if result is PasswordCheck.LOCKED:
        raise ValidationError(ERR_ACCOUNT_PASSWORD_LOCKED, code="account_password_locked")
    if result is PasswordCheck.WRONG:
        raise ValidationError(ERR_ACCOUNT_PASSWORD_WRONG, code="account_password_wrong")


@transaction.atomic
def account_password_reset(*, request: StaffRequest, new_password: str, actor: Actor) -> Account:
    """Set the password the customer types at the counter, under an approved staff request (once).

    Clears the failure count and lock. Only the requester or the approving manager may complete
    the request. Raises ``PermissionDenied`` without ``accounts.reset_account_password``, outside
    an approved request (see ``claim_approved_request``) or on the actor's own account;
    ``ValidationError`` for an unacceptable password or a request not approved, used or expired.
    """
    require_perm(actor, "accounts.reset_account_password")
    validate_account_password(new_password)
    # The staff request row first (it is the document this reset acts on), then the account.
    request = claim_approved_request(request=request, kind=StaffRequest.Kind.ACCOUNT_PASSWORD_RESET, actor=actor)
    require_not_own_record(actor, request.customer_id)
    # Lock so a wrong entry counted at this moment cannot re-lock the account after the reset.
    locked = Account.objects.select_for_update().get(pk=target_id(request.account_id))
    was_locked = locked.password_locked_at is not None
    locked.password_key_id, locked.password_hash = hash_account_password(new_password, account_number=locked.number)
    locked.password_failures = 0
    locked.password_locked_at = None
    locked.save(update_fields=["password_hash", "password_key_id", "password_failures", "password_locked_at"])
    audit_record(
        action="account.password_reset",
        actor=actor,
        customer_id=locked.holder_id,
        obj=locked,
        details={"was_locked": was_locked, "staff_request": request.pk},
    )
    return locked


def account_password_wrap_legacy(*, actor: Actor, batch_size: int = 500) -> int:
    """Seal every bare (pre-keyed) account password hash under the newest key; returns the count.

    The migration does this once; this catches rows an older release wrote during a rolling
    deploy. Each batch is its own transaction. Raises ``PermissionDenied`` without
    ``accounts.wrap_legacy_account_passwords``.
    """
    require_perm(actor, "accounts.wrap_legacy_account_passwords")
    ring = crypto.current_pin_ring()
    key = ring.key(ring.current_id)
    bare = (
        Account.objects.exclude(password_hash="")
        .exclude(password_hash__startswith=pins.KEYED_PREFIX)
        .exclude(password_hash__startswith=pins.WRAPPED_PREFIX)
    )
    total = 0
    while True:
        with transaction.atomic():
            # Lock the batch so a reset at the same moment is not overwritten with the old hash.
            batch = list(bare.select_for_update().order_by("pk")[:batch_size])
            if not batch:
                break
            for account in batch:
                account.password_hash = pins.wrap_legacy_hash(
                    account.password_hash, account_number=account.number, key=key
                )
                account.password_key_id = ring.current_id
            Account.objects.bulk_update(batch, ["password_hash", "password_key_id"])
            total += len(batch)
    if total:
        audit_record(
            action="account.password_wrap_legacy", actor=actor, details={"count": total, "key_id": ring.current_id}
        )
    return total


def account_password_key_counts() -> dict[str, int]:
    """How many account passwords sit under each ``ACCOUNT_PIN_KEY`` id (a read, for rotation).

    A keyed hash cannot be moved to a new key without the password, so an old key may be dropped
    only once no row uses it (each row moves at its next successful check or branch reset).
    """
    rows = (
        Account.objects.exclude(password_hash="")
        .values_list("password_key_id")
        .annotate(count=Count("pk"))
        .order_by("password_key_id")
    )
    return dict(rows)
