"""The branch side of e-banking agreements in the staff admin: the application with its refusals and
receipt, suspension, a release requested by a teller and approved by a manager, termination."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from accounts import services
from accounts.admin.agreements import (
    EBANKING_REGISTER_PATH,
    ERR_NO_SECURITY_MEDIUM,
    document_label,
    mask_account_number,
)
from accounts.agreements import Document, registration_deadline
from accounts.models import Account, Agreement, Customer, StaffRequest, User
from accounts.services import agreements as svc
from accounts.services.staff_requests import ERR_OWN_REQUEST
from bankportal.audit.models import AuditEvent
from bankportal.timeutil import KST
from otp.services import security_card_issue
from otp.totp import mask_serial
from tests.conftest import ACCOUNT_PASSWORD, rrn_for_age, staff_login, valid_brn

pytestmark = pytest.mark.django_db

State = Agreement.State


def _add_url(customer: Customer | None = None) -> str:
    url = reverse("admin:accounts_agreement_add")
    return f"{url}?customer={customer.pk}" if customer is not None else url


def _url(name: str, agreement: Agreement) -> str:
    return reverse(f"admin:accounts_agreement_{name}", args=[agreement.pk])


def _shown(message, response) -> str:  # type: ignore[no-untyped-def]
    """``message`` as the page renders it, in the response's language."""
    with translation.override(response["Content-Language"]):
        return escape(str(message))


def _apply(client, customer: Customer, accounts: list[Account], documents=("resident_card",), **extra):  # type: ignore[no-untyped-def]
    data = {
        "customer": customer.pk,
        "withdrawal_accounts": [a.pk for a in accounts],
        "documents": list(documents),
        "signature_taken": "on",
        **extra,
    }
    return client.post(_add_url(customer), data)


def _open(customer: Customer, teller: User, product) -> Account:  # type: ignore[no-untyped-def]
    return services.account_open(customer=customer, product=product, password=ACCOUNT_PASSWORD, actor=teller)


def _deadline_text(agreement: Agreement) -> str:
    return f"{registration_deadline(agreement.applied_at).astimezone(KST):%Y-%m-%d} 23:59:59 KST"


def _nothing_written() -> bool:
    return not Agreement.objects.exists() and not AuditEvent.objects.filter(action="agreement.apply").exists()


@pytest.fixture
def alice_card(alice, teller):  # type: ignore[no-untyped-def]
    return security_card_issue(customer=alice, actor=teller).card


@pytest.fixture
def shop(teller, demand_product) -> Customer:  # type: ignore[no-untyped-def]
    """An individual business with an account and a security card."""
    customer = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL_BUSINESS,
        name="가게주인",
        phone="010-3333-4444",
        rrn=rrn_for_age(45, serial="145678"),
        brn=valid_brn("123451234"),
        actor=teller,
    )
    _open(customer, teller, demand_product)
    security_card_issue(customer=customer, actor=teller)
    return customer


@pytest.fixture
def kid(alice, teller, demand_product) -> Customer:  # type: ignore[no-untyped-def]
    """A 12-year-old whose mother alice is the legal representative, with an account and a card."""
    customer = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL,
        name="김어린",
        phone="010-4444-5555",
        rrn=rrn_for_age(12, serial="312345"),
        legal_representative=alice,
        representative_relation=Customer.RepresentativeRelation.PARENT,
        actor=teller,
    )
    _open(customer, teller, demand_product)
    security_card_issue(customer=customer, actor=teller)
    return customer


KID_DOCUMENTS = (Document.RESIDENT_CARD, Document.BASIC_CERTIFICATE, Document.FAMILY_RELATION_CERTIFICATE)


def _applied(client, teller, customer: Customer, documents=("resident_card",)) -> Agreement:  # type: ignore[no-untyped-def]
    staff_login(client, teller)
    response = _apply(client, customer, list(Account.objects.filter(holder=customer)), documents)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Agreement.objects.get(customer=customer, state=State.APPLIED)


def _registered(agreement: Agreement, username: str = "alice2026") -> Agreement:
    """Registered online by the customer (the web flow's service, after its identity check)."""
    return services.agreement_register_online(
        agreement=agreement,
        medium_verified=True,
        username=username,
        password="Dasom-bank-2026!",
        actor=services.agreement_web_actor(),
    )


# --- The application ----------------------------------------------------------------------------


