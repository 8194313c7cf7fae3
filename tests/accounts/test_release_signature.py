"""The online release of a suspension ends with a joint-certificate signature (issue 8).

After the SMS/ARS code the page shows the release text (customer, what is released, time, a nonce of
this flow only); the browser signs it and the server verifies the signature (the customer's own valid,
unrevoked certificate) and releases. A refused signature releases nothing, stores no evidence and
leaves the SMS verification unspent, so the customer can try again. The tests play the browser's key
with ``cryptography``; certificates are issued through the certificate centre's service.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from accounts import forms as account_forms
from accounts import services
from accounts.ebanking_views import FLOW_SECONDS, MSG_START_AGAIN, RELEASE, SIGN_TRIES
from accounts.models import Account, Agreement, Customer
from accounts.services import agreement_online as online
from accounts.services import agreements as svc
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from bankportal.timeutil import KST
from certcenter import services as certcenter_services
from certcenter.models import SignatureEvidence
from certcenter.services import login as login_service
from otp import securitycard as card_rules
from otp.models import AdditionalAuthChallenge
from otp.services import IssuedSecurityCard, additional_auth_start, additional_auth_use, security_card_issue
from otp.services import additional_auth_verify as otp_verify
from tests.accounts.release_signing import (
    CA_ACTOR,
    RELEASE_SIGN,
    Cert,
    b64,
    issue_certificate,
    post_signature,
    sign,
)
from tests.conftest import ACCOUNT_PASSWORD, rrn_for_age

pytestmark = pytest.mark.django_db

State = Agreement.State
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=KST)  # certificates issued now are valid to 2027-03-02 23:59:59 KST
CERT_EXPIRY = dt.datetime(2027, 3, 2, 23, 59, 59, tzinfo=KST)
LATER = dt.datetime(2026, 4, 1, 9, 0, tzinfo=KST)
LOGIN_PASSWORD = "Dasom-bank-2026!"
WEB = svc.agreement_web_actor()
RELEASE_URL = reverse("agreement_release")
RELEASE_MEDIUM = reverse("agreement_release_medium")
RELEASE_PHONE = reverse("agreement_release_phone")
RELEASE_SEND = reverse("agreement_release_phone_send")
RELEASE_DONE = reverse("agreement_release_done")
PURPOSE = AdditionalAuthChallenge.Purpose.SUSPENSION_RELEASE


# --- helpers ------------------------------------------------------------------------------------------


def _register(customer: Customer, account: Account, username: str) -> Agreement:
    agreement = online.agreement_identify(
        purpose="register",
        name=customer.name,
        id_number=services.customer_rrn(customer),
        account_number=account.number,
        account_password=ACCOUNT_PASSWORD,
        actor=WEB,
    )
    return services.agreement_register_online(
        agreement=agreement, medium_verified=True, username=username, password=LOGIN_PASSWORD, actor=WEB
    )


def _suspend(agreement: Agreement) -> None:
    for _ in range(5):
        services.agreement_record_wrong_entry(agreement=agreement, actor=WEB)
    agreement.refresh_from_db()
    assert agreement.state == State.SUSPENDED


def _details(customer: Customer, account: Account) -> dict[str, str]:
    return {
        "name": customer.name,
        "id_number": services.customer_rrn(customer),
        "account_number": account.number_display,
        "account_password": ACCOUNT_PASSWORD,
    }


def _card_answer(card: IssuedSecurityCard, response: Any) -> dict[str, str]:
    challenge = response.context["challenge"]
    answer = card_rules.expected_answer(
        card.codes, card_rules.Challenge(first=challenge.card_first, second=challenge.card_second)
    )
    return {"first_half": answer[:2], "second_half": answer[2:]}


def _sent_code() -> str:
    found = re.search(r"\d{6}", Notification.objects.filter(purpose="additional_auth").latest("pk").body)
    assert found is not None
    return found.group(0)


def _to_sign(browser: Client, card: IssuedSecurityCard, customer: Customer, account: Account) -> None:
    """Steps 1-3: identification, security card, SMS code; the signing step is open."""
    identified = browser.post(RELEASE_URL, _details(customer, account))
    assert identified["Location"] == RELEASE_MEDIUM
    medium = browser.get(RELEASE_MEDIUM)
    assert browser.post(RELEASE_MEDIUM, _card_answer(card, medium))["Location"] == RELEASE_PHONE
    browser.post(RELEASE_SEND, {"channel": "sms"})
    assert browser.post(RELEASE_PHONE, {"phone_code": _sent_code()})["Location"] == RELEASE_SIGN


def _verification_state() -> str:
    return AdditionalAuthChallenge.objects.filter(purpose=PURPOSE).latest("pk").state


def _release_evidence() -> list[SignatureEvidence]:
    return list(SignatureEvidence.objects.filter(purpose=SignatureEvidence.Purpose.SUSPENSION_RELEASE))


def _english(message: Any) -> str:
    with translation.override("en"):
        return str(escape(str(message)))


def _assert_refused_and_retryable(agreement: Agreement, response: Any, message: Any, code: str) -> None:
    """Still on the signing page with the message; nothing released, no evidence, code unspent."""
    assert response.status_code == 200
    assert "accounts/ebanking/release_sign.html" in [t.name for t in response.templates]
    assert str(escape(str(message))) in response.content.decode()  # the page's language, as the constant
    agreement.refresh_from_db()
    assert agreement.state == State.SUSPENDED
    assert _verification_state() == AdditionalAuthChallenge.State.VERIFIED
    assert _release_evidence() == []
    refused = AuditEvent.objects.filter(action="agreement.release_refused").latest("pk")
    assert refused.details["refusal"] == code


# --- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def active(clock, alice, alice_account, teller) -> Agreement:  # type: ignore[no-untyped-def]
    services.agreement_apply(
        customer=alice, withdrawal_accounts=[alice_account], documents=["resident_card"], actor=teller
    )
    certcenter_services.ca_init(actor=CA_ACTOR)
    return _register(alice, alice_account, "alice2026")


@pytest.fixture
def card(alice, teller) -> IssuedSecurityCard:  # type: ignore[no-untyped-def]
    return security_card_issue(customer=alice, actor=teller)


@pytest.fixture
def cert(active, alice_account) -> Cert:  # type: ignore[no-untyped-def]
    return issue_certificate(active, alice_account)


@pytest.fixture
def bob_cert(active, teller, demand_product) -> Cert:  # type: ignore[no-untyped-def]
    """Another customer's valid certificate (and key)."""
    bob = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박밥", phone="010-3333-4444", rrn=rrn_for_age(40, serial="156789"),
        actor=teller,
    )  # fmt: skip
    account = services.account_open(
        customer=bob, product=demand_product, password=ACCOUNT_PASSWORD, opening_deposit=10_000, actor=teller
    )
    services.agreement_apply(customer=bob, withdrawal_accounts=[account], documents=["resident_card"], actor=teller)
    return issue_certificate(_register(bob, account, "bob2026"), account, key_name="bob")


