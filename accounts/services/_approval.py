"""The gate of every approval-only service (책임자 승인): an approved staff request, used once.

``account_password_reset``, ``customer_update_contact``, ``customer_lift_minor_cap`` and
``journal_reverse`` take the approved ``StaffRequest`` as an argument and call
``claim_approved_request`` first, inside their own transaction. There is no other way in: a
pending, rejected, cancelled, expired or already executed request is refused, and so is anyone who
neither made nor approved the request, or whose own customer record it concerns.

Lives apart from ``staff_requests`` because those executors import it, and ``staff_requests``
imports the executors to register them.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, StaffRequest, User
from accounts.services._common import Actor, is_staff_actor, require_actor
from bankportal.audit.services import audit_record

ERR_REQUEST_NOT_APPROVED = _("This needs a staff request approved by a branch manager first.")
ERR_REQUEST_EXECUTED = _("This request has already been carried out.")
ERR_REQUEST_CLOSED = _("This request was rejected, cancelled or has expired; record a new request.")
ERR_REQUEST_EXPIRED = _("This request expired at the end of the business day it was made; record a new request.")
ERR_NOT_A_PARTY = _("Only the staff member who made the request or the manager who approved it can carry it out.")
ERR_OWN_RECORD = _("Staff cannot make, approve or carry out a request about their own customer record.")
ERR_PEOPLE_ONLY = _("Only a signed-in staff member can make, decide or carry out a staff request.")


def require_staff_person(actor: Any) -> User:
    """Dual control is between people: a system actor or a customer never requests, decides or executes."""
    require_actor(actor)
    if not isinstance(actor, User) or not is_staff_actor(actor):
        raise PermissionDenied(ERR_PEOPLE_ONLY)
    return actor


def target_id(value: int | None) -> int:
    """The id of a request's target; its kind guarantees one, so a missing one is refused, not guessed."""
    if value is None:
        raise PermissionDenied(ERR_REQUEST_NOT_APPROVED)
    return value


def concerned_customer_ids(request: StaffRequest) -> set[int]:
    """Every customer the request touches: its customer, the account holder, each journal leg's holder."""
    ids = {request.customer_id} if request.customer_id else set()
    if request.account_id:
        holder = Account.objects.filter(pk=request.account_id).values_list("holder_id", flat=True).first()
        if holder:
            ids.add(holder)
    if request.journal_id:
        ids.update(
            holder
            for holder in Account.objects.filter(entries__journal_id=request.journal_id).values_list(
                "holder_id", flat=True
            )
            if holder
        )
    return ids


def require_not_concerned(actor: Any, request: StaffRequest) -> None:
    """Staff never process their own customer record (직무 분리), on any leg of the request."""
    if is_staff_actor(actor) and actor.customer_id is not None and actor.customer_id in concerned_customer_ids(request):
        raise PermissionDenied(ERR_OWN_RECORD)


def require_open(request: StaffRequest, *, now: Any, state: str) -> None:
    """Raise ``ValidationError`` unless ``request`` is in ``state`` and not past its expiry."""
    if request.state == state and now >= request.expires_at:
        raise ValidationError(ERR_REQUEST_EXPIRED, code="staff_request_expired")
    if request.state == state:
        return
    if request.state == StaffRequest.State.EXECUTED:
        raise ValidationError(ERR_REQUEST_EXECUTED, code="staff_request_executed")
    if request.state == StaffRequest.State.PENDING:
        raise ValidationError(ERR_REQUEST_NOT_APPROVED, code="staff_request_not_approved")
    raise ValidationError(ERR_REQUEST_CLOSED, code="staff_request_closed")


def claim_approved_request(*, request: StaffRequest, kind: str, actor: Actor) -> StaffRequest:
    """Lock the approved request, check who carries it out, and mark it executed (once).

    Call inside the executor's transaction, before anything else is locked: if the business rules
    then refuse, the transaction rolls back and the request stays as it was. Returns the locked row.
    Raises ``PermissionDenied`` for a missing or different-kind request, an actor who neither made
    nor approved it, or the actor's own customer record; ``ValidationError`` when it is not
    approved, already executed, closed or expired.
    """
    person = require_staff_person(actor)
    if not isinstance(request, StaffRequest) or request.pk is None:
        raise PermissionDenied(ERR_REQUEST_NOT_APPROVED)
    # Lock the request row first (lock order: staff request, then customers and customer accounts
    # by pk, then internal accounts, audit last), so two executions at once carry it out once.
    locked = StaffRequest.objects.select_for_update().get(pk=request.pk)
    if locked.kind != kind:
        raise PermissionDenied(ERR_REQUEST_NOT_APPROVED)
    now = timezone.now()
    require_open(locked, now=now, state=StaffRequest.State.APPROVED)
    if person.pk not in (locked.requested_by_id, locked.decided_by_id):
        raise PermissionDenied(ERR_NOT_A_PARTY)
    require_not_concerned(person, locked)
    locked.state = StaffRequest.State.EXECUTED
    locked.executed_by = person
    locked.executed_at = now
    locked.save(update_fields=["state", "executed_by", "executed_at"])
    audit_record(
        action="staff_request.execute",
        actor=actor,
        customer_id=locked.customer_id,
        obj=locked,
        details={"kind": locked.kind},
    )
    # The executor reads its target from here; hand back the row the caller passed, refreshed.
    request.state, request.executed_by, request.executed_at = locked.state, locked.executed_by, locked.executed_at
    return locked
