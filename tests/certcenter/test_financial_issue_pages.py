"""The financial certificate's issue pages (금융인증서 발급) through the test client: identification →
code sent to the phone → security medium → name, mobile number and email → the PIN twice → done.

The phone code is read from the notification outbox and the security card answered from its codes,
as the browser test does; the keypad is a plain field here (its script only fills it)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import Account, Agreement, Customer
from accounts.services.agreement_online import ERR_DETAILS_MISMATCH
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from certcenter import ca, financial_pages
from certcenter.cloud.api import CertificateStatus, financial_cloud
from certcenter.forms_financial import ERR_DETAILS_CONFIRM, ERR_FINANCIAL_TERMS, ERR_REPLACE_CONFIRM
from certcenter.models import Certificate
from certcenter.services.financial import (
    ERR_PIN_FORMAT,
    ERR_PIN_MISMATCH,
    ERR_PIN_TRIVIAL,
    ERR_WRONG_PIN,
    financial_certificate_for,
    financial_issue,
    financial_sign,
)
from otp.models import AdditionalAuthChallenge
from otp.services import IssuedSecurityCard, additional_auth_use, security_card_issue
from otp.services.additional_auth import REFUSAL_MESSAGES, Refusal
from tests.accounts.release_signing import CERT_WEB
from tests.accounts.transfer_helpers import ca_ready, open_banking
from tests.certcenter.test_pages import card_answer, details, html, register, shown
from tests.certcenter.test_reissue_pages import latest_code, messages_of
from tests.conftest import ACCOUNT_PASSWORD

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=ca.KST)
PIN = "482915"
OTHER_PIN = "730264"
State = AdditionalAuthChallenge.State

START_URL = reverse("certcenter:financial_issue")
PHONE_URL = reverse("certcenter:financial_issue_phone")
SEND_URL = reverse("certcenter:financial_issue_phone_send")
MEDIUM_URL = reverse("certcenter:financial_issue_medium")
DETAILS_URL = reverse("certcenter:financial_issue_details")
PIN_URL = reverse("certcenter:financial_issue_pin")
DONE_URL = reverse("certcenter:financial_issue_done")
CENTRE_URL = reverse("certcenter:centre")
LATER_URLS = (PHONE_URL, MEDIUM_URL, DETAILS_URL, PIN_URL)

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>")
INLINE_STYLE_OR_HANDLER = re.compile(r"<style\b|\sstyle=|\son[a-z]+=")


# --- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def card(clock, alice, teller) -> IssuedSecurityCard:  # type: ignore[no-untyped-def]
    ca_ready()
    return security_card_issue(customer=alice, actor=teller)


@pytest.fixture
def agreement(card, alice, alice_account, teller) -> Agreement:  # type: ignore[no-untyped-def]
    return register(alice, alice_account, "alice2026", teller)


@pytest.fixture
def browser() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


# --- walking the steps -------------------------------------------------------------------------------


def to_phone(browser: Client, alice: Customer, account: Account):  # type: ignore[no-untyped-def]
    response = browser.post(START_URL, details(alice, account))
    assert response.status_code == 302, html(response)
    assert response["Location"] == PHONE_URL
    return browser.get(PHONE_URL)


def send_code(browser: Client, channel: str = "sms"):  # type: ignore[no-untyped-def]
    return browser.post(SEND_URL, {"channel": channel}, follow=True)


def to_medium(browser: Client, alice: Customer, account: Account):  # type: ignore[no-untyped-def]
    to_phone(browser, alice, account)
    send_code(browser)
    response = browser.post(PHONE_URL, {"phone_code": latest_code()})
    assert response.status_code == 302, html(response)
    assert response["Location"] == MEDIUM_URL
    return browser.get(MEDIUM_URL)


def to_details(browser: Client, alice: Customer, account: Account, card: IssuedSecurityCard):  # type: ignore[no-untyped-def]
    medium = to_medium(browser, alice, account)
    response = browser.post(MEDIUM_URL, card_answer(card, medium))
    assert response.status_code == 302, html(response)
    assert response["Location"] == DETAILS_URL
    return browser.get(DETAILS_URL)


def to_pin(browser: Client, alice: Customer, account: Account, card: IssuedSecurityCard, *, replace: bool = False):  # type: ignore[no-untyped-def]
    to_details(browser, alice, account, card)
    form = {"confirm": "on", "replace": "on"} if replace else {"confirm": "on"}
    response = browser.post(DETAILS_URL, form)
    assert response.status_code == 302, html(response)
    assert response["Location"] == PIN_URL
    return browser.get(PIN_URL)


def post_pin(browser: Client, pin: Any = PIN, again: Any = None):  # type: ignore[no-untyped-def]
    return browser.post(PIN_URL, {"pin": pin, "pin_again": pin if again is None else again})


def issue_through_pages(browser: Client, alice: Customer, account: Account, card: IssuedSecurityCard, **kw: Any):  # type: ignore[no-untyped-def]
    to_pin(browser, alice, account, card, **kw)
    response = post_pin(browser)
    assert response.status_code == 302, html(response)
    assert response["Location"] == DONE_URL
    return browser.get(DONE_URL)


def financial_rows() -> list[Certificate]:
    return list(Certificate.objects.financial().order_by("pk"))


def en(message: object, **params: object) -> str:
    with translation.override("en"):
        return str(message) % params if params else str(message)


def assert_nothing_issued(alice: Customer) -> None:
    assert not Certificate.objects.financial().exists()
    assert financial_cloud().find(holder_name=alice.name, phone=alice.phone) == []
    assert not AuditEvent.objects.filter(action="certificate.financial_issue").exists()


# --- the whole flow ----------------------------------------------------------------------------------


def test_the_whole_flow_issues_one_financial_certificate_stored_in_the_cloud(
    agreement, alice, alice_account, card, browser
) -> None:  # type: ignore[no-untyped-def]
    """One certificate, active in the cloud, valid 3 years to the expiry day 23:59:59 KST; the phone
    verification is spent; the "stored in the cloud" SMS goes out; the done page links to sign-in."""
    done = issue_through_pages(browser, alice, alice_account, card)

    assert done.status_code == 200 and "no-store" in done["Cache-Control"]
    (row,) = financial_rows()
    assert (row.customer_id, row.status, row.storage) == (alice.pk, Certificate.Status.VALID, "cloud")
    assert row.not_after.astimezone(ca.KST) == dt.datetime(2029, 3, 2, 23, 59, 59, tzinfo=ca.KST)
    in_cloud = financial_cloud().status(cloud_id=row.cloud_id)
    assert (in_cloud.status, in_cloud.serial) == (CertificateStatus.ACTIVE, row.serial)
    # Found by the registered name and mobile number, as the sign-in from any device looks it up.
    assert financial_certificate_for(holder_name=alice.name, phone=alice.phone).certificate == row
    text = html(done)
    assert f'data-serial="{row.serial}"' in text and "2029-03-02 23:59:59" in text
    assert f'href="{financial_pages.signin_url()}"' in text and 'id="financial-signin-link"' in text
    assert "Stored in the financial certificate cloud" in text
    sms = Notification.objects.filter(purpose="certificate_issue").latest("pk")
    assert sms.to == alice.phone and ("cloud" in sms.body or "클라우드" in sms.body)
    assert AdditionalAuthChallenge.objects.get().state == State.USED
    assert AuditEvent.objects.filter(action="certificate.financial_issue", object_id=str(row.pk)).count() == 1
    assert financial_pages.FINANCIAL_ISSUE.key not in browser.session
    # One certificate per identification: the PIN step is closed now.
    assert browser.get(PIN_URL)["Location"] == START_URL
    assert post_pin(browser)["Location"] == START_URL
    assert len(financial_rows()) == 1


@pytest.mark.django_db(transaction=True)
def test_the_pin_chosen_on_the_page_unlocks_the_certificate(agreement, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    issue_through_pages(browser, alice, alice_account, card)
    assert agreement.user is not None

    evidence = financial_sign(customer=alice, pin=PIN, text="hello", purpose="transfer", actor=agreement.user)

    assert evidence.certificate == financial_rows()[0]
    with pytest.raises(ValidationError) as refused:
        financial_sign(customer=alice, pin=OTHER_PIN, text="hello", purpose="transfer", actor=agreement.user)
    assert refused.value.code == "wrong_pin"
    with translation.override("en"):
        assert refused.value.messages == [str(ERR_WRONG_PIN) % {"left": 4}]


def test_the_details_step_shows_the_registered_name_phone_and_email(
    agreement, alice, alice_account, card, browser
) -> None:  # type: ignore[no-untyped-def]
    page = to_details(browser, alice, alice_account, card)

    text = html(page)
    assert page.status_code == 200
    assert f'<dd id="holder-name">{alice.name}</dd>' in text
    assert '<dd id="holder-phone">010-8642-9753</dd>' in text
    assert '<dd id="holder-email">alice@example.com</dd>' in text
    assert 'id="replace-warning"' not in text and 'name="replace"' not in text

    refused = browser.post(DETAILS_URL, {})

    assert refused.status_code == 200 and shown(en(ERR_DETAILS_CONFIRM)) in html(refused)
    assert browser.get(PIN_URL)["Location"] == START_URL  # the flow went back to the start


# --- a second certificate replaces the first -------------------------------------------------------------


def test_a_second_issue_replaces_the_first_after_the_customer_is_told(
    agreement, alice, alice_account, card, browser, clock
) -> None:  # type: ignore[no-untyped-def]
    issue_through_pages(browser, alice, alice_account, card)
    (first,) = financial_rows()
    clock.shift(dt.timedelta(minutes=5))

    page = to_details(browser, alice, alice_account, card)

    text = html(page)
    assert 'id="replace-warning"' in text and f'data-serial="{first.serial}"' in text
    assert "2029-03-02 23:59:59" in text and 'name="replace"' in text
    without = browser.post(DETAILS_URL, {"confirm": "on"})
    assert without.status_code == 200 and shown(en(ERR_REPLACE_CONFIRM)) in html(without)
    assert browser.get(PIN_URL)["Location"] == START_URL

    browser.post(START_URL, details(alice, alice_account))  # start again, this time confirming
    send_code(browser)
    browser.post(PHONE_URL, {"phone_code": latest_code()})
    browser.post(MEDIUM_URL, card_answer(card, browser.get(MEDIUM_URL)))
    assert browser.post(DETAILS_URL, {"confirm": "on", "replace": "on"})["Location"] == PIN_URL
    assert 'id="replace-reminder"' in html(browser.get(PIN_URL))
    assert post_pin(browser, OTHER_PIN)["Location"] == DONE_URL

    first.refresh_from_db()
    assert (first.status, first.revocation_reason) == (Certificate.Status.REVOKED, "superseded")
    assert financial_cloud().status(cloud_id=first.cloud_id).status == CertificateStatus.REVOKED
    valid = Certificate.objects.financial().filter(status=Certificate.Status.VALID)
    assert valid.count() == 1 and valid.get().pk != first.pk
    assert 'id="issued-replaced"' in html(browser.get(DONE_URL))


def test_a_certificate_issued_after_the_confirmation_is_not_replaced_unseen(
    agreement, alice, alice_account, card, browser
) -> None:  # type: ignore[no-untyped-def]
    to_pin(browser, alice, alice_account, card)
    meanwhile = financial_issue(agreement=agreement, pin=PIN, pin_again=PIN, medium_verified=True, actor=CERT_WEB)

    response = post_pin(browser, OTHER_PIN)

    assert response.status_code == 200 and 'id="refusal"' in html(response)
    assert shown(en(financial_pages.ERR_CERTIFICATES_CHANGED)) in html(response)
    assert financial_rows() == [meanwhile.certificate]
    assert meanwhile.certificate.status == Certificate.Status.VALID
    assert AdditionalAuthChallenge.objects.get().state == State.VERIFIED  # not spent
    assert browser.get(PIN_URL)["Location"] == START_URL


# --- steps in order, the time limit -------------------------------------------------------------------


def test_no_step_opens_before_the_earlier_ones(agreement, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    for url in LATER_URLS:
        assert browser.get(url)["Location"] == START_URL
        assert (
            browser.post(url, {"phone_code": "123456", "confirm": "on", "pin": PIN, "pin_again": PIN})["Location"]
            == START_URL
        )
    assert browser.post(SEND_URL, {"channel": "sms"})["Location"] == START_URL
    assert browser.get(DONE_URL)["Location"] == CENTRE_URL
    assert not AdditionalAuthChallenge.objects.exists()

    to_phone(browser, alice, alice_account)  # identified: the medium, details and PIN wait
    for url in (MEDIUM_URL, DETAILS_URL, PIN_URL):
        assert browser.get(url)["Location"] == START_URL
    to_medium(browser, alice, alice_account)  # phone verified: the details and PIN wait
    for url in (DETAILS_URL, PIN_URL):
        assert browser.get(url)["Location"] == START_URL
    to_details(browser, alice, alice_account, card)  # medium passed: the PIN waits for the confirmation
    assert post_pin(browser)["Location"] == START_URL
    assert browser.get(DONE_URL)["Location"] == CENTRE_URL
    assert_nothing_issued(alice)


def test_a_wrong_security_medium_answer_keeps_the_details_step_closed(
    agreement, alice, alice_account, card, browser
) -> None:  # type: ignore[no-untyped-def]
    medium = to_medium(browser, alice, alice_account)

    wrong = browser.post(MEDIUM_URL, card_answer(card, medium, wrong=True))

    assert wrong.status_code == 200 and 'id="medium-form"' in html(wrong)
    assert browser.get(DETAILS_URL)["Location"] == START_URL


@pytest.mark.parametrize(
    ("after", "issued"), [(dt.timedelta(minutes=10), True), (dt.timedelta(minutes=10, seconds=1), False)]
)
def test_the_flow_lasts_ten_minutes_from_identification(
    agreement, alice, alice_account, card, browser, clock, after, issued
) -> None:  # type: ignore[no-untyped-def]
    to_pin(browser, alice, alice_account, card)
    clock.move_to(T0 + after)

    response = post_pin(browser)

    assert response["Location"] == (DONE_URL if issued else START_URL)
    assert len(financial_rows()) == (1 if issued else 0)


# --- identification -------------------------------------------------------------------------------------


def test_a_wrong_account_password_gets_the_generic_refusal_and_is_counted(
    agreement, alice, alice_account, browser
) -> None:  # type: ignore[no-untyped-def]
    response = browser.post(START_URL, details(alice, alice_account, account_password="0000"))

    assert response.status_code == 200 and shown(en(ERR_DETAILS_MISMATCH)) in html(response)
    alice_account.refresh_from_db()
    agreement.refresh_from_db()
    assert (alice_account.password_failures, agreement.wrong_entries) == (1, 1)
    assert financial_pages.FINANCIAL_ISSUE.key not in browser.session
    assert browser.get(PHONE_URL)["Location"] == START_URL

    right = browser.post(START_URL, details(alice, alice_account))  # the right password resets the count

    assert right["Location"] == PHONE_URL
    alice_account.refresh_from_db()
    assert alice_account.password_failures == 0


def test_the_terms_must_be_accepted(agreement, alice, alice_account, browser) -> None:  # type: ignore[no-untyped-def]
    data = details(alice, alice_account)
    del data["terms"]

    response = browser.post(START_URL, data)

    assert response.status_code == 200 and shown(en(ERR_FINANCIAL_TERMS)) in html(response)
    assert financial_pages.FINANCIAL_ISSUE.key not in browser.session


def test_a_customer_without_a_mobile_number_is_sent_to_a_branch(agreement, alice, alice_account, browser) -> None:  # type: ignore[no-untyped-def]
    Customer.objects.filter(pk=alice.pk).update(phone="")

    response = browser.post(START_URL, details(alice, alice_account))

    assert response.status_code == 200
    assert 'data-code="no_phone"' in html(response)
    assert shown(en(financial_pages.ERR_NO_MOBILE)) in html(response)
    assert financial_pages.FINANCIAL_ISSUE.key not in browser.session
    assert not AdditionalAuthChallenge.objects.exists()


def test_a_mobile_number_removed_during_the_flow_stops_it_before_the_pin(
    agreement, alice, alice_account, card, browser
) -> None:  # type: ignore[no-untyped-def]
    to_medium(browser, alice, alice_account)
    browser.post(MEDIUM_URL, card_answer(card, browser.get(MEDIUM_URL)))
    Customer.objects.filter(pk=alice.pk).update(phone="0212345678")  # a landline cannot be used

    response = browser.get(DETAILS_URL)

    assert response.status_code == 200 and 'data-code="no_phone"' in html(response)
    assert browser.get(PIN_URL)["Location"] == START_URL


def test_a_corporation_is_told_to_use_a_joint_certificate(clock, acme, teller, demand_product) -> None:  # type: ignore[no-untyped-def]
    ca_ready()
    banker = open_banking(acme, teller=teller, product=demand_product, username="acme2026", certificate=False)
    assert acme.brn is not None
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")

    form = {
        "terms": "on",
        "user_id": "acme2026",
        "id_number": acme.brn,
        "account_number": banker.account.number_display,
        "account_password": ACCOUNT_PASSWORD,
    }

    response = browser.post(START_URL, form)

    assert response.status_code == 200 and 'data-code="corporate"' in html(response)
    assert shown(en(financial_pages.ERR_CORPORATE)) in html(response)
    assert financial_pages.FINANCIAL_ISSUE.key not in browser.session


# --- additional authentication ------------------------------------------------------------------------


def test_a_wrong_phone_code_is_refused_with_the_tries_left(agreement, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    page = to_phone(browser, alice, alice_account)
    assert 'id="phone-send"' in html(page) and "010-****-9753" in html(page)
    sent = send_code(browser)
    assert any("9753" in text for text in messages_of(sent))
    right = latest_code()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    response = browser.post(PHONE_URL, {"phone_code": wrong})

    assert response.status_code == 200
    with translation.override("en"):
        assert str(REFUSAL_MESSAGES[Refusal.WRONG]) in html(response) and "4 tries left." in html(response)
    assert browser.get(MEDIUM_URL)["Location"] == START_URL
    assert AdditionalAuthChallenge.objects.get().attempts == 1


def test_a_code_must_be_requested_before_it_is_verified(agreement, alice, alice_account, browser) -> None:  # type: ignore[no-untyped-def]
    to_phone(browser, alice, alice_account)

    response = browser.post(PHONE_URL, {"phone_code": "123456"})

    with translation.override("en"):
        assert str(REFUSAL_MESSAGES[Refusal.NO_CHALLENGE]) in html(response)
    assert not AdditionalAuthChallenge.objects.exists()


def test_the_code_is_for_the_financial_certificate_issue(agreement, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    """The otp app's own purpose for this flow: a code sent for a joint-certificate reissue opens nothing here."""
    to_medium(browser, alice, alice_account)

    challenge = AdditionalAuthChallenge.objects.get()

    assert challenge.purpose == AdditionalAuthChallenge.Purpose.FINANCIAL_CERTIFICATE_ISSUE
    assert challenge.state == State.VERIFIED


