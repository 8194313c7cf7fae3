"""Trusted CAs of other institutions: the pure checks (a CA certificate file, a certificate signed
directly by it and valid to the second, the identity hash in both forms) and the ``ca_trust_add`` /
``ca_trust_list`` / ``ca_trust_remove`` commands (idempotent, refusals, audited)."""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command

from bankportal.audit.models import AuditEvent
from bankportal.timeutil import KST
from certcenter import ca, services
from certcenter.models import TrustedAuthority
from tests.certcenter.external_pki import other_bank_ca, other_bank_certificate
from tests.certcenter.test_login import CA_ACTOR, browser_key

NOW = dt.datetime(2026, 1, 5, 10, 0, tzinfo=KST)
ISSUED = dt.datetime(2026, 2, 1, 10, 0, tzinfo=KST)
EXPIRES = dt.datetime(2027, 2, 1, 23, 59, 59, tzinfo=KST)
RRN = "900101-1234567"


@pytest.fixture(scope="module")
def other() -> ca.CaMaterial:
    return other_bank_ca(NOW)


def _leaf(other: ca.CaMaterial, **kw):  # type: ignore[no-untyped-def]
    return other_bank_certificate(
        other,
        browser_key("trust-leaf"),
        serial=kw.pop("serial", 4242),
        not_before=ISSUED,
        not_after=EXPIRES,
        **kw,
    )


# --- pure: loading a CA certificate ---------------------------------------------------------------------


def test_a_ca_certificate_loads_from_pem_or_der(other) -> None:  # type: ignore[no-untyped-def]
    pem = ca.certificate_pem(other.certificate)
    der = ca.certificate_der(other.certificate)
    assert ca.load_ca_certificate(pem) == ca.load_ca_certificate(der) == other.certificate
    assert len(ca.fingerprint_sha256(other.certificate)) == 64


