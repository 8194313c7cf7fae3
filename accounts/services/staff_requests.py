"""Dual control for branch staff (책임자 승인, maker–checker): request, approve, reject, cancel, expire.

A teller records a ``StaffRequest`` with a reason; a different staff member with the manager role
(``accounts.approve_staffrequest``) approves or rejects it. Approval executes the request in the
same transaction, all or nothing: if the business rules refuse, nothing is approved and the
manager sees why. An account password reset is the exception: approval only authorises it, and
the customer then types the new password at the counter against the approved request, once
(``account_password_reset``). Nothing secret is ever stored in a request.

Requests expire at the end of the KST business day they are made (midnight KST): the customer is
at the counter with their ID while a request is recorded and approved, so an approval the next day
would be given without them. An expired request is refused by every step and marked ``expired``
by ``staff_request_expire_due`` (or by the first step that meets it).

Adding a kind: one ``StaffRequest.Kind`` choice and one ``staff_request_executor`` registration
naming its target, the permission its approver needs, and the service that carries it out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, Customer, Journal, StaffRequest, User
from accounts.services._approval import (
    ERR_REQUEST_EXPIRED,
    concerned_customer_ids,
    require_not_concerned,
    require_open,
    require_staff_person,
    target_id,
)
from accounts.services._common import Actor, require_perm
from accounts.services.customers import (
    customer_lift_minor_cap,
    customer_update_contact,
    normalise_phone,
    require_minor_cap_liftable,
)
from accounts.services.ledger import ERR_ALREADY_REVERSED, ERR_CANNOT_REVERSE_REVERSAL, journal_reverse
from bankportal.audit.services import audit_record
from bankportal.timeutil import KST, kst_now, kst_today

APPROVE_PERMISSION = "accounts.approve_staffrequest"
REQUEST_PERMISSION = "accounts.add_staffrequest"
EXPIRE_PERMISSION = "accounts.change_staffrequest"
REASON_MAX_LENGTH = 200

ERR_REASON_REQUIRED = _("Give the reason for this request; it is kept in the audit trail.")
ERR_REASON_TOO_LONG = _("Keep the reason to 200 characters or fewer.")
ERR_NOTE_TOO_LONG = _("Keep the note to 200 characters or fewer.")
ERR_UNKNOWN_KIND = _("This kind of request cannot be made here.")
ERR_TARGET = _("This kind of request does not fit the selected record.")
ERR_NOT_CUSTOMER_ACCOUNT = _("Only a customer account's password can be reset.")
ERR_DUPLICATE = _("A request of this kind for this record is already open; wait for its decision or cancel it first.")
ERR_OWN_REQUEST = _("You cannot decide your own request; another branch manager must approve or reject it.")
ERR_NOT_PENDING = _("This request has already been decided, cancelled or carried out.")
ERR_APPROVER_ROLE = _("Your role cannot approve this kind of request.")
ERR_REJECT_NOTE = _("Say why the request is rejected, so the teller can tell the customer.")
ERR_NOT_REQUESTER = _("Only the staff member who made the request can cancel it.")
ERR_CONTACT_UNCHANGED = _("The new mobile number and email are the same as the current ones.")
ERR_EMAIL_INVALID = _("Enter a valid email address.")

Target = Literal["customer", "account", "journal"]


@dataclass(frozen=True)
class StaffRequestExecutor:
    """How one kind of request is made and carried out.

    ``execute(request=..., actor=...)`` runs inside the approval's transaction; ``None`` means the
    approval only authorises and a later step carries it out (the password typed by the customer).
    ``prepare(target, payload)`` checks the request when it is recorded and returns the payload to
    store (never a secret); it raises ``ValidationError`` for a request that could not succeed.
    """

    kind: str
    target: Target
    permission: str
    execute: Callable[..., object] | None = None
    prepare: Callable[[StaffRequest, Mapping[str, Any]], dict[str, Any]] | None = None


_EXECUTORS: dict[str, StaffRequestExecutor] = {}


def staff_request_executor(
    *,
    kind: str,
    target: Target,
    permission: str,
    execute: Callable[..., object] | None = None,
    prepare: Callable[[StaffRequest, Mapping[str, Any]], dict[str, Any]] | None = None,
) -> StaffRequestExecutor:
    """Register how ``kind`` is carried out (once per kind; ``kind`` must be a ``StaffRequest.Kind``)."""
    if kind not in StaffRequest.Kind.values:
        raise ImproperlyConfigured(f"{kind!r} is not a StaffRequest.Kind")
    if kind in _EXECUTORS:
        raise ImproperlyConfigured(f"an executor for {kind!r} is already registered")
    executor = StaffRequestExecutor(kind=kind, target=target, permission=permission, execute=execute, prepare=prepare)
    _EXECUTORS[kind] = executor
    return executor


def staff_request_executor_for(kind: str) -> StaffRequestExecutor:
    try:
        return _EXECUTORS[kind]
    except KeyError:
        raise ImproperlyConfigured(f"no executor is registered for staff request kind {kind!r}") from None


def staff_request_expiry(requested_at: dt.datetime) -> dt.datetime:
    """The end of the KST business day of ``requested_at`` (the next midnight in Seoul)."""
    next_day = kst_now(requested_at).date() + dt.timedelta(days=1)
    return dt.datetime.combine(next_day, dt.time.min, tzinfo=KST)


def _clean_text(value: str | None, *, required_error: Any, too_long_error: Any, code: str) -> str:
    text = " ".join((value or "").split())
    if required_error is not None and not text:
        raise ValidationError(required_error, code=f"{code}_required")
    if len(text) > REASON_MAX_LENGTH:
        raise ValidationError(too_long_error, code=f"{code}_too_long")
    return text


def _resolve_target(
    executor: StaffRequestExecutor, customer: Customer | None, account: Account | None, journal: Journal | None
) -> StaffRequest:
    """A new, unsaved request with its target set and the customer filled in from it."""
    given = {"customer": customer is not None, "account": account is not None, "journal": journal is not None}
    wanted = executor.target
    # The customer may be passed along with an account (it must be the holder); nothing else.
    extra = [name for name, present in given.items() if present and name not in (wanted, "customer")]
    if not given[wanted] or extra or (wanted == "journal" and customer is not None):
        raise ValidationError(ERR_TARGET, code="staff_request_target")
    request = StaffRequest(kind=executor.kind)
    if account is not None:
        if account.kind != Account.Kind.CUSTOMER or account.holder_id is None:
            raise ValidationError(ERR_NOT_CUSTOMER_ACCOUNT, code="not_customer_account")
        if customer is not None and customer.pk != account.holder_id:
            raise ValidationError(ERR_TARGET, code="staff_request_target")
        request.account = account
        request.customer_id = account.holder_id
    elif journal is not None:
        request.journal = journal
        holders = sorted(concerned_customer_ids(StaffRequest(kind=executor.kind, journal=journal)))
        request.customer_id = holders[0] if holders else None
    else:
        request.customer = customer
    return request


def _lock_target(request: StaffRequest) -> None:
    # Lock the record the request is about, so two tellers recording the same request at the same
    # moment make one request and the second is told about the first.
    if request.customer_id:
        Customer.objects.select_for_update().filter(pk=request.customer_id).first()
    elif request.journal_id:
        Journal.objects.select_for_update().filter(pk=request.journal_id).first()


@transaction.atomic
def staff_request_create(
    *,
    kind: str,
    reason: str,
    actor: Actor,
    customer: Customer | None = None,
    account: Account | None = None,
    journal: Journal | None = None,
    payload: Mapping[str, Any] | None = None,
) -> StaffRequest:
    """Record a request for a manager's approval; it stays open until the end of the KST day.

    Raises ``ValidationError`` for a missing reason, a target that does not fit the kind, a request
    that could not succeed (e.g. no cap to lift, a journal already reversed, a bad phone number) or
    one already open for the same record; ``PermissionDenied`` without
    ``accounts.add_staffrequest`` or on the actor's own customer record.
    """
    require_perm(actor, REQUEST_PERMISSION)
    requester = require_staff_person(actor)
    if kind not in _EXECUTORS:
        raise ValidationError(ERR_UNKNOWN_KIND, code="staff_request_kind")
    executor = _EXECUTORS[kind]
    reason = _clean_text(reason, required_error=ERR_REASON_REQUIRED, too_long_error=ERR_REASON_TOO_LONG, code="reason")
    request = _resolve_target(executor, customer, account, journal)
    require_not_concerned(actor, request)
    _lock_target(request)
    if executor.prepare is not None:
        request.payload = executor.prepare(request, payload or {})
    elif payload:
        raise ValueError(f"a {kind} request takes no payload")
    now = timezone.now()
    same_target: dict[str, Any] = {
        "customer_id": request.customer_id,
        "account_id": request.account_id,
        "journal_id": request.journal_id,
    }
    duplicate = StaffRequest.objects.filter(
        kind=kind,
        **same_target,
        state__in=StaffRequest.OPEN_STATES,
        expires_at__gt=now,
    )
    if duplicate.exists():
        raise ValidationError(ERR_DUPLICATE, code="staff_request_duplicate")
    request.reason = reason
    request.requested_by = requester
    request.requested_at = now
    request.expires_at = staff_request_expiry(now)
    request.save()
    audit_record(
        action="staff_request.create",
        actor=actor,
        customer_id=request.customer_id,
        obj=request,
        details={"kind": kind, "reason": reason, "target": _target_details(request)},
    )
    return request


def _target_details(request: StaffRequest) -> dict[str, Any]:
    return {
        name: value
        for name, value in (
            ("customer", request.customer_id),
            ("account", request.account_id),
            ("journal", request.journal_id),
        )
        if value
    }


def _lock(request: StaffRequest) -> StaffRequest:
    # Lock the request row before deciding: two managers approving at once must execute it once.
    return StaffRequest.objects.select_for_update().get(pk=request.pk)


def _require_decider(locked: StaffRequest, actor: User, executor: StaffRequestExecutor) -> None:
    if locked.requested_by_id == actor.pk:
        raise PermissionDenied(ERR_OWN_REQUEST)
    if not actor.has_perm(executor.permission):
        raise PermissionDenied(ERR_APPROVER_ROLE)
    require_not_concerned(actor, locked)


def _require_pending(locked: StaffRequest, now: dt.datetime) -> None:
    if locked.state == StaffRequest.State.PENDING:
        require_open(locked, now=now, state=StaffRequest.State.PENDING)
        return
    raise ValidationError(ERR_NOT_PENDING, code="staff_request_not_pending")


def _refusal_code(exc: ValidationError | PermissionDenied) -> str:
    if isinstance(exc, PermissionDenied):
        return "permission_denied"
    return ",".join(sorted({error.code or "invalid" for error in exc.error_list}))


def _record_refusal(request: StaffRequest, actor: Any, step: str, exc: ValidationError | PermissionDenied) -> None:
    """After a refused step has rolled back: keep a trace of the attempt, and expire what expired."""
    code = _refusal_code(exc)
    with transaction.atomic():
        if code == "staff_request_expired":
            _expire(StaffRequest.objects.select_for_update().get(pk=request.pk), now=timezone.now(), actor=actor)
        audit_record(
            action=f"staff_request.{step}_refused",
            actor=actor,
            customer_id=request.customer_id,
            obj=request,
            details={"kind": request.kind, "refusal": code, "message": " ".join(_messages(exc))[:300]},
        )


def _messages(exc: ValidationError | PermissionDenied) -> list[str]:
    if isinstance(exc, ValidationError):
        return [str(message) for message in exc.messages]
    return [str(arg) for arg in exc.args]


def staff_request_approve(*, request: StaffRequest, actor: Actor, note: str = "") -> StaffRequest:
    """Approve a pending request and carry it out in the same transaction (all or nothing).

    Returns the request, ``executed`` (or ``approved`` for a password reset, which the customer
    completes at the counter). Raises ``PermissionDenied`` without ``accounts.approve_staffrequest``
    and the kind's own permission, for the requester, or on the approver's own customer record;
    ``ValidationError`` when the request is no longer pending, has expired, or its execution is
    refused by the business rules, in which case nothing is approved. Refusals are audited.
    """
    require_perm(actor, APPROVE_PERMISSION)
    try:
        return _approve(request=request, actor=actor, note=note)
    except (ValidationError, PermissionDenied) as exc:
        _record_refusal(request, actor, "approve", exc)
        raise


def _decide(
    *, request: StaffRequest, actor: Actor, note: str, state: str, note_required: Any
) -> tuple[StaffRequest, StaffRequestExecutor]:
    """Lock a pending request and record the decision of a manager who may make it."""
    note = _clean_text(note, required_error=note_required, too_long_error=ERR_NOTE_TOO_LONG, code="note")
    decider = require_staff_person(actor)
    locked = _lock(request)
    executor = staff_request_executor_for(locked.kind)
    _require_decider(locked, decider, executor)
    now = timezone.now()
    _require_pending(locked, now)
    locked.state = state
    locked.decided_by = decider
    locked.decided_at = now
    locked.decision_note = note
    locked.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
    verb = "approve" if state == StaffRequest.State.APPROVED else "reject"
    audit_record(
        action=f"staff_request.{verb}",
        actor=actor,
        customer_id=locked.customer_id,
        obj=locked,
        details={"kind": locked.kind, "note": note},
    )
    return locked, executor


@transaction.atomic
def _approve(*, request: StaffRequest, actor: Actor, note: str) -> StaffRequest:
    locked, executor = _decide(
        request=request, actor=actor, note=note, state=StaffRequest.State.APPROVED, note_required=None
    )
    if executor.execute is not None:
        executor.execute(request=locked, actor=actor)
        locked.refresh_from_db()
    return locked


def staff_request_reject(*, request: StaffRequest, actor: Actor, note: str) -> StaffRequest:
    """Reject a pending request with a note; nothing is executed.

    Raises ``PermissionDenied`` as ``staff_request_approve`` does; ``ValidationError`` without a
    note or when the request is no longer pending or has expired.
    """
    require_perm(actor, APPROVE_PERMISSION)
    try:
        return _reject(request=request, actor=actor, note=note)
    except (ValidationError, PermissionDenied) as exc:
        _record_refusal(request, actor, "reject", exc)
        raise


@transaction.atomic
def _reject(*, request: StaffRequest, actor: Actor, note: str) -> StaffRequest:
    locked, _executor = _decide(
        request=request, actor=actor, note=note, state=StaffRequest.State.REJECTED, note_required=ERR_REJECT_NOTE
    )
    return locked


@transaction.atomic
def staff_request_cancel(*, request: StaffRequest, actor: Actor) -> StaffRequest:
    """Withdraw one's own request while it is pending, or approved and not yet carried out.

    Raises ``PermissionDenied`` for anyone but the requester; ``ValidationError`` when it is
    already executed, rejected, cancelled or expired.
    """
    require_perm(actor, REQUEST_PERMISSION)
    requester = require_staff_person(actor)
    locked = _lock(request)
    if locked.requested_by_id != requester.pk:
        raise PermissionDenied(ERR_NOT_REQUESTER)
    now = timezone.now()
    if locked.state not in StaffRequest.OPEN_STATES:
        raise ValidationError(ERR_NOT_PENDING, code="staff_request_not_pending")
    if now >= locked.expires_at:
        raise ValidationError(ERR_REQUEST_EXPIRED, code="staff_request_expired")
    locked.state = StaffRequest.State.CANCELLED
    locked.closed_at = now
    locked.save(update_fields=["state", "closed_at"])
    audit_record(
        action="staff_request.cancel",
        actor=actor,
        customer_id=locked.customer_id,
        obj=locked,
        details={"kind": locked.kind},
    )
    return locked


def _expire(locked: StaffRequest, *, now: dt.datetime, actor: Any) -> bool:
    if locked.state not in StaffRequest.OPEN_STATES or now < locked.expires_at:
        return False
    locked.state = StaffRequest.State.EXPIRED
    locked.closed_at = now
    locked.save(update_fields=["state", "closed_at"])
    audit_record(
        action="staff_request.expire",
        actor=actor,
        customer_id=locked.customer_id,
        obj=locked,
        details={"kind": locked.kind, "expires_at": locked.expires_at.isoformat()},
    )
    return True


@transaction.atomic
def staff_request_expire_due(*, actor: Actor, now: dt.datetime | None = None) -> int:
    """Mark every open request past its expiry as expired; returns how many.

    For the nightly job (a system actor holding ``accounts.change_staffrequest``). Raises
    ``PermissionDenied`` without it.
    """
    require_perm(actor, EXPIRE_PERMISSION)
    now = now or timezone.now()
    # Skip rows a manager is deciding right now: that step sees the expiry itself.
    due = (
        StaffRequest.objects.select_for_update(skip_locked=True)
        .filter(state__in=StaffRequest.OPEN_STATES, expires_at__lte=now)
        .order_by("pk")
    )
    return sum(1 for request in due if _expire(request, now=now, actor=actor))


# --- The kinds that exist today -----------------------------------------------------------------


def _prepare_contact_change(request: StaffRequest, payload: Mapping[str, Any]) -> dict[str, Any]:
    """New phone and email, checked now; the current ones are kept to detect a change in between."""
    customer = Customer.objects.get(pk=target_id(request.customer_id))
    errors: dict[str, ValidationError] = {}
    phone = customer.phone
    try:
        phone = normalise_phone(str(payload.get("phone") or ""))
    except ValidationError as exc:
        errors["phone"] = exc
    email = str(payload.get("email") or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = ValidationError(ERR_EMAIL_INVALID, code="email_invalid")
    if errors:
        raise ValidationError(errors)
    if (phone, email) == (customer.phone, customer.email):
        raise ValidationError(ERR_CONTACT_UNCHANGED, code="contact_unchanged")
    return {"phone": phone, "email": email, "old_phone": customer.phone, "old_email": customer.email}


def _prepare_minor_cap_lift(request: StaffRequest, payload: Mapping[str, Any]) -> dict[str, Any]:
    require_minor_cap_liftable(Customer.objects.get(pk=target_id(request.customer_id)), today=kst_today())
    return {}


def _prepare_journal_reverse(request: StaffRequest, payload: Mapping[str, Any]) -> dict[str, Any]:
    journal = Journal.objects.get(pk=target_id(request.journal_id))
    if journal.kind == Journal.Kind.REVERSAL:
        raise ValidationError(ERR_CANNOT_REVERSE_REVERSAL, code="cannot_reverse_reversal")
    if Journal.objects.filter(reverses=journal).exists():
        raise ValidationError(ERR_ALREADY_REVERSED, code="already_reversed")
    return {}


staff_request_executor(
    kind=StaffRequest.Kind.ACCOUNT_PASSWORD_RESET,
    target="account",
    permission="accounts.reset_account_password",
    execute=None,  # the customer types the new password against the approved request
)
staff_request_executor(
    kind=StaffRequest.Kind.CONTACT_CHANGE,
    target="customer",
    permission="accounts.change_customer",
    execute=customer_update_contact,
    prepare=_prepare_contact_change,
)
staff_request_executor(
    kind=StaffRequest.Kind.MINOR_CAP_LIFT,
    target="customer",
    permission="accounts.lift_minor_cap",
    execute=customer_lift_minor_cap,
    prepare=_prepare_minor_cap_lift,
)
staff_request_executor(
    kind=StaffRequest.Kind.JOURNAL_REVERSE,
    target="journal",
    permission="accounts.reverse_journal",
    execute=journal_reverse,
    prepare=_prepare_journal_reverse,
)
