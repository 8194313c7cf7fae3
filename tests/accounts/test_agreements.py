"""E-banking agreements: branch application, online registration, lapse, suspension, wrong entries,
use, release through an approved staff request, termination. Every change audited with its actor."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from accounts import services
from accounts.agreements import Document
from accounts.models import Agreement, Customer, StaffRequest, User
from accounts.services import agreements as svc
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from bankportal.timeutil import KST
from tests.conftest import ACCOUNT_PASSWORD, rrn_for_age

pytestmark = pytest.mark.django_db

State = Agreement.State
ID = [Document.RESIDENT_CARD]
APPLIED = dt.datetime(2026, 3, 2, 10, 0, tzinfo=KST)
LOGIN_PASSWORD = "Dasom-bank-2026!"


def _messages(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [str(m) for m in exc.value.messages]


def _apply(customer: Customer, account, teller, documents=ID, **kwargs) -> Agreement:  # type: ignore[no-untyped-def]
    return services.agreement_apply(
        customer=customer, withdrawal_accounts=[account], documents=documents, actor=teller, now=APPLIED, **kwargs
    )


def _register(customer: Customer, account, now: dt.datetime = APPLIED, **overrides) -> Agreement:  # type: ignore[no-untyped-def]
    data = {
        "name": customer.name,
        "id_number": services.customer_rrn(customer),
        "account_number": account.number,
        "account_password": ACCOUNT_PASSWORD,
        "medium_verified": True,
        "username": "alice2026",
        "password": LOGIN_PASSWORD,
        "actor": services.agreement_web_actor(),
        "now": now,
    }
    data.update(overrides)
    return services.agreement_register_online(**data)


def _events(agreement: Agreement) -> list[tuple[str, str]]:
    return list(
        AuditEvent.objects.filter(object_type="accounts.agreement", object_id=str(agreement.pk))
        .order_by("pk")
        .values_list("action", "actor_label")
    )


@pytest.fixture
def applied(alice, alice_account, teller) -> Agreement:  # type: ignore[no-untyped-def]
    return _apply(alice, alice_account, teller)


@pytest.fixture
def active(applied, alice, alice_account) -> Agreement:  # type: ignore[no-untyped-def]
    return _register(alice, alice_account)


# --- Branch application -------------------------------------------------------------------------


def test_a_teller_takes_an_application_with_its_deadline_and_an_audit_event(applied, teller) -> None:  # type: ignore[no-untyped-def]
    """Applied on D → deadline D+4 23:59:59.999999 KST; audited with the teller."""
    assert applied.state == State.APPLIED
    assert applied.registration_deadline == dt.datetime(2026, 3, 6, 23, 59, 59, 999999, tzinfo=KST)
    assert applied.applied_by == teller
    assert applied.documents == ["resident_card"]
    assert not applied.minor_signed_up_alone
    event = AuditEvent.objects.get(action="agreement.apply")
    assert event.actor_id == teller.pk
    assert event.customer_ref == applied.customer_id


def test_an_application_while_one_is_open_is_refused(applied, alice, alice_account, teller) -> None:  # type: ignore[no-untyped-def]
    """One applied, active or suspended agreement per customer."""
    with pytest.raises(ValidationError) as exc:
        _apply(alice, alice_account, teller)
    assert _messages(exc) == [str(svc.ERR_AGREEMENT_EXISTS)]


def test_the_database_refuses_a_second_open_agreement(applied, teller) -> None:  # type: ignore[no-untyped-def]
    """The constraint backs the service check."""
    with pytest.raises(IntegrityError), transaction.atomic():
        Agreement.objects.create(
            customer=applied.customer,
            applied_at=APPLIED,
            applied_by=teller,
            registration_deadline=applied.registration_deadline,
        )


def test_another_customers_account_is_refused(alice, teller, demand_product) -> None:  # type: ignore[no-untyped-def]
    """The withdrawal account must be the customer's own."""
    bob = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박밥", phone="010-1111-2222", rrn=rrn_for_age(40), actor=teller
    )
    bobs = services.account_open(customer=bob, product=demand_product, password="7391", actor=teller)
    with pytest.raises(ValidationError) as exc:
        _apply(alice, bobs, teller)
    assert _messages(exc) == [str(svc.ERR_ACCOUNT_NOT_CUSTOMERS % {"number": bobs.number_display})]
    assert not Agreement.objects.exists()


