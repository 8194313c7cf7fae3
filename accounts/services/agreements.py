"""E-banking agreements (전자금융 약정): branch application, lapse, suspension, wrong entries, use,
release (maker-checker), termination.

Rules (deadline, dormancy, wrong-entry limit, documents) live in ``accounts.agreements``; this
module locks, checks them against the row and writes, one transaction per change with an audit
event naming the actor. Lock order: staff request, then the agreement row, then the user.

The anonymous web flows (online registration, ID lookup, online release) are in
``accounts.services.agreement_online``; the nightly sweeps (lapse, dormancy) in
``accounts.services.agreement_jobs``. Anonymous flows and sign-in act as the named system actor
from ``agreement_web_actor()``; signed-in customers act as their own ``User``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import ages
from accounts import agreements as rules
from accounts.idnumbers import age_on
from accounts.models import Account, Agreement, Customer, StaffRequest, User
from accounts.services._approval import claim_approved_request, require_staff_person, target_id
from accounts.services._common import (
    Actor,
    is_staff_actor,
    require_customer_or_perm,
    require_not_own_record,
    require_perm,
)
from accounts.services.staff_requests import staff_request_executor
from bankportal.actors import SystemActor, system_actor
from bankportal.audit.services import audit_record
from bankportal.notifications.services import send_sms_on_commit
from bankportal.timeutil import kst_today

State = Agreement.State
Reason = Agreement.SuspensionReason

APPLY_PERMISSION = "accounts.add_agreement"
SUSPEND_PERMISSION = "accounts.suspend_agreement"
RELEASE_PERMISSION = "accounts.release_agreement"
TERMINATE_PERMISSION = "accounts.terminate_agreement"
LAPSE_PERMISSION = "accounts.change_agreement"
USE_PERMISSION = "accounts.use_agreement"
# The anonymous web flows check the account password, the security medium (card or OTP) and the
# SMS/ARS additional authentication of the customer they have identified (``otp`` permissions,
# named here as strings: accounts imports nothing from otp).
WEB_FLOW_PERMISSIONS = frozenset(
    {
        USE_PERMISSION,
        "accounts.check_account_password",
        "otp.verify_securitycard",
        "otp.verify_otpregistration",
        "otp.add_additionalauthchallenge",
    }
)
PHONE_RELEASE_MIN_AGE = 14

ERR_UNDER_18_ALONE = _(
    "A customer under 18 cannot apply alone: a legal representative must apply for them. "
    "Register the representative on the customer record first."
)
ERR_AGREEMENT_EXISTS = _(
    "This customer already has an e-banking agreement (applied, active or suspended). "
    "Terminate it before taking a new application."
)
ERR_NO_WITHDRAWAL_ACCOUNT = _("Choose at least one withdrawal account.")
ERR_ACCOUNT_NOT_CUSTOMERS = _("Withdrawal account %(number)s is not the customer's own account.")
ERR_ACCOUNT_NOT_ACTIVE = _("Withdrawal account %(number)s is closed or has payments stopped.")
ERR_DOCUMENTS_MISSING = _("These documents must be checked first: %(documents)s.")
ERR_DOCUMENT_UNKNOWN = _("Unknown document: %(document)s.")
ERR_NOT_APPLIED = _("Only an application awaiting registration can lapse.")
ERR_DEADLINE_NOT_PASSED = _("The registration deadline has not passed yet.")
ERR_NOT_ACTIVE = _("Only an active agreement can be suspended or used.")
ERR_REASON_UNKNOWN = _("Choose a suspension reason.")
ERR_REASON_AUTOMATIC = _("Dormancy and wrong-entry suspensions are set automatically, not by staff.")
ERR_NOT_SUSPENDED = _("This customer has no suspended e-banking agreement.")
ERR_AGREEMENT_CHANGED = _("The agreement changed after the request was made; record a new request.")
ERR_RELEASE_CHANNEL = _("Choose how the release was asked for: at the branch or by phone.")
ERR_PHONE_RELEASE_AGE = _(
    "A release by phone is only for individual customers aged 14 or more; ask them to visit a branch."
)
ERR_ONLINE_RELEASE_REASON = _(
    "Only a dormancy or wrong-entry suspension can be released online. Please visit a branch."
)
ERR_ALREADY_TERMINATED = _("This agreement is already terminated.")

WRONG_ENTRY_SMS = _(
    "[%(bank)s] Internet banking is suspended after 5 wrong entries. Release it in the security centre or at a branch."
)


def agreement_web_actor() -> SystemActor:
    """The named actor of the anonymous e-banking web flows (registration, ID lookup, sign-in)."""
    return system_actor("ebanking_web", WEB_FLOW_PERMISSIONS)


def _require_customer_or_perm(actor: Any, agreement: Agreement, perm: str) -> None:
    """The agreement's own customer user, or a staff member / system actor holding ``perm``."""
    require_customer_or_perm(actor, agreement.customer_id, perm)


