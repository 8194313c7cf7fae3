"""The public PKI endpoints: CA certificates, the CRL and the OCSP responder (POST and GET).

Certificates are issued with ``certcenter.ca`` under the CA ``ca_init`` made, and their rows
created directly (the issue flow is a later slice).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import shutil
import subprocess
from urllib.parse import quote

import pytest
import time_machine
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Customer
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from certcenter import ca, services
from certcenter.models import Certificate, CertificateAuthority, CrlState, serial_text
from certcenter.selectors import pki_urls

CA_ACTOR = system_actor("test:ca_init", [services.CA_INIT_PERMISSION])
CRL_ACTOR = system_actor("test:crl", [services.CRL_PERMISSION])
GOOD_SERIAL = 0x7A11CE_0001
REVOKED_SERIAL = 0x7A11CE_0002
UNKNOWN_SERIAL = 0x7A11CE_0003
# 159 bits: the largest serial RFC 5280 allows (20 octets, positive).
HUGE_SERIAL = 2**159 - 1
OCSP_URL = "/pki/ocsp"


# --- helpers (also used by test_certificate_models) -----------------------------------------------


@functools.cache
def customer_key() -> rsa.RSAPrivateKey:
    """The customer's RSA-2048 key (in real life made by WebCrypto in the browser)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def authority(role: str) -> CertificateAuthority:
    return CertificateAuthority.objects.get(role=role, is_active=True)


def material(role: str) -> ca.CaMaterial:
    row = authority(role)
    return ca.CaMaterial(
        certificate=ca.load_certificate(row.certificate_pem.encode()),
        private_key=ca.load_private_key(row.key_pem.encode(), settings.CA_KEY_PASSPHRASE.encode()),
    )


def issue_leaf(serial: int, *, now: dt.datetime | None = None) -> x509.Certificate:
    return ca.issue_customer_certificate(
        issuer=material("issuing"),
        public_key=customer_key().public_key(),
        subject_common_name=f"customer {serial}",
        serial=serial,
        kind=ca.CertificateKind.RESTRICTED,
        identity=None,
        urls=pki_urls(),
        now=now or timezone.now(),
    )


def certificate_row(
    customer: Customer,
    leaf: x509.Certificate,
    *,
    revoked_at: dt.datetime | None = None,
    reason: str = "",
) -> Certificate:
    return Certificate.objects.create(
        customer=customer,
        issuer=authority("issuing"),
        serial=serial_text(leaf.serial_number),
        kind=Certificate.Kind.RESTRICTED,
        storage=Certificate.Storage.FILE,
        status=Certificate.Status.REVOKED if revoked_at else Certificate.Status.VALID,
        subject_cn=str(leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        certificate_der=ca.certificate_der(leaf),
        revoked_at=revoked_at,
        revocation_reason=reason,
        created_at=leaf.not_valid_before_utc,
    )


def ocsp_request_der(leaf: x509.Certificate, issuer: x509.Certificate, *, nonce: bytes | None = None) -> bytes:
    # SHA-1 CertIDs are what OpenSSL and browsers send (RFC 5019); only an identifier, not a signature.
    builder = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1())  # noqa: S303
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def signed_by(issuer: x509.Certificate, response: ocsp.OCSPResponse) -> bool:
    key, algorithm = issuer.public_key(), response.signature_hash_algorithm
    assert isinstance(key, rsa.RSAPublicKey)
    assert algorithm is not None
    try:
        key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        return False
    return True


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def pki(db) -> services.CaInitResult:  # type: ignore[no-untyped-def]
    return services.ca_init(actor=CA_ACTOR)


@pytest.fixture
def leaves(pki, alice) -> dict[str, x509.Certificate]:  # type: ignore[no-untyped-def]
    """A good and a revoked certificate of alice's with rows, and one we issued but never recorded."""
    good, revoked, unknown = issue_leaf(GOOD_SERIAL), issue_leaf(REVOKED_SERIAL), issue_leaf(UNKNOWN_SERIAL)
    certificate_row(alice, good)
    certificate_row(
        alice,
        revoked,
        revoked_at=timezone.now() - dt.timedelta(minutes=5),
        reason=Certificate.RevocationReason.KEY_COMPROMISE,
    )
    return {"good": good, "revoked": revoked, "unknown": unknown}


