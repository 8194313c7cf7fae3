"""The certificate reissue pages (재발급) through the test client: identification → reason with the
irreversible-action warning → security medium → code sent to the phone → certificate (JSON request).

The test plays the page's script with ``cryptography`` (an RSA-2048 key and a SHA-256 CSR posted as
JSON) and reads the phone code from the notification outbox, as the browser test does.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import re
from typing import Any

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import Account, Agreement, Customer, Journal
from accounts.services import agreements as agreement_services
from accounts.services.agreement_online import ERR_DETAILS_MISMATCH
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from certcenter import ca, pages, reissue, services
from certcenter.forms import ERR_REISSUE_CONFIRM, ERR_REISSUE_REASON
from certcenter.models import Certificate
from certcenter.services.issuance import ERR_AGREEMENT_NOT_ACTIVE
from otp.additionalauth import MAX_SENDS
from otp.models import AdditionalAuthChallenge
from otp.services import IssuedSecurityCard, additional_auth_use, security_card_issue
from otp.services.additional_auth import ERR_ARS_UNAVAILABLE, ERR_TOO_MANY_CODES, REFUSAL_MESSAGES, Refusal
from tests.certcenter.test_pages import card_answer, details, html, register, shown
from tests.certcenter.test_pki_endpoints import CA_ACTOR

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=ca.KST)
R = bytes(range(20))
WEB = services.certificate_web_actor()
Reason = Certificate.RevocationReason

REISSUE_URL = reverse("certcenter:reissue")
REASON_URL = reverse("certcenter:reissue_reason")
MEDIUM_URL = reverse("certcenter:reissue_medium")
PHONE_URL = reverse("certcenter:reissue_phone")
SEND_URL = reverse("certcenter:reissue_phone_send")
CERTIFICATE_URL = reverse("certcenter:reissue_certificate")
REQUEST_URL = reverse("certcenter:reissue_request")
CHALLENGE_URL = reverse("certificate_login:challenge")
LOGIN_URL = reverse("certificate_login:login")


# --- the browser -------------------------------------------------------------------------------------


@functools.cache
def key(name: str) -> rsa.RSAPrivateKey:
    """One RSA-2048 key per name, as WebCrypto makes a new one for every certificate."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def csr_for(name: str) -> bytes:
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice2026")]))
        .sign(key(name), hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.DER)


def request_body(name: str = "new", kind: str = "general", storage: str = "browser") -> dict[str, Any]:
    return {
        "csr": base64.b64encode(csr_for(name)).decode(),
        "identity_random": base64.b64encode(R).decode(),
        "kind": kind,
        "storage": storage,
    }


def post_request(browser: Client, body: Any):  # type: ignore[no-untyped-def]
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return browser.post(REQUEST_URL, data=data, content_type="application/json")


def certificate_login(der: bytes, name: str):  # type: ignore[no-untyped-def]
    """Log in with a certificate and its key in a fresh browser; the JSON answer."""
    browser = Client()
    nonce = browser.post(CHALLENGE_URL, "{}", content_type="application/json").json()["nonce"]
    payload = {
        "nonce": nonce,
        "certificate": base64.b64encode(der).decode(),
        "signature": base64.b64encode(key(name).sign(nonce.encode(), padding.PKCS1v15(), hashes.SHA256())).decode(),
    }
    return browser.post(LOGIN_URL, json.dumps(payload), content_type="application/json")


def latest_code() -> str:
    body = Notification.objects.filter(purpose="additional_auth").latest("pk").body
    found = re.search(r"\d{6}", body)
    assert found is not None
    return found.group(0)


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(message) for message in response.context["messages"]] if response.context else []


# --- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def card(clock, alice, teller) -> IssuedSecurityCard:  # type: ignore[no-untyped-def]
    services.ca_init(actor=CA_ACTOR)
    return security_card_issue(customer=alice, actor=teller)


@pytest.fixture
def agreement(card, alice, alice_account, teller) -> Agreement:  # type: ignore[no-untyped-def]
    return register(alice, alice_account, "alice2026", teller)


def issue_old(agreement: Agreement, account: Account, name: str, kind: str = "restricted") -> Certificate:
    """A certificate the customer already holds, issued through the service (key ``name``)."""
    return services.certificate_issue(
        agreement=agreement,
        withdrawal_account=account,
        kind=kind,
        storage="file",
        csr=csr_for(name),
        identity_random=R,
        medium_verified=True,
        actor=WEB,
    ).certificate


