"""My financial certificate (내 금융인증서) through the test client with a banking session: its state as the
register and the cloud tell it, renewal (갱신) on both sides of its window's opening with the PIN, revocation
(폐기, "lost phone") with its confirmation, another customer's session, and bad input.

Renewal checks the PIN in the cloud, which commits the count itself, so these tests run outside the test's
wrapping transaction (``transaction=True``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts import services as accounts_services
from accounts.models import Customer
from bankportal.audit.models import AuditEvent
from bankportal.timeutil import KST
from certcenter.cloud.api import CertificateStatus, financial_cloud
from certcenter.financial_login import issue_url
from certcenter.financial_mine import (
    ERR_CHANGED,
    ERR_REVOKE_CONFIRM,
    ERR_REVOKE_REASON,
    MSG_RENEWED,
    MSG_REVOKED,
    REVOKE_CHOICES,
)
from certcenter.models import Certificate
from certcenter.services.financial import (
    ERR_NONE_HELD,
    ERR_RENEWAL_WINDOW,
    ERR_WRONG_PIN,
    current_financial_certificate,
    financial_issue,
    financial_sign,
)
from certcenter.services.issuance import REVOKE_REASONS
from tests.accounts.release_signing import CERT_WEB
from tests.accounts.transfer_helpers import Banker, ca_ready, open_banking
from tests.certcenter.test_financial_signin_pages import html, shown
from tests.conftest import banking_login, rrn_for_age

pytestmark = pytest.mark.django_db(transaction=True)

MINE = reverse("certcenter:financial_mine")
RENEW = reverse("certcenter:financial_mine_renew")
REVOKE = reverse("certcenter:financial_mine_revoke")
SIGNIN = reverse("certcenter:financial_signin")
T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=KST)
BEFORE_WINDOW = dt.datetime(2029, 10, 23, 23, 59, 59, tzinfo=KST)  # the certificate expires 2029-11-24
WINDOW_OPENS = dt.datetime(2029, 10, 24, 0, 0, tzinfo=KST)
PIN = "482915"
OTHER_PIN = "730264"
OTHER_BANK = "004"


def cloud_state(certificate: Certificate):  # type: ignore[no-untyped-def]
    return financial_cloud().status(cloud_id=certificate.cloud_id)  # type: ignore[arg-type]


def wrong_sign(banker: Banker) -> None:
    with pytest.raises(ValidationError) as exc:
        financial_sign(customer=banker.customer, pin=OTHER_PIN, text="x=1", purpose="transfer", actor=banker.user)
    assert exc.value.code in ("wrong_pin", "locked")


def revoke_form(certificate: Certificate, **overrides: Any) -> dict[str, Any]:
    return {"serial": certificate.serial, "reason": "key_compromise", "confirm": "on"} | overrides


# --- personas -----------------------------------------------------------------------------------------


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


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
def bob_bank(alice_bank, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    bob = accounts_services.customer_create(
        kind=Customer.Kind.INDIVIDUAL,
        name="박밥",
        phone="010-3333-4444",
        rrn=rrn_for_age(40, serial="156789"),
        actor=teller,
    )
    return open_banking(bob, teller=teller, product=demand_product, username="bob2026", certificate=False)


def session_for(banker: Banker) -> Client:
    """A banking (certificate) session of the banker's user, made at the current (travelled) time."""
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    banking_login(browser, banker.user)
    return browser


# --- access -----------------------------------------------------------------------------------------------


def test_the_pages_need_a_banking_session(alice_bank, certificate) -> None:  # type: ignore[no-untyped-def]
    anonymous = Client(HTTP_ACCEPT_LANGUAGE="en")
    for url in (MINE, RENEW, REVOKE):
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"].startswith(f"{reverse('login')}?next=")
    assert anonymous.post(REVOKE, revoke_form(certificate)).status_code == 302
    web_member = Client(HTTP_ACCEPT_LANGUAGE="en")
    web_member.force_login(alice_bank.user)  # password login: no certificate session
    for url in (MINE, RENEW, REVOKE):
        assert web_member.get(url).status_code == 403
    assert web_member.post(REVOKE, revoke_form(certificate)).status_code == 403
    certificate.refresh_from_db()
    assert certificate.status == "valid"