# --- CA certificates -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["root.der", "root.pem", "issuing.der", "issuing.pem"])
def test_ca_downloads_are_404_with_a_clear_message_before_ca_init(client, name):
    response = client.get(f"/pki/ca/{name}")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")
    assert "ca_init" in response.content.decode()


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("root.der", "application/pkix-cert"),
        ("root.pem", "application/x-pem-file"),
        ("issuing.der", "application/pkix-cert"),
        ("issuing.pem", "application/x-pem-file"),
    ],
)
def test_ca_certificates_download_in_der_and_pem(client, pki, name, content_type):
    """Each download parses as the CA certificate ca_init stored, with a cache lifetime."""
    response = client.get(f"/pki/ca/{name}")

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert "max-age" in response["Cache-Control"]
    body = response.content
    cert = x509.load_pem_x509_certificate(body) if name.endswith(".pem") else x509.load_der_x509_certificate(body)
    assert serial_text(cert.serial_number) == authority(name.split(".")[0]).serial


def test_the_issuing_ca_downloaded_chains_to_the_root_downloaded(client, pki):
    root = x509.load_der_x509_certificate(client.get("/pki/ca/root.der").content)
    issuing = x509.load_der_x509_certificate(client.get("/pki/ca/issuing.der").content)

    issuing.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    assert issuing.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert "PRIVATE KEY" not in client.get("/pki/ca/issuing.pem").content.decode()


@pytest.mark.django_db
def test_an_unknown_ca_name_is_404(client):
    assert client.get("/pki/ca/other.der").status_code == 404
    assert client.get("/pki/ca/root.txt").status_code == 404


def test_the_ca_page_lists_both_cas_with_download_links(client, pki):
    response = client.get(reverse("pki:ca_index"), HTTP_ACCEPT_LANGUAGE="en")

    html = response.content.decode()
    assert response.status_code == 200
    for role in ("root", "issuing"):
        assert f"/pki/ca/{role}.der" in html
        assert f"/pki/ca/{role}.pem" in html
        assert authority(role).fingerprint_sha256 in html
    assert "/pki/crl/" in html


@pytest.mark.django_db
def test_the_ca_page_says_so_before_ca_init(client):
    with_language = client.get(reverse("pki:ca_index"), HTTP_ACCEPT_LANGUAGE="en")

    assert with_language.status_code == 200
    assert "has not been set up yet" in with_language.content.decode()


# --- CRL ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_crl_is_404_before_ca_init(client):
    response = client.get("/pki/crl/")

    assert response.status_code == 404
    assert "ca_init" in response.content.decode()


