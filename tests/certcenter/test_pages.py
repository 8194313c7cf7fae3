"""The certificate-centre pages through the test client: the certificate login page and the issue
flow (identification → security medium → certificate), with refusals, skipped steps and bad input.

The test plays the page's script with ``cryptography``: an RSA-2048 key and a SHA-256 CSR posted as
JSON, as WebCrypto makes them (the browser test drives the real script).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
from typing import Any

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from accounts import services as accounts_services
from accounts.models import Account, Agreement, Customer, Journal, User
from accounts.services import agreement_online as online
from accounts.services import agreements as agreement_services
from accounts.services.ledger import fee_income_account
from certcenter import ca, pages, services
from certcenter.forms import ERR_TERMS
from certcenter.models import Certificate
from certcenter.services.issuance import ERR_CSR, ERR_KIND_NOT_ALLOWED
from otp import securitycard as card_rules
from otp.services import IssuedSecurityCard, security_card_issue
from tests.certcenter.test_pki_endpoints import CA_ACTOR
from tests.conftest import ACCOUNT_PASSWORD, rrn_for_age

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=ca.KST)
WEB = agreement_services.agreement_web_actor()
LOGIN_PASSWORD = "Dasom-bank-2026!"
R = bytes(range(20))

ISSUE_URL = reverse("certcenter:issue")
MEDIUM_URL = reverse("certcenter:issue_medium")
CERTIFICATE_URL = reverse("certcenter:issue_certificate")
REQUEST_URL = reverse("certcenter:issue_request")
LOGIN_PAGE = reverse("certcenter:signin")
CENTRE = reverse("certcenter:centre")


# --- the browser -------------------------------------------------------------------------------------


@functools.cache
def browser_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def csr_der(common_name: str = "alice2026") -> bytes:
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(browser_key(), hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.DER)


def issue_body(kind: str = "general", storage: str = "file", **overrides: Any) -> dict[str, Any]:
    return {
        "csr": base64.b64encode(csr_der()).decode(),
        "identity_random": base64.b64encode(R).decode(),
        "kind": kind,
        "storage": storage,
    } | overrides


def post_json(browser: Client, body: Any, url: str = REQUEST_URL):  # type: ignore[no-untyped-def]
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return browser.post(url, data=data, content_type="application/json")


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def shown(message: object) -> str:
    return str(escape(str(message)))


def details(customer: Customer, account: Account, **overrides: str) -> dict[str, str]:
    return {
        "terms": "on",
        "user_id": "alice2026",
        "id_number": accounts_services.customer_rrn(customer),
        "account_number": account.number_display,
        "account_password": ACCOUNT_PASSWORD,
    } | overrides


def card_answer(issued: IssuedSecurityCard, response, *, wrong: bool = False) -> dict[str, str]:  # type: ignore[no-untyped-def]
    challenge = response.context["challenge"]
    right = card_rules.expected_answer(
        issued.codes, card_rules.Challenge(first=challenge.card_first, second=challenge.card_second)
    )
    answer = f"{(int(right) + 1) % 10000:04d}" if wrong else right
    return {"first_half": answer[:2], "second_half": answer[2:]}


def register(customer: Customer, account: Account, username: str, teller: User) -> Agreement:
    agreement_services.agreement_apply(
        customer=customer, withdrawal_accounts=[account], documents=["resident_card"], actor=teller
    )
    agreement = online.agreement_identify(
        purpose="register",
        name=customer.name,
        id_number=accounts_services.customer_rrn(customer),
        account_number=account.number,
        account_password=ACCOUNT_PASSWORD,
        actor=WEB,
    )
    return accounts_services.agreement_register_online(
        agreement=agreement, medium_verified=True, username=username, password=LOGIN_PASSWORD, actor=WEB
    )


# --- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def pki(clock):  # type: ignore[no-untyped-def]
    return services.ca_init(actor=CA_ACTOR)


@pytest.fixture
def card(alice, teller) -> IssuedSecurityCard:  # type: ignore[no-untyped-def]
    return security_card_issue(customer=alice, actor=teller)


@pytest.fixture
def agreement(pki, card, alice, alice_account, teller) -> Agreement:  # type: ignore[no-untyped-def]
    return register(alice, alice_account, "alice2026", teller)


@pytest.fixture
def bob_agreement(pki, teller, demand_product) -> Agreement:  # type: ignore[no-untyped-def]
    bob = accounts_services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박밥", phone="010-3333-4444", rrn=rrn_for_age(40, serial="156789"),
        actor=teller,
    )  # fmt: skip
    account = accounts_services.account_open(
        customer=bob, product=demand_product, password=ACCOUNT_PASSWORD, opening_deposit=50_000, actor=teller
    )
    return register(bob, account, "bob2026", teller)


@pytest.fixture
def browser() -> Client:
    return Client()


def to_medium(browser: Client, alice: Customer, alice_account: Account):  # type: ignore[no-untyped-def]
    response = browser.post(ISSUE_URL, details(alice, alice_account))
    assert response.status_code == 302, html(response)
    assert response["Location"] == MEDIUM_URL
    return browser.get(MEDIUM_URL)


def to_certificate(browser: Client, alice: Customer, alice_account: Account, card: IssuedSecurityCard):  # type: ignore[no-untyped-def]
    medium = to_medium(browser, alice, alice_account)
    response = browser.post(MEDIUM_URL, card_answer(card, medium))
    assert response.status_code == 302, html(response)
    assert response["Location"] == CERTIFICATE_URL
    return browser.get(CERTIFICATE_URL)


def start_again_messages(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- certificate login page --------------------------------------------------------------------------


def test_the_login_page_renders_with_its_script_csrf_token_and_a_noscript_message(browser) -> None:
    response = browser.get(LOGIN_PAGE)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = html(response)
    assert 'name="csrfmiddlewaretoken"' in page
    assert "js/pki.js" in page and "js/certcenter-login.js" in page
    assert "<noscript>" in page and 'aria-live="assertive"' in page
    assert f'data-challenge-url="{reverse("certificate_login:challenge")}"' in page
    assert 'id="login-messages" type="application/json"' in page
    assert reverse("certcenter:issue") in page


def test_the_login_page_only_shows_itself_the_json_endpoints_take_the_posts(browser) -> None:
    assert browser.post(LOGIN_PAGE).status_code == 405
    assert f'data-login-url="{reverse("certificate_login:login")}"' in html(browser.get(LOGIN_PAGE))


def test_the_certificate_centre_links_to_login_and_issue(browser) -> None:
    response = browser.get(CENTRE)

    assert response.status_code == 200
    assert f'href="{LOGIN_PAGE}"' in html(response) and f'href="{ISSUE_URL}"' in html(response)


def test_the_password_login_page_links_to_certificate_login(browser) -> None:
    page = html(browser.get(reverse("login")))

    assert f'href="{LOGIN_PAGE}"' in page


# --- issue: the whole flow ---------------------------------------------------------------------------


def test_issue_end_to_end_charges_the_fee_and_answers_the_certificate_and_receipt(
    agreement, alice, alice_account, card, browser
) -> None:  # type: ignore[no-untyped-def]
    """Details → security card → kind/storage → CSR: a certificate for the CSR's key, 4,400 won charged."""
    first = browser.get(ISSUE_URL)
    assert first.status_code == 200 and "no-store" in first["Cache-Control"]

    page = to_certificate(browser, alice, alice_account, card)
    assert page.status_code == 200
    text = html(page)
    assert 'data-fee="4400"' in text and 'data-fee="0"' in text and "4,400" in text
    assert 'value="corporate"' not in text  # an individual's kinds only
    assert 'value="browser"' in text and 'value="file"' in text
    assert "js/certcenter-issue.js" in text and "<noscript>" in text

    response = post_json(browser, issue_body("general", "file"))

    assert response.status_code == 200, response.content
    answer = response.json()
    certificate = x509.load_der_x509_certificate(base64.b64decode(answer["certificate"]))
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.public_numbers() == browser_key().public_key().public_numbers()
    assert answer["serial"] == str(certificate.serial_number)
    assert answer["fee"] == 4_400 and answer["fee_display"] == "4,400"
    assert answer["not_after_display"] == "2027-03-02 23:59:59"
    row = Certificate.objects.get(serial=answer["serial"])
    assert (row.customer_id, row.kind, row.storage) == (alice.pk, "general", "file")
    alice_account.refresh_from_db()
    assert alice_account.balance == 1_000_000 - 4_400
    fee = Journal.objects.get(kind=Journal.Kind.FEE)
    assert {entry.account_id: entry.amount for entry in fee.entries.all()} == {
        alice_account.pk: -4_400,
        fee_income_account(alice_account.branch).pk: 4_400,
    }


