"""Account passwords (계좌 비밀번호): checking with a failure count, and the branch reset."""

from __future__ import annotations

import enum
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import pins
from accounts.models import Account
from accounts.services._common import Actor, is_staff_actor, require_actor, require_not_own_record, require_perm
from bankportal.actors import SystemActor
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


def validate_account_password(password: str) -> None:
    """Raise ``ValidationError`` unless ``password`` is acceptable as a new account password."""
    problem = pins.pin_problem(password)
    if problem == "format":
        raise ValidationError(ERR_ACCOUNT_PASSWORD_FORMAT, code="account_password_format")
    if problem == "weak":
        raise ValidationError(ERR_ACCOUNT_PASSWORD_WEAK, code="account_password_weak")


def hash_account_password(password: str) -> str:
    return make_password(password)


def _require_may_check(actor: Any, account: Account) -> None:
    """Who may present an account password: its holder, counter staff, or a job given the right."""
    require_actor(actor)
    if isinstance(actor, SystemActor):
        allowed = actor.has_perm("accounts.check_account_password")
    elif is_staff_actor(actor):
        require_not_own_record(actor, account.holder_id)
        allowed = actor.has_perm("accounts.take_cash")
    else:
        allowed = account.holder_id is not None and actor.customer_id == account.holder_id
    if not allowed:
        raise PermissionDenied("this actor may not check the account password")


def account_password_check(*, account: Account, password: str, actor: Actor) -> PasswordCheck:
    """Check the 4-digit account password, counting consecutive failures; the 5th locks it.

    Runs in its own transaction so the failure count is kept even when the caller then refuses
    the operation. Call it outside any surrounding transaction. Raises ``PermissionDenied`` for an
    actor who may not present this account's password.
    """
    _require_may_check(actor, account)
    with transaction.atomic():
        # Lock the row: two wrong guesses at once must both be counted.
        locked = Account.objects.select_for_update().get(pk=account.pk)
        if locked.password_locked_at is not None:
            return PasswordCheck.LOCKED
        if locked.password_hash and check_password(password, locked.password_hash):
            if locked.password_failures:
                locked.password_failures = 0
                locked.save(update_fields=["password_failures"])
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
def account_password_reset(*, account: Account, new_password: str, actor: Actor) -> Account:
    """Set a new password at the branch after an ID check; clears the failure count and lock.

    Raises ``PermissionDenied`` without ``accounts.reset_account_password`` or on the actor's own
    account; ``ValidationError`` for an unacceptable password.
    """
    require_perm(actor, "accounts.reset_account_password")
    require_not_own_record(actor, account.holder_id)
    validate_account_password(new_password)
    # Lock so a wrong entry counted at this moment cannot re-lock the account after the reset.
    locked = Account.objects.select_for_update().get(pk=account.pk)
    was_locked = locked.password_locked_at is not None
    locked.password_hash = hash_account_password(new_password)
    locked.password_failures = 0
    locked.password_locked_at = None
    locked.save(update_fields=["password_hash", "password_failures", "password_locked_at"])
    audit_record(
        action="account.password_reset",
        actor=actor,
        customer_id=locked.holder_id,
        obj=locked,
        details={"was_locked": was_locked},
    )
    return locked