# --- status -----------------------------------------------------------------------------------------------


def test_the_status_shows_its_dates_wrong_pins_and_institutions(alice_bank, certificate) -> None:  # type: ignore[no-untyped-def]
    wrong_sign(alice_bank)
    wrong_sign(alice_bank)
    financial_cloud().register(cloud_id=certificate.cloud_id, institution=OTHER_BANK, now=T0)  # type: ignore[arg-type]
    response = session_for(alice_bank).get(MINE)
    text = html(response)
    assert response.status_code == 200 and certificate.serial in text
    assert "2026-11-24 10:00:00" in text and "2029-11-24 23:59:59" in text  # issued on, valid until (KST)
    assert "In use" in text and "2 of 5 (3 tries left)" in text
    assert f"{settings.BANK_NAME_EN}, KB Kookmin ({OTHER_BANK})" in text
    assert "2029-10-24 00:00 to 2029-11-24 23:59:59" in text  # the renewal window, not open yet
    assert f'href="{RENEW}"' not in text and f'href="{REVOKE}"' in text


def test_without_a_financial_certificate_the_page_offers_to_issue_one(alice_bank) -> None:  # type: ignore[no-untyped-def]
    browser = session_for(alice_bank)
    text = html(browser.get(MINE))
    assert "You have no financial certificate in use." in text and f'href="{issue_url()}"' in text
    for url in (RENEW, REVOKE):
        response = browser.post(url, {"serial": "1", "pin": PIN, "reason": "key_compromise", "confirm": "on"})
        assert response.status_code == 302 and response["Location"] == MINE
    assert shown(ERR_NONE_HELD) in html(browser.get(MINE))


def test_a_locked_certificate_says_so_and_offers_a_new_one_instead_of_renewal(alice_bank, certificate, clock) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        wrong_sign(alice_bank)
    clock.move_to(WINDOW_OPENS)  # even inside the window a locked certificate is not renewed
    text = html(session_for(alice_bank).get(MINE))
    assert "Locked after 5 wrong PINs" in text and "5 of 5 (0 tries left)" in text
    assert 'id="financial-locked"' in text and f'href="{issue_url()}"' in text
    assert f'href="{RENEW}"' not in text and f'href="{REVOKE}"' in text


def test_the_joint_my_certificates_page_links_here(alice_bank) -> None:  # type: ignore[no-untyped-def]
    assert f'href="{MINE}"' in html(session_for(alice_bank).get(reverse("certcenter:mine")))


# --- renewal ----------------------------------------------------------------------------------------------


def test_renewal_is_refused_until_0000_kst_of_the_opening_day(alice_bank, certificate, clock) -> None:  # type: ignore[no-untyped-def]
    clock.move_to(BEFORE_WINDOW)
    browser = session_for(alice_bank)
    assert f'href="{RENEW}"' not in html(browser.get(MINE))
    page = browser.get(RENEW)
    assert page.status_code == 200 and 'id="financial-renew-closed"' in html(page) and 'name="pin"' not in html(page)
    assert "2029-10-24 00:00 to 2029-11-24 23:59:59" in html(page)

    response = browser.post(RENEW, {"serial": certificate.serial, "pin": PIN})

    assert response.status_code == 400
    assert shown(ERR_RENEWAL_WINDOW, start="2029-10-24", end="2029-11-24") in html(response)
    assert Certificate.objects.financial().count() == 1 and cloud_state(certificate).wrong_pins == 0


