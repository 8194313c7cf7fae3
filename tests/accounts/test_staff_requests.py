"""Dual control for branch staff (책임자 승인): request, approve-and-execute, reject, cancel, expire.

Written as an insider would try it: a teller going around the approval, a manager approving their
own request or their own customer record, two managers approving at once, a request whose target
changed in between, and the executors called directly with anything but a fresh approval.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from accounts import services
from accounts.models import Customer, Journal, StaffRequest, User
from accounts.services._approval import ERR_OWN_RECORD
from accounts.services.passwords import PasswordCheck
from accounts.services.staff_requests import ERR_APPROVER_ROLE, ERR_OWN_REQUEST
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from bankportal.timeutil import KST
from tests.conftest import ACCOUNT_PASSWORD, STAFF_PASSWORD

pytestmark = pytest.mark.django_db

Kind = StaffRequest.Kind
State = StaffRequest.State


def _staff(username: str, group: str, *, customer: Customer | None = None) -> User:
    user = User.objects.create_user(username=username, password=STAFF_PASSWORD, is_staff=True, customer=customer)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def manager2(db) -> User:  # type: ignore[no-untyped-def]
    """A second branch manager."""
    return _staff("manager2", "Branch manager")


@pytest.fixture
def deposit(alice_account, teller) -> Journal:  # type: ignore[no-untyped-def]
    return services.cash_deposit(account=alice_account, amount=30_000, actor=teller)


def _request_reversal(journal: Journal, actor: User, reason: str = "금액 이중 입력") -> StaffRequest:
    return services.staff_request_create(kind=Kind.JOURNAL_REVERSE, journal=journal, reason=reason, actor=actor)


def _request_contact_change(
    customer: Customer, actor: User, phone: str = "010-7777-8888", email: str = ""
) -> StaffRequest:
    return services.staff_request_create(
        kind=Kind.CONTACT_CHANGE,
        customer=customer,
        payload={"phone": phone, "email": email or customer.email},
        reason="휴대폰 분실로 번호 변경, 신분증 확인",
        actor=actor,
    )


def _actions(request: StaffRequest) -> list[tuple[str, int | None]]:
    """The audit trail of one request: (action, acting user id), in order."""
    return list(
        AuditEvent.objects.filter(object_type="accounts.staffrequest", object_id=str(request.pk))
        .order_by("pk")
        .values_list("action", "actor_id")
    )


# --- The executors have no back door -----------------------------------------------------------


def test_executors_refuse_to_run_without_an_approved_request(teller, manager, alice, alice_account, deposit):
    """Calling the reset, contact, cap and reversal services directly, with no request, with a pending
    one or with one of another kind, is refused and nothing changes."""
    pending = _request_reversal(deposit, teller)
    balance = alice_account.balance
    with pytest.raises(TypeError):
        services.journal_reverse(journal=deposit, reason="direct", actor=manager)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        services.account_password_reset(account=alice_account, new_password="6021", actor=teller)  # type: ignore[call-arg]
    for call in (
        lambda req: services.journal_reverse(request=req, actor=manager),
        lambda req: services.account_password_reset(request=req, new_password="6021", actor=manager),
        lambda req: services.customer_update_contact(request=req, actor=manager),
        lambda req: services.customer_lift_minor_cap(request=req, actor=manager),
    ):
        with pytest.raises(PermissionDenied):
            call(None)
        with pytest.raises((PermissionDenied, ValidationError)):
            call(pending)
    pending.refresh_from_db()
    assert pending.state == State.PENDING
    alice_account.refresh_from_db()
    assert alice_account.balance == balance
    assert not Journal.objects.filter(kind=Journal.Kind.REVERSAL).exists()
    alice.refresh_from_db()
    assert alice.phone == "01086429753"


def test_an_unsaved_approved_request_is_not_a_key(manager, teller, deposit):
    """A request object made up in code, claiming to be approved, is refused: the row is what counts."""
    forged = StaffRequest(pk=999_999, kind=Kind.JOURNAL_REVERSE, journal=deposit, state=State.APPROVED)
    with pytest.raises(StaffRequest.DoesNotExist):
        services.journal_reverse(request=forged, actor=manager)
    real = _request_reversal(deposit, teller)
    real.state = State.APPROVED  # in memory only
    with pytest.raises(ValidationError) as exc:
        services.journal_reverse(request=real, actor=manager)
    assert exc.value.code == "staff_request_not_approved"
    assert not Journal.objects.filter(kind=Journal.Kind.REVERSAL).exists()


# --- Request, approve, execute once ------------------------------------------------------------


def test_tellers_reversal_request_approved_by_a_manager_executes_exactly_once(teller, manager, manager2, deposit):
    """The approval posts the reversal in the same step; a second approval and a replay are refused."""
    request = _request_reversal(deposit, teller)
    assert request.state == State.PENDING and request.requested_by == teller

    done = services.staff_request_approve(request=request, note="확인", actor=manager)

    assert done.state == State.EXECUTED
    assert done.decided_by == manager and done.executed_by == manager
    reversal = Journal.objects.get(kind=Journal.Kind.REVERSAL)
    assert reversal.reverses == deposit
    with pytest.raises(ValidationError) as again:
        services.staff_request_approve(request=request, actor=manager2)
    assert again.value.code == "staff_request_not_pending"
    with pytest.raises(ValidationError) as replay:
        services.journal_reverse(request=done, actor=manager)
    assert replay.value.code == "staff_request_executed"
    assert Journal.objects.filter(kind=Journal.Kind.REVERSAL).count() == 1
    event = AuditEvent.objects.get(action="ledger.reverse")
    assert event.actor == manager
    assert event.details["reason"] == "금액 이중 입력"
    assert event.details["staff_request"] == request.pk


def test_every_step_is_audited_with_the_person_who_took_it(teller, manager, deposit, alice, alice_account):
    """Create (teller), approve and execute (manager); reject; cancel: each leaves an event with its actor."""
    executed = _request_reversal(deposit, teller)
    services.staff_request_approve(request=executed, actor=manager)
    rejected = _request_contact_change(alice, teller)
    services.staff_request_reject(request=rejected, note="본인 확인 불가", actor=manager)
    cancelled = services.staff_request_create(
        kind=Kind.ACCOUNT_PASSWORD_RESET, account=alice_account, reason="비밀번호 분실", actor=teller
    )
    services.staff_request_cancel(request=cancelled, actor=teller)

    assert _actions(executed) == [
        ("staff_request.create", teller.pk),
        ("staff_request.approve", manager.pk),
        ("staff_request.execute", manager.pk),
    ]
    assert _actions(rejected) == [("staff_request.create", teller.pk), ("staff_request.reject", manager.pk)]
    assert _actions(cancelled) == [("staff_request.create", teller.pk), ("staff_request.cancel", teller.pk)]
    create = AuditEvent.objects.filter(action="staff_request.create", object_id=str(rejected.pk)).get()
    assert create.details["kind"] == Kind.CONTACT_CHANGE
    assert create.details["reason"] == "휴대폰 분실로 번호 변경, 신분증 확인"
    assert create.customer_ref == alice.pk


def test_a_request_without_a_reason_is_refused_with_a_clear_message(teller, deposit):
    """An empty or blank reason is refused (in the active language) and nothing is recorded."""
    from django.utils import translation

    for reason in ("", "   \n "):
        with pytest.raises(ValidationError) as exc:
            _request_reversal(deposit, teller, reason=reason)
        assert exc.value.code == "reason_required"
    with translation.override("en"):
        assert "Give the reason for this request" in str(exc.value.messages[0])
    assert not StaffRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="staff_request.create").exists()


def test_the_database_refuses_an_empty_reason(teller, deposit):
    request = _request_reversal(deposit, teller)
    with pytest.raises(IntegrityError), transaction.atomic():
        StaffRequest.objects.filter(pk=request.pk).update(reason="")


# --- Nobody approves their own request; nobody touches their own record --------------------------


def test_the_requester_cannot_approve_their_own_request_even_as_a_manager(manager, manager2, deposit):
    """A manager's own request waits for another manager; their approval is refused and audited."""
    request = _request_reversal(deposit, manager)

    with pytest.raises(PermissionDenied) as exc:
        services.staff_request_approve(request=request, actor=manager)
    with pytest.raises(PermissionDenied):
        services.staff_request_reject(request=request, note="취소", actor=manager)

    assert exc.value.args[0] == ERR_OWN_REQUEST
    request.refresh_from_db()
    assert request.state == State.PENDING and request.decided_by is None
    assert not Journal.objects.filter(kind=Journal.Kind.REVERSAL).exists()
    refused = AuditEvent.objects.get(action="staff_request.approve_refused")
    assert refused.actor == manager and refused.details["refusal"] == "permission_denied"
    assert services.staff_request_approve(request=request, actor=manager2).state == State.EXECUTED