def _lock(agreement: Agreement) -> Agreement:
    # Lock the row: a job, a teller and the customer may act on it at the same moment.
    return Agreement.objects.select_for_update().get(pk=agreement.pk)


def _refuse(message: Any, code: str, **params: Any) -> ValidationError:
    return ValidationError(message, code=code, params=params or None)


# --- Branch application -------------------------------------------------------------------------


def _check_accounts(customer: Customer, accounts: list[Account]) -> None:
    if not accounts:
        raise _refuse(ERR_NO_WITHDRAWAL_ACCOUNT, "no_withdrawal_account")
    for account in accounts:
        if account.kind != Account.Kind.CUSTOMER or account.holder_id != customer.pk:
            raise _refuse(ERR_ACCOUNT_NOT_CUSTOMERS, "account_not_customers", number=account.number_display)
        if account.status != Account.Status.ACTIVE:
            raise _refuse(ERR_ACCOUNT_NOT_ACTIVE, "account_not_active", number=account.number_display)


def _check_documents(customer: Customer, documents: Collection[str], *, represented: bool, one_parent: bool) -> None:
    known = {document.value for document in rules.Document}
    for document in documents:
        if document not in known:
            raise _refuse(ERR_DOCUMENT_UNKNOWN, "document_unknown", document=document)
    required = rules.required_documents(
        kind=customer.kind, represented_minor=represented, one_parent_applies=one_parent and represented
    )
    missing = rules.missing_documents(required, documents)
    if missing:
        raise _refuse(ERR_DOCUMENTS_MISSING, "documents_missing", documents=", ".join(missing))


