"""Sign-in with the financial certificate from any device (금융인증서 로그인) through the test client: name and
mobile number, then the PIN, and the banking session; the generic refusal, wrong PINs and the lock, a
suspended agreement, the per-IP pause shared with the joint certificate login, and bad input.

The cloud counts wrong PINs in its own committed transaction, so these tests run outside the test's
wrapping transaction (``transaction=True``)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from accounts import services as accounts_services
from accounts.models import Customer
from accounts.services.agreements import agreement_web_actor
from bankportal.audit.models import AuditEvent
from bankportal.session_levels import SESSION_KEY, Level
from bankportal.timeutil import KST
from certcenter import login_views
from certcenter.cloud.api import CertificateStatus, financial_cloud
from certcenter.financial_login import SIGNIN_METHOD, issue_url
from certcenter.models import Certificate, LoginChallenge, SignatureEvidence
from certcenter.services.financial import ERR_LOCKED, ERR_NO_CERTIFICATE, ERR_WRONG_PIN, financial_issue
from tests.accounts.release_signing import CERT_WEB
from tests.accounts.transfer_helpers import Banker, ca_ready, open_banking
from tests.conftest import rrn_for_age

pytestmark = pytest.mark.django_db(transaction=True)

SIGNIN = reverse("certcenter:financial_signin")
BANKING = reverse("banking_home")
T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=KST)
NAME = "김앨리스"
PHONE = "010-8642-9753"
PIN = "482915"
OTHER_PIN = "730264"


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def shown(message: object, **params: object) -> str:
    """The English message as the page shows it (HTML-escaped)."""
    with translation.override("en"):
        text = str(message) % params if params else str(message)
    return str(escape(text))


def holder_step(browser: Client, *, name: str = NAME, phone: str = PHONE, **extra: Any):  # type: ignore[no-untyped-def]
    return browser.post(SIGNIN, {"name": name, "phone": phone, **extra})


def pin_step(browser: Client, pin: str, *, name: str = NAME, phone: str = PHONE, **extra: Any):  # type: ignore[no-untyped-def]
    return browser.post(SIGNIN, {"name": name, "phone": phone, "pin": pin, **extra})


def signed_in(browser: Client) -> bool:
    return browser.get(BANKING).status_code == 200


def refusals_counted() -> int:
    count_key, _paused_key = login_views.throttle_keys(RequestFactory().post(SIGNIN))
    return int(cache.get(count_key) or 0)


def wrong_pins(certificate: Certificate) -> int:
    return financial_cloud().status(cloud_id=certificate.cloud_id).wrong_pins  # type: ignore[arg-type]


# --- personas -----------------------------------------------------------------------------------------


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _fresh_certificate_login_throttle() -> Iterator[None]:
    """The per-IP refusal counter lives in the cache, which outlives each test's database."""
    keys = login_views.throttle_keys(RequestFactory().post(SIGNIN))  # the test client's address
    cache.delete_many(list(keys))
    yield
    cache.delete_many(list(keys))


@pytest.fixture
def alice_bank(clock, alice, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    ca_ready()
    return open_banking(alice, teller=teller, product=demand_product, username="alice2026", certificate=False)


@pytest.fixture
def certificate(alice_bank) -> Certificate:  # type: ignore[no-untyped-def]
    return financial_issue(
        agreement=alice_bank.agreement, pin=PIN, pin_again=PIN, medium_verified=True, actor=CERT_WEB
    ).certificate


@pytest.fixture
def browser() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


# --- signing in -----------------------------------------------------------------------------------------


def test_name_number_and_pin_open_a_banking_session_and_the_login_is_recorded(browser, alice_bank, certificate) -> None:  # type: ignore[no-untyped-def]
    first = browser.get(SIGNIN)
    assert first.status_code == 200 and 'name="phone"' in html(first) and 'name="pin"' not in html(first)
    assert first["Cache-Control"].startswith("max-age=0")
    assert not signed_in(browser)

    pin_page = holder_step(browser)
    text = html(pin_page)
    assert pin_page.status_code == 200 and 'name="pin"' in text and "data-pin-keypad" in text
    assert 'value="01086429753"' in text and "010-8642-9753" in text and "js/pin-keypad.js" in text

    response = pin_step(browser, PIN)

    assert response.status_code == 302 and response["Location"] == BANKING
    assert browser.session[SESSION_KEY] == int(Level.CERTIFICATE)
    assert signed_in(browser)
    login = AuditEvent.objects.get(action="auth.login", actor_id=alice_bank.user.pk)
    assert login.details["method"] == SIGNIN_METHOD  # the login history says how they signed in
    assert AuditEvent.objects.filter(action="certificate.login", object_id=str(certificate.pk)).count() == 1
    assert SignatureEvidence.objects.filter(purpose="login", certificate=certificate).count() == 1
    assert LoginChallenge.objects.get().used_at is not None  # the nonce was bound to this session and spent
    assert refusals_counted() == 0


def test_a_next_page_of_this_site_is_honoured_and_another_site_is_not(alice_bank, certificate) -> None:  # type: ignore[no-untyped-def]
    ours = Client(HTTP_ACCEPT_LANGUAGE="en")
    page = ours.get(SIGNIN, {"next": "/transfer/"})
    assert 'name="next" value="/transfer/"' in html(page)
    assert pin_step(ours, PIN, next="/transfer/")["Location"] == "/transfer/"
    for target in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        elsewhere = Client(HTTP_ACCEPT_LANGUAGE="en")
        assert pin_step(elsewhere, PIN, next=target)["Location"] == BANKING


def test_the_first_step_looks_the_same_whether_or_not_a_certificate_exists(browser, alice_bank, certificate) -> None:  # type: ignore[no-untyped-def]
    def page(phone: str) -> str:
        response = holder_step(browser, phone=phone)
        assert response.status_code == 200
        text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html(response))  # masked anew each time
        return text.replace(phone, "X").replace(phone.replace("-", ""), "X")

    assert page(PHONE) == page("010-1111-2222")
    assert "form-errors" not in page("010-1111-2222") and refusals_counted() == 0


