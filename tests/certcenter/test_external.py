"""Other institutions' certificates (타기관 인증서 등록): a customer registers another bank's certificate
(identified, security medium, additional authentication, a signature over the flow's text, the
identity hash when the certificate carries one), then logs in and signs with it; everything else
is refused with nothing written. The other bank is a fake CA built with ``cryptography``."""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from accounts.identity import customer_rrn
from accounts.services.agreements import agreement_web_actor
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from bankportal.timeutil import KST
from certcenter import ca, services
from certcenter.models import ExternalCertificate, SignatureEvidence
from certcenter.services import external
from otp.models import AdditionalAuthChallenge
from otp.services import additional_auth_start, additional_auth_use, additional_auth_verify
from tests.certcenter.external_pki import other_bank_ca, other_bank_certificate
from tests.certcenter.test_login import (
    CA_ACTOR,
    CA_TIME,
    LOGIN_ACTOR,
    SESSION,
    apply_and_register,
    browser_key,
    challenge,
    sign,
)

pytestmark = pytest.mark.django_db

OPS = external.trust_command_actor("test")
WEB = external.external_web_actor()
OTHER_ISSUED = dt.datetime(2026, 2, 1, 10, 0, tzinfo=KST)
OTHER_EXPIRES = dt.datetime(2027, 2, 1, 23, 59, 59, tzinfo=KST)
REGISTER_TIME = dt.datetime(2026, 6, 1, 9, 0, tzinfo=KST)
RANDOM = os.urandom(20)
SERIAL = 0x0BEE_0001


@functools.cache
def _other_ca() -> ca.CaMaterial:
    return other_bank_ca(CA_TIME)


def trust(material: ca.CaMaterial | None = None) -> external.TrustChange:
    return external.trusted_authority_add(
        certificate=ca.certificate_pem((material or _other_ca()).certificate), actor=OPS, now=CA_TIME
    )


def leaf(
    customer_rrn: str, *, serial: int = SERIAL, key_name: str = "alice-other", identity: str | None = "bank", **kw: Any
) -> x509.Certificate:
    return other_bank_certificate(
        kw.pop("issuer", None) or _other_ca(),
        browser_key(key_name),
        serial=serial,
        not_before=kw.pop("not_before", OTHER_ISSUED),
        not_after=kw.pop("not_after", OTHER_EXPIRES),
        identity=identity,
        id_number=customer_rrn,
        random_value=RANDOM,
    )


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def text_for(agreement: Any, nonce: str = "flow-nonce") -> str:
    return external.external_registration_text(
        user_id=agreement.user.get_username(), nonce=nonce, issued_at=REGISTER_TIME
    )


def register(agreement: Any, cert: x509.Certificate, *, key_name: str = "alice-other", **overrides: Any):  # type: ignore[no-untyped-def]
    text = overrides.pop("text", None) or text_for(agreement)
    arguments: dict[str, Any] = {
        "agreement": agreement,
        "certificate_der": der(cert),
        "text": text,
        "signature": sign(browser_key(key_name), text.encode("utf-8")),
        "identity_random": RANDOM,
        "medium_verified": True,
        "additional_auth": lambda: object(),
        "actor": WEB,
        "now": REGISTER_TIME,
    }
    arguments.update(overrides)
    return external.external_certificate_register(**arguments)


def login_with(cert: x509.Certificate, *, key_name: str = "alice-other", now: dt.datetime = REGISTER_TIME):  # type: ignore[no-untyped-def]
    nonce = challenge(now=now)
    return services.certificate_login(
        challenge_nonce=nonce,
        certificate_der=der(cert),
        signature=sign(browser_key(key_name), nonce.encode("ascii")),
        session_key=SESSION,
        actor=LOGIN_ACTOR,
        now=now,
    )


def refused(exc: pytest.ExceptionInfo[ValidationError]) -> tuple[str, str]:
    with translation.override("en"):
        return str(exc.value.code), exc.value.messages[0]


def nothing_written() -> bool:
    return not ExternalCertificate.objects.exists() and not SignatureEvidence.objects.exists()