def test_teller_applies_for_alice_and_the_receipt_shows_the_deadline(client, teller, alice, alice_account, alice_card):
    """The page shows alice's accounts, the required ID document and her card; the application
    leads to the receipt: deadline, masked account, masked RRN, registration path, and an access record."""
    staff_login(client, teller)
    page = client.get(_add_url(alice))
    assert page.status_code == 200
    html = page.content.decode()
    assert alice_account.number_display in html and alice.rrn_masked in html
    assert mask_serial(alice_card.serial) in html  # her security card, in the medium table
    assert _shown(document_label("id_document"), page) in html
    assert _shown(ERR_NO_SECURITY_MEDIUM, page) not in html
    assert 'name="_save"' in html

    response = _apply(client, alice, [alice_account], ["driver_licence"])

    agreement = Agreement.objects.get(customer=alice)
    assert response.status_code == 302 and response["Location"] == _url("receipt", agreement)
    assert (agreement.state, agreement.documents, agreement.applied_by) == (State.APPLIED, ["driver_licence"], teller)
    assert list(agreement.withdrawal_accounts.all()) == [alice_account]
    receipt = client.get(response["Location"])
    text = receipt.content.decode()
    assert receipt.status_code == 200
    assert f"data-deadline>{_deadline_text(agreement)}<" in text
    assert mask_account_number(alice_account.number) in text and alice_account.number_display not in text
    assert alice.name in text and alice.rrn_masked in text
    assert EBANKING_REGISTER_PATH in text
    assert _shown(document_label("driver_licence"), receipt) in text
    assert "data-minor-alone" not in text
    assert "receipt.css" in text and "<style" not in text and "style=" not in text and "<script>" not in text
    assert "no-store" in receipt["Cache-Control"]
    assert AuditEvent.objects.filter(action="agreement.receipt_view", actor=teller, customer_ref=alice.pk).exists()


@pytest.mark.parametrize(
    ("applied_at", "deadline_day"),
    [
        (dt.datetime(2026, 12, 14, 23, 59, 59, tzinfo=KST), "2026-12-18"),
        (dt.datetime(2026, 12, 15, 0, 0, 0, tzinfo=KST), "2026-12-19"),
    ],
    ids=["last-second-of-the-day", "first-second-of-the-next"],
)
def test_the_deadline_counts_the_kst_application_day(  # type: ignore[no-untyped-def]
    client, teller, alice, alice_account, alice_card, applied_at, deadline_day
):
    """Applied at 23:59:59 KST: D+4; one second later (00:00:00 KST the next day): one day later."""
    with time_machine.travel(applied_at, tick=False):
        staff_login(client, teller)
        response = _apply(client, alice, [alice_account])
        receipt = client.get(response["Location"])

    agreement = Agreement.objects.get(customer=alice)
    assert agreement.applied_at == applied_at
    assert _deadline_text(agreement) == f"{deadline_day} 23:59:59 KST"
    assert f"data-deadline>{deadline_day} 23:59:59 KST<" in receipt.content.decode()
    assert f"data-applied-at>{applied_at:%Y-%m-%d %H:%M:%S} KST<" in receipt.content.decode()


def test_missing_business_documents_are_refused_by_name_and_nothing_is_written(client, teller, shop):
    """An individual business with only an ID and a bankbook: the page names the four business
    documents as required, the refusal names the three missing ones."""
    staff_login(client, teller)
    page = client.get(_add_url(shop)).content.decode()
    for document in (Document.BUSINESS_REGISTRATION, Document.REPRESENTATIVE_ID, Document.BANKBOOK_SEAL):
        assert f'value="{document}"' in page

    response = _apply(client, shop, list(Account.objects.filter(holder=shop)), ["passport", "bankbook"])

    assert response.status_code == 200
    with translation.override(response["Content-Language"]):
        names = ", ".join(document_label(d) for d in ("business_registration", "representative_id", "bankbook_seal"))
    assert _shown(svc.ERR_DOCUMENTS_MISSING % {"documents": names}, response) in response.content.decode()
    assert _nothing_written()


def test_a_represented_minor_needs_the_consent_form_when_one_parent_applies(client, teller, kid):
    """The one-parent box is offered for a represented minor and makes the consent form required."""
    staff_login(client, teller)
    assert 'name="one_parent_applies"' in client.get(_add_url(kid)).content.decode()

    response = _apply(client, kid, list(Account.objects.filter(holder=kid)), KID_DOCUMENTS, one_parent_applies="on")

    assert response.status_code == 200
    with translation.override(response["Content-Language"]):
        names = document_label("minor_consent_form")
    assert _shown(svc.ERR_DOCUMENTS_MISSING % {"documents": names}, response) in response.content.decode()
    assert _nothing_written()