@pytest.mark.parametrize(("name", "phone"), [(NAME, "010-1111-2222"), ("김엘리스", PHONE), ("박밥", "010-3333-4444")])
def test_an_unknown_name_or_number_gets_one_generic_refusal_and_counts(browser, certificate, name, phone) -> None:  # type: ignore[no-untyped-def]
    response = pin_step(browser, PIN, name=name, phone=phone)
    assert response.status_code == 400 and shown(ERR_NO_CERTIFICATE) in html(response)
    assert f'href="{issue_url()}"' in html(response)
    assert not signed_in(browser)
    assert refusals_counted() == 1
    refused = AuditEvent.objects.get(action="certificate.login_refused")
    assert refused.details["reason"] == "no_financial_certificate"
    assert wrong_pins(certificate) == 0  # no certificate was tried


def test_a_customer_without_a_financial_certificate_gets_the_same_refusal(browser, alice_bank) -> None:  # type: ignore[no-untyped-def]
    response = pin_step(browser, PIN)
    assert response.status_code == 400 and shown(ERR_NO_CERTIFICATE) in html(response)


def test_a_wrong_pin_says_how_many_tries_are_left_and_counts(browser, certificate) -> None:  # type: ignore[no-untyped-def]
    for left in (4, 3):
        response = pin_step(browser, OTHER_PIN)
        text = html(response)
        assert response.status_code == 400 and shown(ERR_WRONG_PIN, left=left) in text
        assert OTHER_PIN not in text  # the PIN is never sent back
        assert 'value="01086429753"' in text  # the name and number stay for the next try
    assert wrong_pins(certificate) == 2 and refusals_counted() == 2
    assert not signed_in(browser)
    assert pin_step(browser, PIN).status_code == 302
    assert wrong_pins(certificate) == 0  # a correct PIN resets the count


def test_the_fifth_wrong_pin_locks_and_then_the_right_pin_is_refused_too(browser, certificate) -> None:  # type: ignore[no-untyped-def]
    for _ in range(4):
        assert pin_step(browser, OTHER_PIN).status_code == 400
    fifth = pin_step(browser, OTHER_PIN)
    assert fifth.status_code == 400 and shown(ERR_LOCKED) in html(fifth)
    assert 'id="link-financial-issue-again"' in html(fifth) and f'href="{issue_url()}"' in html(fifth)
    right = pin_step(browser, PIN)
    assert right.status_code == 400 and shown(ERR_LOCKED) in html(right)
    assert not signed_in(browser)
    assert financial_cloud().status(cloud_id=certificate.cloud_id).status == CertificateStatus.LOCKED  # type: ignore[arg-type]
    assert not AuditEvent.objects.filter(action="certificate.login").exists()


def test_a_suspended_agreement_is_refused_with_where_to_release_it(browser, alice_bank, certificate) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        accounts_services.agreement_record_wrong_entry(agreement=alice_bank.agreement, actor=agreement_web_actor())
    response = pin_step(browser, PIN)
    text = html(response)
    assert response.status_code == 400
    assert "5 consecutive wrong entries" in text and "/security/release/" in text
    assert 'id="link-release-suspension"' in text
    assert not signed_in(browser) and refusals_counted() == 1
    assert wrong_pins(certificate) == 0  # the PIN was right: only the agreement refused


# --- the per-IP pause -------------------------------------------------------------------------------------