@transaction.atomic
def agreement_apply(
    *,
    customer: Customer,
    withdrawal_accounts: Iterable[Account],
    documents: Collection[str],
    actor: Actor,
    one_parent_applies: bool = False,
    now: dt.datetime | None = None,
) -> Agreement:
    """Take a branch application (teller); the customer then has 5 days to register online.

    ``documents`` are the checked ``accounts.agreements.Document`` values (one ID document at
    least; see ``required_documents``). A minor under 18 is applied for by the legal representative
    on the customer record (minor documents required); an 18-year-old without one applies alone and
    is marked ``minor_signed_up_alone`` (the customer's minor cap is set too). Raises
    ``ValidationError`` for a minor under 18 without a representative, an open agreement, no or a
    foreign or inactive account, an unknown or missing document; ``PermissionDenied`` without
    ``accounts.add_agreement`` or on the teller's own record.
    """
    require_perm(actor, APPLY_PERMISSION)
    applier = require_staff_person(actor)  # a person at the counter, recorded as applied_by
    require_not_own_record(actor, customer.pk)
    now = now or timezone.now()
    today = kst_today(now)
    # Lock the customer: two tellers applying at once make one agreement (the constraint backs it).
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    represented = False
    alone_minor = False
    if customer.kind == Customer.Kind.INDIVIDUAL and customer.birth_date is not None and customer.is_minor(today):
        represented = customer.legal_representative_id is not None
        if not represented and ages.needs_legal_representative(customer.birth_date, today):
            raise _refuse(ERR_UNDER_18_ALONE, "minor_needs_representative")
        alone_minor = not represented and ages.solo_signup_carries_minor_cap(customer.birth_date, today)
    if Agreement.objects.filter(customer=customer, state__in=Agreement.OPEN_STATES).exists():
        raise _refuse(ERR_AGREEMENT_EXISTS, "agreement_exists")
    accounts = list(Account.objects.filter(pk__in=[a.pk for a in withdrawal_accounts]).order_by("pk"))
    _check_accounts(customer, accounts)
    _check_documents(customer, documents, represented=represented, one_parent=one_parent_applies)
    agreement = Agreement.objects.create(
        customer=customer,
        documents=sorted(set(documents)),
        minor_signed_up_alone=alone_minor,
        applied_at=now,
        applied_by=applier,
        registration_deadline=rules.registration_deadline(now),
    )
    agreement.withdrawal_accounts.set(accounts)
    if alone_minor and not customer.solo_minor_cap:
        customer.solo_minor_cap = True
        customer.save(update_fields=["solo_minor_cap", "updated_at"])
    audit_record(
        action="agreement.apply",
        actor=actor,
        customer_id=customer.pk,
        obj=agreement,
        details={
            "accounts": [a.number for a in accounts],
            "documents": agreement.documents,
            "minor_signed_up_alone": alone_minor,
            "represented_minor": represented,
            "deadline": agreement.registration_deadline.isoformat(),
        },
    )
    return agreement


# --- Lapse, suspension, wrong entries, use ------------------------------------------------------


@transaction.atomic
def agreement_lapse(*, agreement: Agreement, actor: Actor, now: dt.datetime | None = None) -> Agreement:
    """Mark an application not registered by its deadline as lapsed (the customer reapplies at a branch).

    Raises ``ValidationError`` when it is not awaiting registration or its deadline has not
    passed; ``PermissionDenied`` without ``accounts.change_agreement``.
    """
    require_perm(actor, LAPSE_PERMISSION)
    now = now or timezone.now()
    locked = _lock(agreement)
    if locked.state != State.APPLIED:
        raise _refuse(ERR_NOT_APPLIED, "not_applied")
    if rules.registration_open(locked.applied_at, now):
        raise _refuse(ERR_DEADLINE_NOT_PASSED, "deadline_not_passed")
    locked.state = State.LAPSED
    locked.lapsed_at = now
    locked.save(update_fields=["state", "lapsed_at"])
    audit_record(
        action="agreement.lapse",
        actor=actor,
        customer_id=locked.customer_id,
        obj=locked,
        details={"deadline": locked.registration_deadline.isoformat()},
    )
    return locked


def _suspend(locked: Agreement, *, reason: str, actor: Actor, now: dt.datetime, note: str = "") -> None:
    locked.state = State.SUSPENDED
    locked.suspension_reason = reason
    locked.suspended_at = now
    locked.save(update_fields=["state", "suspension_reason", "suspended_at", "wrong_entries"])
    details: dict[str, Any] = {"reason": reason}
    if note:
        details["note"] = note[:200]
    audit_record(action="agreement.suspend", actor=actor, customer_id=locked.customer_id, obj=locked, details=details)


