"""Certificate login: a server nonce (single use, 2 minutes, this browser session) signed with the
certificate's key; chain, validity to the second, registration, revocation and an active agreement
are checked; each refusal says why and what to do. Then a banking session.

The tests play the browser with ``cryptography`` (an RSA-2048 key, PKCS#1 v1.5 + SHA-256: what
WebCrypto's RSASSA-PKCS1-v1_5 gives). Certificates are issued with ``certcenter.ca`` under the CA
``ca_init`` made and their rows created directly (the issuance services are another slice).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client, RequestFactory
from django.utils import translation

from accounts import services as accounts_services
from accounts.agreements import Document
from accounts.models import Agreement, Customer
from accounts.services import agreement_online
from accounts.services.agreements import agreement_web_actor
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from bankportal.session_levels import SESSION_KEY, Level
from bankportal.timeutil import KST
from certcenter import ca, login_views, services
from certcenter.models import Certificate, CertificateAuthority, LoginChallenge, SignatureEvidence, serial_text
from certcenter.selectors import pki_urls
from certcenter.services import login as login_service
from certcenter.services.authority import _signing_material
from tests.conftest import ACCOUNT_PASSWORD

pytestmark = pytest.mark.django_db

CA_ACTOR = system_actor("test:ca_init", [services.CA_INIT_PERMISSION])
LOGIN_ACTOR = services.certificate_login_actor()
CA_TIME = dt.datetime(2026, 1, 5, 10, 0, tzinfo=KST)
APPLIED = dt.datetime(2026, 3, 2, 10, 0, tzinfo=KST)
ISSUED = dt.datetime(2026, 3, 10, 10, 0, tzinfo=KST)  # valid until 2027-03-10 23:59:59 KST
LOGIN_TIME = dt.datetime(2026, 6, 1, 9, 0, tzinfo=KST)
SESSION = "s" * 32
ALICE_SERIAL = 0x7A11CE_1001
CHALLENGE_URL = "/certificates/login/challenge/"
LOGIN_URL = "/certificates/login/"


# --- helpers (also used by test_signatures) ---------------------------------------------------------


@functools.cache
def browser_key(name: str = "alice") -> rsa.RSAPrivateKey:
    """A customer's RSA-2048 key, as WebCrypto would make it in the browser (one per name, cached)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def issuing_authority() -> CertificateAuthority:
    return CertificateAuthority.objects.get(role=CertificateAuthority.Role.ISSUING, is_active=True)


def issue(
    *, serial: int, key: rsa.RSAPrivateKey, now: dt.datetime = ISSUED, issuer: ca.CaMaterial | None = None
) -> x509.Certificate:
    return ca.issue_customer_certificate(
        issuer=issuer or _signing_material(issuing_authority()),
        public_key=key.public_key(),
        subject_common_name=f"customer {serial}",
        serial=serial,
        kind=ca.CertificateKind.RESTRICTED,
        identity=None,
        urls=pki_urls(),
        now=now,
    )


def certificate_row(
    customer: Customer, leaf: x509.Certificate, *, revoked_at: dt.datetime | None = None
) -> Certificate:
    return Certificate.objects.create(
        customer=customer,
        issuer=issuing_authority(),
        serial=serial_text(leaf.serial_number),
        kind=Certificate.Kind.RESTRICTED,
        storage=Certificate.Storage.BROWSER,
        status=Certificate.Status.REVOKED if revoked_at else Certificate.Status.VALID,
        subject_cn=f"customer {leaf.serial_number}",
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        certificate_der=ca.certificate_der(leaf),
        revoked_at=revoked_at,
        revocation_reason=Certificate.RevocationReason.KEY_COMPROMISE if revoked_at else "",
        created_at=leaf.not_valid_before_utc,
    )


@dataclass(frozen=True)
class Issued:
    leaf: x509.Certificate
    row: Certificate
    key: rsa.RSAPrivateKey

    @property
    def der(self) -> bytes:
        return ca.certificate_der(self.leaf)


def issue_for(customer: Customer, *, serial: int, key_name: str) -> Issued:
    key = browser_key(key_name)
    leaf = issue(serial=serial, key=key)
    return Issued(leaf=leaf, row=certificate_row(customer, leaf), key=key)