def test_the_database_refuses_a_decision_by_the_requester(manager, deposit):
    """Even written straight to the table, decided_by = requested_by breaks a constraint."""
    request = _request_reversal(deposit, manager)
    with pytest.raises(IntegrityError), transaction.atomic():
        StaffRequest.objects.filter(pk=request.pk).update(
            state=State.APPROVED, decided_by=F("requested_by"), decided_at=request.requested_at
        )


def test_the_database_refuses_impossible_state_shapes(teller, manager, deposit):
    """Executed without who and when, or approved without a decider, are refused by CheckConstraints."""
    request = _request_reversal(deposit, teller)
    for bad in (
        {"state": State.EXECUTED},
        {"state": State.APPROVED},
        {"state": State.CANCELLED},
        {"state": State.PENDING, "decided_by": manager, "decided_at": request.requested_at},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            StaffRequest.objects.filter(pk=request.pk).update(**bad)


def test_a_manager_cannot_approve_a_request_about_their_own_customer_record(teller, alice):
    """A manager who is also the customer cannot approve a change to their own contact details."""
    own = _staff("manager_alice", "Branch manager", customer=alice)
    request = _request_contact_change(alice, teller)

    with pytest.raises(PermissionDenied) as exc:
        services.staff_request_approve(request=request, actor=own)

    assert exc.value.args[0] == ERR_OWN_RECORD
    alice.refresh_from_db()
    assert alice.phone == "01086429753"
    request.refresh_from_db()
    assert request.state == State.PENDING


def test_staff_cannot_request_anything_on_their_own_record(alice, alice_account):
    """A teller who banks here cannot ask for their own password reset or contact change."""
    own = _staff("teller_alice", "Teller", customer=alice)
    with pytest.raises(PermissionDenied):
        _request_contact_change(alice, own)
    with pytest.raises(PermissionDenied):
        services.staff_request_create(kind=Kind.ACCOUNT_PASSWORD_RESET, account=alice_account, reason="own", actor=own)
    assert not StaffRequest.objects.exists()


def test_a_reversal_touching_the_staff_members_account_is_theirs_too(alice, alice_account, teller, manager):
    """A journal is the staff member's own record when any leg is on their account."""
    own = _staff("manager_alice", "Branch manager", customer=alice)
    journal = services.cash_deposit(account=alice_account, amount=5_000, actor=teller)
    request = _request_reversal(journal, teller)
    with pytest.raises(PermissionDenied):
        services.staff_request_approve(request=request, actor=own)
    assert services.staff_request_approve(request=request, actor=manager).state == State.EXECUTED


def test_a_teller_cannot_approve_and_a_system_actor_cannot_take_part(teller, manager, deposit):
    """Approval needs the manager role; a job, even one given the permissions, is not a person."""
    request = _request_reversal(deposit, teller)
    with pytest.raises(PermissionDenied):
        services.staff_request_approve(request=request, actor=teller)
    robot = system_actor("robot", ["accounts.add_staffrequest", "accounts.approve_staffrequest"])
    with pytest.raises(PermissionDenied):
        services.staff_request_approve(request=request, actor=robot)
    with pytest.raises(PermissionDenied):
        _request_reversal(deposit, robot)  # type: ignore[arg-type]
    request.refresh_from_db()
    assert request.state == State.PENDING


def test_an_approver_needs_the_kinds_own_permission(teller, deposit):
    """Holding only ``approve_staffrequest`` is not enough to approve a reversal."""
    from django.contrib.auth.models import Permission

    approver = User.objects.create_user(username="approver", password=STAFF_PASSWORD, is_staff=True)
    approver.user_permissions.add(Permission.objects.get(codename="approve_staffrequest"))
    request = _request_reversal(deposit, teller)
    with pytest.raises(PermissionDenied) as exc:
        services.staff_request_approve(request=request, actor=approver)
    assert exc.value.args[0] == ERR_APPROVER_ROLE
    assert not Journal.objects.filter(kind=Journal.Kind.REVERSAL).exists()


# --- Rejected, cancelled, failed: nothing happens ------------------------------------------------


def test_a_rejected_request_executes_nothing(teller, manager, deposit):
    request = _request_reversal(deposit, teller)
    with pytest.raises(ValidationError) as no_note:
        services.staff_request_reject(request=request, note=" ", actor=manager)
    assert no_note.value.code == "note_required"

    rejected = services.staff_request_reject(request=request, note="근거 부족", actor=manager)

    assert rejected.state == State.REJECTED and rejected.decision_note == "근거 부족"
    with pytest.raises(ValidationError):
        services.staff_request_approve(request=request, actor=manager)
    with pytest.raises(ValidationError) as exc:
        services.journal_reverse(request=rejected, actor=manager)
    assert exc.value.code == "staff_request_closed"
    assert not Journal.objects.filter(kind=Journal.Kind.REVERSAL).exists()


def test_only_the_requester_cancels_and_a_cancelled_request_executes_nothing(teller, manager, deposit):
    other_teller = _staff("teller2", "Teller")
    request = _request_reversal(deposit, teller)
    with pytest.raises(PermissionDenied):
        services.staff_request_cancel(request=request, actor=other_teller)
    with pytest.raises(PermissionDenied):
        services.staff_request_cancel(request=request, actor=manager)

    cancelled = services.staff_request_cancel(request=request, actor=teller)

    assert cancelled.state == State.CANCELLED and cancelled.closed_at is not None
    with pytest.raises(ValidationError) as exc:
        services.staff_request_approve(request=request, actor=manager)
    assert exc.value.code == "staff_request_not_pending"
    assert not Journal.objects.filter(kind=Journal.Kind.REVERSAL).exists()


def test_an_approval_whose_execution_fails_leaves_the_request_pending_and_nothing_changed(
    teller, manager, alice_account, deposit
):
    """The money was withdrawn before the reversal was approved: the manager sees why, nothing moves."""
    request = _request_reversal(deposit, teller)
    services.cash_withdrawal(account=alice_account, amount=1_030_000, password=ACCOUNT_PASSWORD, actor=teller)

    with pytest.raises(ValidationError) as exc:
        services.staff_request_approve(request=request, note="ok", actor=manager)

    assert exc.value.code == "insufficient_funds"
    request.refresh_from_db()
    assert request.state == State.PENDING
    assert request.decided_by is None and request.decided_at is None and request.decision_note == ""
    assert not Journal.objects.filter(kind=Journal.Kind.REVERSAL).exists()
    alice_account.refresh_from_db()
    assert alice_account.balance == 0
    assert not AuditEvent.objects.filter(action__in=["staff_request.approve", "staff_request.execute"]).exists()
    refused = AuditEvent.objects.get(action="staff_request.approve_refused")
    assert refused.actor == manager and refused.details["refusal"] == "insufficient_funds"


def test_a_request_for_a_journal_reversed_in_between_is_refused_clearly(teller, manager, manager2, deposit):
    """Two reversal requests cannot both be open; once one executes, a new one is refused at once."""
    first = _request_reversal(deposit, teller)
    with pytest.raises(ValidationError) as duplicate:
        _request_reversal(deposit, manager)
    assert duplicate.value.code == "staff_request_duplicate"
    services.staff_request_approve(request=first, actor=manager)
    with pytest.raises(ValidationError) as exc:
        _request_reversal(deposit, teller, reason="again")
    assert exc.value.code == "already_reversed"
    reversal = Journal.objects.get(kind=Journal.Kind.REVERSAL)
    with pytest.raises(ValidationError) as exc:
        _request_reversal(reversal, teller, reason="undo")
    assert exc.value.code == "cannot_reverse_reversal"


# --- Contact changes -----------------------------------------------------------------------------


def test_a_contact_change_is_applied_on_approval_and_notifies_the_old_and_new_contacts(teller, manager, alice):
    """Nothing changes until approval; then the phone and email change and both old and new are told."""
    request = _request_contact_change(alice, teller, phone="010 7777 8888", email="new@example.com")
    assert request.payload == {
        "phone": "01077778888",
        "email": "new@example.com",
        "old_phone": "01086429753",
        "old_email": "alice@example.com",
    }
    alice.refresh_from_db()
    assert alice.phone == "01086429753"
    assert not Notification.objects.exists()

    services.staff_request_approve(request=request, actor=manager)

    alice.refresh_from_db()
    assert (alice.phone, alice.email) == ("01077778888", "new@example.com")
    notices = Notification.objects.filter(purpose="customer.contact_changed")
    assert sorted(notices.values_list("channel", "to")) == [
        ("email", "alice@example.com"),
        ("email", "new@example.com"),
        ("sms", "01077778888"),
        ("sms", "01086429753"),
    ]
    event = AuditEvent.objects.get(action="customer.update_contact")
    assert event.actor == manager
    assert event.details == {"fields": ["phone", "email"], "staff_request": request.pk}


def test_a_refused_contact_change_sends_no_notice(teller, manager, alice):
    """When the execution is refused, the rolled-back change leaves no queued message behind."""
    request = _request_contact_change(alice, teller)
    Customer.objects.filter(pk=alice.pk).update(phone="01012121212")  # changed by another route meanwhile

    with pytest.raises(ValidationError) as exc:
        services.staff_request_approve(request=request, actor=manager)

    assert exc.value.code == "contact_changed_since_request"
    alice.refresh_from_db()
    assert alice.phone == "01012121212"
    request.refresh_from_db()
    assert request.state == State.PENDING
    assert not Notification.objects.exists()


def test_a_contact_change_request_checks_the_new_details_when_it_is_recorded(teller, alice):
    with pytest.raises(ValidationError) as bad_phone:
        _request_contact_change(alice, teller, phone="02-123-4567")
    assert bad_phone.value.message_dict.keys() == {"phone"}
    with pytest.raises(ValidationError) as bad_email:
        _request_contact_change(alice, teller, email="not-an-email")
    assert bad_email.value.message_dict.keys() == {"email"}
    with pytest.raises(ValidationError) as unchanged:
        _request_contact_change(alice, teller, phone=alice.phone)
    assert unchanged.value.code == "contact_unchanged"
    assert not StaffRequest.objects.exists()


def test_a_name_change_stays_direct(teller, alice):
    services.customer_update_name(customer=alice, name="김앨리스B", actor=teller)
    alice.refresh_from_db()
    assert alice.name == "김앨리스B"
    assert AuditEvent.objects.get(action="customer.update_contact").details == {"fields": ["name"]}


# --- Minor cap -----------------------------------------------------------------------------------


def test_the_minor_cap_is_lifted_only_through_an_approved_request_after_the_19th_birthday(teller, manager, minnie):
    with pytest.raises(ValidationError) as early:
        services.staff_request_create(kind=Kind.MINOR_CAP_LIFT, customer=minnie, reason="성년", actor=teller)
    assert early.value.code == "minor_cap_still_minor"
    adult_day = minnie.birth_date.replace(year=minnie.birth_date.year + 19)
    with time_machine.travel(dt.datetime.combine(adult_day, dt.time(10), tzinfo=KST), tick=False):
        request = services.staff_request_create(
            kind=Kind.MINOR_CAP_LIFT, customer=minnie, reason="성년 확인, 신분증 확인", actor=teller
        )
        minnie.refresh_from_db()
        assert minnie.solo_minor_cap is True
        services.staff_request_approve(request=request, actor=manager)
    minnie.refresh_from_db()
    assert minnie.solo_minor_cap is False
    event = AuditEvent.objects.get(action="customer.lift_minor_cap")
    assert event.actor == manager and event.details == {"staff_request": request.pk}


# --- Account password reset: approval first, then the customer types it -------------------------


def test_a_password_reset_is_approved_first_and_the_customer_sets_the_new_password_once(teller, manager, alice_account):
    """Approval changes nothing; the requester then sets the password the customer types, once."""
    for _ in range(5):
        services.account_password_check(account=alice_account, password="9999", actor=teller)
    request = services.staff_request_create(
        kind=Kind.ACCOUNT_PASSWORD_RESET, account=alice_account, reason="비밀번호 5회 오류, 신분증 확인", actor=teller
    )
    with pytest.raises(ValidationError) as early:
        services.account_password_reset(request=request, new_password="6021", actor=teller)
    assert early.value.code == "staff_request_not_approved"

    approved = services.staff_request_approve(request=request, actor=manager)
    assert approved.state == State.APPROVED
    alice_account.refresh_from_db()
    assert alice_account.password_locked

    with pytest.raises(ValidationError) as weak:
        services.account_password_reset(request=approved, new_password="1111", actor=teller)
    assert weak.value.code == "account_password_weak"
    services.account_password_reset(request=approved, new_password="6021", actor=teller)

    approved.refresh_from_db()
    assert approved.state == State.EXECUTED and approved.executed_by == teller
    assert services.account_password_check(account=alice_account, password="6021", actor=teller) is PasswordCheck.OK
    with pytest.raises(ValidationError) as replay:
        services.account_password_reset(request=approved, new_password="7395", actor=teller)
    assert replay.value.code == "staff_request_executed"
    assert AuditEvent.objects.filter(action="account.password_reset").count() == 1
    assert approved.payload == {}


def test_only_the_requester_or_the_approver_may_complete_a_password_reset(teller, manager, alice_account):
    other_teller = _staff("teller2", "Teller")
    request = services.staff_request_create(
        kind=Kind.ACCOUNT_PASSWORD_RESET, account=alice_account, reason="분실", actor=teller
    )
    approved = services.staff_request_approve(request=request, actor=manager)
    with pytest.raises(PermissionDenied):
        services.account_password_reset(request=approved, new_password="6021", actor=other_teller)
    services.account_password_reset(request=approved, new_password="6021", actor=manager)
    approved.refresh_from_db()
    assert approved.executed_by == manager


def test_no_request_ever_stores_a_password(teller, manager, alice_account):
    request = services.staff_request_create(
        kind=Kind.ACCOUNT_PASSWORD_RESET, account=alice_account, reason="분실", actor=teller
    )
    services.staff_request_approve(request=request, actor=manager)
    services.account_password_reset(request=request, new_password="6021", actor=teller)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {StaffRequest._meta.db_table}")  # noqa: S608 - our own table name
        rows = repr(cursor.fetchall())
    assert "6021" not in rows


# --- Expiry at the end of the KST business day --------------------------------------------------


def test_a_request_expires_at_midnight_kst_of_the_day_it_was_made(teller, manager, deposit):
    """Approvable at 23:59:59 KST; from 00:00 the next day it is refused and marked expired."""
    with time_machine.travel(dt.datetime(2031, 3, 14, 9, 0, tzinfo=KST), tick=False):
        first = _request_reversal(deposit, teller)
    assert first.expires_at == dt.datetime(2031, 3, 15, 0, 0, tzinfo=KST)
    with time_machine.travel(dt.datetime(2031, 3, 14, 23, 59, 59, tzinfo=KST), tick=False):
        services.staff_request_cancel(request=first, actor=teller)
        second = _request_reversal(deposit, teller)
    with time_machine.travel(dt.datetime(2031, 3, 15, 0, 0, tzinfo=KST), tick=False):
        with pytest.raises(ValidationError) as exc:
            services.staff_request_approve(request=second, actor=manager)
        assert exc.value.code == "staff_request_expired"
        second.refresh_from_db()
        assert second.state == State.EXPIRED
        # A new request may be made the next day.
        third = _request_reversal(deposit, teller)
    with time_machine.travel(dt.datetime(2031, 3, 15, 23, 59, 59, tzinfo=KST), tick=False):
        assert services.staff_request_approve(request=third, actor=manager).state == State.EXECUTED


def test_an_approved_password_reset_not_used_by_midnight_expires(teller, manager, alice_account):
    with time_machine.travel(dt.datetime(2031, 3, 14, 17, 0, tzinfo=KST), tick=False):
        request = services.staff_request_create(
            kind=Kind.ACCOUNT_PASSWORD_RESET, account=alice_account, reason="분실", actor=teller
        )
        services.staff_request_approve(request=request, actor=manager)
    with (
        time_machine.travel(dt.datetime(2031, 3, 15, 0, 0, tzinfo=KST), tick=False),
        pytest.raises(ValidationError) as exc,
    ):
        services.account_password_reset(request=request, new_password="6021", actor=teller)
    assert exc.value.code == "staff_request_expired"


def test_the_expiry_job_closes_open_requests_past_midnight_only(teller, manager, deposit, alice, alice_account):
    with time_machine.travel(dt.datetime(2031, 3, 14, 10, 0, tzinfo=KST), tick=False):
        stale = _request_reversal(deposit, teller)
        approved = services.staff_request_create(
            kind=Kind.ACCOUNT_PASSWORD_RESET, account=alice_account, reason="분실", actor=teller
        )
        services.staff_request_approve(request=approved, actor=manager)
    with time_machine.travel(dt.datetime(2031, 3, 15, 9, 0, tzinfo=KST), tick=False):
        fresh = _request_contact_change(alice, teller)
    job = system_actor("staff_request_expiry", ["accounts.change_staffrequest"])
    with pytest.raises(PermissionDenied):
        services.staff_request_expire_due(actor=system_actor("nobody"))

    count = services.staff_request_expire_due(actor=job, now=dt.datetime(2031, 3, 15, 9, 30, tzinfo=KST))

    assert count == 2
    assert StaffRequest.objects.get(pk=stale.pk).state == State.EXPIRED
    assert StaffRequest.objects.get(pk=approved.pk).state == State.EXPIRED
    assert StaffRequest.objects.get(pk=fresh.pk).state == State.PENDING
    assert AuditEvent.objects.filter(action="staff_request.expire").count() == 2


def test_staff_request_expiry_is_the_next_kst_midnight():
    expiry = services.staff_request_expiry
    # 23:59:59 KST is 14:59:59 UTC: still the same Seoul day.
    assert expiry(dt.datetime(2031, 3, 14, 14, 59, 59, tzinfo=dt.UTC)) == dt.datetime(2031, 3, 15, tzinfo=KST)
    assert expiry(dt.datetime(2031, 3, 14, 15, 0, 0, tzinfo=dt.UTC)) == dt.datetime(2031, 3, 16, tzinfo=KST)


# --- Kinds are registered, not stubbed ----------------------------------------------------------


def test_every_kind_has_exactly_one_executor():
    for kind in Kind.values:
        assert services.staff_request_executor_for(kind).kind == kind
    with pytest.raises(ImproperlyConfigured):
        services.staff_request_executor(kind=Kind.JOURNAL_REVERSE, target="journal", permission="x")
    with pytest.raises(ImproperlyConfigured):
        services.staff_request_executor(kind="no_such_kind", target="customer", permission="x")


def test_a_target_that_does_not_fit_the_kind_is_refused(teller, alice, alice_account, deposit):
    with pytest.raises(ValidationError) as exc:
        services.staff_request_create(kind=Kind.ACCOUNT_PASSWORD_RESET, customer=alice, reason="x", actor=teller)
    assert exc.value.code == "staff_request_target"
    with pytest.raises(ValidationError):
        services.staff_request_create(
            kind=Kind.JOURNAL_REVERSE, journal=deposit, customer=alice, reason="x", actor=teller
        )
    with pytest.raises(ValidationError) as unknown:
        services.staff_request_create(kind="no_such_kind", customer=alice, reason="x", actor=teller)
    assert unknown.value.code == "staff_request_kind"


# --- Two managers at once (PostgreSQL) ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_managers_approving_at_once_execute_it_once(requires_postgres, teller, manager, manager2, alice_account):
    """Two connections approve the same reversal at the same instant: one posts it, the other is told."""
    deposit = services.cash_deposit(account=alice_account, amount=30_000, actor=teller)
    request = _request_reversal(deposit, teller)
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def approve(index: int, actor: User) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = services.staff_request_approve(request=request, actor=actor)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each connection got
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(i, who)) for i, who in enumerate((manager, manager2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    executed = [r for r in results if isinstance(r, StaffRequest)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(executed) == 1 and len(refused) == 1, results
    assert refused[0].code == "staff_request_not_pending"
    assert Journal.objects.filter(kind=Journal.Kind.REVERSAL).count() == 1
    assert AuditEvent.objects.filter(action="ledger.reverse").count() == 1
    request.refresh_from_db()
    assert request.state == State.EXECUTED
    alice_account.refresh_from_db()
    assert alice_account.balance == 1_000_000


def test_the_nightly_task_expires_yesterdays_requests_as_a_named_system_actor(teller, deposit):
    """The beat task runs the expiry service as its own system actor, named in the audit trail."""
    from accounts.tasks import staff_request_expire_task

    with time_machine.travel(dt.datetime(2031, 3, 14, 10, 0, tzinfo=KST), tick=False):
        stale = _request_reversal(deposit, teller)
    with time_machine.travel(dt.datetime(2031, 3, 15, 0, 5, tzinfo=KST), tick=False):
        assert staff_request_expire_task.apply().get() == {"expired": 1}
    assert StaffRequest.objects.get(pk=stale.pk).state == State.EXPIRED
    event = AuditEvent.objects.get(action="staff_request.expire")
    assert event.actor_id is None and event.actor_label == "system:staff_request_expiry"