@transaction.atomic
def agreement_suspend(
    *, agreement: Agreement, reason: str, actor: Actor, note: str = "", now: dt.datetime | None = None
) -> Agreement:
    """Suspend an active agreement (일시정지).

    Staff (``accounts.suspend_agreement``) give ``customer_request`` or ``staff``; the customer's
    own user only ``customer_request``; a system actor with the permission any reason (the dormancy
    job uses ``dormant``). Raises ``ValidationError`` for an unknown or not-allowed reason or an
    agreement that is not active; ``PermissionDenied`` otherwise.
    """
    if reason not in Reason.values:
        raise _refuse(ERR_REASON_UNKNOWN, "reason_unknown")
    _require_customer_or_perm(actor, agreement, SUSPEND_PERMISSION)
    automatic = reason in (Reason.DORMANT, Reason.WRONG_ENTRIES)
    if automatic and not isinstance(actor, SystemActor):
        raise _refuse(ERR_REASON_AUTOMATIC, "reason_automatic")
    if not is_staff_actor(actor) and not isinstance(actor, SystemActor) and reason != Reason.CUSTOMER_REQUEST:
        raise PermissionDenied("a customer suspends only at their own request")
    locked = _lock(agreement)
    if locked.state != State.ACTIVE:
        raise _refuse(ERR_NOT_ACTIVE, "not_active")
    _suspend(locked, reason=reason, actor=actor, now=now or timezone.now(), note=note)
    return locked


def agreement_record_wrong_entry(
    *, agreement: Agreement, actor: Actor, what: str = "", now: dt.datetime | None = None
) -> Agreement:
    """Count one wrong entry (login password, account password or identifying data) on an active agreement.

    The 5th consecutive one suspends it (reason ``wrong_entries``) and texts the customer once.
    Runs in its own transaction so the count survives the caller's refusal: call it outside any
    transaction. A non-active agreement is returned unchanged. Raises ``PermissionDenied`` for
    anyone but the customer's own user or an actor with ``accounts.use_agreement``.
    """
    _require_customer_or_perm(actor, agreement, USE_PERMISSION)
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock(agreement)
        if locked.state != State.ACTIVE:
            return locked
        locked.wrong_entries += 1
        details = {"wrong_entries": locked.wrong_entries, "entry": what[:40]}
        audit_record(
            action="agreement.wrong_entry", actor=actor, customer_id=locked.customer_id, obj=locked, details=details
        )
        if rules.suspends_after(locked.wrong_entries):
            _suspend(locked, reason=Reason.WRONG_ENTRIES, actor=actor, now=now)
            send_sms_on_commit(
                to=locked.customer.phone,
                body=str(WRONG_ENTRY_SMS) % {"bank": settings.BANK_NAME_KO},
                purpose="agreement_wrong_entry_suspension",
            )
        else:
            locked.save(update_fields=["wrong_entries"])
        return locked


@transaction.atomic
def agreement_record_use(*, agreement: Agreement, actor: Actor, now: dt.datetime | None = None) -> Agreement:
    """Record a successful internet/mobile banking use: ``last_used_at`` (dormancy) and a reset wrong-entry count.

    Audited only when a wrong-entry count is reset (the sign-in itself is audited by its own
    event). Raises ``ValidationError`` unless active; ``PermissionDenied`` as for wrong entries.
    """
    _require_customer_or_perm(actor, agreement, USE_PERMISSION)
    locked = _lock(agreement)
    if locked.state != State.ACTIVE:
        raise _refuse(ERR_NOT_ACTIVE, "not_active")
    reset = locked.wrong_entries
    locked.wrong_entries = 0
    locked.last_used_at = now or timezone.now()
    locked.save(update_fields=["wrong_entries", "last_used_at"])
    if reset:
        audit_record(
            action="agreement.wrong_entries_reset",
            actor=actor,
            customer_id=locked.customer_id,
            obj=locked,
            details={"was": reset},
        )
    return locked


# --- Release ------------------------------------------------------------------------------------


def _release(locked: Agreement, *, actor: Actor, now: dt.datetime, details: Mapping[str, Any]) -> None:
    reason = locked.suspension_reason
    locked.state = State.ACTIVE
    locked.suspension_reason = ""
    locked.suspended_at = None
    locked.wrong_entries = 0
    # A released dormant agreement must not be suspended again by the next sweep: count from now.
    locked.last_used_at = now
    locked.save(update_fields=["state", "suspension_reason", "suspended_at", "wrong_entries", "last_used_at"])
    audit_record(
        action="agreement.release",
        actor=actor,
        customer_id=locked.customer_id,
        obj=locked,
        details={"reason": reason, **details},
    )