def test_an_adult_is_not_offered_the_one_parent_box(client, teller, alice, alice_account, alice_card):
    staff_login(client, teller)
    assert 'name="one_parent_applies"' not in client.get(_add_url(alice)).content.decode()


def test_a_customer_under_18_without_a_representative_is_blocked_and_refused(client, teller, kid):
    """The page says so and offers no submit button; a POST anyway is refused with the same message."""
    # A record the services never make (a representative removed), to test the application's check.
    Customer.objects.filter(pk=kid.pk).update(legal_representative=None, representative_relation="")
    staff_login(client, teller)
    page = client.get(_add_url(kid))
    assert _shown(svc.ERR_UNDER_18_ALONE, page) in page.content.decode()
    assert 'name="_save"' not in page.content.decode()

    response = _apply(client, kid, list(Account.objects.filter(holder=kid)))

    assert response.status_code == 200
    assert _shown(svc.ERR_UNDER_18_ALONE, response) in response.content.decode()
    assert _nothing_written()


def test_another_customers_account_in_a_tampered_post_is_refused(  # type: ignore[no-untyped-def]
    client, teller, alice, alice_account, alice_card, demand_product
):
    """Bob's account is not offered; posting its id is refused naming it, and an unknown id is a
    form error: never a 500, nothing written."""
    bob = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박밥", phone="010-1111-2222", rrn=rrn_for_age(40), actor=teller
    )
    bobs = _open(bob, teller, demand_product)
    staff_login(client, teller)
    assert bobs.number_display not in client.get(_add_url(alice)).content.decode()

    response = _apply(client, alice, [alice_account, bobs])

    assert response.status_code == 200
    expected = svc.ERR_ACCOUNT_NOT_CUSTOMERS % {"number": bobs.number_display}
    assert _shown(expected, response) in response.content.decode()
    unknown = client.post(
        _add_url(alice),
        {
            "customer": alice.pk,
            "withdrawal_accounts": ["999999", "x"],
            "documents": ["passport"],
            "signature_taken": "on",
        },
    )
    assert unknown.status_code == 200 and unknown.context["form"].errors["withdrawal_accounts"]
    garbled = client.post(
        _add_url(alice), {"customer": alice.pk, "withdrawal_accounts": ["x"], "signature_taken": "on"}
    )
    assert garbled.status_code == 200 and garbled.context["form"].errors["withdrawal_accounts"]
    assert _nothing_written()


def test_a_second_application_while_one_is_open_is_refused(client, teller, alice, alice_account, alice_card):
    """The page links to the open agreement and offers no submit; a POST is refused; one agreement stays."""
    agreement = _applied(client, teller, alice)
    page = client.get(_add_url(alice))
    assert _url("change", agreement) in page.content.decode()
    assert 'name="_save"' not in page.content.decode()

    response = _apply(client, alice, [alice_account])

    assert response.status_code == 200
    assert _shown(svc.ERR_AGREEMENT_EXISTS, response) in response.content.decode()
    assert Agreement.objects.count() == 1
    assert AuditEvent.objects.filter(action="agreement.apply").count() == 1


def test_without_a_usable_security_medium_the_application_is_blocked(client, teller, alice, alice_account):
    """No card, no OTP: the page says so with links to issue a card and register an OTP, and a POST is refused."""
    staff_login(client, teller)
    page = client.get(_add_url(alice))
    html = page.content.decode()
    assert _shown(ERR_NO_SECURITY_MEDIUM, page) in html
    assert f"{reverse('admin:otp_securitycard_add')}?customer={alice.pk}" in html
    assert f"{reverse('admin:otp_otpregistration_add')}?customer={alice.pk}" in html
    assert 'name="_save"' not in html

    response = _apply(client, alice, [alice_account])

    assert response.status_code == 200
    assert _shown(ERR_NO_SECURITY_MEDIUM, response) in response.content.decode()
    assert _nothing_written()