def test_one_identification_issues_one_certificate(agreement, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    to_certificate(browser, alice, alice_account, card)
    assert post_json(browser, issue_body("restricted")).status_code == 200

    again = post_json(browser, issue_body("restricted"))

    assert again.status_code == 409 and again.json()["code"] == "start_again"
    assert Certificate.objects.count() == 1


def test_a_restricted_certificate_is_free_and_kept_in_the_browser(
    agreement, alice, alice_account, card, browser
) -> None:  # type: ignore[no-untyped-def]
    to_certificate(browser, alice, alice_account, card)

    answer = post_json(browser, issue_body("restricted", "browser")).json()

    assert answer["fee"] == 0
    assert Certificate.objects.get().storage == "browser"
    alice_account.refresh_from_db()
    assert alice_account.balance == 1_000_000


# --- issue: refusals --------------------------------------------------------------------------------


def test_refusals_of_the_request_keep_the_flow_so_the_page_can_try_again(
    agreement, alice, alice_account, card, browser
) -> None:  # type: ignore[no-untyped-def]
    to_certificate(browser, alice, alice_account, card)
    tampered = csr_der()[:-1] + bytes([csr_der()[-1] ^ 1])

    corporate = post_json(browser, issue_body("corporate"))
    bad_csr = post_json(browser, issue_body(csr=base64.b64encode(tampered).decode()))

    assert corporate.status_code == 400 and corporate.json()["message"] == str(ERR_KIND_NOT_ALLOWED)
    assert bad_csr.status_code == 400 and bad_csr.json()["message"] == str(ERR_CSR["bad_signature"])
    assert Certificate.objects.count() == 0 and not Journal.objects.filter(kind=Journal.Kind.FEE).exists()
    assert post_json(browser, issue_body("general")).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"csr": "!!!", "identity_random": "AAAA", "kind": "general", "storage": "file"}),
        json.dumps({"csr": "AAAA", "identity_random": 5, "kind": "general", "storage": "file"}),
        json.dumps({"csr": "AAAA", "identity_random": "AAAA", "kind": ["general"], "storage": "file"}),
        json.dumps({"csr": "A" * 20_000, "identity_random": "AAAA", "kind": "general", "storage": "file"}),
    ],
)
def test_garbage_gets_a_readable_refusal_and_nothing_is_issued(
    agreement, alice, alice_account, card, browser, body
) -> None:  # type: ignore[no-untyped-def]
    to_certificate(browser, alice, alice_account, card)

    response = post_json(browser, body)

    assert response.status_code == 400
    assert response.json()["message"] == str(pages.ERR_BAD_REQUEST)
    assert Certificate.objects.count() == 0