@pytest.fixture
def pki(db) -> services.CaInitResult:  # type: ignore[no-untyped-def]
    return services.ca_init(actor=CA_ACTOR, now=CA_TIME)


@pytest.fixture
def agreement(alice, alice_account, teller):  # type: ignore[no-untyped-def]
    return apply_and_register(alice, alice_account, teller, username="alice2026")


@pytest.fixture
def rrn(alice) -> str:  # type: ignore[no-untyped-def]
    return customer_rrn(alice)


# --- the happy path ------------------------------------------------------------------------------------


def test_a_registered_certificate_of_another_bank_logs_in(pki, agreement, alice, rrn) -> None:  # type: ignore[no-untyped-def]
    authority = trust().authority
    cert = leaf(rrn)
    row = register(agreement, cert)

    assert (row.customer, row.authority, row.serial, row.status) == (alice, authority, str(SERIAL), "registered")
    assert row.identity_checked and bytes(row.certificate_der) == der(cert)
    assert row.not_after == OTHER_EXPIRES
    evidence = SignatureEvidence.objects.get()
    assert evidence.external_certificate == row and evidence.certificate is None
    assert evidence.purpose == "external_registration" and evidence.text == text_for(agreement)
    event = AuditEvent.objects.get(action="external_certificate.register")
    assert event.customer_ref == alice.pk and event.details["identity_checked"] is True
    assert ":" in event.details["fingerprint"]

    result = login_with(cert, now=REGISTER_TIME + dt.timedelta(minutes=1))
    assert result.user == agreement.user and result.certificate == row
    login_evidence = SignatureEvidence.objects.get(purpose="login")
    assert login_evidence.external_certificate == row


def test_a_kisa_vid_certificate_is_checked_with_its_random_num(pki, agreement, rrn) -> None:  # type: ignore[no-untyped-def]
    trust()
    row = register(agreement, leaf(rrn, identity="kisa"))
    assert row.identity_checked


def test_a_certificate_without_an_identity_hash_registers_unchecked(pki, agreement, rrn) -> None:  # type: ignore[no-untyped-def]
    trust()
    row = register(agreement, leaf(rrn, identity=None), identity_random=None)
    assert not row.identity_checked


def test_a_registered_certificate_signs_for_its_owner(pki, agreement, alice, rrn) -> None:  # type: ignore[no-untyped-def]
    trust()
    cert = leaf(rrn)
    row = register(agreement, cert)
    text = "amount=50000\nto=088-123"
    evidence = services.signature_verify(
        customer=alice,
        certificate_der=der(cert),
        text=text,
        signature=sign(browser_key("alice-other"), text.encode()),
        purpose="transfer",
        actor=agreement.user,
        now=REGISTER_TIME,
    )
    assert evidence.external_certificate == row


# --- refusals: nothing written ---------------------------------------------------------------------------


def test_a_certificate_of_an_untrusted_ca_is_refused(pki, agreement, rrn) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as exc:
        register(agreement, leaf(rrn))
    code, message = refused(exc)
    assert code == "untrusted" and "not issued by an institution" in message
    assert nothing_written()
    assert AuditEvent.objects.get(action="external_certificate.register_refused").details["reason"] == "untrusted"
    # And it cannot log in: told to register it.
    with pytest.raises(ValidationError) as exc:
        login_with(leaf(rrn))
    code, message = refused(exc)
    assert code == "untrusted" and "register it" in message and "not issued by this bank" in message


def test_our_own_certificate_needs_no_registration(pki, agreement, alice) -> None:  # type: ignore[no-untyped-def]
    from tests.certcenter.test_login import issue

    ours = issue(serial=0x7A11CE_2002, key=browser_key("alice-other"))
    with pytest.raises(ValidationError) as exc:
        register(agreement, ours)
    assert refused(exc)[0] == "our_certificate" and nothing_written()


def test_a_removed_ca_is_no_longer_accepted_for_registration_or_login(pki, agreement, rrn) -> None:  # type: ignore[no-untyped-def]
    change = trust()
    cert = leaf(rrn)
    register(agreement, cert)
    external.trusted_authority_remove(fingerprint=change.authority.fingerprint_sha256, actor=OPS)
    with pytest.raises(ValidationError) as exc:
        login_with(cert)
    assert refused(exc)[0] == "untrusted"
    with pytest.raises(ValidationError) as exc:
        register(agreement, leaf(rrn, serial=SERIAL + 1))
    assert refused(exc)[0] == "untrusted"
    assert ExternalCertificate.objects.count() == 1