def test_without_a_usable_phone_verification_nothing_is_issued(agreement, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    """The verification was spent elsewhere after the phone step: nothing is issued, start again."""
    to_pin(browser, alice, alice_account, card)
    assert additional_auth_use(customer=alice, purpose="financial_certificate_issue", actor=CERT_WEB) is not None

    response = post_pin(browser)

    assert response.status_code == 200 and 'data-code="additional_auth_required"' in html(response)
    assert shown(en(financial_pages.ERR_VERIFY_AGAIN)) in html(response)
    assert_nothing_issued(alice)
    assert browser.get(PIN_URL)["Location"] == START_URL


# --- the PIN --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "again", "message"),
    [
        (PIN, OTHER_PIN, ERR_PIN_MISMATCH),
        ("48291", "48291", ERR_PIN_FORMAT),
        ("4829155", "4829155", ERR_PIN_FORMAT),
        ("48291a", "48291a", ERR_PIN_FORMAT),
        ("٤٨٢٩١٥", "٤٨٢٩١٥", ERR_PIN_FORMAT),  # Arabic-Indic digits are not ASCII digits
        ("", "", ERR_PIN_FORMAT),
    ]
    + [(trivial, trivial, ERR_PIN_TRIVIAL) for trivial in ("000000", "123456", "987654", "121212", "123123")],
)
def test_a_mismatched_malformed_or_trivial_pin_reshows_the_pin_step_and_writes_nothing(
    agreement, alice, alice_account, card, browser, pin, again, message
) -> None:  # type: ignore[no-untyped-def]
    to_pin(browser, alice, alice_account, card)
    audit_events = AuditEvent.objects.count()

    response = post_pin(browser, pin, again)

    assert response.status_code == 200 and 'id="pin-form"' in html(response)
    assert shown(en(message)) in html(response)
    assert f'value="{pin}"' not in html(response) or not pin  # the PIN is never written back into the page
    assert_nothing_issued(alice)
    assert AdditionalAuthChallenge.objects.get().state == State.VERIFIED  # not spent
    assert AuditEvent.objects.count() == audit_events
    assert post_pin(browser)["Location"] == DONE_URL  # the flow stays: a good PIN issues