@pytest.fixture
def old(agreement, alice_account) -> list[Certificate]:  # type: ignore[no-untyped-def]
    """Two current certificates (restricted and general, 4,400 won) and one already revoked."""
    revoked = issue_old(agreement, alice_account, "revoked-before")
    services.certificate_revoke(certificate=revoked, reason=Reason.CESSATION_OF_OPERATION, actor=agreement.user)
    return [issue_old(agreement, alice_account, "old-1"), issue_old(agreement, alice_account, "old-2", "general")]


@pytest.fixture
def browser() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


# --- walking the steps -------------------------------------------------------------------------------


def to_reason(browser: Client, alice: Customer, account: Account):  # type: ignore[no-untyped-def]
    response = browser.post(REISSUE_URL, details(alice, account))
    assert response.status_code == 302, html(response)
    assert response["Location"] == REASON_URL
    return browser.get(REASON_URL)


def to_medium(browser: Client, alice: Customer, account: Account, reason: str = "lost"):  # type: ignore[no-untyped-def]
    to_reason(browser, alice, account)
    response = browser.post(REASON_URL, {"reason": reason, "confirm": "on"})
    assert response.status_code == 302, html(response)
    assert response["Location"] == MEDIUM_URL
    return browser.get(MEDIUM_URL)


def to_phone(browser: Client, alice: Customer, account: Account, card: IssuedSecurityCard, reason: str = "lost"):  # type: ignore[no-untyped-def]
    medium = to_medium(browser, alice, account, reason)
    response = browser.post(MEDIUM_URL, card_answer(card, medium))
    assert response.status_code == 302, html(response)
    assert response["Location"] == PHONE_URL
    return browser.get(PHONE_URL)


def send_code(browser: Client, channel: str = "sms"):  # type: ignore[no-untyped-def]
    return browser.post(SEND_URL, {"channel": channel}, follow=True)


def to_certificate(browser: Client, alice: Customer, account: Account, card: IssuedSecurityCard, reason: str = "lost"):  # type: ignore[no-untyped-def]
    to_phone(browser, alice, account, card, reason)
    send_code(browser)
    response = browser.post(PHONE_URL, {"phone_code": latest_code()})
    assert response.status_code == 302, html(response)
    assert response["Location"] == CERTIFICATE_URL
    return browser.get(CERTIFICATE_URL)


def assert_nothing_changed(old: list[Certificate], account: Account, balance: int) -> None:
    for certificate in old:
        certificate.refresh_from_db()
        assert (certificate.status, certificate.revoked_at) == (Certificate.Status.VALID, None)
    assert Certificate.objects.filter(status=Certificate.Status.VALID).count() == len(old)
    account.refresh_from_db()
    assert account.balance == balance
    assert not AuditEvent.objects.filter(action="certificate.reissue").exists()


# --- the whole flow ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "revocation"),
    [("lost", Reason.KEY_COMPROMISE), ("forgotten_password", Reason.SUPERSEDED), ("expired", Reason.SUPERSEDED)],
)
def test_a_reissue_revokes_every_current_certificate_and_the_new_one_logs_in(
    old, alice, alice_account, card, browser, clock, reason, revocation
) -> None:  # type: ignore[no-untyped-def]
    """Lost revokes as key compromise, the others as superseded; the new certificate logs in and the
    old ones are refused; the phone verification is spent; 4,400 won charged for a general one."""
    clock.shift(dt.timedelta(minutes=1))
    alice_account.refresh_from_db()
    balance = alice_account.balance
    page = to_certificate(browser, alice, alice_account, card, reason)
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    text = html(page)
    assert all(f'data-serial="{certificate.serial}"' in text for certificate in old)
    assert f'data-request-url="{REQUEST_URL}"' in text and "js/certcenter-issue.js" in text

    response = post_request(browser, request_body("new", "general", "browser"))

    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["revoked"] == [certificate.serial for certificate in old]
    assert (answer["reason"], answer["fee"], answer["kind"]) == (reason, 4_400, "general")
    new = Certificate.objects.get(serial=answer["serial"])
    assert (new.status, new.storage, new.customer_id) == (Certificate.Status.VALID, "browser", alice.pk)
    for certificate in old:
        certificate.refresh_from_db()
        assert (certificate.status, certificate.revocation_reason) == (Certificate.Status.REVOKED, revocation)
    already = Certificate.objects.get(revocation_reason=Reason.CESSATION_OF_OPERATION)
    assert already.revoked_at == T0 < new.created_at  # left as it was
    alice_account.refresh_from_db()
    assert alice_account.balance == balance - 4_400
    assert AdditionalAuthChallenge.objects.get().state == AdditionalAuthChallenge.State.USED
    event = AuditEvent.objects.get(action="certificate.reissue")
    assert event.details["reason"] == reason and event.details["revoked"] == answer["revoked"]

    assert certificate_login(base64.b64decode(answer["certificate"]), "new").status_code == 200
    for certificate, name in zip(old, ("old-1", "old-2"), strict=True):
        refused = certificate_login(bytes(certificate.certificate_der), name)
        assert refused.status_code == 400 and refused.json()["code"] == "revoked"
    assert post_request(browser, request_body("new")).status_code == 409  # one reissue per identification