@pytest.mark.parametrize(
    ("moment", "accepted"),
    [
        (OTHER_EXPIRES, True),
        (OTHER_EXPIRES + dt.timedelta(seconds=1), False),
        (OTHER_ISSUED, True),
        (OTHER_ISSUED - dt.timedelta(seconds=1), False),
    ],
    ids=["last-second", "one-second-after", "first-second", "one-second-before"],
)
def test_validity_is_checked_to_the_second_on_both_sides(pki, agreement, rrn, moment, accepted) -> None:  # type: ignore[no-untyped-def]
    trust()
    cert = leaf(rrn)
    if accepted:
        assert register(agreement, cert, now=moment).status == "registered"
        assert login_with(cert, now=moment).certificate.serial == str(SERIAL)
        return
    with pytest.raises(ValidationError) as exc:
        register(agreement, cert, now=moment)
    code, message = refused(exc)
    assert code == ("expired" if moment > OTHER_EXPIRES else "not_yet_valid")
    if code == "expired":
        assert "2027-02-01" in message and "institution that issued it" in message
    assert nothing_written()


def test_a_tampered_signature_or_another_text_is_refused(pki, agreement, rrn) -> None:  # type: ignore[no-untyped-def]
    trust()
    cert = leaf(rrn)
    good = sign(browser_key("alice-other"), text_for(agreement).encode())
    tampered = bytes([good[0] ^ 1]) + good[1:]
    with pytest.raises(ValidationError) as exc:
        register(agreement, cert, signature=tampered)
    assert refused(exc)[0] == "bad_signature"
    # A signature over another flow's text does not fit this flow's.
    with pytest.raises(ValidationError) as exc:
        register(agreement, cert, text=text_for(agreement, nonce="another-flow"), signature=good)
    assert refused(exc)[0] == "bad_signature"
    assert nothing_written()


def test_a_certificate_issued_for_another_rrn_or_without_its_random_value_is_refused(pki, agreement, rrn) -> None:  # type: ignore[no-untyped-def]
    trust()
    someone_else = rrn[:-1] + ("0" if rrn[-1] != "0" else "1")
    for form in ("bank", "kisa"):
        with pytest.raises(ValidationError) as exc:
            register(agreement, leaf(someone_else, identity=form))
        code, message = refused(exc)
        assert code == "identity_mismatch" and "resident registration number" in message
    with pytest.raises(ValidationError) as exc:
        register(agreement, leaf(rrn), identity_random=None)
    assert refused(exc)[0] == "identity_random_missing"
    with pytest.raises(ValidationError) as exc:
        register(agreement, leaf(rrn), identity_random=os.urandom(20))
    assert refused(exc)[0] == "identity_mismatch"
    assert nothing_written()


def test_another_customers_registration_is_refused_and_your_own_is_told_registered(  # type: ignore[no-untyped-def]
    pki,
    agreement,
    alice,
    rrn,
    demand_product,
    teller,
) -> None:
    from accounts import services as accounts_services
    from tests.conftest import ACCOUNT_PASSWORD, rrn_for_age

    trust()
    cert = leaf(rrn, identity=None)
    register(agreement, cert, identity_random=None)
    with pytest.raises(ValidationError) as exc:
        register(agreement, cert, identity_random=None)
    code, message = refused(exc)
    assert code == "already_registered" and "already registered for your internet banking" in message

    bob = accounts_services.customer_create(
        kind="individual", name="박보브", phone="010-1111-2222", rrn=rrn_for_age(40, serial="134567"), actor=teller
    )
    bob_account = accounts_services.account_open(
        customer=bob, product=demand_product, password=ACCOUNT_PASSWORD, opening_deposit=1000, actor=teller
    )
    bob_agreement = apply_and_register(bob, bob_account, teller, username="bob2026")
    with pytest.raises(ValidationError) as exc:
        register(bob_agreement, cert, identity_random=None)
    assert refused(exc)[0] == "registered_elsewhere"
    assert ExternalCertificate.objects.get().customer == alice