def test_renewal_opens_at_0000_kst_and_renews_with_the_pin(alice_bank, certificate, clock) -> None:  # type: ignore[no-untyped-def]
    clock.move_to(WINDOW_OPENS)
    browser = session_for(alice_bank)
    assert f'href="{RENEW}"' in html(browser.get(MINE))
    page = html(browser.get(RENEW))
    assert 'name="pin"' in page and "data-pin-keypad" in page and "js/pin-keypad.js" in page
    assert f'name="serial" value="{certificate.serial}"' in page

    wrong = browser.post(RENEW, {"serial": certificate.serial, "pin": OTHER_PIN})
    assert wrong.status_code == 400 and shown(ERR_WRONG_PIN, left=4) in html(wrong)
    assert "1 of 5 (4 tries left)" in html(wrong) and OTHER_PIN not in html(wrong)
    assert Certificate.objects.financial().count() == 1

    response = browser.post(RENEW, {"serial": certificate.serial, "pin": PIN})

    assert response.status_code == 302 and response["Location"] == MINE
    certificate.refresh_from_db()
    assert certificate.status == "revoked" and certificate.revocation_reason == "superseded"
    renewed = current_financial_certificate(alice_bank.customer.pk)
    assert renewed is not None and renewed.pk != certificate.pk
    status = html(browser.get(MINE))
    assert shown(MSG_RENEWED, date="2032-10-24 23:59:59") in status
    assert renewed.serial in status and "0 of 5 (5 tries left)" in status
    assert AuditEvent.objects.filter(action="certificate.financial_renew").count() == 1


def test_renewal_on_the_expiry_days_last_second_works(alice_bank, certificate, clock) -> None:  # type: ignore[no-untyped-def]
    clock.move_to(dt.datetime(2029, 11, 24, 23, 59, 59, tzinfo=KST))
    response = session_for(alice_bank).post(RENEW, {"serial": certificate.serial, "pin": PIN})
    assert response.status_code == 302
    certificate.refresh_from_db()
    assert certificate.status == "revoked"


# --- revocation -------------------------------------------------------------------------------------------


def test_the_two_reasons_are_revocation_reasons_the_service_accepts() -> None:
    assert {value for value, _label in REVOKE_CHOICES} == {"key_compromise", "cessation_of_operation"}
    assert all(value in REVOKE_REASONS for value, _label in REVOKE_CHOICES)


@pytest.mark.parametrize("reason", ["key_compromise", "cessation_of_operation"])
def test_revoking_asks_for_confirmation_and_then_the_certificate_no_longer_signs_in(
    alice_bank, certificate, reason
) -> None:  # type: ignore[no-untyped-def]
    browser = session_for(alice_bank)
    page = html(browser.get(REVOKE))
    assert 'id="financial-revoke-warning"' in page and 'name="confirm"' in page
    assert 'value="key_compromise"' in page and 'value="cessation_of_operation"' in page

    unconfirmed = browser.post(REVOKE, revoke_form(certificate, reason=reason, confirm=""))
    assert unconfirmed.status_code == 400 and shown(ERR_REVOKE_CONFIRM) in html(unconfirmed)
    certificate.refresh_from_db()
    assert certificate.status == "valid"

    response = browser.post(REVOKE, revoke_form(certificate, reason=reason))

    assert response.status_code == 302 and response["Location"] == MINE
    certificate.refresh_from_db()
    assert certificate.status == "revoked" and certificate.revocation_reason == reason
    assert cloud_state(certificate).status == CertificateStatus.REVOKED
    after = html(browser.get(MINE))
    assert (
        shown(MSG_REVOKED, serial=certificate.serial) in after and "You have no financial certificate in use." in after
    )
    assert AuditEvent.objects.filter(action="certificate.revoke", object_id=str(certificate.pk)).count() == 1
    # From any device, name + number + PIN no longer open anything.
    elsewhere = Client(HTTP_ACCEPT_LANGUAGE="en")
    refused = elsewhere.post(SIGNIN, {"name": "김앨리스", "phone": "010-8642-9753", "pin": PIN})
    assert refused.status_code == 400 and elsewhere.get(reverse("banking_home")).status_code == 302


