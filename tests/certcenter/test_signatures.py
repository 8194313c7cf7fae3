"""E-signatures: the canonical text a customer signs, and ``signature_verify``, which checks the
certificate (chain, validity now, registration, revocation, this customer's) and the signature over
the text, and keeps the signed evidence."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from accounts import services as accounts_services
from accounts.models import Agreement, Customer, User
from accounts.services.agreements import agreement_web_actor
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from bankportal.timeutil import KST
from certcenter import ca, services
from certcenter.models import SignatureEvidence
from certcenter.signing import canonical_text, text_sha256
from tests.certcenter.test_login import (
    ALICE_SERIAL,
    CA_ACTOR,
    CA_TIME,
    Issued,
    apply_and_register,
    browser_key,
    certificate_row,
    issue,
    issue_for,
    sign,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=KST)
TRANSFER = {"from": "997-10-000123-4", "to": "088-110-123456", "amount": "50000", "recipient": "김철수"}
TRANSFER_PERMISSION_ACTOR = system_actor("test:transfers", [services.SIGNATURE_PERMISSION])


# --- canonical text ---------------------------------------------------------------------------------


def test_the_canonical_text_is_sorted_key_value_lines_without_a_trailing_newline() -> None:
    text = canonical_text(TRANSFER)
    assert text == "amount=50000\nfrom=997-10-000123-4\nrecipient=김철수\nto=088-110-123456"
    assert canonical_text(dict(reversed(list(TRANSFER.items())))) == text
    assert canonical_text({}) == "" and canonical_text({"a": ""}) == "a="


def test_the_canonical_text_is_nfc_so_decomposed_hangul_signs_the_same() -> None:
    decomposed = unicodedata.normalize("NFD", "김철수")
    assert decomposed != "김철수"
    assert canonical_text({"recipient": decomposed}) == canonical_text({"recipient": "김철수"})
    assert text_sha256("김철수") == hashlib.sha256("김철수".encode()).hexdigest()


@pytest.mark.parametrize(
    "fields",
    [
        {"memo": "line\nbreak"},
        {"memo": "carriage\rreturn"},
        {"memo": "tab\there"},
        {"memo": "separator\u2028"},
        {"a=b": "c"},
        {"": "empty key"},
        {"new\nline": "x"},
        {unicodedata.normalize("NFD", "이름"): "1", "이름": "2"},
        {"amount": 50000},
    ],
    ids=["newline", "cr", "tab", "line-separator", "equals-in-key", "empty-key", "newline-key", "nfc-duplicate", "int"],
)
def test_fields_that_could_forge_another_line_are_refused(fields) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        canonical_text(fields)


def test_an_equals_sign_in_a_value_is_kept() -> None:
    assert canonical_text({"memo": "a=b"}) == "memo=a=b"


# --- signature_verify -------------------------------------------------------------------------------


@pytest.fixture
def pki(db) -> services.CaInitResult:  # type: ignore[no-untyped-def]
    return services.ca_init(actor=CA_ACTOR, now=CA_TIME)


@pytest.fixture
def alice_user(alice, alice_account, teller) -> User:  # type: ignore[no-untyped-def]
    user = apply_and_register(alice, alice_account, teller, username="alice2026").user
    assert user is not None
    return user


@pytest.fixture
def alice_cert(pki, alice) -> Issued:  # type: ignore[no-untyped-def]
    return issue_for(alice, serial=ALICE_SERIAL, key_name="alice")


@pytest.fixture
def minnie_cert(pki, minnie) -> Issued:  # type: ignore[no-untyped-def]
    return issue_for(minnie, serial=ALICE_SERIAL + 50, key_name="minnie")


def verify(customer: Customer, issued: Issued, *, actor, text: str | None = None, signed: str | None = None, **kw):  # type: ignore[no-untyped-def]
    text = canonical_text(TRANSFER) if text is None else text
    signed = text if signed is None else signed
    arguments = {
        "customer": customer,
        "certificate_der": issued.der,
        "text": text,
        "signature": sign(issued.key, signed.encode("utf-8")),
        "purpose": SignatureEvidence.Purpose.TRANSFER,
        "actor": actor,
        "now": NOW,
    }
    arguments.update(kw)
    return services.signature_verify(**arguments)


def refused(exc: pytest.ExceptionInfo[ValidationError]) -> tuple[str, str]:
    with translation.override("en"):
        return str(exc.value.code), exc.value.messages[0]


def test_a_customers_signature_over_the_canonical_text_is_kept_as_evidence(alice, alice_cert, alice_user) -> None:  # type: ignore[no-untyped-def]
    evidence = verify(alice, alice_cert, actor=alice_user)

    text = canonical_text(TRANSFER)
    evidence.refresh_from_db()
    assert (evidence.customer, evidence.certificate, evidence.certificate_serial) == (
        alice,
        alice_cert.row,
        str(ALICE_SERIAL),
    )
    assert evidence.purpose == "transfer" and evidence.text == text and evidence.verified_at == NOW
    assert evidence.text_sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert bytes(evidence.signature) == sign(alice_cert.key, text.encode("utf-8"))
    event = AuditEvent.objects.get(action="signature.verified")
    assert event.actor_id == alice_user.pk and event.customer_ref == alice.pk
    # The evidence row holds the text and its hash; the audit names the row (a bare hex digest could
    # be masked as a resident number by the audit trail).
    assert event.details == {"purpose": "transfer", "serial": str(ALICE_SERIAL), "evidence": evidence.pk}


def test_a_service_with_the_permission_may_verify_for_the_customer(alice, alice_cert) -> None:  # type: ignore[no-untyped-def]
    assert verify(alice, alice_cert, actor=TRANSFER_PERMISSION_ACTOR).customer == alice


def test_a_signature_over_other_details_is_refused_and_audited(alice, alice_cert, alice_user) -> None:  # type: ignore[no-untyped-def]
    tampered = canonical_text(TRANSFER | {"amount": "5000000"})
    with pytest.raises(ValidationError) as exc:
        verify(alice, alice_cert, actor=alice_user, text=tampered, signed=canonical_text(TRANSFER))
    assert refused(exc)[0] == "bad_signature"
    assert not SignatureEvidence.objects.exists()
    event = AuditEvent.objects.get(action="signature.refused")
    assert event.details == {"reason": "bad_signature", "serial": str(ALICE_SERIAL), "purpose": "transfer"}


def test_another_customers_certificate_is_refused(alice, alice_user, minnie_cert) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as exc:
        verify(alice, minnie_cert, actor=alice_user)
    code, message = refused(exc)
    assert code == "not_yours" and "your own certificate" in message
    assert AuditEvent.objects.get(action="signature.refused").customer_ref == alice.pk


def test_a_revoked_certificate_cannot_sign(alice, pki, alice_user) -> None:  # type: ignore[no-untyped-def]
    key = browser_key("alice")
    leaf = issue(serial=ALICE_SERIAL + 1, key=key)
    revoked = Issued(leaf=leaf, row=certificate_row(alice, leaf, revoked_at=NOW - dt.timedelta(days=1)), key=key)
    with pytest.raises(ValidationError) as exc:
        verify(alice, revoked, actor=alice_user)
    assert refused(exc)[0] == "revoked"


def test_the_certificate_signs_through_its_expiry_day_and_not_after(alice, alice_cert, alice_user) -> None:  # type: ignore[no-untyped-def]
    last_second = dt.datetime(2027, 3, 10, 23, 59, 59, tzinfo=KST)
    assert verify(alice, alice_cert, actor=alice_user, now=last_second).verified_at == last_second
    with pytest.raises(ValidationError) as exc:
        verify(alice, alice_cert, actor=alice_user, now=last_second + dt.timedelta(seconds=1))
    assert refused(exc)[0] == "expired"


def test_a_certificate_of_another_ca_cannot_sign(alice, alice_cert, alice_user) -> None:  # type: ignore[no-untyped-def]
    foreign = ca.new_root_ca(common_name="Other Root", organization="Other", now=CA_TIME)
    leaf = issue(serial=ALICE_SERIAL, key=alice_cert.key, issuer=foreign)
    with pytest.raises(ValidationError) as exc:
        verify(alice, Issued(leaf=leaf, row=alice_cert.row, key=alice_cert.key), actor=alice_user)
    assert refused(exc)[0] == "untrusted"


def test_a_suspended_customer_can_still_sign_a_release(alice, alice_cert, alice_user) -> None:  # type: ignore[no-untyped-def]
    agreement = Agreement.objects.get(customer=alice)
    for _ in range(5):
        accounts_services.agreement_record_wrong_entry(agreement=agreement, actor=agreement_web_actor())
    agreement.refresh_from_db()
    assert agreement.state == Agreement.State.SUSPENDED
    text = canonical_text({"action": "release", "agreement": str(agreement.pk)})
    evidence = verify(
        alice,
        alice_cert,
        actor=TRANSFER_PERMISSION_ACTOR,
        text=text,
        purpose=SignatureEvidence.Purpose.SUSPENSION_RELEASE,
    )
    assert evidence.purpose == "suspension_release"


def test_only_the_customer_or_a_permitted_service_may_verify(alice, alice_cert, teller, minnie) -> None:  # type: ignore[no-untyped-def]
    for actor in (teller, system_actor("nobody")):
        with pytest.raises(PermissionDenied):
            verify(alice, alice_cert, actor=actor)
    assert not AuditEvent.objects.filter(action__startswith="signature.").exists()


def test_an_unknown_purpose_or_an_empty_text_is_a_programming_error(alice, alice_cert, alice_user) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        verify(alice, alice_cert, actor=alice_user, purpose="anything")
    with pytest.raises(ValueError):
        verify(alice, alice_cert, actor=alice_user, text="")


def test_a_revocation_landing_after_the_chain_check_is_seen_under_the_row_lock(
    alice, alice_cert, alice_user, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The chain is checked outside the transaction; a revocation committing just after (here: as
    the chain check returns) is seen by the one locked read of the certificate's row, which refuses
    it and stores nothing."""
    from certcenter.models import Certificate
    from certcenter.services import login as login_service

    checked = login_service._trusted_certificate

    def check_then_revoke(*args, **kwargs):  # type: ignore[no-untyped-def]
        trusted = checked(*args, **kwargs)
        Certificate.objects.filter(pk=alice_cert.row.pk).update(
            status=Certificate.Status.REVOKED,
            revoked_at=NOW,
            revocation_reason=Certificate.RevocationReason.KEY_COMPROMISE,
        )
        return trusted

    monkeypatch.setattr(login_service, "_trusted_certificate", check_then_revoke)
    with pytest.raises(ValidationError) as exc:
        verify(alice, alice_cert, actor=alice_user)
    assert refused(exc)[0] == "revoked"
    assert not SignatureEvidence.objects.exists()