def test_a_reissue_with_nothing_current_revokes_nothing(agreement, alice, alice_account, card, browser, clock) -> None:  # type: ignore[no-untyped-def]
    """The only certificate has expired: the warning says nothing will be revoked, and the reissue
    issues the new one (restricted: free)."""
    expired = issue_old(agreement, alice_account, "old-1")
    clock.move_to(expired.not_after + dt.timedelta(seconds=1))

    page = to_reason(browser, alice, alice_account)
    assert 'id="revoke-none"' in html(page) and expired.serial not in html(page)
    browser.post(REASON_URL, {"reason": "expired", "confirm": "on"})
    response = browser.post(MEDIUM_URL, card_answer(card, browser.get(MEDIUM_URL)))
    assert response["Location"] == PHONE_URL
    send_code(browser)
    browser.post(PHONE_URL, {"phone_code": latest_code()})

    answer = post_request(browser, request_body("new", "restricted")).json()

    assert answer["revoked"] == [] and answer["fee"] == 0
    expired.refresh_from_db()
    assert expired.revoked_at is None and expired.revocation_reason == ""
    assert Certificate.objects.get(serial=answer["serial"]).status == Certificate.Status.VALID


# --- the warning and the confirmation ------------------------------------------------------------------


def test_the_reason_step_lists_what_will_be_revoked_with_an_irreversible_warning(
    old, alice, alice_account, browser
) -> None:  # type: ignore[no-untyped-def]
    page = to_reason(browser, alice, alice_account)

    text = html(page)
    assert page.status_code == 200 and 'id="revoke-warning"' in text
    with translation.override("en"):
        assert "This cannot be undone." in text
        for certificate in old:
            assert f'data-serial="{certificate.serial}"' in text
            assert str(Certificate.Kind(certificate.kind).label) in text
            assert certificate.not_after.astimezone(ca.KST).strftime("%Y-%m-%d %H:%M:%S") in text
    revoked_before = Certificate.objects.get(revocation_reason=Reason.CESSATION_OF_OPERATION)
    assert revoked_before.serial not in text
    assert 'name="confirm"' in text and all(f'value="{value}"' in text for value in services.ReissueReason)


def test_the_korean_pages_render(old, alice, alice_account, card) -> None:  # type: ignore[no-untyped-def]
    korean = Client(HTTP_ACCEPT_LANGUAGE="ko")
    assert korean.get(REISSUE_URL).status_code == 200
    page = to_certificate(korean, alice, alice_account, card)
    assert page.status_code == 200 and 'lang="ko"' in html(page)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"reason": "lost"}, ERR_REISSUE_CONFIRM),
        ({"confirm": "on"}, ERR_REISSUE_REASON),
        ({"reason": "bored", "confirm": "on"}, ERR_REISSUE_REASON),
    ],
)
def test_without_the_confirmation_or_a_reason_the_flow_does_not_go_on(
    old, alice, alice_account, card, browser, form, message
) -> None:  # type: ignore[no-untyped-def]
    to_reason(browser, alice, alice_account)

    response = browser.post(REASON_URL, form)

    assert response.status_code == 200
    with translation.override("en"):
        assert shown(message) in html(response)
    assert browser.get(MEDIUM_URL)["Location"] == REISSUE_URL
    assert post_request(browser, request_body()).status_code == 409
    assert_nothing_changed(old, alice_account, 1_000_000 - 4_400)


# --- additional authentication -------------------------------------------------------------------------