def test_the_crl_lists_revoked_certificates_and_verifies_with_the_issuing_ca(client, leaves):
    response = client.get("/pki/crl/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-crl"
    assert "max-age" in response["Cache-Control"]
    crl = x509.load_der_x509_crl(response.content)
    issuing = material("issuing").certificate
    assert crl.is_signature_valid(issuing.public_key())  # type: ignore[arg-type]
    assert crl.issuer == issuing.subject
    assert [entry.serial_number for entry in crl] == [REVOKED_SERIAL]
    entry = crl.get_revoked_certificate_by_serial_number(REVOKED_SERIAL)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1


def test_the_crl_is_served_from_the_database_until_regenerated(client, leaves):
    """The first request signs CRL 1 and stores it; later requests get the same bytes; a
    regeneration (a revocation, the daily job) makes number 2."""
    first = client.get("/pki/crl/").content
    again = client.get("/pki/crl/").content

    assert first == again
    assert CrlState.objects.get().number == 1

    services.crl_regenerate(actor=CRL_ACTOR)

    crl = x509.load_der_x509_crl(client.get("/pki/crl/").content)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    assert AuditEvent.objects.filter(action="crl.regenerate").count() == 2


def test_a_crl_older_than_a_day_is_regenerated_on_request(client, leaves):
    """The daily job did not run: the request finds the CRL out of date and signs the next one;
    just before a day it is still served as it is."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.get("/pki/crl/")
        traveller.shift(dt.timedelta(days=1) - dt.timedelta(seconds=1))
        client.get("/pki/crl/")
        assert CrlState.objects.get().number == 1
        traveller.shift(dt.timedelta(seconds=1))
        crl = x509.load_der_x509_crl(client.get("/pki/crl/").content)

    assert CrlState.objects.get().number == 2
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    assert crl.next_update_utc > timezone.now() + dt.timedelta(days=1)


def test_an_expired_revoked_certificate_leaves_the_crl(db, alice):
    """RFC 5280 3.3: listed through its expiry second, gone after it."""
    issued = timezone.now() - dt.timedelta(days=400)
    services.ca_init(actor=CA_ACTOR, now=issued - dt.timedelta(days=1))
    leaf = issue_leaf(REVOKED_SERIAL, now=issued)
    certificate_row(alice, leaf, revoked_at=issued + dt.timedelta(days=1), reason="superseded")
    expiry = leaf.not_valid_after_utc

    at_expiry = services.crl_regenerate(actor=CRL_ACTOR, now=expiry)
    after = services.crl_regenerate(actor=CRL_ACTOR, now=expiry + dt.timedelta(seconds=1))

    assert at_expiry.revoked_count == 1
    assert after.revoked_count == 0


# --- OCSP ---------------------------------------------------------------------------------------------


def _post(client: Client, body: bytes) -> ocsp.OCSPResponse:
    response = client.post(OCSP_URL, data=body, content_type="application/ocsp-request")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/ocsp-response"
    return ocsp.load_der_ocsp_response(response.content)


def _get(client: Client, body: bytes) -> tuple[ocsp.OCSPResponse, str]:
    encoded = quote(base64.b64encode(body).decode(), safe="")
    response = client.get(f"{OCSP_URL}/{encoded}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/ocsp-response"
    return ocsp.load_der_ocsp_response(response.content), response["Cache-Control"]


@pytest.mark.parametrize(
    ("which", "status"),
    [
        ("good", ocsp.OCSPCertStatus.GOOD),
        ("revoked", ocsp.OCSPCertStatus.REVOKED),
        ("unknown", ocsp.OCSPCertStatus.UNKNOWN),
    ],
)
def test_ocsp_post_answers_good_revoked_unknown_signed_by_the_issuing_ca(leaves, which, status):
    """POSTed without a CSRF token (OCSP clients have none); the nonce comes back."""
    issuing = material("issuing").certificate
    client = Client(enforce_csrf_checks=True)

    answer = _post(client, ocsp_request_der(leaves[which], issuing, nonce=b"0123456789abcdef"))

    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.serial_number == leaves[which].serial_number
    assert answer.certificate_status == status
    assert signed_by(issuing, answer)
    assert answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"0123456789abcdef"
    if status == ocsp.OCSPCertStatus.REVOKED:
        assert answer.revocation_reason == x509.ReasonFlags.key_compromise
        revoked_at = Certificate.objects.get(serial=serial_text(REVOKED_SERIAL)).revoked_at
        assert answer.revocation_time_utc == revoked_at.replace(microsecond=0)


@pytest.mark.parametrize(
    ("which", "status"),
    [
        ("good", ocsp.OCSPCertStatus.GOOD),
        ("revoked", ocsp.OCSPCertStatus.REVOKED),
        ("unknown", ocsp.OCSPCertStatus.UNKNOWN),
    ],
)
def test_ocsp_get_answers_the_same_with_cache_headers(client, leaves, which, status):
    """RFC 6960 A.1: GET /pki/ocsp/<url-encoded base64 of the request>."""
    issuing = material("issuing").certificate

    answer, cache_control = _get(client, ocsp_request_der(leaves[which], issuing))

    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status == status
    assert signed_by(issuing, answer)
    assert "max-age=" in cache_control


def test_ocsp_get_accepts_unpadded_and_url_safe_base64(client, leaves):
    body = ocsp_request_der(leaves["good"], material("issuing").certificate)
    url_safe = base64.urlsafe_b64encode(body).decode().rstrip("=")

    response = client.get(f"{OCSP_URL}/{url_safe}")

    assert ocsp.load_der_ocsp_response(response.content).certificate_status == ocsp.OCSPCertStatus.GOOD


def test_a_revocation_shows_in_the_next_ocsp_answer(client, leaves):
    issuing = material("issuing").certificate
    request = ocsp_request_der(leaves["good"], issuing)
    assert _post(client, request).certificate_status == ocsp.OCSPCertStatus.GOOD

    Certificate.objects.filter(serial=serial_text(GOOD_SERIAL)).update(
        status=Certificate.Status.REVOKED, revoked_at=timezone.now(), revocation_reason="cessation_of_operation"
    )

    answer = _post(client, request)
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason == x509.ReasonFlags.cessation_of_operation


def test_ocsp_for_a_certificate_of_another_issuer_is_unknown(client, leaves):
    """Asking about a serial we know, but naming another CA (here: our root), is not answered "good"."""
    answer = _post(client, ocsp_request_der(leaves["good"], material("root").certificate))

    assert answer.certificate_status == ocsp.OCSPCertStatus.UNKNOWN


def test_ocsp_handles_a_160_bit_serial(client, pki, alice):
    leaf = issue_leaf(HUGE_SERIAL)
    certificate_row(alice, leaf)

    answer = _post(client, ocsp_request_der(leaf, material("issuing").certificate))

    assert answer.serial_number == HUGE_SERIAL
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD


@pytest.mark.parametrize(
    "body",
    [b"garbage", b"\x30\x03\x02\x01\x01", b"\x30\x82\xff\xff" + b"\x00" * 10],
    ids=["text", "wrong-asn1", "truncated"],
)
def test_ocsp_garbage_gets_a_malformed_request_answer_not_a_500(client, pki, body):
    answer = _post(client, body)

    assert answer.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_an_oversized_or_empty_ocsp_post_is_malformed(client, pki):
    from certcenter.views import OCSP_MAX_REQUEST_BYTES

    too_big = _post(client, b"\x30" * (OCSP_MAX_REQUEST_BYTES + 1))
    empty = _post(client, b"")

    assert too_big.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert empty.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


@pytest.mark.parametrize("path", ["not*base64", "QUJD", "%00%01", "A" * 20_000])
def test_ocsp_get_garbage_is_malformed_and_not_cached(client, pki, path):
    response = client.get(f"{OCSP_URL}/{path}")

    assert response.status_code == 200
    assert ocsp.load_der_ocsp_response(response.content).response_status == (ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_ocsp_before_ca_init_is_unauthorized_not_a_500(client):
    answer = _post(client, b"anything")

    assert answer.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_ocsp_with_a_wrong_passphrase_is_an_internal_error_without_the_key(client, leaves, settings, caplog):
    request = ocsp_request_der(leaves["good"], material("issuing").certificate)
    settings.CA_KEY_PASSPHRASE = "another-passphrase-of-some-length"

    answer = _post(client, request)

    assert answer.response_status == ocsp.OCSPResponseStatus.INTERNAL_ERROR
    assert "PRIVATE KEY" not in caplog.text
    assert "wrong_passphrase" in caplog.text


@pytest.mark.django_db
def test_ocsp_url_without_a_request_refuses_get(client):
    assert client.get(OCSP_URL).status_code == 405


def test_binary_answers_pass_the_security_middleware_unchanged(client, leaves):
    """CSP, nosniff and the rest add headers only: the DER bodies are byte-for-byte the service's."""
    request = ocsp_request_der(leaves["revoked"], material("issuing").certificate)
    response = client.post(OCSP_URL, data=request, content_type="application/ocsp-request")

    assert response["X-Content-Type-Options"] == "nosniff"
    assert ocsp.load_der_ocsp_response(response.content).certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert client.get("/pki/crl/").content == bytes(CrlState.objects.get().crl_der)


# --- openssl against the running server ------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.django_db(transaction=True)
def test_openssl_ocsp_against_the_live_server_reports_good_then_revoked(live_server, tmp_path, alice):
    """`openssl ocsp` posts to the running server and verifies the answer against our root."""
    services.ca_init(actor=CA_ACTOR)
    leaf = issue_leaf(GOOD_SERIAL)
    certificate_row(alice, leaf)
    (tmp_path / "leaf.pem").write_bytes(ca.certificate_pem(leaf))
    (tmp_path / "issuing.pem").write_text(authority("issuing").certificate_pem)
    (tmp_path / "root.pem").write_text(authority("root").certificate_pem)

    openssl = shutil.which("openssl") or "openssl"

    def openssl_ocsp() -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - fixed arguments, our own files
            [
                openssl,
                "ocsp",
                "-issuer",
                str(tmp_path / "issuing.pem"),
                "-cert",
                str(tmp_path / "leaf.pem"),
                "-CAfile",
                str(tmp_path / "root.pem"),
                "-url",
                f"{live_server.url}{OCSP_URL}",
                "-timeout",
                "20",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    first = openssl_ocsp()
    assert first.returncode == 0, first.stderr
    assert "Response verify OK" in first.stderr + first.stdout
    assert f"{tmp_path / 'leaf.pem'}: good" in first.stdout

    Certificate.objects.filter(serial=serial_text(GOOD_SERIAL)).update(
        status=Certificate.Status.REVOKED, revoked_at=timezone.now(), revocation_reason="key_compromise"
    )

    second = openssl_ocsp()
    assert second.returncode == 0, second.stderr
    assert f"{tmp_path / 'leaf.pem'}: revoked" in second.stdout
    assert "Reason: keyCompromise" in second.stdout
