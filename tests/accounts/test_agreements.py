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
from accounts.services import agreement_online as online
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


WEB = svc.agreement_web_actor()


def _identify(
    customer: Customer, account, purpose: str = "register", now: dt.datetime = APPLIED, **overrides
) -> Agreement:  # type: ignore[no-untyped-def]
    data = {
        "purpose": purpose,
        "name": customer.name,
        "account_number": account.number,
        "account_password": ACCOUNT_PASSWORD,
        "actor": WEB,
        "now": now,
    }
    data.update(overrides)
    if "id_number" not in data:
        data["id_number"] = services.customer_rrn(customer)
    return online.agreement_identify(**data)


def _register(  # type: ignore[no-untyped-def]
    customer: Customer,
    account,
    now: dt.datetime = APPLIED,
    *,
    medium_verified: bool = True,
    username: str = "alice2026",
    password: str = LOGIN_PASSWORD,
    actor: Any = None,
    **identify: Any,
) -> Agreement:
    """The registration flow's two services: identify (register), then register with the login choice."""
    agreement = _identify(customer, account, "register", now=now, **identify)
    return services.agreement_register_online(
        agreement=agreement,
        medium_verified=medium_verified,
        username=username,
        password=password,
        actor=actor or WEB,
        now=now,
    )


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
    """The last second of the 5th day, counting the application day."""
    agreement = _register(alice, alice_account, now=dt.datetime(2026, 3, 6, 23, 59, 59, tzinfo=KST))
    assert agreement.state == State.ACTIVE