def test_a_short_identity_random_or_unknown_storage_is_refused(agreement, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    to_certificate(browser, alice, alice_account, card)

    short = post_json(browser, issue_body(identity_random=base64.b64encode(b"x" * 8).decode()))
    storage = post_json(browser, issue_body(storage="cloud"))

    assert (short.status_code, short.json()["code"]) == (400, "identity_random")
    assert (storage.status_code, storage.json()["code"]) == (400, "storage")
    assert Certificate.objects.count() == 0


# --- issue: skipped steps and identification ---------------------------------------------------------


def test_later_steps_without_the_earlier_ones_send_the_visitor_back_to_the_start(agreement, browser) -> None:  # type: ignore[no-untyped-def]
    for url in (MEDIUM_URL, CERTIFICATE_URL):
        response = browser.get(url)
        assert response.status_code == 302 and response["Location"] == ISSUE_URL

    request = post_json(browser, issue_body())

    assert request.status_code == 409 and request.json()["code"] == "start_again"
    assert Certificate.objects.count() == 0


def test_the_certificate_step_does_not_open_before_the_medium_is_answered(
    agreement, alice, alice_account, card, browser
) -> None:  # type: ignore[no-untyped-def]
    medium = to_medium(browser, alice, alice_account)
    wrong = browser.post(MEDIUM_URL, card_answer(card, medium, wrong=True))
    assert wrong.status_code == 200  # stays on the medium step with the refusal

    assert browser.get(CERTIFICATE_URL).status_code == 302
    assert post_json(browser, issue_body()).status_code == 409
    assert Certificate.objects.count() == 0


def test_the_flow_expires_ten_minutes_after_identification(
    agreement, alice, alice_account, card, browser, clock
) -> None:  # type: ignore[no-untyped-def]
    to_certificate(browser, alice, alice_account, card)
    clock.shift(dt.timedelta(minutes=10, seconds=1))

    assert post_json(browser, issue_body()).status_code == 409


def test_the_terms_must_be_accepted(agreement, alice, alice_account, browser) -> None:  # type: ignore[no-untyped-def]
    data = details(alice, alice_account)
    del data["terms"]

    response = browser.post(ISSUE_URL, data)

    assert response.status_code == 200
    assert shown(ERR_TERMS) in html(response)
    assert pages.ISSUE.key not in browser.session


@pytest.mark.parametrize(
    "change",
    [
        {"user_id": "nobody2026"},
        {"user_id": "bob2026"},
        {"account_password": "0000" if ACCOUNT_PASSWORD != "0000" else "1111"},
        {"id_number": "WRONG-LAST-DIGIT"},
    ],
)
def test_any_wrong_detail_gets_the_same_generic_refusal_and_counts_a_wrong_entry(
    agreement, bob_agreement, alice, alice_account, browser, change
) -> None:  # type: ignore[no-untyped-def]
    """Unknown or another customer's user ID, wrong account password, or an RRN with the right birth
    date but wrong digits: one message that names nothing, and a wrong entry on the agreement."""
    if change.get("id_number") == "WRONG-LAST-DIGIT":
        rrn = accounts_services.customer_rrn(alice)
        change = {"id_number": rrn[:-1] + str((int(rrn[-1]) + 1) % 10)}

    response = browser.post(ISSUE_URL, details(alice, alice_account, **change))

    assert response.status_code == 200
    assert shown(online.ERR_DETAILS_MISMATCH) in html(response)
    assert pages.ISSUE.key not in browser.session
    agreement.refresh_from_db()
    assert agreement.wrong_entries == 1


def test_five_wrong_resident_numbers_in_a_row_suspend_the_agreement(agreement, alice, alice_account, settings) -> None:  # type: ignore[no-untyped-def]
    """Wrong last digits of the RRN count like any wrong detail: 4 keep the agreement active, the
    5th suspends it (each try from its own address, so the sign-in throttle does not pause first)."""
    rrn = accounts_services.customer_rrn(alice)
    wrong = rrn[:-1] + str((int(rrn[-1]) + 1) % 10)
    for n in range(4):
        Client(REMOTE_ADDR=f"198.51.100.{n + 1}").post(ISSUE_URL, details(alice, alice_account, id_number=wrong))
    agreement.refresh_from_db()
    assert (agreement.state, agreement.wrong_entries) == (Agreement.State.ACTIVE, 4)

    Client(REMOTE_ADDR="198.51.100.9").post(ISSUE_URL, details(alice, alice_account, id_number=wrong))

    agreement.refresh_from_db()
    assert (agreement.state, agreement.suspension_reason) == (Agreement.State.SUSPENDED, "wrong_entries")


def test_a_suspended_agreement_is_told_to_release_the_suspension_first(
    agreement, alice, alice_account, browser
) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        agreement_services.agreement_record_wrong_entry(agreement=agreement, actor=WEB)
    agreement.refresh_from_db()
    assert agreement.state == Agreement.State.SUSPENDED

    response = browser.post(ISSUE_URL, details(alice, alice_account))

    assert response.status_code == 200
    assert shown(pages.ERR_SUSPENDED_RELEASE_FIRST) in html(response)
    assert pages.ISSUE.key not in browser.session


def test_the_identify_page_rejects_other_methods(browser) -> None:
    assert browser.put(ISSUE_URL).status_code == 405
    assert browser.get(REQUEST_URL).status_code == 405