def test_without_additional_authentication_nothing_is_written(pki, agreement, alice, rrn) -> None:  # type: ignore[no-untyped-def]
    trust()
    with pytest.raises(ValidationError) as exc:
        register(agreement, leaf(rrn), additional_auth=lambda: None)
    assert refused(exc)[0] == "additional_auth_required" and nothing_written()
    with pytest.raises(ValidationError) as exc:
        register(agreement, leaf(rrn), medium_verified=False)
    assert refused(exc)[0] == "medium_not_verified" and nothing_written()


def test_the_phone_verification_is_spent_only_by_a_registration_that_succeeds(pki, agreement, alice, rrn) -> None:  # type: ignore[no-untyped-def]
    trust()
    purpose = AdditionalAuthChallenge.Purpose.OTHER_BANK_CERTIFICATE
    additional_auth_start(customer=alice, purpose=purpose, channel="sms", actor=WEB, now=REGISTER_TIME)
    code = re.search(r"\d{6}", Notification.objects.latest("id").body)
    assert code is not None
    assert additional_auth_verify(
        customer=alice, purpose=purpose, answer=code.group(0), actor=WEB, now=REGISTER_TIME
    ).ok
    spend = functools.partial(additional_auth_use, customer=alice, purpose=purpose, actor=WEB, now=REGISTER_TIME)
    with pytest.raises(ValidationError):
        register(agreement, leaf(rrn), identity_random=os.urandom(20), additional_auth=spend)
    challenge_row = AdditionalAuthChallenge.objects.get(customer=alice, purpose=purpose)
    assert challenge_row.state == "verified"  # rolled back with the refusal
    register(agreement, leaf(rrn), additional_auth=spend)
    challenge_row.refresh_from_db()
    assert challenge_row.state == "used"


def test_a_suspended_agreement_cannot_register(pki, agreement, rrn) -> None:  # type: ignore[no-untyped-def]
    from accounts import services as accounts_services

    trust()
    for _ in range(5):
        accounts_services.agreement_record_wrong_entry(agreement=agreement, actor=agreement_web_actor())
    with pytest.raises(ValidationError) as exc:
        register(agreement, leaf(rrn))
    assert refused(exc)[0] == "agreement_not_active" and nothing_written()


def test_staff_cannot_register_for_a_customer(pki, agreement, rrn, teller) -> None:  # type: ignore[no-untyped-def]
    trust()
    with pytest.raises(PermissionDenied):
        register(agreement, leaf(rrn), actor=teller)


# --- deregistration ----------------------------------------------------------------------------------------


def test_a_deregistered_certificate_cannot_log_in_and_can_be_registered_again(pki, agreement, alice, rrn) -> None:  # type: ignore[no-untyped-def]
    trust()
    cert = leaf(rrn)
    row = register(agreement, cert)
    external.external_certificate_deregister(certificate=row, actor=agreement.user, now=REGISTER_TIME)
    row.refresh_from_db()
    assert row.status == "deregistered" and row.deregistered_at == REGISTER_TIME
    assert AuditEvent.objects.filter(action="external_certificate.deregister", customer_ref=alice.pk).exists()
    with pytest.raises(ValidationError) as exc:
        login_with(cert)
    assert refused(exc)[0] == "unknown"
    with pytest.raises(ValidationError) as exc:
        external.external_certificate_deregister(certificate=row, actor=agreement.user)
    assert refused(exc)[0] == "not_registered"
    again = register(agreement, cert, now=REGISTER_TIME + dt.timedelta(minutes=1))
    assert again.pk != row.pk and login_with(cert).certificate == again


def test_only_the_owner_deregisters(pki, agreement, rrn, teller) -> None:  # type: ignore[no-untyped-def]
    trust()
    row = register(agreement, leaf(rrn))
    with pytest.raises(PermissionDenied):
        external.external_certificate_deregister(certificate=row, actor=teller)
    with pytest.raises(PermissionDenied):
        external.external_certificate_deregister(certificate=row, actor=LOGIN_ACTOR)
