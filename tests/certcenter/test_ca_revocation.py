"""The CA's CRL and OCSP answers: what they say, and that they are signed by the issuing CA.

Plain functions, no database. The CA keys (RSA-3072) are made once per module.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp

from certcenter import ca

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=ca.KST)
CA_CREATED = dt.datetime(2026, 1, 2, 9, 0, tzinfo=ca.KST)
URLS = ca.PkiUrls(
    crl="https://bank.example/pki/crl/",
    ocsp="https://bank.example/pki/ocsp",
    ca_issuer="https://bank.example/pki/ca/issuing.der",
)
GOOD, REVOKED, UNKNOWN = 0x1001, 0x1002, 0x1003
REVOKED_AT = dt.datetime(2026, 11, 20, 14, 30, 5, tzinfo=ca.KST)


def _ca_pair() -> tuple[ca.CaMaterial, ca.CaMaterial]:
    root = ca.new_root_ca(common_name="Haneul Root CA", organization="Haneul Demo Bank", now=CA_CREATED)
    issuing = ca.new_issuing_ca(
        root=root, common_name="Haneul Issuing CA", organization="Haneul Demo Bank", urls=URLS, now=CA_CREATED
    )
    return root, issuing


@pytest.fixture(scope="module")
def chain() -> tuple[ca.CaMaterial, ca.CaMaterial]:
    return _ca_pair()


@pytest.fixture(scope="module")
def issuing(chain: tuple[ca.CaMaterial, ca.CaMaterial]) -> ca.CaMaterial:
    return chain[1]


@pytest.fixture(scope="module")
def certificates(issuing: ca.CaMaterial) -> dict[int, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        serial: ca.issue_customer_certificate(
            issuer=issuing,
            public_key=key.public_key(),
            subject_common_name=f"customer {serial}",
            serial=serial,
            kind=ca.CertificateKind.RESTRICTED,
            identity=None,
            urls=URLS,
            now=CA_CREATED + dt.timedelta(days=1),
        )
        for serial in (GOOD, REVOKED, UNKNOWN)
    }


def _lookup(serial: int) -> ca.CertStatus:
    if serial == GOOD:
        return ca.CertStatus("good")
    if serial == REVOKED:
        return ca.CertStatus("revoked", revoked_at=REVOKED_AT, reason=ca.RevocationReason.KEY_COMPROMISE)
    return ca.CertStatus("unknown")


def _request(cert: x509.Certificate, issuer: x509.Certificate, *, nonce: bytes | None = None) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303 (RFC 6960 default)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _respond(issuing: ca.CaMaterial, request: bytes, lookup=_lookup) -> ocsp.OCSPResponse:
    return ocsp.load_der_ocsp_response(ca.ocsp_respond(issuer=issuing, request_der=request, lookup=lookup, now=NOW))


def _signature_valid(response: ocsp.OCSPResponse, key: rsa.RSAPublicKey) -> bool:
    assert response.signature_hash_algorithm is not None
    try:
        key.verify(
            response.signature, response.tbs_response_bytes, padding.PKCS1v15(), response.signature_hash_algorithm
        )
    except Exception:  # noqa: BLE001
        return False
    return True


def _openssl(tmp_path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        ["openssl", *arguments],  # noqa: S607
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


# --- CRL ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crl(issuing: ca.CaMaterial) -> x509.CertificateRevocationList:
    return ca.build_crl(
        issuer=issuing,
        revoked=[
            (REVOKED, REVOKED_AT, ca.RevocationReason.KEY_COMPROMISE),
            (0x2001, REVOKED_AT, ca.RevocationReason.SUPERSEDED),
            (0x2002, REVOKED_AT, ca.RevocationReason.CESSATION_OF_OPERATION),
            (0x2003, REVOKED_AT, ca.RevocationReason.AFFILIATION_CHANGED),
            (0x2004, REVOKED_AT, ca.RevocationReason.UNSPECIFIED),
        ],
        number=42,
        now=NOW,
        next_update=NOW + dt.timedelta(days=1),
    )


def test_crl_lists_revoked_serials_with_time_and_reason(crl: x509.CertificateRevocationList):
    reasons = {}
    for entry in crl:
        assert entry.revocation_date_utc == REVOKED_AT
        try:
            reasons[entry.serial_number] = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        except x509.ExtensionNotFound:
            reasons[entry.serial_number] = None
    assert reasons == {
        REVOKED: x509.ReasonFlags.key_compromise,
        0x2001: x509.ReasonFlags.superseded,
        0x2002: x509.ReasonFlags.cessation_of_operation,
        0x2003: x509.ReasonFlags.affiliation_changed,
        0x2004: None,  # RFC 5280: "unspecified" is sent as no reason code
    }
    assert crl.get_revoked_certificate_by_serial_number(GOOD) is None


def test_crl_header_number_and_times(crl: x509.CertificateRevocationList, issuing: ca.CaMaterial):
    assert crl.issuer == issuing.certificate.subject
    assert crl.last_update_utc == NOW
    assert crl.next_update_utc == NOW + dt.timedelta(days=1)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 42
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == (
        issuing.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )
    assert crl.signature_hash_algorithm is not None and crl.signature_hash_algorithm.name == "sha256"


def test_crl_verifies_with_the_issuing_ca_key_only(
    crl: x509.CertificateRevocationList, chain: tuple[ca.CaMaterial, ca.CaMaterial]
):
    root, issuing = chain
    assert crl.is_signature_valid(issuing.private_key.public_key())
    assert not crl.is_signature_valid(root.private_key.public_key())
    again = x509.load_der_x509_crl(ca.crl_der(crl))
    assert again.is_signature_valid(issuing.private_key.public_key())


def test_empty_crl_is_valid(issuing: ca.CaMaterial):
    empty = ca.build_crl(issuer=issuing, revoked=[], number=0, now=NOW, next_update=NOW + dt.timedelta(hours=1))
    assert len(empty) == 0 and empty.is_signature_valid(issuing.private_key.public_key())


@pytest.mark.parametrize(
    ("number", "next_update"), [(-1, NOW + dt.timedelta(days=1)), (1, NOW), (1, NOW - dt.timedelta(seconds=1))]
)
def test_crl_refuses_negative_numbers_and_next_update_not_after_now(
    issuing: ca.CaMaterial, number: int, next_update: dt.datetime
):
    with pytest.raises(ValueError):
        ca.build_crl(issuer=issuing, revoked=[], number=number, now=NOW, next_update=next_update)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not on PATH")
def test_openssl_verifies_the_crl(tmp_path, crl: x509.CertificateRevocationList, issuing: ca.CaMaterial):
    (tmp_path / "issuing.pem").write_bytes(ca.certificate_pem(issuing.certificate))
    (tmp_path / "crl.der").write_bytes(ca.crl_der(crl))
    result = _openssl(
        tmp_path, "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "issuing.pem", "-verify", "-noout", "-text"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verify OK" in result.stderr + result.stdout
    assert "Key Compromise" in result.stdout


# --- OCSP -----------------------------------------------------------------------------------------------------


def test_ocsp_good(issuing: ca.CaMaterial, certificates: dict[int, x509.Certificate]):
    response = _respond(issuing, _request(certificates[GOOD], issuing.certificate))
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == GOOD
    assert response.this_update_utc == NOW
    assert response.next_update_utc == NOW + dt.timedelta(hours=1)
    assert response.revocation_time_utc is None


def test_ocsp_revoked_with_time_and_reason(issuing: ca.CaMaterial, certificates: dict[int, x509.Certificate]):
    response = _respond(issuing, _request(certificates[REVOKED], issuing.certificate))
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_time_utc == REVOKED_AT
    assert response.revocation_reason == x509.ReasonFlags.key_compromise


def test_ocsp_revoked_for_an_unspecified_reason_names_none(
    issuing: ca.CaMaterial, certificates: dict[int, x509.Certificate]
):
    def lookup(serial: int) -> ca.CertStatus:
        return ca.CertStatus("revoked", revoked_at=REVOKED_AT, reason=ca.RevocationReason.UNSPECIFIED)

    response = _respond(issuing, _request(certificates[REVOKED], issuing.certificate), lookup)
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_reason is None


def test_ocsp_unknown(issuing: ca.CaMaterial, certificates: dict[int, x509.Certificate]):
    response = _respond(issuing, _request(certificates[UNKNOWN], issuing.certificate))
    assert response.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    assert response.serial_number == UNKNOWN


def test_ocsp_for_another_issuer_is_unknown_without_lookup(
    chain: tuple[ca.CaMaterial, ca.CaMaterial], certificates: dict[int, x509.Certificate]
):
    root, issuing = chain
    asked: list[int] = []

    def lookup(serial: int) -> ca.CertStatus:
        asked.append(serial)
        return ca.CertStatus("good")

    # Same serial, but the CertID names the root as issuer: not a certificate this responder knows about.
    response = _respond(issuing, _request(certificates[GOOD], root.certificate), lookup)
    assert response.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    assert (
        response.issuer_key_hash
        == ocsp.OCSPRequestBuilder()
        .add_certificate(
            certificates[GOOD],
            root.certificate,
            hashes.SHA1(),  # noqa: S303
        )
        .build()
        .issuer_key_hash
    )
    assert asked == []


def test_ocsp_sha256_cert_id_is_answered(issuing: ca.CaMaterial, certificates: dict[int, x509.Certificate]):
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(certificates[GOOD], issuing.certificate, hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    response = _respond(issuing, request)
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert isinstance(response.hash_algorithm, hashes.SHA256)


@pytest.mark.parametrize("data", [b"", b"garbage", b"\x30\x03\x02\x01\x01"])
def test_ocsp_malformed_request_gets_a_malformed_response(issuing: ca.CaMaterial, data: bytes):
    response = _respond(issuing, data)
    assert response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_request_for_several_certificates_gets_a_malformed_response(
    issuing: ca.CaMaterial, certificates: dict[int, x509.Certificate]
):
    def tlv(content: bytes) -> bytes:  # a DER SEQUENCE of under 256 bytes
        assert len(content) < 0x100
        return b"\x30" + (b"" if len(content) < 0x80 else b"\x81") + bytes([len(content)]) + content

    single = _request(certificates[GOOD], issuing.certificate)
    request_entry = single[6:]  # OCSPRequest > TBSRequest > requestList > the one Request
    assert single == tlv(tlv(tlv(request_entry)))
    response = _respond(issuing, tlv(tlv(tlv(request_entry + request_entry))))
    assert response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_nonce_is_echoed(issuing: ca.CaMaterial, certificates: dict[int, x509.Certificate]):
    nonce = b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"
    response = _respond(issuing, _request(certificates[GOOD], issuing.certificate, nonce=nonce))
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    without = _respond(issuing, _request(certificates[GOOD], issuing.certificate))
    with pytest.raises(x509.ExtensionNotFound):
        without.extensions.get_extension_for_class(x509.OCSPNonce)


def test_ocsp_response_is_signed_by_the_issuing_ca(
    chain: tuple[ca.CaMaterial, ca.CaMaterial], certificates: dict[int, x509.Certificate]
):
    root, issuing = chain
    response = _respond(issuing, _request(certificates[REVOKED], issuing.certificate))
    assert response.signature_hash_algorithm is not None and response.signature_hash_algorithm.name == "sha256"
    assert _signature_valid(response, issuing.private_key.public_key())
    assert not _signature_valid(response, root.private_key.public_key())
    assert response.responder_key_hash == (
        issuing.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )


def test_cert_status_is_consistent():
    with pytest.raises(ValueError):
        ca.CertStatus("revoked")
    with pytest.raises(ValueError):
        ca.CertStatus("good", revoked_at=REVOKED_AT)
    with pytest.raises(ValueError):
        ca.CertStatus("unknown", reason=ca.RevocationReason.SUPERSEDED)
    with pytest.raises(ValueError):
        ca.CertStatus("valid")  # type: ignore[arg-type]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not on PATH")
def test_openssl_requests_are_answered_and_verified(
    tmp_path, chain: tuple[ca.CaMaterial, ca.CaMaterial], certificates: dict[int, x509.Certificate]
):
    """openssl builds the request (SHA-1 CertID, its own nonce), we answer, openssl checks signature and nonce."""
    root, issuing = chain
    (tmp_path / "root.pem").write_bytes(ca.certificate_pem(root.certificate))
    (tmp_path / "issuing.pem").write_bytes(ca.certificate_pem(issuing.certificate))
    for serial, expected in ((GOOD, "good"), (REVOKED, "revoked"), (UNKNOWN, "unknown")):
        (tmp_path / "leaf.pem").write_bytes(ca.certificate_pem(certificates[serial]))
        made = _openssl(tmp_path, "ocsp", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-reqout", "req.der")
        assert made.returncode == 0, made.stderr
        request = (tmp_path / "req.der").read_bytes()
        assert ocsp.load_der_ocsp_request(request).extensions.get_extension_for_class(x509.OCSPNonce)
        (tmp_path / "resp.der").write_bytes(
            ca.ocsp_respond(issuer=issuing, request_der=request, lookup=_lookup, now=dt.datetime.now(dt.UTC))
        )
        checked = _openssl(
            tmp_path, "ocsp", "-reqin", "req.der", "-respin", "resp.der",
            "-CAfile", "root.pem", "-verify_other", "issuing.pem", "-resp_text",
        )  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "Response verify OK" in checked.stderr
        assert "nonce" not in checked.stderr.lower()  # "WARNING: no nonce in response" / "Nonce Verify error"
        assert f"Cert Status: {expected}" in checked.stdout