def test_an_18_year_old_alone_is_marked_minor_signed_up_alone(client, teller, minnie, demand_product):
    """Flag on the agreement, a warning for the teller, and the line on the receipt."""
    _open(minnie, teller, demand_product)
    security_card_issue(customer=minnie, actor=teller)

    agreement = _applied(client, teller, minnie)

    assert agreement.minor_signed_up_alone
    receipt = client.get(_url("receipt", agreement)).content.decode()
    assert "data-minor-alone" in receipt
    detail = client.get(_url("change", agreement))
    assert detail.status_code == 200


def test_the_customer_page_links_to_the_application_then_to_the_agreement(  # type: ignore[no-untyped-def]
    client, teller, alice, alice_account, alice_card
):
    staff_login(client, teller)
    customer_url = reverse("admin:accounts_customer_change", args=[alice.pk])
    assert _add_url(alice) in client.get(customer_url).content.decode()

    agreement = _applied(client, teller, alice)

    html = client.get(customer_url).content.decode()
    assert _url("change", agreement) in html and _add_url(alice) not in html


def test_choosing_the_customer_first_and_an_unknown_customer(client, teller, alice, alice_account, alice_card):
    """Without a customer the page asks for one; an unknown id is an error, not a 500."""
    staff_login(client, teller)
    assert client.get(_add_url()).context["choose_form"] is not None
    unknown = client.get(f"{_add_url()}?customer=424242")
    assert unknown.status_code == 200 and unknown.context["choose_form"].errors["customer"]
    assert client.get(f"{_add_url()}?customer=abc").status_code == 200


# --- An agreement's page: receipt, suspend, release, terminate ----------------------------------


def test_the_changelist_finds_by_name_and_user_id(client, teller, alice, alice_account, alice_card):
    agreement = _registered(_applied(client, teller, alice))
    changelist = reverse("admin:accounts_agreement_changelist")
    for term in ("앨리스", "alice2026"):
        assert list(client.get(changelist, {"q": term}).context["cl"].result_list) == [agreement]
    assert list(client.get(changelist, {"q": "nobody"}).context["cl"].result_list) == []
    assert list(client.get(changelist, {"state__exact": "active"}).context["cl"].result_list) == [agreement]


def test_release_is_requested_by_a_teller_and_carried_out_by_a_managers_approval(  # type: ignore[no-untyped-def]
    client, teller, manager, alice, alice_account, alice_card
):
    """Suspend (staff), request a release at the branch, the teller cannot approve it, the manager can."""
    agreement = _registered(_applied(client, teller, alice))
    detail = client.get(_url("change", agreement)).content.decode()
    assert _url("suspend", agreement) in detail and _url("receipt", agreement) not in detail

    suspended = client.post(_url("suspend", agreement), {"reason": "staff", "note": "고객 확인 필요"})

    assert suspended.status_code == 302
    agreement.refresh_from_db()
    assert (agreement.state, agreement.suspension_reason) == (State.SUSPENDED, "staff")
    assert AuditEvent.objects.get(action="agreement.suspend").actor == teller
    assert _url("request_release", agreement) in client.get(_url("change", agreement)).content.decode()

    recorded = client.post(
        _url("request_release", agreement), {"channel": "branch", "reason": "본인 내점", "identity_checked": "on"}
    )

    assert recorded.status_code == 302
    request = StaffRequest.objects.get(kind=StaffRequest.Kind.AGREEMENT_RELEASE)
    assert (request.state, request.payload["channel"], request.requested_by) == ("pending", "branch", teller)
    detail = client.get(_url("change", agreement)).content.decode()
    assert 'id="pending-release"' in detail and _url("request_release", agreement) not in detail
    again = client.get(_url("request_release", agreement))
    assert again.status_code == 302 and StaffRequest.objects.count() == 1
    approve_url = reverse("admin:accounts_staffrequest_approve", args=[request.pk])
    assert client.post(approve_url, {"note": ""}).status_code == 403
    agreement.refresh_from_db()
    assert agreement.state == State.SUSPENDED

    staff_login(client, manager)
    queue_page = client.get(
        reverse("admin:accounts_staffrequest_change", args=[request.pk]), headers={"accept-language": "en"}
    )
    # The manager sees how the release was asked for, and why it was suspended.
    assert "asked at the branch; suspended for: Suspended by staff" in queue_page.content.decode()
    approved = client.post(approve_url, {"note": "확인"})

    assert approved.status_code == 302
    agreement.refresh_from_db()
    assert (agreement.state, agreement.suspension_reason) == (State.ACTIVE, "")
    assert AuditEvent.objects.get(action="agreement.release").actor == manager