def test_no_withdrawal_account_is_refused(alice, teller) -> None:  # type: ignore[no-untyped-def]
    """At least one account."""
    with pytest.raises(ValidationError) as exc:
        services.agreement_apply(customer=alice, withdrawal_accounts=[], documents=ID, actor=teller)
    assert _messages(exc) == [str(svc.ERR_NO_WITHDRAWAL_ACCOUNT)]


def test_a_missing_id_document_is_refused_and_an_unknown_one_too(alice, alice_account, teller) -> None:  # type: ignore[no-untyped-def]
    """The checklist must be complete and known."""
    with pytest.raises(ValidationError) as exc:
        _apply(alice, alice_account, teller, documents=[])
    assert _messages(exc) == [str(svc.ERR_DOCUMENTS_MISSING % {"documents": "id_document"})]
    with pytest.raises(ValidationError) as exc:
        _apply(alice, alice_account, teller, documents=["library_card"])
    assert _messages(exc) == [str(svc.ERR_DOCUMENT_UNKNOWN % {"document": "library_card"})]


def test_an_individual_business_needs_the_business_documents(teller, demand_product) -> None:  # type: ignore[no-untyped-def]
    """Registration certificate, representative ID, bankbook and seal."""
    from tests.conftest import valid_brn

    shop = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL_BUSINESS,
        name="가게주인",
        phone="010-3333-4444",
        rrn=rrn_for_age(45, serial="145678"),
        brn=valid_brn("123451234"),
        actor=teller,
    )
    account = services.account_open(customer=shop, product=demand_product, password="7391", actor=teller)
    with pytest.raises(ValidationError) as exc:
        _apply(shop, account, teller, documents=[Document.DRIVER_LICENCE, Document.BANKBOOK])
    assert _messages(exc) == [
        str(svc.ERR_DOCUMENTS_MISSING % {"documents": "business_registration, representative_id, bankbook_seal"})
    ]
    full = [Document.DRIVER_LICENCE, *rules_business()]
    assert _apply(shop, account, teller, documents=full).state == State.APPLIED


def rules_business() -> list[str]:
    return [Document.BUSINESS_REGISTRATION, Document.REPRESENTATIVE_ID, Document.BANKBOOK, Document.BANKBOOK_SEAL]


def test_an_18_year_old_alone_is_marked_minor_signed_up_alone(minnie, teller, demand_product) -> None:  # type: ignore[no-untyped-def]
    """The 1M/3M cap follows from the flag."""
    account = services.account_open(customer=minnie, product=demand_product, password="7391", actor=teller)
    # Today, when the persona is 18 (the fixed APPLIED date may fall before the 18th birthday).
    agreement = services.agreement_apply(customer=minnie, withdrawal_accounts=[account], documents=ID, actor=teller)
    assert agreement.minor_signed_up_alone
    minnie.refresh_from_db()
    assert minnie.solo_minor_cap


@pytest.fixture
def kid(alice, teller) -> Customer:  # type: ignore[no-untyped-def]
    """A 12-year-old whose mother alice is the legal representative."""
    return services.customer_create(
        kind=Customer.Kind.INDIVIDUAL,
        name="김어린",
        phone="010-4444-5555",
        rrn=rrn_for_age(12, serial="312345"),
        legal_representative=alice,
        representative_relation=Customer.RepresentativeRelation.PARENT,
        actor=teller,
    )


