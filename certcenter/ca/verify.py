"""Checking a customer's certificate against our chain, and a signature made with its key."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store, VerificationError

from .common import CertificateInvalid, utc


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _key_identifier(cert: x509.Certificate, extension: type[x509.ExtensionType]) -> bytes | None:
    try:
        value = cert.extensions.get_extension_for_class(extension).value
    except x509.ExtensionNotFound:
        return None
    if isinstance(value, x509.SubjectKeyIdentifier):
        return value.digest
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return value.key_identifier
    return None


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def verify_chain(
    cert: x509.Certificate, *, issuing: x509.Certificate, root: x509.Certificate, now: dt.datetime
) -> None:
    """Accept ``cert`` only if it is an end-entity certificate issued by ``issuing`` under the trusted ``root``
    and all three are valid at ``now`` (to the second: the expiry day's 23:59:59 is still valid).

    Raises ``CertificateInvalid`` with ``code`` not_end_entity, untrusted, bad_signature, not_yet_valid or
    expired, checked in that order (so a forged certificate is never told to "renew")."""
    at = utc(now)
    try:
        if cert in (issuing, root) or _is_ca(cert):
            raise CertificateInvalid("not_end_entity")
        if not _signed_by(root, root) or not _signed_by(issuing, root):
            raise CertificateInvalid("untrusted")
        if cert.issuer != issuing.subject:
            raise CertificateInvalid("untrusted")
        if not _signed_by(cert, issuing):
            # Same issuer name: our key identifier means the certificate was altered after we signed it;
            # another key identifier means another CA that happens to use our name.
            issuing_ski = _key_identifier(issuing, x509.SubjectKeyIdentifier)
            ours = issuing_ski is not None and _key_identifier(cert, x509.AuthorityKeyIdentifier) == issuing_ski
            raise CertificateInvalid("bad_signature" if ours else "untrusted")
    except ValueError:  # extensions that do not parse (duplicates, bad encodings)
        raise CertificateInvalid("untrusted") from None
    for each in (cert, issuing, root):
        if at < each.not_valid_before_utc:
            raise CertificateInvalid("not_yet_valid")
    for each in (cert, issuing, root):
        if at > each.not_valid_after_utc:
            raise CertificateInvalid("expired")
    # Full RFC 5280 path validation on top (CA flags, path length, key usage, critical extensions):
    # cryptography's verifier, with the end-entity profile relaxed from the web PKI's to ours.
    verifier = (
        PolicyBuilder()
        .store(Store([root]))
        .time(at)
        .max_chain_depth(2)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all())
        .build_client_verifier()
    )
    try:
        verifier.verify(cert, [issuing])
    except VerificationError:
        raise CertificateInvalid("untrusted") from None


def verify_signature(cert: x509.Certificate, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``cert``'s RSASSA-PKCS1-v1_5 SHA-256 signature over ``data`` (what WebCrypto's
    RSASSA-PKCS1-v1_5 gives). Says nothing about the certificate itself: see ``verify_chain``."""
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True