@pytest.fixture
def browser() -> Client:
    return Client()


# --- the happy path -----------------------------------------------------------------------------------


def test_a_valid_signature_releases_and_keeps_the_evidence(active, cert, card, alice, alice_account, browser, clock):  # type: ignore[no-untyped-def]
    """The code opens the signing step (nothing released yet); the signed text is kept as evidence of
    purpose suspension_release, and the release audit names it; the verification is spent with it."""
    _suspend(active)
    clock.move_to(LATER)
    _to_sign(browser, card, alice, alice_account)
    active.refresh_from_db()
    assert active.state == State.SUSPENDED
    assert _verification_state() == AdditionalAuthChallenge.State.VERIFIED

    page = browser.get(RELEASE_SIGN)
    text = page.context["text"]
    nonce = browser.session[RELEASE.key]["nonce"]
    assert text == online.release_text(agreement=active, nonce=nonce, issued_at=LATER)
    assert f"customer={alice.name}" in text and "suspension=wrong_entries" in text and f"nonce={nonce}" in text
    assert "time=2026-04-01T09:00:00+09:00" in text and f"agreement={active.pk}" in text
    html = page.content.decode()
    assert 'id="release-sign-text"' in html and 'id="release-sign-messages"' in html
    assert "js/release-sign.js" in html and "js/pki.js" in html
    assert "<script>" not in html  # CSP: no inline script

    done = browser.post(RELEASE_SIGN, {"certificate": b64(cert.der), "signature": b64(sign(cert.key, text))})
    assert done["Location"] == RELEASE_DONE
    active.refresh_from_db()
    assert (active.state, active.suspension_reason, active.last_used_at) == (State.ACTIVE, "", LATER)
    assert _verification_state() == AdditionalAuthChallenge.State.USED
    [evidence] = _release_evidence()
    assert (evidence.customer_id, evidence.certificate_id, evidence.text) == (alice.pk, cert.row.pk, text)
    release = AuditEvent.objects.get(action="agreement.release")
    assert release.details["channel"] == "online"
    assert release.details["evidence"] == evidence.pk
    assert release.details["certificate_serial"] == cert.row.serial
    assert AuditEvent.objects.filter(action="signature.verified", details__evidence=evidence.pk).exists()
    # The flow is over: the signing step does not open again, so the signature cannot be replayed.
    assert browser.get(RELEASE_SIGN)["Location"] == RELEASE_URL