def test_a_wrong_phone_code_is_refused_with_the_tries_left(old, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    to_phone(browser, alice, alice_account, card)
    send_code(browser)
    right = latest_code()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    response = browser.post(PHONE_URL, {"phone_code": wrong})

    assert response.status_code == 200
    with translation.override("en"):
        assert str(REFUSAL_MESSAGES[Refusal.WRONG]) in html(response) and "4 tries left." in html(response)
    assert browser.get(CERTIFICATE_URL)["Location"] == REISSUE_URL  # the flow went back to the start
    assert_nothing_changed(old, alice_account, 1_000_000 - 4_400)


def test_a_code_must_be_requested_before_it_is_verified(old, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    page = to_phone(browser, alice, alice_account, card)
    assert 'id="phone-send"' in html(page) and 'id="phone-verify"' not in html(page)

    response = browser.post(PHONE_URL, {"phone_code": "123456"})

    with translation.override("en"):
        assert str(REFUSAL_MESSAGES[Refusal.NO_CHALLENGE]) in html(response)
    assert not AdditionalAuthChallenge.objects.exists()


def test_the_sending_limit_of_the_otp_service_is_told(old, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    to_phone(browser, alice, alice_account, card)
    for _ in range(MAX_SENDS):
        sent = send_code(browser)
        assert any(alice.phone[-4:] in text for text in messages_of(sent))

    refused = send_code(browser)

    with translation.override("en"):
        assert str(ERR_TOO_MANY_CODES) in messages_of(refused)
    assert AdditionalAuthChallenge.objects.count() == MAX_SENDS


def test_an_ars_call_is_refused_when_the_bank_offers_none(old, alice, alice_account, card, browser, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ARS_BACKEND = ""
    page = to_phone(browser, alice, alice_account, card)
    assert 'value="ars"' not in html(page)

    response = send_code(browser, "ars")

    with translation.override("en"):
        assert messages_of(response) == [str(ERR_ARS_UNAVAILABLE)]
    assert not AdditionalAuthChallenge.objects.exists()


def test_a_code_by_ars_call_opens_the_certificate_step(old, alice, alice_account, card, browser, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ARS_BACKEND = "bankportal.notifications.backends.OutboxArsBackend"
    assert 'value="ars"' in html(to_phone(browser, alice, alice_account, card))

    send_code(browser, "ars")
    spoken = Notification.objects.filter(purpose="additional_auth").latest("pk").body
    code = "".join(re.findall(r"\d", spoken))[:6]
    response = browser.post(PHONE_URL, {"phone_code": code})

    assert response["Location"] == CERTIFICATE_URL
    assert AdditionalAuthChallenge.objects.get().channel == AdditionalAuthChallenge.Channel.ARS


def test_without_a_usable_phone_verification_the_reissue_is_refused_and_nothing_changes(
    old, alice, alice_account, card, browser
) -> None:  # type: ignore[no-untyped-def]
    """The verification was spent elsewhere (another tab) after the phone step: nothing is revoked,
    issued or charged, and the customer is told to start again."""
    to_certificate(browser, alice, alice_account, card)
    assert additional_auth_use(customer=alice, purpose="certificate_reissue", actor=WEB) is not None

    response = post_request(browser, request_body())

    assert response.status_code == 400
    with translation.override("en"):
        assert response.json() == {"code": "additional_auth_required", "message": str(reissue.ERR_VERIFY_AGAIN)}
    assert_nothing_changed(old, alice_account, 1_000_000 - 4_400)
    assert post_request(browser, request_body()).status_code == 409  # the flow ended


# --- skipped steps, the time limit and changes meanwhile -----------------------------------------------


def test_no_step_opens_before_the_earlier_ones(old, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    for url in (REASON_URL, MEDIUM_URL, PHONE_URL, CERTIFICATE_URL):
        assert browser.get(url)["Location"] == REISSUE_URL
    assert browser.post(SEND_URL, {"channel": "sms"})["Location"] == REISSUE_URL
    assert post_request(browser, request_body()).status_code == 409

    to_reason(browser, alice, alice_account)  # identified: the medium, phone and certificate wait
    assert browser.get(MEDIUM_URL)["Location"] == REISSUE_URL
    to_medium(browser, alice, alice_account)
    assert browser.get(PHONE_URL)["Location"] == REISSUE_URL
    medium = to_medium(browser, alice, alice_account)
    browser.post(MEDIUM_URL, card_answer(card, medium))
    assert browser.get(CERTIFICATE_URL)["Location"] == REISSUE_URL
    assert post_request(browser, request_body()).status_code == 409
    assert not AdditionalAuthChallenge.objects.exists()
    assert_nothing_changed(old, alice_account, 1_000_000 - 4_400)


def test_a_wrong_security_medium_answer_keeps_the_phone_step_closed(old, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    medium = to_medium(browser, alice, alice_account)

    wrong = browser.post(MEDIUM_URL, card_answer(card, medium, wrong=True))

    assert wrong.status_code == 200 and 'id="medium-form"' in html(wrong)
    assert browser.get(PHONE_URL)["Location"] == REISSUE_URL


@pytest.mark.parametrize(
    ("after", "status"), [(dt.timedelta(minutes=10), 200), (dt.timedelta(minutes=10, seconds=1), 409)]
)
def test_the_flow_lasts_ten_minutes_from_identification(
    old, alice, alice_account, card, browser, clock, after, status
) -> None:  # type: ignore[no-untyped-def]
    to_certificate(browser, alice, alice_account, card)
    clock.move_to(T0 + after)

    response = post_request(browser, request_body())

    assert response.status_code == status, response.content
    if status == 409:
        assert response.json()["code"] == "start_again"
        assert_nothing_changed(old, alice_account, 1_000_000 - 4_400)


def test_a_certificate_issued_after_the_confirmation_is_not_revoked_unseen(
    old, agreement, alice, alice_account, card, browser
) -> None:  # type: ignore[no-untyped-def]
    to_certificate(browser, alice, alice_account, card)
    later = issue_old(agreement, alice_account, "other-tab")

    response = post_request(browser, request_body())

    assert response.status_code == 409 and response.json()["code"] == "certificates_changed"
    assert_nothing_changed([*old, later], alice_account, 1_000_000 - 4_400)


def test_garbage_gets_a_readable_refusal_and_the_flow_stays(old, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    to_certificate(browser, alice, alice_account, card)

    for body in ("not json", "[]", json.dumps({**request_body(), "kind": ["general"]})):
        response = post_request(browser, body)
        assert response.status_code == 400 and response.json()["message"] == str(pages.ERR_BAD_REQUEST)
    assert post_request(browser, request_body(kind="corporate")).json()["code"] == "kind_not_allowed"
    assert_nothing_changed(old, alice_account, 1_000_000 - 4_400)
    assert AdditionalAuthChallenge.objects.get().state == AdditionalAuthChallenge.State.VERIFIED  # not spent

    assert post_request(browser, request_body()).status_code == 200


# --- identification and the agreement --------------------------------------------------------------------


def test_a_wrong_detail_gets_the_generic_refusal(old, alice, alice_account, browser) -> None:  # type: ignore[no-untyped-def]
    response = browser.post(REISSUE_URL, details(alice, alice_account, account_password="0000"))

    assert response.status_code == 200
    with translation.override("en"):
        assert shown(ERR_DETAILS_MISMATCH) in html(response)
    assert reissue.REISSUE.key not in browser.session


def test_a_suspended_agreement_is_told_to_release_the_suspension_first(
    old, agreement, alice, alice_account, browser
) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        agreement_services.agreement_record_wrong_entry(agreement=agreement, actor=WEB)

    response = browser.post(REISSUE_URL, details(alice, alice_account))

    assert response.status_code == 200
    with translation.override("en"):
        assert shown(reissue.ERR_SUSPENDED_RELEASE_FIRST) in html(response)
    assert f'href="{REISSUE_URL}"' in html(response)
    assert reissue.REISSUE.key not in browser.session


def test_an_agreement_suspended_during_the_flow_is_refused_with_what_to_do(
    old, agreement, alice, alice_account, card, browser
) -> None:  # type: ignore[no-untyped-def]
    to_certificate(browser, alice, alice_account, card)
    agreement_services.agreement_suspend(agreement=agreement, reason="customer_request", actor=agreement.user)

    response = post_request(browser, request_body())

    assert response.status_code == 400
    with translation.override("en"):
        assert response.json() == {"code": "agreement_not_active", "message": str(ERR_AGREEMENT_NOT_ACTIVE)}
    assert_nothing_changed(old, alice_account, 1_000_000 - 4_400)
    assert AdditionalAuthChallenge.objects.get().state == AdditionalAuthChallenge.State.VERIFIED  # not spent
    assert post_request(browser, request_body()).status_code == 409


def test_the_pages_reject_other_methods(browser) -> None:
    assert browser.put(REISSUE_URL).status_code == 405
    assert browser.get(REQUEST_URL).status_code == 405
    assert browser.get(SEND_URL).status_code == 405
    assert browser.post(CERTIFICATE_URL).status_code == 405


def test_a_journal_is_written_only_for_a_paid_kind(old, alice, alice_account, card, browser) -> None:  # type: ignore[no-untyped-def]
    to_certificate(browser, alice, alice_account, card, "forgotten_password")
    before = Journal.objects.filter(kind=Journal.Kind.FEE).count()

    answer = post_request(browser, request_body("new", "restricted", "file")).json()

    assert answer["fee"] == 0 and Journal.objects.filter(kind=Journal.Kind.FEE).count() == before