@pytest.mark.parametrize("reason", ["", "superseded", "unspecified", "affiliation_changed", "x" * 200])
def test_a_reason_other_than_the_two_offered_is_refused(alice_bank, certificate, reason) -> None:  # type: ignore[no-untyped-def]
    response = session_for(alice_bank).post(REVOKE, revoke_form(certificate, reason=reason))
    assert response.status_code == 400 and shown(ERR_REVOKE_REASON) in html(response)
    certificate.refresh_from_db()
    assert certificate.status == "valid"


def test_a_page_shown_before_a_change_never_acts_on_the_new_certificate(alice_bank, certificate, clock) -> None:  # type: ignore[no-untyped-def]
    clock.move_to(WINDOW_OPENS)
    browser = session_for(alice_bank)
    for url, data in ((REVOKE, revoke_form(certificate, serial="12345")), (RENEW, {"serial": "12345", "pin": PIN})):
        response = browser.post(url, data)
        assert response.status_code == 302 and response["Location"] == MINE
        assert shown(ERR_CHANGED) in html(browser.get(MINE))
    certificate.refresh_from_db()
    assert certificate.status == "valid" and cloud_state(certificate).wrong_pins == 0


# --- another customer --------------------------------------------------------------------------------------


def test_another_customers_session_never_sees_or_acts_on_it(alice_bank, certificate, bob_bank, clock) -> None:  # type: ignore[no-untyped-def]
    clock.move_to(WINDOW_OPENS)
    bob = session_for(bob_bank)
    for url in (MINE, RENEW, REVOKE):
        assert certificate.serial not in html(bob.get(url, follow=True))
    assert bob.post(REVOKE, revoke_form(certificate))["Location"] == MINE
    assert bob.post(RENEW, {"serial": certificate.serial, "pin": PIN})["Location"] == MINE
    assert bob.post(RENEW, {"serial": certificate.serial, "pin": OTHER_PIN})["Location"] == MINE
    certificate.refresh_from_db()
    assert certificate.status == "valid" and Certificate.objects.financial().count() == 1
    assert cloud_state(certificate).status == CertificateStatus.ACTIVE and cloud_state(certificate).wrong_pins == 0


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"pin": PIN},
        {"serial": "", "pin": PIN},
        {"serial": "9" * 500, "pin": PIN},
        {"serial": "SERIAL", "pin": "12345"},
        {"serial": "SERIAL", "pin": "48291a"},
        {"serial": "SERIAL", "pin": "４８２９１５"},
        {"serial": "SERIAL", "pin": ["482915", "000000"], "reason": ["a", "b"], "confirm": ["on", "off"]},
        {"serial": "SERIAL\x00", "pin": PIN, "reason": "key_compromise", "confirm": "on"},
        {"serial": "SERIAL", "reason": "key_compromise", "confirm": "false"},
        {"serial": "SERIAL", "reason": "key_compromise"},
    ],
)
def test_bad_input_never_gives_a_500_and_changes_nothing(alice_bank, certificate, clock, data) -> None:  # type: ignore[no-untyped-def]
    clock.move_to(WINDOW_OPENS)
    browser = session_for(alice_bank)
    data = {key: (certificate.serial if value == "SERIAL" else value) for key, value in data.items()}
    for url in (RENEW, REVOKE):
        response = browser.post(url, data)
        assert response.status_code in (302, 400)
    certificate.refresh_from_db()
    multi = isinstance(data.get("pin"), list)  # a repeated field counts its last value: 000000 is a wrong PIN
    assert certificate.status == "valid" and cloud_state(certificate).wrong_pins == (1 if multi else 0)


# --- language ---------------------------------------------------------------------------------------------


def test_the_pages_are_korean_by_default_and_english_with_the_switch(alice_bank, certificate) -> None:  # type: ignore[no-untyped-def]
    browser = Client()
    banking_login(browser, alice_bank.user)
    for url in (MINE, RENEW, REVOKE):
        assert 'lang="ko"' in html(browser.get(url))
    browser.post(reverse("set_language"), {"language": "en", "next": MINE})
    english = html(browser.get(MINE))
    assert 'lang="en"' in english and "My financial certificate" in english and "Wrong PINs so far" in english