def test_the_contract_names_match_the_certificate_centre(db) -> None:  # type: ignore[no-untyped-def]
    """accounts names certcenter's purpose and permission as strings (it imports no certcenter model)."""
    assert online.RELEASE_SIGNATURE_PURPOSE == SignatureEvidence.Purpose.SUSPENSION_RELEASE
    assert online.RELEASE_SIGNATURE_PERMISSION == certcenter_services.SIGNATURE_PERMISSION


@pytest.mark.parametrize("language", ["ko", "en"])
def test_the_signing_page_works_in_both_languages(active, cert, card, alice, alice_account, browser, language):  # type: ignore[no-untyped-def]
    _suspend(active)
    _to_sign(browser, card, alice, alice_account)
    page = browser.get(RELEASE_SIGN, HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert 'id="sign-branch-hint"' in page.content.decode()


# --- refusals: nothing released, the code stays for another try --------------------------------------


def test_a_post_without_a_signature_is_refused(active, cert, card, alice, alice_account, browser):  # type: ignore[no-untyped-def]
    """Nothing posted, half of it, or not base64: one message on the page; the customer signs again."""
    _suspend(active)
    _to_sign(browser, card, alice, alice_account)
    for data in ({}, {"certificate": b64(cert.der)}, {"certificate": "not base64!", "signature": "AAAA"}):
        response = browser.post(RELEASE_SIGN, data, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        assert _english(account_forms.ERR_SIGNATURE_UNREADABLE) in response.content.decode()
    active.refresh_from_db()
    assert active.state == State.SUSPENDED
    assert _verification_state() == AdditionalAuthChallenge.State.VERIFIED
    assert _release_evidence() == []
    assert post_signature(browser, cert)["Location"] == RELEASE_DONE


def test_the_service_refuses_a_release_without_a_signature(active, cert, clock):  # type: ignore[no-untyped-def]
    """A signature callable that returns nothing releases nothing and spends nothing."""
    _suspend(active)
    spent: list[int] = []
    with pytest.raises(ValidationError) as exc:
        online.agreement_release_online(
            agreement=active,
            actor=online.agreement_release_actor(),
            medium_verified=True,
            additional_auth=lambda: spent.append(1),
            signature=lambda text: None,
            nonce=online.release_nonce(),
            issued_at=T0,
        )
    assert exc.value.code == "signature_required"
    assert spent == []
    active.refresh_from_db()
    assert active.state == State.SUSPENDED


def test_another_customers_certificate_is_refused(active, cert, bob_cert, card, alice, alice_account, browser):  # type: ignore[no-untyped-def]
    _suspend(active)
    _to_sign(browser, card, alice, alice_account)
    response = post_signature(browser, bob_cert)
    _assert_refused_and_retryable(active, response, login_service.ERR_NOT_YOURS, "not_yours")
    assert post_signature(browser, cert)["Location"] == RELEASE_DONE


def test_a_tampered_signature_is_refused(active, cert, card, alice, alice_account, browser):  # type: ignore[no-untyped-def]
    _suspend(active)
    _to_sign(browser, card, alice, alice_account)
    text = browser.get(RELEASE_SIGN).context["text"]
    signature = bytearray(sign(cert.key, text))
    signature[-1] ^= 0x01
    response = browser.post(RELEASE_SIGN, {"certificate": b64(cert.der), "signature": b64(bytes(signature))})
    _assert_refused_and_retryable(active, response, login_service.ERR_BAD_SIGNATURE, "bad_signature")
    # A signature over a changed text (another agreement, say) is as wrong as a changed signature.
    changed = text.replace(f"agreement={active.pk}", f"agreement={active.pk + 1}")
    response = post_signature(browser, cert, text=changed)
    _assert_refused_and_retryable(active, response, login_service.ERR_BAD_SIGNATURE, "bad_signature")
    assert post_signature(browser, cert)["Location"] == RELEASE_DONE


def test_a_text_signed_in_an_earlier_flow_is_refused(active, cert, card, alice, alice_account, clock):  # type: ignore[no-untyped-def]
    """Each flow has its own nonce: the signed text of an earlier (abandoned) flow does not verify in
    a later one, even in the same browser session."""
    _suspend(active)
    browser = Client()
    _to_sign(browser, card, alice, alice_account)
    earlier = browser.get(RELEASE_SIGN).context["text"]
    earlier_signature = sign(cert.key, earlier)
    clock.shift(FLOW_SECONDS + 1)
    assert browser.get(RELEASE_SIGN)["Location"] == RELEASE_URL  # the first flow expired

    _to_sign(browser, card, alice, alice_account)
    later = browser.get(RELEASE_SIGN).context["text"]
    assert later != earlier
    response = browser.post(RELEASE_SIGN, {"certificate": b64(cert.der), "signature": b64(earlier_signature)})
    _assert_refused_and_retryable(active, response, login_service.ERR_BAD_SIGNATURE, "bad_signature")
    assert post_signature(browser, cert)["Location"] == RELEASE_DONE


def test_a_revoked_certificate_is_refused_with_the_branch_advice(active, cert, card, alice, alice_account, browser):  # type: ignore[no-untyped-def]
    """Lost and revoked: it cannot be used, and no new one can be issued while suspended → branch."""
    certcenter_services.certificate_revoke(certificate=cert.row, reason="key_compromise", actor=active.user)
    _suspend(active)
    _to_sign(browser, card, alice, alice_account)
    response = post_signature(browser, cert)
    _assert_refused_and_retryable(active, response, online.ERR_NO_USABLE_CERTIFICATE, "revoked")


def test_an_expired_certificate_is_refused_with_the_branch_advice(  # type: ignore[no-untyped-def]
    active, cert, card, alice, alice_account, browser, clock
):
    """Valid to the last second of its expiry day; one second later it is refused."""
    _suspend(active)
    clock.move_to(CERT_EXPIRY - dt.timedelta(minutes=5))
    _to_sign(browser, card, alice, alice_account)
    clock.move_to(CERT_EXPIRY + dt.timedelta(seconds=1))
    response = post_signature(browser, cert)
    _assert_refused_and_retryable(active, response, online.ERR_NO_USABLE_CERTIFICATE, "expired")

    on_time = Client()
    clock.move_to(CERT_EXPIRY - dt.timedelta(minutes=5))
    _to_sign(on_time, card, alice, alice_account)
    clock.move_to(CERT_EXPIRY)
    assert post_signature(on_time, cert)["Location"] == RELEASE_DONE


def test_the_flow_ends_after_five_refused_signatures(active, cert, bob_cert, card, alice, alice_account, browser):  # type: ignore[no-untyped-def]
    _suspend(active)
    _to_sign(browser, card, alice, alice_account)
    for _ in range(SIGN_TRIES - 1):
        assert post_signature(browser, bob_cert).status_code == 200
    last = post_signature(browser, bob_cert, text="anything")
    assert "accounts/ebanking/refused.html" in [t.name for t in last.templates]
    assert browser.get(RELEASE_SIGN)["Location"] == RELEASE_URL
    active.refresh_from_db()
    assert active.state == State.SUSPENDED
    assert _verification_state() == AdditionalAuthChallenge.State.VERIFIED


# --- order of the steps and of the checks ------------------------------------------------------------


def test_the_signing_step_opens_only_after_the_code(active, cert, card, alice, alice_account, browser):  # type: ignore[no-untyped-def]
    """Before identification, after it, after the medium, after a wrong code: the signing step sends
    the visitor back to the start, and a signature posted there releases nothing."""
    _suspend(active)
    signed = {"certificate": b64(cert.der), "signature": b64(sign(cert.key, "anything"))}
    assert browser.post(RELEASE_SIGN, signed)["Location"] == RELEASE_URL
    assert browser.post(RELEASE_URL, _details(alice, alice_account))["Location"] == RELEASE_MEDIUM
    assert browser.post(RELEASE_SIGN, signed)["Location"] == RELEASE_URL
    assert browser.post(RELEASE_URL, _details(alice, alice_account))["Location"] == RELEASE_MEDIUM
    medium = browser.get(RELEASE_MEDIUM)
    assert browser.post(RELEASE_MEDIUM, _card_answer(card, medium))["Location"] == RELEASE_PHONE
    skipped = browser.get(RELEASE_SIGN)
    assert skipped["Location"] == RELEASE_URL
    assert str(MSG_START_AGAIN) in [str(m) for m in get_messages(skipped.wsgi_request)]
    active.refresh_from_db()
    assert active.state == State.SUSPENDED
    assert _release_evidence() == []


def test_a_spent_or_stale_verification_sends_the_customer_back_to_the_code(  # type: ignore[no-untyped-def]
    active, cert, card, alice, alice_account, browser, clock
):
    """The signature verifies but there is no verification left to spend: the evidence is rolled back
    with the release, and the customer verifies a new code, then signs again."""
    _suspend(active)
    _to_sign(browser, card, alice, alice_account)
    additional_auth_use(customer=alice, purpose=PURPOSE, actor=WEB)  # spent elsewhere (another tab)
    response = post_signature(browser, cert)
    assert response["Location"] == RELEASE_PHONE
    assert _release_evidence() == []
    assert not AuditEvent.objects.filter(action="signature.verified").exists()
    active.refresh_from_db()
    assert active.state == State.SUSPENDED

    browser.post(RELEASE_SEND, {"channel": "sms"})
    assert browser.post(RELEASE_PHONE, {"phone_code": _sent_code()})["Location"] == RELEASE_SIGN
    assert post_signature(browser, cert)["Location"] == RELEASE_DONE
    assert len(_release_evidence()) == 1


def _service_release(agreement: Agreement, cert: Cert, *, text_of: Any = None, **overrides: Any) -> Agreement:
    """The release service as the page calls it, with the real signature check and SMS spend."""
    customer = agreement.customer
    actor = online.agreement_release_actor()
    nonce = overrides.pop("nonce", "N" * 32)
    issued_at = overrides.pop("issued_at", dt.datetime.now(tz=KST))
    signed_text = text_of or (lambda text: text)

    def signature(text: str) -> Any:
        return certcenter_services.signature_verify(
            customer=customer,
            certificate_der=cert.der,
            text=text,
            signature=sign(cert.key, signed_text(text)),
            purpose=online.RELEASE_SIGNATURE_PURPOSE,
            actor=actor,
        )

    arguments: dict[str, Any] = {
        "agreement": agreement,
        "actor": actor,
        "medium_verified": True,
        "additional_auth": functools.partial(additional_auth_use, customer=customer, purpose=PURPOSE, actor=actor),
        "signature": signature,
        "nonce": nonce,
        "issued_at": issued_at,
    } | overrides
    return online.agreement_release_online(**arguments)


def _verified_code(customer: Customer) -> None:
    additional_auth_start(customer=customer, purpose=PURPOSE, channel="sms", actor=WEB)
    assert otp_verify(customer=customer, purpose=PURPOSE, answer=_sent_code(), actor=WEB).ok


def test_the_service_checks_the_signature_before_spending_the_code(active, cert, bob_cert, alice):  # type: ignore[no-untyped-def]
    """A refused signature is audited by the certificate centre and never reaches the spending."""
    _suspend(active)
    _verified_code(alice)
    calls: list[str] = []

    def spend() -> Any:
        calls.append("spend")
        return additional_auth_use(customer=alice, purpose=PURPOSE, actor=WEB)

    with pytest.raises(ValidationError) as exc:
        _service_release(active, bob_cert, additional_auth=spend)
    assert exc.value.code == "not_yours"
    assert calls == []
    assert AuditEvent.objects.filter(action="signature.refused", details__reason="not_yours").count() == 1
    assert _service_release(active, cert, additional_auth=spend).state == State.ACTIVE
    assert calls == ["spend"]


def test_the_release_text_is_fresh_for_10_minutes(active, cert, alice, clock):  # type: ignore[no-untyped-def]
    """Signed exactly 10 minutes after the text was made: released; 1 microsecond later, or a text
    from the future: refused before anything is checked or spent."""
    _suspend(active)
    _verified_code(alice)
    made = dt.datetime.now(tz=KST)
    for issued_at in (
        made - online.RELEASE_TEXT_LIFETIME - dt.timedelta(microseconds=1),
        made + dt.timedelta(seconds=1),
    ):
        with pytest.raises(ValidationError) as exc:
            _service_release(active, cert, issued_at=issued_at)
        assert exc.value.code == "release_text_expired"
    assert _verification_state() == AdditionalAuthChallenge.State.VERIFIED
    assert _service_release(active, cert, issued_at=made - online.RELEASE_TEXT_LIFETIME).state == State.ACTIVE
    assert online.release_text_fresh(made, made) and not online.release_text_fresh(made, made - dt.timedelta(seconds=1))


def test_a_second_release_of_the_same_flow_is_refused_and_spends_nothing(active, cert, alice):  # type: ignore[no-untyped-def]
    """The agreement lock serialises two submissions; the second finds it active."""
    _suspend(active)
    _verified_code(alice)
    assert _service_release(active, cert).state == State.ACTIVE
    _verified_code(alice)
    with pytest.raises(ValidationError) as exc:
        _service_release(active, cert)
    assert exc.value.code == "not_suspended"
    assert _verification_state() == AdditionalAuthChallenge.State.VERIFIED
    assert len(_release_evidence()) == 1


def test_the_release_text_names_what_is_released_and_refuses_a_bad_nonce(active) -> None:  # type: ignore[no-untyped-def]
    _suspend(active)
    text = online.release_text(agreement=active, nonce="x" * 32, issued_at=T0)
    lines = dict(line.split("=", 1) for line in text.split("\n"))
    assert lines["action"] == "suspension_release" and lines["title"] == "인터넷뱅킹 일시정지 해제"
    assert lines["customer"] == active.customer.name and lines["suspension"] == "wrong_entries"
    assert lines["time"] == "2026-03-02T10:00:00+09:00" and lines["nonce"] == "x" * 32
    assert list(lines) == sorted(lines)
    assert online.release_nonce() != online.release_nonce()
    for nonce in ("", "short", "é" * 40, "x" * 101):
        with pytest.raises(ValueError):
            online.release_text(agreement=active, nonce=nonce, issued_at=T0)
