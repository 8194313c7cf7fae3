"""My certificates (내 인증서 관리) through the test client with a certificate session: the list, revoking
(폐기) with its confirmation, and renewal (갱신) inside and outside its window, with refusals and bad input.

The test plays the page's script with ``cryptography`` (an RSA-2048 key and a SHA-256 CSR as JSON).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import load_pem_x509_csr
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from accounts import services as accounts_services
from accounts.models import Agreement, Customer, User
from bankportal.audit.models import AuditEvent
from bankportal.session_levels import ERR_BANKING_NEEDS_CERTIFICATE
from certcenter import mine, services
from certcenter.models import Certificate
from certcenter.services.issuance import ERR_NOT_REVOCABLE, ERR_NOT_WITHDRAWAL_ACCOUNT, ERR_REVOKE_REASON
from tests.certcenter.test_issuance import (
    EXPIRY,
    OPENS,
    T0,
    R,
    _register,
    browser_key,
    counts,
    crl_serials,
    csr_for,
    issue,
)
from tests.certcenter.test_pki_endpoints import CA_ACTOR
from tests.conftest import ACCOUNT_PASSWORD, banking_login, rrn_for_age

pytestmark = pytest.mark.django_db

MINE = reverse("certcenter:mine")
BEFORE_WINDOW = dt.datetime(2026, 12, 31, 12, 0, tzinfo=EXPIRY.tzinfo)  # 61 days before the expiry day


def revoke_url(serial: str) -> str:
    return reverse("certcenter:mine_revoke", args=[serial])


def renew_url(serial: str) -> str:
    return reverse("certcenter:mine_renew", args=[serial])


def request_url(serial: str) -> str:
    return reverse("certcenter:mine_renew_request", args=[serial])


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def shown(message: object) -> str:
    with translation.override("en"):
        return str(escape(str(message)))


def renewal_body(**overrides: Any) -> dict[str, Any]:
    der = load_pem_x509_csr(csr_for(browser_key(2))).public_bytes(serialization.Encoding.DER)
    return {"csr": base64.b64encode(der).decode(), "identity_random": base64.b64encode(R).decode()} | overrides


def post_json(browser: Client, url: str, body: Any):  # type: ignore[no-untyped-def]
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return browser.post(url, data=data, content_type="application/json")


# --- personas -----------------------------------------------------------------------------------------


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def pki(clock):  # type: ignore[no-untyped-def]
    return services.ca_init(actor=CA_ACTOR)


@pytest.fixture
def agreement(pki, alice, alice_account, teller) -> Agreement:  # type: ignore[no-untyped-def]
    return _register(alice, [alice_account], "alice2026", teller, ["resident_card"])


@pytest.fixture
def bob_agreement(pki, teller, demand_product) -> Agreement:  # type: ignore[no-untyped-def]
    bob = accounts_services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박밥", phone="010-3333-4444", rrn=rrn_for_age(40, serial="156789"),
        actor=teller,
    )  # fmt: skip
    account = accounts_services.account_open(
        customer=bob, product=demand_product, password=ACCOUNT_PASSWORD, opening_deposit=50_000, actor=teller
    )
    return _register(bob, [account], "bob2026", teller, ["resident_card"])


@pytest.fixture
def alice_user(agreement) -> User:  # type: ignore[no-untyped-def]
    return agreement.user


@pytest.fixture
def alice_browser(client, alice_user) -> Client:  # type: ignore[no-untyped-def]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the tests read the English source texts
    banking_login(client, alice_user)
    return client


@pytest.fixture
def move(clock, alice_browser, alice_user):  # type: ignore[no-untyped-def]
    """Move the clock and sign Alice in again (the session's absolute lifetime ends months before)."""

    def travel(moment: dt.datetime) -> None:
        clock.move_to(moment)
        banking_login(alice_browser, alice_user)

    return travel


@pytest.fixture
def certificate(agreement, alice_account) -> Certificate:  # type: ignore[no-untyped-def]
    return issue(agreement, alice_account).certificate


@pytest.fixture
def bobs_certificate(bob_agreement) -> Certificate:  # type: ignore[no-untyped-def]
    account = bob_agreement.withdrawal_accounts.get()
    return issue(bob_agreement, account, kind="restricted").certificate


# --- the list -------------------------------------------------------------------------------------------


def test_the_list_shows_the_customers_own_certificates_only(
    alice_browser, agreement, alice_account, certificate, bobs_certificate
):
    stored = issue(agreement, alice_account, kind="restricted", storage="browser").certificate

    response = alice_browser.get(MINE)

    assert response.status_code == 200
    page = html(response)
    assert certificate.serial in page and stored.serial in page
    assert bobs_certificate.serial not in page
    assert "2027-03-02 23:59:59" in page  # valid until, in KST
    assert "From 2027-01-01" in page  # renewal not open yet: from which date
    assert f'data-serial="{stored.serial}"' in page  # the script marks the ones kept in this browser
    assert "js/certcenter-mine.js" in page
    assert renew_url(certificate.serial) not in page


def test_the_list_says_renewal_is_open_inside_the_window(alice_browser, certificate, move):
    move(OPENS)
    page = html(alice_browser.get(MINE))
    assert "Open now (until 2027-03-02)" in page
    assert renew_url(certificate.serial) in page


def test_the_list_shows_revoked_and_expired_certificates_without_actions(
    alice_browser, agreement, alice_account, alice_user, certificate, move
):
    other = issue(agreement, alice_account, kind="restricted").certificate
    services.certificate_revoke(certificate=other, reason="unspecified", actor=alice_user)
    move(EXPIRY + dt.timedelta(seconds=1))

    page = html(alice_browser.get(MINE))

    assert "Revoked" in page and "Expired" in page
    assert revoke_url(certificate.serial) not in page and revoke_url(other.serial) not in page


def test_the_centre_links_to_my_certificates(client):
    assert MINE in html(client.get(reverse("certcenter:centre")))


# --- revoke ---------------------------------------------------------------------------------------------


def test_the_confirmation_warns_that_revoking_is_irreversible(alice_browser, certificate):
    response = alice_browser.get(revoke_url(certificate.serial))
    page = html(response)
    assert response.status_code == 200
    assert "cannot be undone" in page
    assert 'value="cessation_of_operation" selected' in page
    assert 'value="superseded"' not in page  # reserved for renewal and reissue
    certificate.refresh_from_db()
    assert certificate.status == "valid"


def test_revoking_own_certificate_lists_it_on_the_crl_and_removes_the_browser_copy(
    alice_browser, certificate, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_browser.post(revoke_url(certificate.serial), {"reason": "key_compromise"})

    assert response.status_code == 200
    page = html(response)
    assert f'data-remove-serial="{certificate.serial}"' in page
    certificate.refresh_from_db()
    assert (certificate.status, certificate.revocation_reason) == ("revoked", "key_compromise")
    assert certificate.serial_number in crl_serials()
    event = AuditEvent.objects.get(action="certificate.revoke")
    assert (event.customer_ref, event.details["by"]) == (alice.pk, "customer")


def test_a_reason_the_customer_may_not_give_is_refused_and_nothing_revoked(alice_browser, certificate):
    response = alice_browser.post(revoke_url(certificate.serial), {"reason": "superseded"})
    assert response.status_code == 400
    assert shown(ERR_REVOKE_REASON) in html(response)
    certificate.refresh_from_db()
    assert certificate.status == "valid"


def test_a_revoked_certificate_offers_no_revoke_button_and_a_second_revocation_is_refused(alice_browser, certificate):
    alice_browser.post(revoke_url(certificate.serial), {"reason": "cessation_of_operation"})

    assert 'id="revoke-form"' not in html(alice_browser.get(revoke_url(certificate.serial)))
    again = alice_browser.post(revoke_url(certificate.serial), {"reason": "cessation_of_operation"})
    assert again.status_code == 400
    assert shown(ERR_NOT_REVOCABLE) in html(again)


def test_another_customers_certificate_is_not_found_and_untouched(alice_browser, bobs_certificate, move):
    move(OPENS)
    before = counts()
    serial = bobs_certificate.serial

    assert alice_browser.get(revoke_url(serial)).status_code == 404
    assert alice_browser.post(revoke_url(serial), {"reason": "unspecified"}).status_code == 404
    assert alice_browser.get(renew_url(serial)).status_code == 404
    answer = post_json(alice_browser, request_url(serial), renewal_body())
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"
    assert alice_browser.get(revoke_url("not-a-serial")).status_code == 404

    assert counts() == before
    bobs_certificate.refresh_from_db()
    assert bobs_certificate.status == "valid"


# --- renew ----------------------------------------------------------------------------------------------


def test_61_days_before_the_page_states_the_window_and_the_request_is_refused(alice_browser, certificate, move):
    move(BEFORE_WINDOW)
    before = counts()

    page = html(alice_browser.get(renew_url(certificate.serial)))
    answer = post_json(alice_browser, request_url(certificate.serial), renewal_body())

    assert "can be renewed from 2027-01-01 00:00 to 2027-03-02 23:59:59" in page
    assert 'id="renew-form"' not in page and 'id="renew-submit"' not in page
    assert "4,400 won" in page  # the fee is shown either way
    assert answer.status_code == 400
    assert answer.json()["code"] == "renewal_window"
    assert "2027-01-01" in answer.json()["message"]
    assert counts() == before
    certificate.refresh_from_db()
    assert certificate.status == "valid"


def test_60_days_before_at_midnight_kst_renews_supersedes_and_charges_the_fee(
    alice_browser, certificate, alice_account, move, django_capture_on_commit_callbacks
):
    move(OPENS)
    page = html(alice_browser.get(renew_url(certificate.serial)))
    assert 'id="renew-form"' in page
    assert 'data-storage="file"' in page

    with django_capture_on_commit_callbacks(execute=True):
        answer = post_json(alice_browser, request_url(certificate.serial), renewal_body())

    assert answer.status_code == 200, answer.content
    data = answer.json()
    new = Certificate.objects.get(serial=data["serial"])
    assert (new.kind, new.storage, new.status) == (certificate.kind, certificate.storage, "valid")
    assert (data["old_serial"], data["fee"], data["storage"]) == (certificate.serial, 4_400, "file")
    assert data["account"] == alice_account.number_display
    assert base64.b64decode(data["certificate"]) == bytes(new.certificate_der)
    certificate.refresh_from_db()
    assert (certificate.status, certificate.revocation_reason) == ("revoked", "superseded")
    assert certificate.serial_number in crl_serials()
    alice_account.refresh_from_db()
    assert alice_account.balance == 1_000_000 - 2 * 4_400


def test_a_renewal_with_a_chosen_withdrawal_account_of_another_customer_is_refused(
    alice_browser, certificate, bob_agreement, move
):
    move(OPENS)
    bobs_account = bob_agreement.withdrawal_accounts.get()
    before = counts()
    answer = post_json(alice_browser, request_url(certificate.serial), renewal_body(account=bobs_account.pk))
    assert answer.status_code == 400
    assert answer.json() == {"code": "not_withdrawal_account", "message": shown(ERR_NOT_WITHDRAWAL_ACCOUNT)}
    assert counts() == before


def test_a_renewal_paid_from_a_chosen_withdrawal_account(alice_browser, certificate, alice_account, move):
    move(OPENS)
    answer = post_json(alice_browser, request_url(certificate.serial), renewal_body(account=alice_account.pk))
    assert answer.status_code == 200
    assert answer.json()["account"] == alice_account.number_display


def test_an_expired_certificate_is_not_renewed_but_reissued(alice_browser, certificate, move):
    move(EXPIRY + dt.timedelta(seconds=1))
    page = html(alice_browser.get(renew_url(certificate.serial)))
    assert "Only a valid certificate can be renewed" in page
    assert 'id="renew-form"' not in page


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        "[1, 2]",
        {"identity_random": base64.b64encode(R).decode()},
        {"csr": "***", "identity_random": base64.b64encode(R).decode()},
        {"csr": "AAAA", "identity_random": ""},
        {"csr": "AAAA", "identity_random": base64.b64encode(R).decode(), "account": "1"},
        {"csr": "AAAA", "identity_random": base64.b64encode(R).decode(), "account": True},
        "x" * (mine.BODY_MAX_BYTES + 1),
    ],
    ids=["text", "bytes", "list", "no csr", "csr not base64", "empty R", "account text", "account bool", "huge"],
)
def test_garbage_json_is_a_400_and_nothing_changes(alice_browser, certificate, move, body):
    move(OPENS)
    before = counts()
    answer = post_json(alice_browser, request_url(certificate.serial), body)
    assert answer.status_code == 400
    assert answer.json()["code"] == "bad_request"
    assert counts() == before


def test_a_csr_that_is_not_a_csr_is_refused_by_the_service(alice_browser, certificate, move):
    move(OPENS)
    answer = post_json(alice_browser, request_url(certificate.serial), renewal_body(csr="AAAA"))
    assert answer.status_code == 400
    assert answer.json()["code"].startswith("csr_")


def test_the_renewal_request_takes_post_only(alice_browser, certificate):
    assert alice_browser.get(request_url(certificate.serial)).status_code == 405


# --- sessions -------------------------------------------------------------------------------------------


def test_a_web_member_session_is_refused_with_the_banking_message(client, alice_user, certificate):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(alice_user)  # a password login: no certificate session
    for response in (
        client.get(MINE),
        client.get(revoke_url(certificate.serial)),
        client.post(revoke_url(certificate.serial), {"reason": "unspecified"}),
        client.get(renew_url(certificate.serial)),
        post_json(client, request_url(certificate.serial), renewal_body()),
    ):
        assert response.status_code == 403
        assert shown(ERR_BANKING_NEEDS_CERTIFICATE) in html(response)
    certificate.refresh_from_db()
    assert certificate.status == "valid"


def test_an_anonymous_visitor_is_sent_to_log_in(client, certificate):
    response = client.get(MINE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
