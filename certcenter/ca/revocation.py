"""Revocation: the CRL and RFC 6960 OCSP responses, both signed by the issuing CA itself."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from .common import CaMaterial, utc


class RevocationReason(enum.StrEnum):
    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "key_compromise"
    SUPERSEDED = "superseded"  # renewal: the old certificate once the new one exists
    CESSATION_OF_OPERATION = "cessation_of_operation"  # deleted by the customer, agreement ended
    AFFILIATION_CHANGED = "affiliation_changed"


# RFC 5280 5.3.1: "unspecified" SHOULD NOT be sent as a reason code, so it maps to no reason at all.
_REASON_FLAGS: dict[RevocationReason, x509.ReasonFlags | None] = {
    RevocationReason.UNSPECIFIED: None,
    RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
}


def build_crl(
    *,
    issuer: CaMaterial,
    revoked: Iterable[tuple[int, dt.datetime, RevocationReason]],
    number: int,
    now: dt.datetime,
    next_update: dt.datetime,
) -> x509.CertificateRevocationList:
    """A CRL of ``revoked`` (serial, revocation time, reason), numbered ``number`` (monotonic, RFC 5280 5.2.3),
    signed by ``issuer`` with SHA-256. Raises ``ValueError`` for a negative number or a next update not after
    ``now``."""
    this_update, following = utc(now), utc(next_update)
    if number < 0:
        raise ValueError("the CRL number must not be negative")
    if following <= this_update:
        raise ValueError("the next update must be after this one")
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(this_update)
        .next_update(following)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.private_key.public_key()), critical=False
        )
    )
    for serial, revoked_at, reason in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(utc(revoked_at))
        flag = _REASON_FLAGS[RevocationReason(reason)]
        if flag is not None:
            entry = entry.add_extension(x509.CRLReason(flag), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(issuer.private_key, hashes.SHA256())


def crl_der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class CertStatus:
    status: Literal["good", "revoked", "unknown"]
    revoked_at: dt.datetime | None = None
    reason: RevocationReason | None = None

    def __post_init__(self) -> None:
        if self.status not in ("good", "revoked", "unknown"):
            raise ValueError(f"unknown certificate status {self.status!r}")
        if (self.status == "revoked") != (self.revoked_at is not None):
            raise ValueError("a revocation time is required for a revoked certificate, and only for one")
        if self.status != "revoked" and self.reason is not None:
            raise ValueError("only a revoked certificate has a revocation reason")


_OCSP_STATUS = {
    "good": ocsp.OCSPCertStatus.GOOD,
    "revoked": ocsp.OCSPCertStatus.REVOKED,
    "unknown": ocsp.OCSPCertStatus.UNKNOWN,
}
_CERT_ID_HASHES = (hashes.SHA1, hashes.SHA224, hashes.SHA256, hashes.SHA384, hashes.SHA512)


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def _issuer_key_bytes(issuer: CaMaterial) -> bytes:
    # RFC 6960 4.1.1: issuerKeyHash is the hash of the subjectPublicKey BIT STRING's value, which for RSA is the
    # PKCS#1 RSAPublicKey.
    return issuer.private_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def ocsp_respond(
    *,
    issuer: CaMaterial,
    request_der: bytes,
    lookup: Callable[[int], CertStatus],
    now: dt.datetime,
    next_update: dt.timedelta = dt.timedelta(hours=1),
) -> bytes:
    """The DER OCSP response to ``request_der`` (RFC 6960), signed by ``issuer`` (SHA-256).

    A request that does not parse, asks about several certificates or uses a CertID hash we do not know gets
    a malformedRequest response, never an exception. A request for another issuer's certificate is answered
    "unknown" without calling ``lookup``. A nonce in the request is echoed."""
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        algorithm = request.hash_algorithm
        serial = request.serial_number
        name_hash, key_hash = request.issuer_name_hash, request.issuer_key_hash
        extensions = request.extensions
    except (ValueError, UnsupportedAlgorithm, NotImplementedError):  # NotImplementedError: several CertIDs
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    if not isinstance(algorithm, _CERT_ID_HASHES) or {len(name_hash), len(key_hash)} != {algorithm.digest_size}:
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    try:
        nonce: bytes | None = extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        nonce = None
    our_name_hash = _digest(algorithm, issuer.certificate.subject.public_bytes())
    ours = name_hash == our_name_hash and key_hash == _digest(algorithm, _issuer_key_bytes(issuer))
    status = lookup(serial) if ours else CertStatus("unknown")
    this_update = utc(now)
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=name_hash,
            issuer_key_hash=key_hash,
            serial_number=serial,
            algorithm=algorithm,
            cert_status=_OCSP_STATUS[status.status],
            this_update=this_update,
            next_update=this_update + next_update,
            revocation_time=utc(status.revoked_at) if status.revoked_at is not None else None,
            revocation_reason=_REASON_FLAGS[status.reason] if status.reason is not None else None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.certificate)
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.sign(issuer.private_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