def test_an_end_entity_certificate_or_garbage_is_not_a_ca(other) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ca.InvalidCaCertificate) as exc:
        ca.load_ca_certificate(ca.certificate_der(_leaf(other)))
    assert exc.value.code == "not_ca"
    for garbage in (b"", b"not a certificate", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"):
        with pytest.raises(ca.InvalidCaCertificate) as exc:
            ca.load_ca_certificate(garbage)
        assert exc.value.code == "unreadable"


# --- pure: a certificate signed directly by a trusted CA --------------------------------------------------


def test_validity_is_checked_to_the_second(other) -> None:  # type: ignore[no-untyped-def]
    leaf = _leaf(other)
    ca.verify_issued_by_trusted(leaf, authority=other.certificate, now=EXPIRES)
    ca.verify_issued_by_trusted(leaf, authority=other.certificate, now=ISSUED)
    with pytest.raises(ca.CertificateInvalid) as exc:
        ca.verify_issued_by_trusted(leaf, authority=other.certificate, now=EXPIRES + dt.timedelta(seconds=1))
    assert exc.value.code == "expired"
    with pytest.raises(ca.CertificateInvalid) as exc:
        ca.verify_issued_by_trusted(leaf, authority=other.certificate, now=ISSUED - dt.timedelta(seconds=1))
    assert exc.value.code == "not_yet_valid"


def test_another_ca_an_altered_certificate_or_a_ca_itself_is_refused(other) -> None:  # type: ignore[no-untyped-def]
    stranger = other_bank_ca(NOW, name="Stranger CA")
    with pytest.raises(ca.CertificateInvalid) as exc:
        ca.verify_issued_by_trusted(_leaf(stranger), authority=other.certificate, now=ISSUED)
    assert exc.value.code == "untrusted"
    # Same name as the trusted CA, another key: not signed by it.
    twin = other_bank_ca(NOW)
    with pytest.raises(ca.CertificateInvalid) as exc:
        ca.verify_issued_by_trusted(_leaf(twin), authority=other.certificate, now=ISSUED)
    assert exc.value.code in ("untrusted", "bad_signature")
    with pytest.raises(ca.CertificateInvalid) as exc:
        ca.verify_issued_by_trusted(other.certificate, authority=other.certificate, now=ISSUED)
    assert exc.value.code == "not_end_entity"


def test_an_altered_certificate_is_told_apart_by_the_key_identifier(other) -> None:  # type: ignore[no-untyped-def]
    der = bytearray(ca.certificate_der(_leaf(other)))
    der[-5] ^= 0x01  # inside the signature
    altered = ca.load_certificate(bytes(der))
    with pytest.raises(ca.CertificateInvalid) as exc:
        ca.verify_issued_by_trusted(altered, authority=other.certificate, now=ISSUED)
    assert exc.value.code == "bad_signature"


# --- pure: the identity hash ------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["bank", "kisa"])
def test_the_identity_hash_matches_only_its_number_and_random_value(other, form) -> None:  # type: ignore[no-untyped-def]
    random_value = os.urandom(20)
    claim = ca.external_identity(_leaf(other, identity=form, id_number=RRN, random_value=random_value))
    assert claim is not None and claim.form == form
    assert ca.external_identity_matches(claim, "9001011234567", random_value)
    assert not ca.external_identity_matches(claim, "900101-1234568", random_value)
    assert not ca.external_identity_matches(claim, RRN, os.urandom(20))
    assert not ca.external_identity_matches(claim, RRN, random_value[:15])  # too short to guard an RRN


def test_a_certificate_without_an_identity_hash_has_no_claim(other) -> None:  # type: ignore[no-untyped-def]
    assert ca.external_identity(_leaf(other)) is None


def test_the_kisa_vid_is_the_double_hash_of_the_der_hash_content() -> None:
    import hashlib

    random_value = bytes(range(20))
    content = bytes([0x30, 2 + 13 + 2 + 21, 0x13, 13]) + b"9001011234567" + bytes([0x03, 21, 0]) + random_value
    expected = hashlib.sha256(hashlib.sha256(content).digest()).digest()
    assert ca.kisa_vid(RRN, random_value) == expected


# --- the commands ------------------------------------------------------------------------------------------


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def ca_file(other, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "other-ca.pem"
    path.write_bytes(ca.certificate_pem(other.certificate))
    return path


@pytest.mark.django_db
def test_add_list_and_remove_are_idempotent_and_audited(ca_file, other) -> None:  # type: ignore[no-untyped-def]
    fingerprint = services.colon_hex(ca.fingerprint_sha256(other.certificate))
    assert "trusted: its certificates" in _run("ca_trust_add", str(ca_file), "--name", "Hanul Bank")
    assert "nothing to do" in _run("ca_trust_add", str(ca_file))
    row = TrustedAuthority.objects.get()
    assert (row.name, row.is_active) == ("Hanul Bank", True)
    listed = _run("ca_trust_list")
    assert "Hanul Bank" in listed and fingerprint in listed

    assert "removed" in _run("ca_trust_remove", fingerprint)
    assert "nothing to do" in _run("ca_trust_remove", fingerprint.replace(":", "").lower())
    row.refresh_from_db()
    assert not row.is_active and row.removed_at is not None
    # Trusting it again restores the same row.
    assert "trusted" in _run("ca_trust_add", str(ca_file))
    row.refresh_from_db()
    assert row.is_active and row.removed_at is None and TrustedAuthority.objects.count() == 1

    actions = list(
        AuditEvent.objects.filter(action__startswith="trusted_authority.")
        .order_by("pk")
        .values_list("action", "actor_label")
    )
    assert [action for action, _ in actions] == [
        "trusted_authority.add",
        "trusted_authority.remove",
        "trusted_authority.restore",
    ]
    assert all(name.startswith("system:command:ca_trust_") for _, name in actions)
    assert AuditEvent.objects.get(action="trusted_authority.add").details["fingerprint"] == fingerprint


@pytest.mark.django_db
def test_a_der_file_is_accepted_too(other, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "other-ca.der"
    path.write_bytes(ca.certificate_der(other.certificate))
    _run("ca_trust_add", str(path))
    assert TrustedAuthority.objects.get().name == "Hanul Bank Class 2 CA"


@pytest.mark.django_db
def test_our_own_ca_an_end_entity_certificate_and_a_missing_file_are_refused(other, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = services.ca_init(actor=CA_ACTOR, now=NOW)
    for role in ("root", "issuing"):
        ours = tmp_path / f"{role}.pem"
        summary = getattr(result, role)
        ours.write_bytes(ca.certificate_pem(ca.load_certificate(summary_pem(summary.fingerprint_sha256).encode())))
        with pytest.raises(CommandError, match="this bank's own CA"):
            _run("ca_trust_add", str(ours))
    leaf = tmp_path / "signCert.der"
    leaf.write_bytes(_leaf(other).public_bytes(serialization.Encoding.DER))
    with pytest.raises(CommandError, match="not a CA certificate"):
        _run("ca_trust_add", str(leaf))
    with pytest.raises(CommandError):
        _run("ca_trust_add", str(tmp_path / "missing.pem"))
    with pytest.raises(CommandError, match="64 hexadecimal digits"):
        _run("ca_trust_remove", "abc")
    with pytest.raises(CommandError, match="No trusted CA"):
        _run("ca_trust_remove", "00" * 32)
    assert not TrustedAuthority.objects.exists()


def summary_pem(fingerprint: str) -> str:
    from certcenter.models import CertificateAuthority

    return CertificateAuthority.objects.get(fingerprint_sha256=fingerprint).certificate_pem