def test_a_manager_cannot_approve_their_own_release_request(  # type: ignore[no-untyped-def]
    client, teller, manager, alice, alice_account, alice_card
):
    agreement = _registered(_applied(client, teller, alice))
    services.agreement_suspend(agreement=agreement, reason="customer_request", actor=teller)
    staff_login(client, manager)
    client.post(_url("request_release", agreement), {"channel": "branch", "reason": "내점", "identity_checked": "on"})
    request = StaffRequest.objects.get(kind=StaffRequest.Kind.AGREEMENT_RELEASE)

    response = client.post(reverse("admin:accounts_staffrequest_approve", args=[request.pk]), {"note": ""})

    assert response.status_code == 200
    assert _shown(ERR_OWN_REQUEST, response) in response.content.decode()
    agreement.refresh_from_db()
    assert agreement.state == State.SUSPENDED


def test_a_phone_release_for_a_customer_under_14_is_refused(client, teller, kid):
    """The 12-year-old: by phone refused next to the channel, nothing recorded; at the branch recorded."""
    agreement = _registered(_applied(client, teller, kid, KID_DOCUMENTS), username="kidbank1")
    services.agreement_suspend(agreement=agreement, reason="staff", actor=teller)

    response = client.post(
        _url("request_release", agreement), {"channel": "phone", "reason": "전화 요청", "identity_checked": "on"}
    )

    assert response.status_code == 200
    assert "channel" in response.context["form"].errors
    assert _shown(svc.ERR_PHONE_RELEASE_AGE, response) in response.content.decode()
    assert not StaffRequest.objects.exists()
    branch = client.post(
        _url("request_release", agreement), {"channel": "branch", "reason": "내점", "identity_checked": "on"}
    )
    assert branch.status_code == 302 and StaffRequest.objects.count() == 1


def test_terminate_needs_a_reason_and_ends_the_agreement(client, teller, alice, alice_account, alice_card):
    agreement = _applied(client, teller, alice)
    assert client.get(_url("terminate", agreement)).status_code == 200

    missing = client.post(_url("terminate", agreement), {"reason": ""})
    assert missing.status_code == 200
    agreement.refresh_from_db()
    assert agreement.state == State.APPLIED

    done = client.post(_url("terminate", agreement), {"reason": "고객 요청"})

    assert done.status_code == 302
    agreement.refresh_from_db()
    assert agreement.state == State.TERMINATED
    event = AuditEvent.objects.get(action="agreement.terminate")
    assert (event.actor, event.details["reason"]) == (teller, "고객 요청")
    # Nothing more to do on a terminated agreement; the receipt is for applications only.
    detail = client.get(_url("change", agreement)).content.decode()
    assert _url("terminate", agreement) not in detail and _url("receipt", agreement) not in detail
    assert client.get(_url("receipt", agreement)).status_code == 302
    assert client.post(_url("terminate", agreement), {"reason": "again"}).status_code == 302
    assert AuditEvent.objects.filter(action="agreement.terminate").count() == 1


def test_suspending_needs_an_active_agreement(client, teller, alice, alice_account, alice_card):
    agreement = _applied(client, teller, alice)
    response = client.post(_url("suspend", agreement), {"reason": "staff"})
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.state == State.APPLIED


@pytest.fixture
def clerk(db) -> User:  # type: ignore[no-untyped-def]
    """A staff member who may read customers but holds no agreement permission."""
    user = User.objects.create_user(username="clerk", password="Clerk-pass-2026!", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    return user


def test_staff_without_the_agreement_permissions_get_403(client, teller, clerk, alice, alice_account, alice_card):
    agreement = _registered(_applied(client, teller, alice))
    staff_login(client, clerk)

    for url in (_add_url(alice), _url("change", agreement), _url("receipt", agreement)):
        assert client.get(url).status_code == 403, url
    for name, data in (("suspend", {"reason": "staff"}), ("terminate", {"reason": "x"})):
        assert client.post(_url(name, agreement), data).status_code == 403, name
    assert client.post(_add_url(alice), {"customer": alice.pk}).status_code == 403
    agreement.refresh_from_db()
    assert agreement.state == State.ACTIVE
    customer_page = client.get(reverse("admin:accounts_customer_change", args=[alice.pk])).content.decode()
    assert _url("change", agreement) not in customer_page and _add_url(alice) not in customer_page