def test_a_represented_minor_needs_the_minor_documents_and_the_consent_form_when_one_parent_applies(  # type: ignore[no-untyped-def]
    kid, teller, demand_product
) -> None:
    """Basic and family-relation certificates; consent form when one parent applies for both."""
    account = services.account_open(customer=kid, product=demand_product, password="7391", actor=teller)
    minor_docs = [Document.RESIDENT_CARD, Document.BASIC_CERTIFICATE, Document.FAMILY_RELATION_CERTIFICATE]
    with pytest.raises(ValidationError) as exc:
        _apply(kid, account, teller, documents=ID)
    assert exc.value.error_list[0].code == "documents_missing"
    with pytest.raises(ValidationError) as exc:
        _apply(kid, account, teller, documents=minor_docs, one_parent_applies=True)
    assert _messages(exc) == [str(svc.ERR_DOCUMENTS_MISSING % {"documents": "minor_consent_form"})]
    agreement = _apply(kid, account, teller, documents=minor_docs)
    assert not agreement.minor_signed_up_alone


def test_a_minor_under_18_without_a_representative_is_refused(kid, teller, demand_product) -> None:  # type: ignore[no-untyped-def]
    """Under 18 cannot apply alone."""
    account = services.account_open(customer=kid, product=demand_product, password="7391", actor=teller)
    # A record the services never make (a representative removed), to test the agreement's own check.
    Customer.objects.filter(pk=kid.pk).update(legal_representative=None, representative_relation="")
    kid.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        _apply(kid, account, teller)
    assert _messages(exc) == [str(svc.ERR_UNDER_18_ALONE)]


def test_a_customer_cannot_apply_for_themselves_and_a_teller_not_for_their_own_record(  # type: ignore[no-untyped-def]
    alice, alice_account, teller
) -> None:
    """Only staff with the permission, never on their own record."""
    customer_user = User.objects.create_user(username="alicebank", customer=alice)
    with pytest.raises(PermissionDenied):
        _apply(alice, alice_account, customer_user)
    teller.customer = alice
    teller.save()
    with pytest.raises(PermissionDenied):
        _apply(alice, alice_account, teller)


# --- Online registration ------------------------------------------------------------------------


def test_registration_creates_the_login_and_activates_the_agreement(active, alice) -> None:  # type: ignore[no-untyped-def]
    """The internet-banking user is the customer's, with the chosen password; audited as the web flow."""
    assert active.state == State.ACTIVE
    assert active.user.username == "alice2026"
    assert active.user.customer_id == alice.pk
    assert active.user.check_password(LOGIN_PASSWORD)
    assert active.last_used_at == APPLIED
    assert ("agreement.register", "system:ebanking_web") in _events(active)