def test_the_birth_date_is_a_trivial_pin_but_a_near_neighbour_is_not(
    agreement, alice, alice_account, card, browser
) -> None:  # type: ignore[no-untyped-def]
    assert alice.birth_date is not None
    birthday = f"{alice.birth_date:%y%m%d}"
    neighbour = f"{birthday[:5]}{(int(birthday[5]) + 1) % 10}"
    to_pin(browser, alice, alice_account, card)

    refused = post_pin(browser, birthday)

    assert refused.status_code == 200 and shown(en(ERR_PIN_TRIVIAL)) in html(refused)
    assert_nothing_issued(alice)
    assert post_pin(browser, neighbour)["Location"] == DONE_URL
    assert post_pin(browser, "123457")["Location"] == START_URL  # issued: the flow ended


# --- bad input, methods, languages, CSP ------------------------------------------------------------------


def test_garbage_posts_get_a_message_never_a_server_error(agreement, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    long = "9" * 10_000
    garbage: list[dict[str, Any]] = [
        {},
        {"terms": long, "user_id": long, "id_number": long, "account_number": long, "account_password": long},
        {"terms": ["on", "off"], "user_id": ["a", "b"], "id_number": "\x00", "account_number": "１２３"},
    ]
    for data in garbage:
        response = browser.post(START_URL, data)
        assert response.status_code == 200 and 'id="identify-form"' in html(response)
    to_phone(browser, alice, alice_account)
    for channel in ("fax", "", long):
        refused = browser.post(SEND_URL, {"channel": channel}, follow=True)
        assert refused.status_code == 200 and messages_of(refused)
    for code in ("", "abcdef", long, "１２３４５６"):
        assert browser.post(PHONE_URL, {"phone_code": code}).status_code == 200
    assert not AdditionalAuthChallenge.objects.exists()

    to_pin(browser, alice, alice_account, card)
    for data in ({}, {"pin": long, "pin_again": long}, {"pin": ["482915", "1"], "pin_again": "\x00"}):
        response = browser.post(PIN_URL, data)
        assert response.status_code == 200 and 'id="pin-form"' in html(response)
    json_body = browser.post(PIN_URL, '{"pin": "482915"}', content_type="application/json")
    assert json_body.status_code == 200 and shown(en(ERR_PIN_FORMAT)) in html(json_body)
    assert_nothing_issued(alice)
    assert post_pin(browser)["Location"] == DONE_URL


def test_the_pages_reject_other_methods(browser) -> None:
    assert browser.put(START_URL).status_code == 405
    assert browser.delete(PIN_URL).status_code == 405
    assert browser.get(SEND_URL).status_code == 405
    assert browser.post(DONE_URL).status_code == 405


def test_the_pages_render_in_korean_by_default_and_in_english_with_the_language_switch(
    agreement, alice, alice_account, card
) -> None:  # type: ignore[no-untyped-def]
    korean = Client()
    start = korean.get(START_URL)
    assert start.status_code == 200 and '<html lang="ko">' in html(start)
    for page in (to_phone(korean, alice, alice_account), to_pin(korean, alice, alice_account, card)):
        assert page.status_code == 200 and '<html lang="ko">' in html(page)

    korean.post(reverse("set_language"), {"language": "en", "next": START_URL})
    english = html(korean.get(START_URL))

    assert '<html lang="en">' in english and "<h1>Issue a financial certificate</h1>" in english
    assert "Terms of use of financial certificates" in english


def test_the_pages_keep_the_strict_csp(agreement, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    """No inline scripts, styles or event handlers; the PIN step loads the keypad's script file."""
    pages = [browser.get(START_URL), to_phone(browser, alice, alice_account)]
    send_code(browser)
    browser.post(PHONE_URL, {"phone_code": latest_code()})
    pages.append(browser.get(MEDIUM_URL))
    browser.post(MEDIUM_URL, card_answer(card, pages[-1]))
    pages.append(browser.get(DETAILS_URL))
    browser.post(DETAILS_URL, {"confirm": "on"})
    pin_page = browser.get(PIN_URL)
    pages.append(pin_page)
    assert post_pin(browser)["Location"] == DONE_URL
    pages.append(browser.get(DONE_URL))

    for page in pages:
        assert page.status_code == 200
        assert "script-src 'self'" in page["Content-Security-Policy"]
        assert INLINE_SCRIPT.search(html(page)) is None
        assert INLINE_STYLE_OR_HANDLER.search(html(page)) is None
    pin_html = html(pin_page)
    assert re.search(r'<script src="[^"]*js/pin-keypad\.js" defer></script>', pin_html)
    assert pin_html.count("data-pin-keypad") == 2
    assert 'name="pin"' in pin_html and 'name="pin_again"' in pin_html


def test_the_certificate_centre_links_to_the_issue(client) -> None:  # type: ignore[no-untyped-def]
    page = html(client.get(CENTRE_URL))

    assert f'href="{START_URL}" id="link-financial-issue"' in page