def test_registration_at_d_plus_5_midnight_is_refused_even_before_the_lapse_job(applied, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """The deadline is checked by the service itself (identification already); no user is created."""
    with pytest.raises(ValidationError) as exc:
        _register(alice, alice_account, now=dt.datetime(2026, 3, 7, 0, 0, 0, tzinfo=KST))
    assert _messages(exc) == [str(online.ERR_REGISTRATION_CLOSED)]
    applied.refresh_from_db()
    assert applied.state == State.APPLIED
    assert not User.objects.filter(username="alice2026").exists()
    assert AuditEvent.objects.filter(action="agreement.identify_refused").count() == 1


def test_identified_before_the_deadline_but_registering_after_it_is_refused(applied, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """The login step re-checks the deadline (and again under the row lock): no login is created."""
    identified = _identify(alice, alice_account, now=dt.datetime(2026, 3, 6, 23, 59, 59, tzinfo=KST))
    with pytest.raises(ValidationError) as exc:
        services.agreement_register_online(
            agreement=identified,
            medium_verified=True,
            username="alice2026",
            password=LOGIN_PASSWORD,
            actor=WEB,
            now=dt.datetime(2026, 3, 7, 0, 0, 0, tzinfo=KST),
        )
    assert _messages(exc) == [str(online.ERR_REGISTRATION_CLOSED)]
    assert not User.objects.filter(username="alice2026").exists()
    assert AuditEvent.objects.filter(action="agreement.register_refused").count() == 1


def test_wrong_identifying_data_gets_one_message_that_reveals_nothing_and_is_audited(
    applied, alice, alice_account
) -> None:  # type: ignore[no-untyped-def]
    """Wrong name, wrong number, an unknown or malformed account, a wrong account password: the same message."""
    overrides: list[dict[str, Any]] = [
        {"name": "김엘리스"},
        {"id_number": rrn_for_age(33)},
        {"account_number": "000000000000"},
        {"account_number": "not a number"},
        {"account_password": "0000"},
    ]
    for override in overrides:
        with pytest.raises(ValidationError) as exc:
            _identify(alice, alice_account, **override)
        assert _messages(exc) == [str(online.ERR_DETAILS_MISMATCH)]
        assert exc.value.code == "details_mismatch"
    refusals = AuditEvent.objects.filter(action="agreement.identify_refused").order_by("pk")
    assert [e.details["refusal"] for e in refusals] == [
        "identity_mismatch",
        "identity_mismatch",
        "details_mismatch",
        "details_mismatch",
        "account_password_wrong",
    ]
    assert [e.customer_ref for e in refusals] == [alice.pk, alice.pk, None, None, alice.pk]
    alice_account.refresh_from_db()
    assert alice_account.password_failures == 1  # the account's own count, for the wrong password only


def test_a_locked_account_password_says_so(applied, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """The 5th wrong account password locks it; the next try, even right, is told to visit a branch."""
    for _ in range(5):
        with pytest.raises(ValidationError):
            _identify(alice, alice_account, account_password="0000")
    with pytest.raises(ValidationError) as exc:
        _identify(alice, alice_account)
    assert _messages(exc) == [str(online.ERR_ACCOUNT_PASSWORD_LOCKED)]


def test_an_individual_business_identifies_with_either_number(teller, demand_product) -> None:  # type: ignore[no-untyped-def]
    """RRN or business registration number, with or without hyphens."""
    from tests.conftest import valid_brn

    brn = valid_brn("123451234")
    shop = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL_BUSINESS,
        name="가게주인",
        phone="010-3333-4444",
        rrn=rrn_for_age(45, serial="145678"),
        brn=brn,
        actor=teller,
    )
    account = services.account_open(customer=shop, product=demand_product, password="7391", actor=teller)
    _apply(shop, account, teller, documents=[Document.DRIVER_LICENCE, *rules_business()])
    for number in (brn, brn.replace("-", ""), services.customer_rrn(shop)):
        assert _identify(shop, account, id_number=number, account_password="7391").customer_id == shop.pk


def test_registration_needs_the_security_medium_and_a_valid_login(applied, alice, alice_account, teller) -> None:  # type: ignore[no-untyped-def]
    """Unverified medium, bad or taken user ID, weak password: each refused with its message."""
    with pytest.raises(ValidationError) as exc:
        _register(alice, alice_account, medium_verified=False)
    assert _messages(exc) == [str(online.ERR_MEDIUM_NOT_VERIFIED)]
    with pytest.raises(ValidationError) as exc:
        _register(alice, alice_account, username="Al")
    assert exc.value.message_dict["username"] == [str(online.ERR_USER_ID_FORMAT)]
    User.objects.create_user(username="taken01")
    with pytest.raises(ValidationError) as exc:
        _register(alice, alice_account, username="TAKEN01".lower())
    assert exc.value.message_dict["username"] == [str(online.ERR_USER_ID_TAKEN)]
    with pytest.raises(ValidationError) as exc:
        _register(alice, alice_account, password="123")
    assert "password" in exc.value.message_dict
    applied.refresh_from_db()
    assert applied.state == State.APPLIED


def test_a_registered_agreement_cannot_register_again(active, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """Second registration refused, at identification and at the login step."""
    with pytest.raises(ValidationError) as exc:
        _register(alice, alice_account, username="alice2027")
    assert _messages(exc) == [str(online.ERR_ALREADY_REGISTERED)]
    with pytest.raises(ValidationError) as exc:
        services.agreement_register_online(
            agreement=active, medium_verified=True, username="alice2027", password=LOGIN_PASSWORD, actor=WEB
        )
    assert _messages(exc) == [str(online.ERR_ALREADY_REGISTERED)]


def test_registration_needs_the_web_flow_permission(applied, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """A system actor without ``accounts.use_agreement`` is refused, at either step."""
    other = system_actor("other_job")
    with pytest.raises(PermissionDenied):
        _identify(alice, alice_account, actor=other)
    with pytest.raises(PermissionDenied):
        _register(alice, alice_account, actor=other)


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
    assert _messages(exc) == [str(online.ERR_REGISTRATION_CLOSED)]
    with pytest.raises(ValidationError) as exc:
        services.agreement_lapse(agreement=lapsed, actor=LAPSER, now=dt.datetime(2026, 3, 8, tzinfo=KST))
    assert _messages(exc) == [str(svc.ERR_NOT_APPLIED)]


def test_after_a_lapse_the_branch_can_take_a_new_application(applied, alice, alice_account, teller) -> None:  # type: ignore[no-untyped-def]
    """Lapsed agreements are history."""
    services.agreement_lapse(agreement=applied, actor=LAPSER, now=dt.datetime(2026, 3, 7, tzinfo=KST))
    assert _apply(alice, alice_account, teller).state == State.APPLIED


# --- Wrong entries and use ----------------------------------------------------------------------


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


# --- Identification against an active agreement, ID lookup ------------------------------------


def _birth_date(customer: Customer) -> str:
    assert customer.birth_date is not None
    return customer.birth_date.strftime("%Y%m%d")


def _lookup(customer: Customer, account, **overrides) -> Agreement:  # type: ignore[no-untyped-def]
    return _identify(customer, account, "lookup", now=LATER, **{"id_number": _birth_date(customer), **overrides})


LATER = dt.datetime(2026, 6, 1, 9, 0, tzinfo=KST)


def test_four_wrong_entries_then_a_right_identification_resets_without_counting_as_use(
    active, alice, alice_account
) -> None:  # type: ignore[no-untyped-def]
    """Wrong name, wrong birth date, wrong account password count on the active agreement; a
    success resets the count (audited) but leaves ``last_used_at`` (dormancy) alone."""
    wrong: list[dict[str, str]] = [
        {"name": "김엘리스"},
        {"id_number": "19000101"},
        {"account_password": "0000"},
        {"account_password": "1111"},
    ]
    for override in wrong:
        with pytest.raises(ValidationError):
            _lookup(alice, alice_account, **override)
    active.refresh_from_db()
    assert (active.state, active.wrong_entries) == (State.ACTIVE, 4)
    assert _lookup(alice, alice_account).pk == active.pk
    active.refresh_from_db()
    assert (active.wrong_entries, active.last_used_at) == (0, APPLIED)
    reset = AuditEvent.objects.get(action="agreement.wrong_entries_reset")
    assert reset.details == {"was": 4, "by": "identify:lookup"}
    assert AuditEvent.objects.filter(action="agreement.identify", details__purpose="lookup").count() == 1
    alice_account.refresh_from_db()
    assert alice_account.password_failures == 0  # the right password reset the account's own count too


def test_the_fifth_wrong_identification_suspends_and_texts_once(active, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """Exactly one SMS; afterwards a right identification is told to release the suspension first."""
    for _ in range(5):
        with pytest.raises(ValidationError):
            _lookup(alice, alice_account, name="누군가")
    active.refresh_from_db()
    assert (active.state, active.suspension_reason) == (State.SUSPENDED, Agreement.SuspensionReason.WRONG_ENTRIES)
    assert Notification.objects.filter(purpose="agreement_wrong_entry_suspension").count() == 1
    with pytest.raises(ValidationError) as exc:
        _lookup(alice, alice_account)
    assert _messages(exc) == [str(online.ERR_LOOKUP_SUSPENDED)]
    assert Notification.objects.filter(purpose="agreement_wrong_entry_suspension").count() == 1


def test_wrong_details_on_an_application_count_only_on_the_account(applied, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """An agreement awaiting registration has no wrong-entry count to raise."""
    with pytest.raises(ValidationError):
        _identify(alice, alice_account, account_password="0000")
    applied.refresh_from_db()
    assert (applied.state, applied.wrong_entries) == (State.APPLIED, 0)


def test_lookup_takes_an_8_digit_birth_date_not_a_6_digit_one(active, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """YYYYMMDD (separators allowed) matches; YYMMDD and the full RRN do not (and count)."""
    assert _lookup(alice, alice_account, id_number=alice.birth_date.isoformat()).pk == active.pk
    for wrong in (_birth_date(alice)[2:], services.customer_rrn(alice)):
        with pytest.raises(ValidationError) as exc:
            _lookup(alice, alice_account, id_number=wrong)
        assert _messages(exc) == [str(online.ERR_DETAILS_MISMATCH)]


def test_lookup_for_a_corporation_by_business_number(acme, teller, demand_product) -> None:  # type: ignore[no-untyped-def]
    """A corporation has no birth date: its business registration number identifies it."""
    account = services.account_open(customer=acme, product=demand_product, password="7391", actor=teller)
    _apply(acme, account, teller, documents=[Document.RESIDENT_CARD, *rules_business()])
    _register(acme, account, id_number=acme.brn, account_password="7391", username="acme2026")
    found = _identify(acme, account, "lookup", now=LATER, id_number=acme.brn, account_password="7391")
    assert found.customer_id == acme.pk


def test_lookup_and_release_say_clearly_why_the_state_does_not_fit(applied, alice, alice_account, teller) -> None:  # type: ignore[no-untyped-def]
    """Applied (not registered yet; past its deadline: lapsed), lapsed, active, staff-suspended, terminated."""
    cases = [
        ("lookup", APPLIED, online.ERR_NOT_REGISTERED_YET),
        ("release", APPLIED, online.ERR_NOT_REGISTERED_YET),
        ("lookup", dt.datetime(2026, 3, 7, tzinfo=KST), online.ERR_APPLICATION_LAPSED),
        ("release", dt.datetime(2026, 3, 7, tzinfo=KST), online.ERR_APPLICATION_LAPSED),
    ]
    for purpose, now, message in cases:
        with pytest.raises(ValidationError) as exc:
            _identify(alice, alice_account, purpose, now=now, id_number=_id_for(alice, purpose))
        assert _messages(exc) == [str(message)], (purpose, now)
    lapsed = services.agreement_lapse(agreement=applied, actor=LAPSER, now=dt.datetime(2026, 3, 7, tzinfo=KST))
    for purpose in ("lookup", "release"):
        with pytest.raises(ValidationError) as exc:
            _identify(alice, alice_account, purpose, now=LATER, id_number=_id_for(alice, purpose))
        assert _messages(exc) == [str(online.ERR_APPLICATION_LAPSED)]
    assert lapsed.state == State.LAPSED

    agreement = _apply(alice, alice_account, teller)
    _register(alice, alice_account)
    with pytest.raises(ValidationError) as exc:
        _identify(alice, alice_account, "release", now=LATER)
    assert _messages(exc) == [str(online.ERR_RELEASE_NOT_SUSPENDED)]
    services.agreement_suspend(agreement=agreement, reason="staff", actor=teller)
    with pytest.raises(ValidationError) as exc:
        _identify(alice, alice_account, "release", now=LATER)
    assert _messages(exc) == [str(svc.ERR_ONLINE_RELEASE_REASON)]
    with pytest.raises(ValidationError) as exc:
        _lookup(alice, alice_account)
    assert _messages(exc) == [str(online.ERR_SUSPENDED_BRANCH_ONLY)]
    services.agreement_terminate(agreement=agreement, actor=teller)
    for purpose in ("register", "lookup", "release"):
        with pytest.raises(ValidationError) as exc:
            _identify(alice, alice_account, purpose, now=LATER, id_number=_id_for(alice, purpose))
        assert _messages(exc) == [str(online.ERR_AGREEMENT_TERMINATED)]


def _id_for(customer: Customer, purpose: str) -> str:
    return _birth_date(customer) if purpose == "lookup" else services.customer_rrn(customer)


def test_release_identification_for_a_wrong_entry_suspension(active, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """The suspended agreement is identified (its count is not raised while suspended)."""
    _suspend_wrong_entries(active)
    assert _identify(alice, alice_account, "release", now=LATER).pk == active.pk
    active.refresh_from_db()
    assert (active.state, active.wrong_entries) == (State.SUSPENDED, 5)


def test_the_user_id_lookup_masks_the_id_and_texts_it_in_full(active, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    """First 3 characters then one * per character; the whole ID by SMS (after commit), audited."""
    found = _lookup(alice, alice_account)
    assert online.agreement_user_id_lookup(agreement=found, actor=WEB) == "ali******"
    sms = Notification.objects.get(purpose="agreement_user_id_lookup")
    assert sms.to == alice.phone
    assert "alice2026" in sms.body
    event = AuditEvent.objects.get(action="agreement.user_id_lookup")
    assert (event.actor_label, event.details) == ("system:ebanking_web", {"shown": "ali******"})


def test_the_user_id_lookup_refuses_an_agreement_not_in_normal_use(active, teller) -> None:  # type: ignore[no-untyped-def]
    """Only an active agreement; nothing is sent otherwise."""
    services.agreement_suspend(agreement=active, reason="staff", actor=teller)
    with pytest.raises(ValidationError) as exc:
        online.agreement_user_id_lookup(agreement=active, actor=WEB)
    assert _messages(exc) == [str(online.ERR_LOOKUP_NOT_ACTIVE)]
    assert not Notification.objects.filter(purpose="agreement_user_id_lookup").exists()


@pytest.mark.parametrize(
    ("username", "masked"),
    [("abcdef", "abc***"), ("alice2026", "ali******"), ("a" * 20, "aaa" + "*" * 17)],
)
def test_mask_user_id(username: str, masked: str) -> None:
    """The shortest (6) and longest (20) user IDs: 3 characters shown, the length kept."""
    assert online.mask_user_id(username) == masked


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


class _Spend:
    """A stand-in for ``additional_auth_use``: records calls, returns ``result``."""

    def __init__(self, result: object | None = "verification") -> None:
        self.result, self.calls = result, 0

    def __call__(self) -> object | None:
        self.calls += 1
        return self.result


class _Evidence:
    pk = 7
    certificate_serial = "1001"


def _release_online(agreement: Agreement, actor: Any = None, spend: Any = None, **kwargs: Any) -> Agreement:
    """The online release with a stand-in for the certificate signature (tested for real in
    tests/accounts/test_release_signature.py): it accepts any text and returns evidence."""
    now = kwargs.pop("now", None) or dt.datetime.now(tz=KST)
    return services.agreement_release_online(
        agreement=agreement,
        actor=actor or WEB,
        medium_verified=kwargs.pop("medium_verified", True),
        additional_auth=spend or _Spend(),
        signature=kwargs.pop("signature", lambda text: _Evidence()),
        nonce="n" * 32,
        issued_at=now,
        now=now,
        **kwargs,
    )


def test_online_release_only_for_dormancy_and_wrong_entries(active, teller) -> None:  # type: ignore[no-untyped-def]
    """A staff suspension needs the branch (the verification is not spent); a wrong-entry one is
    released online, by the web flow or the customer's own user."""
    services.agreement_suspend(agreement=active, reason="staff", actor=teller)
    spend = _Spend()
    with pytest.raises(ValidationError) as exc:
        _release_online(active, actor=active.user, spend=spend)
    assert _messages(exc) == [str(svc.ERR_ONLINE_RELEASE_REASON)]
    assert spend.calls == 0
    Agreement.objects.filter(pk=active.pk).update(state=State.ACTIVE, suspension_reason="", suspended_at=None)
    _suspend_wrong_entries(active)
    released = _release_online(active, actor=active.user)
    assert released.state == State.ACTIVE
    assert ("agreement.release", "alice2026") in _events(active)


def test_online_release_of_a_dormancy_suspension(active) -> None:  # type: ignore[no-untyped-def]
    """Dormant → active, counted from now so the next sweep does not suspend it again."""
    job = system_actor("suspend_dormant_agreements", {"accounts.suspend_agreement"})
    services.agreement_suspend(agreement=active, reason="dormant", actor=job)
    now = dt.datetime(2027, 4, 1, 9, 0, tzinfo=KST)
    released = _release_online(active, now=now)
    assert (released.state, released.last_used_at) == (State.ACTIVE, now)
    assert ("agreement.release", "system:ebanking_web") in _events(active)


def test_online_release_needs_the_medium_and_a_verification_to_spend(active) -> None:  # type: ignore[no-untyped-def]
    """No verified medium, or nothing to spend: refused, still suspended."""
    _suspend_wrong_entries(active)
    with pytest.raises(ValidationError) as exc:
        _release_online(active, medium_verified=False)
    assert _messages(exc) == [str(online.ERR_MEDIUM_NOT_VERIFIED)]
    spend = _Spend(None)
    with pytest.raises(ValidationError) as exc:
        _release_online(active, spend=spend)
    assert _messages(exc) == [str(online.ERR_ADDITIONAL_AUTH_REQUIRED)]
    assert spend.calls == 1
    active.refresh_from_db()
    assert active.state == State.SUSPENDED
    assert AuditEvent.objects.filter(action="agreement.release_refused").count() == 1


def test_online_release_spends_the_sms_verification_with_the_release_or_not_at_all(active, teller) -> None:  # type: ignore[no-untyped-def]
    """With otp's ``additional_auth_use``: a refused release leaves the verification unspent; a
    release spends it, once; a second release finds nothing to spend."""
    import functools

    from otp.models import AdditionalAuthChallenge
    from otp.services import additional_auth_start, additional_auth_use, additional_auth_verify

    purpose = AdditionalAuthChallenge.Purpose.SUSPENSION_RELEASE
    customer = active.customer
    spend = functools.partial(additional_auth_use, customer=customer, purpose=purpose, actor=WEB)
    additional_auth_start(customer=customer, purpose=purpose, channel="sms", actor=WEB)
    body = Notification.objects.filter(purpose="additional_auth").latest("pk").body
    code = next(word for word in body.split() if word.isdigit() and len(word) == 6)
    assert additional_auth_verify(customer=customer, purpose=purpose, answer=code, actor=WEB).ok

    services.agreement_suspend(agreement=active, reason="staff", actor=teller)
    with pytest.raises(ValidationError):
        _release_online(active, spend=spend)
    verified = AdditionalAuthChallenge.objects.get(customer=customer, purpose=purpose)
    assert verified.state == AdditionalAuthChallenge.State.VERIFIED

    Agreement.objects.filter(pk=active.pk).update(state=State.ACTIVE, suspension_reason="", suspended_at=None)
    _suspend_wrong_entries(active)
    assert _release_online(active, spend=spend).state == State.ACTIVE
    verified.refresh_from_db()
    assert verified.state == AdditionalAuthChallenge.State.USED

    _suspend_wrong_entries(active)
    with pytest.raises(ValidationError) as exc:
        _release_online(active, spend=spend)
    assert _messages(exc) == [str(online.ERR_ADDITIONAL_AUTH_REQUIRED)]


def test_staff_cannot_release_online(active, teller) -> None:  # type: ignore[no-untyped-def]
    """Staff release through an approved staff request."""
    _suspend_wrong_entries(active)
    with pytest.raises(PermissionDenied):
        _release_online(active, actor=teller)


def test_termination_ends_the_agreement_and_its_login(active, teller) -> None:  # type: ignore[no-untyped-def]
    """Terminated once; the internet-banking user can no longer sign in."""
    done = services.agreement_terminate(agreement=active, actor=teller, reason="고객 요청")
    assert done.state == State.TERMINATED
    assert not User.objects.get(pk=active.user_id).is_active
    assert ("agreement.terminate", "teller") in _events(done)
    with pytest.raises(ValidationError) as exc:
        services.agreement_terminate(agreement=active, actor=teller)
    assert _messages(exc) == [str(svc.ERR_ALREADY_TERMINATED)]