def test_registration_at_d_plus_4_235959_is_accepted(applied, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """The last second of the 5th day."""
    agreement = _register(alice, alice_account, now=dt.datetime(2026, 3, 6, 23, 59, 59, tzinfo=KST))
    assert agreement.state == State.ACTIVE


def test_registration_at_d_plus_5_midnight_is_refused_even_before_the_lapse_job(applied, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """The deadline is checked by the service itself; no user is created."""
    with pytest.raises(ValidationError) as exc:
        _register(alice, alice_account, now=dt.datetime(2026, 3, 7, 0, 0, 0, tzinfo=KST))
    assert _messages(exc) == [str(svc.ERR_REGISTRATION_CLOSED)]
    applied.refresh_from_db()
    assert applied.state == State.APPLIED
    assert not User.objects.filter(username="alice2026").exists()


def test_registration_with_wrong_identifying_data_is_refused_and_audited(applied, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """Wrong name, wrong number or another account: one message that reveals nothing."""
    overrides: list[dict[str, Any]] = [
        {"name": "김엘리스"},
        {"id_number": rrn_for_age(33)},
        {"account_number": "000000000000"},
    ]
    for override in overrides:
        with pytest.raises(ValidationError) as exc:
            _register(alice, alice_account, **override)
        assert _messages(exc) == [str(svc.ERR_DETAILS_MISMATCH)]
    assert AuditEvent.objects.filter(action="agreement.register_refused").count() == 3


def test_registration_with_a_wrong_account_password_is_refused_and_counted(applied, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """The account's own failure count goes up."""
    with pytest.raises(ValidationError) as exc:
        _register(alice, alice_account, account_password="0000")
    assert _messages(exc) == [str(svc.ERR_ACCOUNT_PASSWORD_WRONG)]
    alice_account.refresh_from_db()
    assert alice_account.password_failures == 1


def test_registration_needs_the_security_medium_and_a_valid_login(applied, alice, alice_account, teller) -> None:  # type: ignore[no-untyped-def]
    """Unverified medium, bad or taken user ID, weak password: each refused with its message."""
    with pytest.raises(ValidationError) as exc:
        _register(alice, alice_account, medium_verified=False)
    assert _messages(exc) == [str(svc.ERR_MEDIUM_NOT_VERIFIED)]
    with pytest.raises(ValidationError) as exc:
        _register(alice, alice_account, username="Al")
    assert exc.value.message_dict["username"] == [str(svc.ERR_USER_ID_FORMAT)]
    User.objects.create_user(username="taken01")
    with pytest.raises(ValidationError) as exc:
        _register(alice, alice_account, username="TAKEN01".lower())
    assert exc.value.message_dict["username"] == [str(svc.ERR_USER_ID_TAKEN)]
    with pytest.raises(ValidationError) as exc:
        _register(alice, alice_account, password="123")
    assert "password" in exc.value.message_dict


def test_a_registered_agreement_cannot_register_again(active, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """Second registration refused."""
    with pytest.raises(ValidationError) as exc:
        _register(alice, alice_account, username="alice2027")
    assert _messages(exc) == [str(svc.ERR_ALREADY_REGISTERED)]


def test_registration_needs_the_web_flow_permission(applied, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """A system actor without ``accounts.use_agreement`` is refused."""
    with pytest.raises(PermissionDenied):
        _register(alice, alice_account, actor=system_actor("other_job"))


# --- Lapse --------------------------------------------------------------------------------------

LAPSER = system_actor("lapse_unregistered_agreements", {"accounts.change_agreement"})


def test_lapse_is_refused_at_the_deadline_and_done_one_second_later(applied, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """Both sides; a lapsed application cannot be registered online."""
    with pytest.raises(ValidationError) as exc:
        services.agreement_lapse(agreement=applied, actor=LAPSER, now=dt.datetime(2026, 3, 6, 23, 59, 59, tzinfo=KST))
    assert _messages(exc) == [str(svc.ERR_DEADLINE_NOT_PASSED)]
    lapsed = services.agreement_lapse(agreement=applied, actor=LAPSER, now=dt.datetime(2026, 3, 7, tzinfo=KST))
    assert lapsed.state == State.LAPSED
    assert ("agreement.lapse", "system:lapse_unregistered_agreements") in _events(lapsed)
    with pytest.raises(ValidationError) as exc:
        _register(alice, alice_account, now=dt.datetime(2026, 3, 3, tzinfo=KST))
    assert _messages(exc) == [str(svc.ERR_REGISTRATION_CLOSED)]
    with pytest.raises(ValidationError) as exc:
        services.agreement_lapse(agreement=lapsed, actor=LAPSER, now=dt.datetime(2026, 3, 8, tzinfo=KST))
    assert _messages(exc) == [str(svc.ERR_NOT_APPLIED)]


def test_after_a_lapse_the_branch_can_take_a_new_application(applied, alice, alice_account, teller) -> None:  # type: ignore[no-untyped-def]
    """Lapsed agreements are history."""
    services.agreement_lapse(agreement=applied, actor=LAPSER, now=dt.datetime(2026, 3, 7, tzinfo=KST))
    assert _apply(alice, alice_account, teller).state == State.APPLIED


# --- Wrong entries and use ----------------------------------------------------------------------

WEB = svc.agreement_web_actor()


def test_four_wrong_entries_then_a_use_resets_the_count(active) -> None:  # type: ignore[no-untyped-def]
    """A success resets; the agreement stays active."""
    for _ in range(4):
        services.agreement_record_wrong_entry(agreement=active, actor=WEB, what="login_password")
    active.refresh_from_db()
    assert (active.state, active.wrong_entries) == (State.ACTIVE, 4)
    used_at = dt.datetime(2026, 3, 10, 9, 0, tzinfo=KST)
    services.agreement_record_use(agreement=active, actor=WEB, now=used_at)
    active.refresh_from_db()
    assert (active.wrong_entries, active.last_used_at) == (0, used_at)
    assert ("agreement.wrong_entries_reset", "system:ebanking_web") in _events(active)
    for _ in range(4):
        services.agreement_record_wrong_entry(agreement=active, actor=WEB)
    active.refresh_from_db()
    assert active.state == State.ACTIVE
    assert not Notification.objects.filter(purpose="agreement_wrong_entry_suspension").exists()


def test_the_fifth_wrong_entry_suspends_and_queues_one_sms(active, alice) -> None:  # type: ignore[no-untyped-def]
    """Reason wrong_entries; exactly one SMS to the customer; further entries change nothing."""
    for _ in range(5):
        services.agreement_record_wrong_entry(agreement=active, actor=WEB)
    active.refresh_from_db()
    assert (active.state, active.suspension_reason) == (State.SUSPENDED, Agreement.SuspensionReason.WRONG_ENTRIES)
    services.agreement_record_wrong_entry(agreement=active, actor=WEB)
    sms = Notification.objects.filter(purpose="agreement_wrong_entry_suspension")
    assert sms.count() == 1
    assert sms.get().to == alice.phone
    assert ("agreement.suspend", "system:ebanking_web") in _events(active)
    with pytest.raises(ValidationError) as exc:
        services.agreement_record_use(agreement=active, actor=WEB)
    assert _messages(exc) == [str(svc.ERR_NOT_ACTIVE)]


def test_only_the_customer_or_the_web_flow_records_entries(active, teller, alice) -> None:  # type: ignore[no-untyped-def]
    """The customer's own user may; a teller without the permission may not."""
    services.agreement_record_wrong_entry(agreement=active, actor=active.user)
    with pytest.raises(PermissionDenied):
        services.agreement_record_wrong_entry(agreement=active, actor=teller)


# --- Suspension, release, termination -----------------------------------------------------------


def test_staff_suspend_at_the_customers_request_but_not_for_dormancy(active, teller) -> None:  # type: ignore[no-untyped-def]
    """Automatic reasons are for jobs; the staff reason is audited with the teller."""
    with pytest.raises(ValidationError) as exc:
        services.agreement_suspend(agreement=active, reason="dormant", actor=teller)
    assert _messages(exc) == [str(svc.ERR_REASON_AUTOMATIC)]
    with pytest.raises(ValidationError) as exc:
        services.agreement_suspend(agreement=active, reason="holiday", actor=teller)
    assert _messages(exc) == [str(svc.ERR_REASON_UNKNOWN)]
    suspended = services.agreement_suspend(agreement=active, reason="customer_request", actor=teller)
    assert suspended.state == State.SUSPENDED
    assert ("agreement.suspend", "teller") in _events(suspended)
    with pytest.raises(ValidationError) as exc:
        services.agreement_suspend(agreement=active, reason="staff", actor=teller)
    assert _messages(exc) == [str(svc.ERR_NOT_ACTIVE)]


def test_the_dormancy_job_suspends_with_reason_dormant(active) -> None:  # type: ignore[no-untyped-def]
    """A system actor with the permission may give an automatic reason."""
    job = system_actor("suspend_dormant_agreements", {"accounts.suspend_agreement"})
    suspended = services.agreement_suspend(agreement=active, reason="dormant", actor=job)
    assert suspended.suspension_reason == "dormant"


def _suspend_wrong_entries(agreement: Agreement) -> None:
    for _ in range(5):
        services.agreement_record_wrong_entry(agreement=agreement, actor=WEB)


def test_release_only_through_an_approved_staff_request(active, alice, teller, manager) -> None:  # type: ignore[no-untyped-def]
    """Teller requests, manager approves, the agreement is active again; the executor has no back door."""
    _suspend_wrong_entries(active)
    request = services.staff_request_create(
        kind=StaffRequest.Kind.AGREEMENT_RELEASE, customer=alice, reason="신분증 확인 후 해제", actor=teller
    )
    with pytest.raises(ValidationError):
        services.agreement_release(request=request, actor=manager)  # pending: not yet approved
    active.refresh_from_db()
    assert active.state == State.SUSPENDED
    done = services.staff_request_approve(request=request, actor=manager)
    assert done.state == StaffRequest.State.EXECUTED
    active.refresh_from_db()
    assert (active.state, active.suspension_reason, active.wrong_entries) == (State.ACTIVE, "", 0)
    assert ("agreement.release", "manager") in _events(active)
    with pytest.raises(ValidationError):
        services.agreement_release(request=request, actor=manager)  # used once


def test_a_teller_cannot_approve_a_release(active, alice, teller) -> None:  # type: ignore[no-untyped-def]
    """The teller lacks the approver's permission."""
    _suspend_wrong_entries(active)
    request = services.staff_request_create(
        kind=StaffRequest.Kind.AGREEMENT_RELEASE, customer=alice, reason="해제 요청", actor=teller
    )
    with pytest.raises(PermissionDenied):
        services.staff_request_approve(request=request, actor=teller)


def test_a_release_request_needs_a_suspended_agreement(active, alice, teller) -> None:  # type: ignore[no-untyped-def]
    """Refused when recorded."""
    with pytest.raises(ValidationError) as exc:
        services.staff_request_create(
            kind=StaffRequest.Kind.AGREEMENT_RELEASE, customer=alice, reason="해제 요청", actor=teller
        )
    assert _messages(exc) == [str(svc.ERR_NOT_SUSPENDED)]


def test_a_phone_release_is_only_for_individuals_aged_14_or_more(kid, teller, demand_product, manager) -> None:  # type: ignore[no-untyped-def]
    """The 12-year-old's release is refused by phone and allowed at the branch."""
    account = services.account_open(customer=kid, product=demand_product, password="7391", actor=teller)
    docs = [Document.RESIDENT_CARD, Document.BASIC_CERTIFICATE, Document.FAMILY_RELATION_CERTIFICATE]
    _apply(kid, account, teller, documents=docs)
    agreement = _register(kid, account, username="kidbank1", account_password="7391")
    services.agreement_suspend(agreement=agreement, reason="staff", actor=teller)
    with pytest.raises(ValidationError) as exc:
        services.staff_request_create(
            kind=StaffRequest.Kind.AGREEMENT_RELEASE,
            customer=kid,
            reason="전화 해제",
            payload={"channel": "phone"},
            actor=teller,
        )
    assert _messages(exc) == [str(svc.ERR_PHONE_RELEASE_AGE)]
    request = services.staff_request_create(
        kind=StaffRequest.Kind.AGREEMENT_RELEASE, customer=kid, reason="지점 해제", actor=teller
    )
    services.staff_request_approve(request=request, actor=manager)
    agreement.refresh_from_db()
    assert agreement.state == State.ACTIVE


def test_online_release_only_for_dormancy_and_wrong_entries(active, teller) -> None:  # type: ignore[no-untyped-def]
    """A staff suspension needs the branch; a wrong-entry one is released online by the customer."""
    services.agreement_suspend(agreement=active, reason="staff", actor=teller)
    with pytest.raises(ValidationError) as exc:
        services.agreement_release_online(agreement=active, actor=active.user)
    assert _messages(exc) == [str(svc.ERR_ONLINE_RELEASE_REASON)]
    Agreement.objects.filter(pk=active.pk).update(state=State.ACTIVE, suspension_reason="", suspended_at=None)
    _suspend_wrong_entries(active)
    released = services.agreement_release_online(agreement=active, actor=active.user)
    assert released.state == State.ACTIVE
    assert ("agreement.release", "alice2026") in _events(active)


def test_termination_ends_the_agreement_and_its_login(active, teller) -> None:  # type: ignore[no-untyped-def]
    """Terminated once; the internet-banking user can no longer sign in."""
    done = services.agreement_terminate(agreement=active, actor=teller, reason="고객 요청")
    assert done.state == State.TERMINATED
    assert not User.objects.get(pk=active.user_id).is_active
    assert ("agreement.terminate", "teller") in _events(done)
    with pytest.raises(ValidationError) as exc:
        services.agreement_terminate(agreement=active, actor=teller)
    assert _messages(exc) == [str(svc.ERR_ALREADY_TERMINATED)]