def test_twenty_refusals_from_one_address_pause_this_and_the_joint_certificate_login(browser, certificate) -> None:  # type: ignore[no-untyped-def]
    limit = settings.SIGNIN_IP_FAILURE_LIMIT
    for _ in range(limit - 1):
        assert pin_step(browser, PIN, phone="010-1111-2222").status_code == 400
    assert not AuditEvent.objects.filter(action="certificate.login_paused").exists()
    assert pin_step(browser, PIN, phone="010-1111-2222").status_code == 400  # the 20th sets the pause

    paused = pin_step(browser, PIN)
    assert paused.status_code == 429 and paused["Retry-After"] == "900"
    assert shown(login_views.ERR_PAUSED, minutes=15) in html(paused)
    assert browser.get(SIGNIN).status_code == 429
    assert holder_step(browser).status_code == 429
    joint = browser.post(reverse("certificate_login:challenge"))
    assert joint.status_code == 429  # one counter for both certificate logins
    assert not signed_in(browser)
    assert wrong_pins(certificate) == 0 and not AuditEvent.objects.filter(action="certificate.login").exists()
    assert AuditEvent.objects.filter(action="certificate.login_paused").count() == 1


def test_nineteen_refusals_do_not_pause(browser, certificate) -> None:  # type: ignore[no-untyped-def]
    for _ in range(settings.SIGNIN_IP_FAILURE_LIMIT - 1):
        pin_step(browser, PIN, phone="010-1111-2222")
    assert pin_step(browser, PIN).status_code == 302 and signed_in(browser)


# --- bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"pin": ""},
        {"pin": PIN},
        {"name": NAME},
        {"name": "", "phone": PHONE, "pin": PIN},
        {"name": NAME, "phone": "02-123-4567", "pin": PIN},
        {"name": NAME, "phone": "abc"},
        {"name": "x" * 500, "phone": PHONE, "pin": PIN},
        {"name": "김\x00앨리스", "phone": PHONE, "pin": PIN},
        {"name": NAME, "phone": "0" * 5000},
        {"name": NAME, "phone": PHONE, "pin": "12345"},
        {"name": NAME, "phone": PHONE, "pin": "4829150"},
        {"name": NAME, "phone": PHONE, "pin": "48291a"},
        {"name": NAME, "phone": PHONE, "pin": "４８２９１５"},
        {"name": NAME, "phone": PHONE, "pin": " 48291"},
        {"name": [NAME, "박밥"], "phone": [PHONE, PHONE], "pin": ["12", "34"]},
        {"name": NAME, "phone": PHONE, "pin": "1", "next": "javascript:alert(1)"},
        {"name": NAME, "phone": PHONE, "pin": "1", "next": "/" + "a" * 5000},
    ],
)
def test_bad_input_gets_a_form_error_never_a_500_and_never_reaches_the_cloud(browser, certificate, data) -> None:  # type: ignore[no-untyped-def]
    response = browser.post(SIGNIN, data)
    assert response.status_code == 200 and 'class="errorlist' in html(response)
    assert not signed_in(browser)
    assert wrong_pins(certificate) == 0 and refusals_counted() == 0
    assert not LoginChallenge.objects.exists()


def test_other_methods_are_not_allowed_and_the_form_needs_the_csrf_token(certificate) -> None:  # type: ignore[no-untyped-def]
    assert Client().put(SIGNIN).status_code == 405
    guarded = Client(enforce_csrf_checks=True)
    assert guarded.post(SIGNIN, {"name": NAME, "phone": PHONE, "pin": PIN}).status_code == 403
    assert wrong_pins(certificate) == 0


# --- language and links -------------------------------------------------------------------------------------


def test_the_pages_are_korean_by_default_and_english_with_the_switch() -> None:
    korean = Client()
    page = html(korean.get(SIGNIN))
    assert 'lang="ko"' in page and "인증센터" in page
    assert 'lang="ko"' in html(holder_step(korean))
    korean.post(reverse("set_language"), {"language": "en", "next": SIGNIN})
    english = html(korean.get(SIGNIN))
    assert 'lang="en"' in english and "Financial certificate login" in english
    assert "2. PIN" in html(holder_step(korean))


def test_the_certificate_login_and_the_main_login_pages_link_here(client) -> None:  # type: ignore[no-untyped-def]
    for page in (reverse("certcenter:signin"), reverse("login")):
        assert f'href="{SIGNIN}"' in html(client.get(page))


def test_another_customers_name_never_opens_alices_session(
    browser, alice_bank, certificate, teller, demand_product
) -> None:  # type: ignore[no-untyped-def]
    bob = accounts_services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박밥", phone=PHONE, rrn=rrn_for_age(40, serial="156789"), actor=teller
    )
    open_banking(bob, teller=teller, product=demand_product, username="bob2026", certificate=False)
    # Same mobile number, another name: no certificate, and Alice's PIN count is untouched.
    response = pin_step(browser, PIN, name="박밥")
    assert response.status_code == 400 and shown(ERR_NO_CERTIFICATE) in html(response)
    assert wrong_pins(certificate) == 0 and not signed_in(browser)