def _prepare_release(request: StaffRequest, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The suspended agreement to release and how it was asked for (``branch`` or ``phone``)."""
    customer = Customer.objects.get(pk=target_id(request.customer_id))
    agreement = Agreement.objects.filter(customer=customer, state=State.SUSPENDED).first()
    if agreement is None:
        raise _refuse(ERR_NOT_SUSPENDED, "not_suspended")
    channel = str(payload.get("channel") or "branch")
    if channel not in ("branch", "phone"):
        raise _refuse(ERR_RELEASE_CHANNEL, "release_channel")
    if channel == "phone":
        age = age_on(customer.birth_date, kst_today()) if customer.birth_date else None
        if customer.kind != Customer.Kind.INDIVIDUAL or age is None or age < PHONE_RELEASE_MIN_AGE:
            raise _refuse(ERR_PHONE_RELEASE_AGE, "phone_release_age")
    return {"agreement": agreement.pk, "channel": channel, "suspension_reason": agreement.suspension_reason}


@transaction.atomic
def agreement_release(*, request: StaffRequest, actor: Actor) -> Agreement:
    """Release a suspended agreement as an approved staff request orders (dual control).

    Only reachable through ``staff_request_approve`` (kind ``agreement_release``). Raises
    ``ValidationError`` when the agreement is no longer suspended as it was when requested;
    ``PermissionDenied`` without ``accounts.release_agreement`` or outside an approved request.
    """
    require_perm(actor, RELEASE_PERMISSION)
    request = claim_approved_request(request=request, kind=StaffRequest.Kind.AGREEMENT_RELEASE, actor=actor)
    locked = Agreement.objects.select_for_update().filter(pk=request.payload.get("agreement")).first()
    if (
        locked is None
        or locked.customer_id != request.customer_id
        or locked.state != State.SUSPENDED
        or locked.suspension_reason != request.payload.get("suspension_reason")
    ):
        raise _refuse(ERR_AGREEMENT_CHANGED, "agreement_changed")
    _release(
        locked,
        actor=actor,
        now=timezone.now(),
        details={"staff_request": request.pk, "channel": request.payload.get("channel", "branch")},
    )
    return locked


# --- Termination --------------------------------------------------------------------------------


@transaction.atomic
def agreement_terminate(
    *, agreement: Agreement, actor: Actor, reason: str = "", now: dt.datetime | None = None
) -> Agreement:
    """End an agreement (해지) in any state; its internet-banking login is deactivated.

    Raises ``ValidationError`` when already terminated; ``PermissionDenied`` without
    ``accounts.terminate_agreement`` or on the staff member's own record.
    """
    require_perm(actor, TERMINATE_PERMISSION)
    require_not_own_record(actor, agreement.customer_id)
    locked = _lock(agreement)
    if locked.state == State.TERMINATED:
        raise _refuse(ERR_ALREADY_TERMINATED, "already_terminated")
    previous = locked.state
    locked.state = State.TERMINATED
    locked.suspension_reason = ""
    locked.terminated_at = now or timezone.now()
    locked.save(update_fields=["state", "suspension_reason", "terminated_at"])
    if locked.user_id is not None:
        User.objects.filter(pk=locked.user_id).update(is_active=False)
    audit_record(
        action="agreement.terminate",
        actor=actor,
        customer_id=locked.customer_id,
        obj=locked,
        details={"previous_state": previous, "reason": reason[:200]},
    )
    return locked


staff_request_executor(
    kind=StaffRequest.Kind.AGREEMENT_RELEASE,
    target="customer",
    permission=RELEASE_PERMISSION,
    execute=agreement_release,
    prepare=_prepare_release,
)