def apply_and_register(customer: Customer, account: Any, teller: Any, *, username: str) -> Agreement:
    """A branch application, then the online registration: an active agreement with its login."""
    agreement = accounts_services.agreement_apply(
        customer=customer, withdrawal_accounts=[account], documents=[Document.RESIDENT_CARD], actor=teller, now=APPLIED
    )
    identified = agreement_online.agreement_identify(
        purpose="register",
        name=customer.name,
        id_number=accounts_services.customer_rrn(customer),
        account_number=account.number,
        account_password=ACCOUNT_PASSWORD,
        actor=agreement_web_actor(),
        now=APPLIED,
    )
    assert identified.pk == agreement.pk
    return accounts_services.agreement_register_online(
        agreement=identified,
        medium_verified=True,
        username=username,
        password="Dasom-bank-2026!",
        actor=agreement_web_actor(),
        now=APPLIED,
    )


def codes(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(exc.value.code)


def english(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    with translation.override("en"):
        return exc.value.messages[0]


def refusals() -> list[str]:
    return [
        event.details["reason"]
        for event in AuditEvent.objects.filter(action="certificate.login_refused").order_by("pk")
    ]


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def pki(db) -> services.CaInitResult:  # type: ignore[no-untyped-def]
    return services.ca_init(actor=CA_ACTOR, now=CA_TIME)


@pytest.fixture
def agreement(alice, alice_account, teller) -> Agreement:  # type: ignore[no-untyped-def]
    return apply_and_register(alice, alice_account, teller, username="alice2026")


@pytest.fixture
def cert(pki, alice, agreement) -> Issued:  # type: ignore[no-untyped-def]
    return issue_for(alice, serial=ALICE_SERIAL, key_name="alice")


@pytest.fixture(autouse=True)
def _fresh_certificate_login_throttle() -> Iterator[None]:
    """The per-IP refusal counter lives in the cache, which outlives each test's rollback."""
    keys = login_views.throttle_keys(RequestFactory().post(LOGIN_URL))  # the test client's address
    cache.delete_many(list(keys))
    yield
    cache.delete_many(list(keys))


def challenge(*, now: dt.datetime, session_key: str = SESSION) -> str:
    made = services.certificate_login_challenge(session_key=session_key, actor=LOGIN_ACTOR, now=now)
    return made.nonce  # type: ignore[attr-defined]


def login(issued: Issued, nonce: str, *, now: dt.datetime, session_key: str = SESSION, **overrides: Any):  # type: ignore[no-untyped-def]
    arguments: dict[str, Any] = {
        "challenge_nonce": nonce,
        "certificate_der": issued.der,
        "signature": sign(issued.key, nonce.encode("ascii")),
        "session_key": session_key,
        "actor": LOGIN_ACTOR,
        "now": now,
    }
    arguments.update(overrides)
    return services.certificate_login(**arguments)


# --- the service: success -------------------------------------------------------------------------


def test_a_signed_nonce_logs_in_as_the_agreement_user_and_records_use_and_evidence(cert, agreement) -> None:  # type: ignore[no-untyped-def]
    nonce = challenge(now=LOGIN_TIME)
    result = login(cert, nonce, now=LOGIN_TIME + dt.timedelta(seconds=30))

    assert result.user == agreement.user and result.certificate == cert.row
    agreement.refresh_from_db()
    assert agreement.last_used_at == LOGIN_TIME + dt.timedelta(seconds=30)
    evidence = SignatureEvidence.objects.get()
    assert (evidence.purpose, evidence.text, evidence.certificate_serial) == ("login", nonce, cert.row.serial)
    assert bytes(evidence.signature) == sign(cert.key, nonce.encode("ascii"))
    event = AuditEvent.objects.get(action="certificate.login")
    assert event.actor_id == agreement.user_id and event.details["serial"] == cert.row.serial
    assert LoginChallenge.objects.get().used_at == LOGIN_TIME + dt.timedelta(seconds=30)


def test_the_nonce_is_32_random_bytes_base64url_and_only_its_hash_is_stored(pki) -> None:  # type: ignore[no-untyped-def]
    nonce = challenge(now=LOGIN_TIME)
    assert len(base64.urlsafe_b64decode(nonce + "=")) == 32
    stored = LoginChallenge.objects.get()
    assert nonce not in (stored.nonce_sha256, stored.session_sha256) and stored.session_sha256 != SESSION
    assert stored.expires_at - stored.created_at == dt.timedelta(minutes=2)


# --- the challenge ------------------------------------------------------------------------------------


def test_a_replayed_nonce_is_refused_even_after_a_success(cert) -> None:  # type: ignore[no-untyped-def]
    nonce = challenge(now=LOGIN_TIME)
    login(cert, nonce, now=LOGIN_TIME)
    with pytest.raises(ValidationError) as exc:
        login(cert, nonce, now=LOGIN_TIME + dt.timedelta(seconds=1))
    assert codes(exc) == "challenge_used" and "new one" in english(exc)
    assert refusals() == ["challenge_used"]


def test_a_refused_attempt_spends_its_nonce_too(cert) -> None:  # type: ignore[no-untyped-def]
    nonce = challenge(now=LOGIN_TIME)
    with pytest.raises(ValidationError):
        login(cert, nonce, now=LOGIN_TIME, signature=b"\x00" * 256)
    with pytest.raises(ValidationError) as exc:
        login(cert, nonce, now=LOGIN_TIME)
    assert codes(exc) == "challenge_used"


def test_a_nonce_from_another_session_is_refused_and_not_spent(cert) -> None:  # type: ignore[no-untyped-def]
    nonce = challenge(now=LOGIN_TIME)
    with pytest.raises(ValidationError) as exc:
        login(cert, nonce, now=LOGIN_TIME, session_key="t" * 32)
    assert codes(exc) == "challenge_other_session" and "another browser" in english(exc)
    # Whoever copied the nonce did not use up its owner's attempt.
    assert login(cert, nonce, now=LOGIN_TIME).user.customer_id == cert.row.customer_id


def test_a_nonce_is_valid_for_exactly_two_minutes(cert) -> None:  # type: ignore[no-untyped-def]
    on_time = challenge(now=LOGIN_TIME)
    login(cert, on_time, now=LOGIN_TIME + dt.timedelta(minutes=2))
    late = challenge(now=LOGIN_TIME)
    with pytest.raises(ValidationError) as exc:
        login(cert, late, now=LOGIN_TIME + dt.timedelta(minutes=2, seconds=1))
    assert codes(exc) == "challenge_expired" and "2 minutes" in english(exc)


def test_an_unknown_or_empty_nonce_is_refused(cert) -> None:  # type: ignore[no-untyped-def]
    for nonce in ("never-issued", ""):
        with pytest.raises(ValidationError) as exc:
            login(cert, nonce, now=LOGIN_TIME)
        assert codes(exc) == "challenge_unknown"


# --- the certificate ----------------------------------------------------------------------------------


def test_a_tampered_signature_or_another_key_is_refused_and_is_not_a_wrong_entry(cert, agreement) -> None:  # type: ignore[no-untyped-def]
    nonce = challenge(now=LOGIN_TIME)
    tampered = bytearray(sign(cert.key, nonce.encode("ascii")))
    tampered[10] ^= 0x01
    with pytest.raises(ValidationError) as exc:
        login(cert, nonce, now=LOGIN_TIME, signature=bytes(tampered))
    assert codes(exc) == "bad_signature" and "reissue" in english(exc)

    other = challenge(now=LOGIN_TIME)
    with pytest.raises(ValidationError) as exc:
        login(cert, other, now=LOGIN_TIME, signature=sign(browser_key("mallory"), other.encode("ascii")))
    assert codes(exc) == "bad_signature"
    agreement.refresh_from_db()
    assert agreement.wrong_entries == 0 and agreement.state == Agreement.State.ACTIVE


def test_the_expiry_day_235959_kst_is_accepted_and_the_next_midnight_refused(cert) -> None:  # type: ignore[no-untyped-def]
    last_second = dt.datetime(2027, 3, 10, 23, 59, 59, tzinfo=KST)
    with time_machine.travel(last_second, tick=False):
        assert login(cert, challenge(now=last_second), now=last_second).certificate == cert.row
    midnight = dt.datetime(2027, 3, 11, 0, 0, 0, tzinfo=KST)
    with time_machine.travel(midnight, tick=False):
        nonce = challenge(now=midnight)
        with pytest.raises(ValidationError) as exc:
            login(cert, nonce, now=midnight)
    assert codes(exc) == "expired"
    message = english(exc)
    assert "2027-03-10" in message and "reissue" in message and "renewed only" in message


def test_a_certificate_from_another_ca_is_refused_even_under_our_issuing_name(cert, alice) -> None:  # type: ignore[no-untyped-def]
    foreign_root = ca.new_root_ca(common_name="Other Root", organization="Other", now=CA_TIME)
    our_issuing_name = _signing_material(issuing_authority()).certificate.subject
    for common_name in (
        "Other Issuing CA",
        str(our_issuing_name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value),
    ):
        impostor = ca.new_issuing_ca(
            root=foreign_root, common_name=common_name, organization=settings.BANK_CA_NAME, urls=pki_urls(), now=CA_TIME
        )
        leaf = issue(serial=ALICE_SERIAL, key=cert.key, issuer=impostor)
        nonce = challenge(now=LOGIN_TIME)
        with pytest.raises(ValidationError) as exc:
            login(Issued(leaf=leaf, row=cert.row, key=cert.key), nonce, now=LOGIN_TIME)
        assert codes(exc) == "untrusted" and "not issued by this bank" in english(exc)
    assert refusals() == ["untrusted", "untrusted"]


def test_garbage_instead_of_a_certificate_is_refused_as_unreadable(cert) -> None:  # type: ignore[no-untyped-def]
    nonce = challenge(now=LOGIN_TIME)
    with pytest.raises(ValidationError) as exc:
        login(cert, nonce, now=LOGIN_TIME, certificate_der=b"\x30\x03garbage")
    assert codes(exc) == "malformed" and "signCert.der" in english(exc)


def test_a_revoked_certificate_is_refused_with_reissue(pki, alice, agreement) -> None:  # type: ignore[no-untyped-def]
    key = browser_key("alice")
    leaf = issue(serial=ALICE_SERIAL + 1, key=key)
    revoked_at = dt.datetime(2026, 5, 20, 15, 0, tzinfo=KST)
    revoked = Issued(leaf=leaf, row=certificate_row(alice, leaf, revoked_at=revoked_at), key=key)
    with pytest.raises(ValidationError) as exc:
        login(revoked, challenge(now=LOGIN_TIME), now=LOGIN_TIME)
    assert codes(exc) == "revoked" and "2026-05-20" in english(exc) and "Reissue" in english(exc)
    event = AuditEvent.objects.get(action="certificate.login_refused")
    assert event.customer_ref == alice.pk and event.details["serial"] == str(ALICE_SERIAL + 1)


def test_an_unregistered_serial_or_a_different_certificate_under_a_known_serial_is_refused(cert, alice) -> None:  # type: ignore[no-untyped-def]
    unregistered = issue(serial=ALICE_SERIAL + 2, key=cert.key)
    with pytest.raises(ValidationError) as exc:
        login(Issued(leaf=unregistered, row=cert.row, key=cert.key), challenge(now=LOGIN_TIME), now=LOGIN_TIME)
    assert codes(exc) == "unknown" and "Register it" in english(exc)
    # Same issuer and serial as alice's row, but not the certificate we recorded.
    twin = issue(serial=ALICE_SERIAL, key=cert.key, now=ISSUED + dt.timedelta(days=1))
    with pytest.raises(ValidationError) as exc:
        login(Issued(leaf=twin, row=cert.row, key=cert.key), challenge(now=LOGIN_TIME), now=LOGIN_TIME)
    assert codes(exc) == "unknown"


def test_a_certificate_login_before_the_ca_exists_says_it_is_unavailable(alice) -> None:  # type: ignore[no-untyped-def]
    root = ca.new_root_ca(common_name="Elsewhere Root", organization="Elsewhere", now=CA_TIME)
    leaf = issue(serial=ALICE_SERIAL, key=browser_key("alice"), issuer=root)
    nonce = challenge(now=LOGIN_TIME)
    with pytest.raises(ValidationError) as exc:
        services.certificate_login(
            challenge_nonce=nonce,
            certificate_der=ca.certificate_der(leaf),
            signature=sign(browser_key("alice"), nonce.encode("ascii")),
            session_key=SESSION,
            actor=LOGIN_ACTOR,
            now=LOGIN_TIME,
        )
    assert codes(exc) == "unavailable"


# --- the agreement ------------------------------------------------------------------------------------


def test_a_suspended_agreement_is_told_to_release_it_in_the_security_centre(cert, agreement) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        accounts_services.agreement_record_wrong_entry(agreement=agreement, actor=agreement_web_actor())
    with pytest.raises(ValidationError) as exc:
        login(cert, challenge(now=LOGIN_TIME), now=LOGIN_TIME)
    assert codes(exc) == "suspended"
    assert "/security/release/" in english(exc) and "5 consecutive wrong entries" in english(exc)
    assert not SignatureEvidence.objects.exists()


def test_an_application_not_yet_registered_is_told_to_register(pki, alice, alice_account, teller) -> None:  # type: ignore[no-untyped-def]
    accounts_services.agreement_apply(
        customer=alice, withdrawal_accounts=[alice_account], documents=[Document.RESIDENT_CARD], actor=teller
    )
    issued = issue_for(alice, serial=ALICE_SERIAL, key_name="alice")
    with pytest.raises(ValidationError) as exc:
        login(issued, challenge(now=LOGIN_TIME), now=LOGIN_TIME)
    assert codes(exc) == "not_registered" and "/ebanking/register/" in english(exc)


def test_a_customer_without_an_agreement_is_told_to_apply_at_a_branch(pki, alice) -> None:  # type: ignore[no-untyped-def]
    issued = issue_for(alice, serial=ALICE_SERIAL, key_name="alice")
    with pytest.raises(ValidationError) as exc:
        login(issued, challenge(now=LOGIN_TIME), now=LOGIN_TIME)
    assert codes(exc) == "no_agreement" and "Apply at a branch" in english(exc)


def test_the_login_service_needs_the_web_flow_permission(cert) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        services.certificate_login_challenge(session_key=SESSION, actor=system_actor("nobody"))
    nonce = challenge(now=LOGIN_TIME)
    with pytest.raises(PermissionDenied):
        login(cert, nonce, now=LOGIN_TIME, actor=system_actor("nobody"))
    assert LoginChallenge.objects.get().used_at is None


# --- the JSON endpoints -------------------------------------------------------------------------------


def _post(client: Client, url: str, payload: Any = None, *, raw: bytes | None = None, **extra: Any):  # type: ignore[no-untyped-def]
    body = raw if raw is not None else json.dumps(payload or {}).encode()
    return client.post(url, body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en", **extra)


def _payload(issued: Issued, nonce: str) -> dict[str, str]:
    return {
        "nonce": nonce,
        "certificate": base64.b64encode(issued.der).decode(),
        "signature": base64.b64encode(sign(issued.key, nonce.encode("ascii"))).decode(),
    }


@pytest.fixture
def at_login_time() -> Iterator[None]:
    with time_machine.travel(LOGIN_TIME, tick=False):
        yield


def test_the_json_login_opens_a_banking_session(client, cert, agreement, at_login_time) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/banking/").status_code == 302  # anonymous: to the login page
    answer = _post(client, CHALLENGE_URL)
    assert answer.status_code == 200 and answer.json()["expires_in"] == 120
    assert answer["Cache-Control"].startswith("max-age=0")
    before = client.session.session_key

    response = _post(client, LOGIN_URL, _payload(cert, answer.json()["nonce"]))

    assert response.status_code == 200 and response.json() == {"redirect": "/banking/"}
    assert client.session.session_key != before  # login() rotated the key after the check
    assert client.session[SESSION_KEY] == int(Level.CERTIFICATE)
    assert client.get("/banking/").status_code == 200
    login = AuditEvent.objects.get(action="auth.login", actor_id=agreement.user_id)
    assert login.details["method"] == "certificate"  # the login history names how they signed in
    history = client.get("/login-history/", headers={"accept-language": "en"}).content.decode()
    assert "Joint certificate" in history


def test_a_challenge_taken_in_another_browser_is_refused(client, cert, at_login_time) -> None:  # type: ignore[no-untyped-def]
    nonce = _post(Client(), CHALLENGE_URL).json()["nonce"]
    _post(client, CHALLENGE_URL)  # this browser has a session of its own
    response = _post(client, LOGIN_URL, _payload(cert, nonce))
    assert response.status_code == 400 and response.json()["code"] == "challenge_other_session"


def test_a_refusal_answers_400_with_the_code_and_what_to_do(client, cert, at_login_time) -> None:  # type: ignore[no-untyped-def]
    nonce = _post(client, CHALLENGE_URL).json()["nonce"]
    payload = _payload(cert, nonce)
    payload["signature"] = base64.b64encode(b"\x01" * 256).decode()
    response = _post(client, LOGIN_URL, payload)
    assert response.status_code == 400
    with translation.override("en"):
        expected = str(login_service.ERR_BAD_SIGNATURE)
    assert response.json() == {"code": "bad_signature", "message": expected}
    assert client.get("/banking/").status_code == 302


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b"{}",
        b'{"nonce": 5, "certificate": "AA==", "signature": "AA=="}',
        b'{"nonce": "abc", "certificate": "%%%not base64", "signature": "AA=="}',
        b'{"nonce": "abc", "certificate": "AA==", "signature": null}',
        b'{"nonce": "\\u00e9t\\u00e9", "certificate": "AA==", "signature": "AA=="}',
        b"[" * 15_000,
    ],
    ids=["text", "bytes", "list", "empty", "nonce-type", "bad-base64", "null", "non-ascii", "deep"],
)
def test_an_unreadable_request_is_a_400_not_a_500(client, pki, raw) -> None:  # type: ignore[no-untyped-def]
    response = _post(client, LOGIN_URL, raw=raw)
    assert response.status_code == 400 and response.json()["code"] == "bad_request"


def test_a_certificate_that_is_not_der_gets_the_unreadable_certificate_message(client, cert, at_login_time) -> None:  # type: ignore[no-untyped-def]
    nonce = _post(client, CHALLENGE_URL).json()["nonce"]
    payload = _payload(cert, nonce) | {"certificate": base64.b64encode(b"hello").decode()}
    response = _post(client, LOGIN_URL, payload)
    assert response.status_code == 400 and response.json()["code"] == "malformed"


def test_both_endpoints_need_the_csrf_token(cert, at_login_time) -> None:  # type: ignore[no-untyped-def]
    browser = Client(enforce_csrf_checks=True)
    assert _post(browser, CHALLENGE_URL).status_code == 403
    token = "a" * 32
    browser.cookies[settings.CSRF_COOKIE_NAME] = token
    answer = _post(browser, CHALLENGE_URL, HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 200
    payload = _payload(cert, answer.json()["nonce"])
    assert _post(browser, LOGIN_URL, payload).status_code == 403
    assert LoginChallenge.objects.get().used_at is None  # refused before the view: nothing spent
    assert _post(browser, LOGIN_URL, payload, HTTP_X_CSRFTOKEN=token).status_code == 200


def test_get_is_not_allowed(client, pki) -> None:  # type: ignore[no-untyped-def]
    assert client.get(CHALLENGE_URL).status_code == 405 and client.get(LOGIN_URL).status_code == 405


def test_twenty_refusals_from_one_address_pause_certificate_login_for_15_minutes(client, cert, at_login_time) -> None:  # type: ignore[no-untyped-def]
    limit = settings.SIGNIN_IP_FAILURE_LIMIT
    for _ in range(limit - 1):
        assert _post(client, LOGIN_URL, raw=b"nonsense").status_code == 400
    assert not AuditEvent.objects.filter(action="certificate.login_paused").exists()
    assert _post(client, LOGIN_URL, raw=b"nonsense").status_code == 400  # the 20th refusal sets the pause

    nonce_refused = _post(client, CHALLENGE_URL)
    assert nonce_refused.status_code == 429 and nonce_refused.json()["code"] == "paused"
    assert "15 minutes" in nonce_refused.json()["message"] and nonce_refused["Retry-After"] == "900"
    # Even a good login waits (it is not checked, so nothing is spent or audited per attempt).
    good = _payload(cert, challenge(now=LOGIN_TIME, session_key=client.session.session_key or SESSION))
    assert _post(client, LOGIN_URL, good).status_code == 429
    assert AuditEvent.objects.filter(action="certificate.login_paused").count() == 1
    assert not AuditEvent.objects.filter(action="certificate.login").exists()


def test_nineteen_refusals_do_not_pause(client, cert, at_login_time) -> None:  # type: ignore[no-untyped-def]
    for _ in range(settings.SIGNIN_IP_FAILURE_LIMIT - 1):
        _post(client, LOGIN_URL, raw=b"nonsense")
    nonce = _post(client, CHALLENGE_URL).json()["nonce"]
    assert _post(client, LOGIN_URL, _payload(cert, nonce)).status_code == 200
