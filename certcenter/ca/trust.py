"""Other institutions' CAs (타행/타기관 인증서): loading a CA certificate to trust, checking a certificate one
of them issued, and the identity hash such a certificate may carry.

Pure: the standard library and ``cryptography`` only, no ORM; time is an argument.

* A trusted CA is the certificate that **directly** signed the customer's certificate (another bank's
  issuing CA, e.g. its "Class 2" CA), not the root above it: the chain is one link, checked here to
  the second, like ``verify.verify_chain``.
* The identity hash comes in two forms, and a certificate carries at most one of them:

  - ours (``identity``): ``otherName(ARC.2.1, OCTET STRING SHA-256(SHA-256(digits || R)))``, R kept
    in the key file as the PKCS#8 attribute ``ARC.2.2`` (an OCTET STRING);
  - KISA's VID (real Korean joint certificates): ``otherName(1.2.410.200004.10.1.1, IdentifyData)``
    whose ``VID`` (``1.2.410.200004.10.1.1.1``) holds the hash algorithm and
    ``H(H(DER(SEQUENCE { PrintableString digits, BIT STRING randomNum })))``, randomNum kept in the
    key file as the PKCS#8 attribute ``1.2.410.200004.10.1.1.3`` (a BIT STRING). SHA-256 or SHA-1.

  In both, the random value comes from the customer's key file (read in the browser); the key
  itself never leaves it.
* Revocation: the CA's CRL (``load_crl``), checked as signed by the trusted CA certificate itself
  (the same key that signs the customers' certificates; no separate CRL signer), complete (no delta,
  no partitioned or indirect CRL, no critical extension we do not understand) and current.
* Errors: ``InvalidCaCertificate.code`` (unreadable, not_ca) when loading; ``CertificateInvalid.code``
  (not_end_entity, untrusted, bad_signature, not_yet_valid, expired) when checking; ``InvalidCrl.code``
  (unreadable, foreign, bad_signature, not_crl_signer, unsupported, no_next_update, not_yet_valid,
  expired) for a CRL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from .common import IDENTITY_OID, CaError, CertificateInvalid, utc
from .identity import certificate_identity, identity_hash

KISA_IDENTIFY_DATA_OID = x509.ObjectIdentifier("1.2.410.200004.10.1.1")
KISA_VID_OID = "1.2.410.200004.10.1.1.1"
KISA_RANDOM_NUM_OID = "1.2.410.200004.10.1.1.3"
_HASHES = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "1.3.14.3.2.26": "sha1",
}
_MIN_RANDOM_BYTES = 16  # as identity.identity_hash: a short R would let the RRN be guessed from the hash
_MAX_DEPTH = 8


class InvalidCaCertificate(CaError):
    """The file cannot be trusted as a CA; ``code``: unreadable, not_ca."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _is_pem(data: bytes) -> bool:
    return data.lstrip().startswith(b"-----BEGIN")


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def _may_sign_certificates(cert: x509.Certificate) -> bool:
    """CA:true, and keyCertSign when the certificate limits its key's usage at all."""
    constraints = _basic_constraints(cert)
    if constraints is None or not constraints.ca:
        return False
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.key_cert_sign


def load_ca_certificate(data: bytes) -> x509.Certificate:
    """A CA certificate from PEM or DER. Raises ``InvalidCaCertificate``: ``unreadable`` for anything
    that is not one certificate, ``not_ca`` for a certificate that may not sign certificates (no
    basicConstraints CA:true, or a keyUsage without keyCertSign)."""
    try:
        cert = x509.load_pem_x509_certificate(data) if _is_pem(data) else x509.load_der_x509_certificate(data)
        # Touch the parts checked later, so a broken encoding fails here and not in a login.
        cert.public_key()
        may_sign = _may_sign_certificates(cert)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidCaCertificate("unreadable") from None
    if not may_sign:
        raise InvalidCaCertificate("not_ca")
    return cert


def fingerprint_sha256(cert: x509.Certificate) -> str:
    """Lower-case hex SHA-256 of the certificate's DER."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def signed_by(cert: x509.Certificate, authority: x509.Certificate) -> bool:
    """Whether ``authority``'s name is ``cert``'s issuer and its key made ``cert``'s signature."""
    try:
        cert.verify_directly_issued_by(authority)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _key_identifier(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> bytes | None:
    try:
        value = cert.extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    if isinstance(value, x509.SubjectKeyIdentifier):
        return value.digest
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return value.key_identifier
    return None


def verify_issued_by_trusted(cert: x509.Certificate, *, authority: x509.Certificate, now: dt.datetime) -> None:
    """Accept ``cert`` only if it is an end-entity certificate signed directly by the trusted CA certificate
    ``authority`` and both are valid at ``now`` (to the second: ``notAfter`` itself is still valid).

    Raises ``CertificateInvalid`` with ``code`` not_end_entity, untrusted, bad_signature (the CA's key
    identifier but not its signature: altered after signing), not_yet_valid or expired, checked in that
    order, so a forged certificate is never told to renew."""
    at = utc(now)
    try:
        constraints = _basic_constraints(cert)
        if cert == authority or (constraints is not None and constraints.ca):
            raise CertificateInvalid("not_end_entity")
        if not _may_sign_certificates(authority) or cert.issuer != authority.subject:
            raise CertificateInvalid("untrusted")
        if not signed_by(cert, authority):
            authority_ski = _key_identifier(authority, x509.SubjectKeyIdentifier)
            altered = authority_ski is not None and _key_identifier(cert, x509.AuthorityKeyIdentifier) == authority_ski
            raise CertificateInvalid("bad_signature" if altered else "untrusted")
    except ValueError:  # extensions that do not parse (duplicates, bad encodings)
        raise CertificateInvalid("untrusted") from None
    for each in (cert, authority):
        if at < each.not_valid_before_utc:
            raise CertificateInvalid("not_yet_valid")
    for each in (cert, authority):
        if at > each.not_valid_after_utc:
            raise CertificateInvalid("expired")


# --- revocation: the trusted CA's CRL -------------------------------------------------------------------

# A CA's clock may run a little ahead of ours: a CRL made "in the next minutes" is not refused for that.
CRL_CLOCK_SKEW = dt.timedelta(minutes=5)
# Extensions whose meaning we apply; a critical one outside this set makes the CRL unusable (RFC 5280 5.2).
_CRL_EXTENSIONS_UNDERSTOOD = {
    x509.ExtensionOID.CRL_NUMBER,
    x509.ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    x509.ExtensionOID.ISSUING_DISTRIBUTION_POINT,
    x509.ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
    x509.ExtensionOID.ISSUER_ALTERNATIVE_NAME,
    x509.ExtensionOID.FRESHEST_CRL,
}
_ENTRY_EXTENSIONS_UNDERSTOOD = {
    x509.CRLEntryExtensionOID.CRL_REASON,
    x509.CRLEntryExtensionOID.INVALIDITY_DATE,
}


class InvalidCrl(CaError):
    """The CRL cannot be used for the trusted CA; ``code``: unreadable, foreign (another CA's),
    bad_signature (the CA's name, not its key), not_crl_signer (the CA certificate may not sign CRLs),
    unsupported (a delta, partitioned or indirect CRL, or a critical extension we do not understand),
    no_next_update, not_yet_valid, expired."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class RevokedSerial:
    serial: int
    revoked_at: dt.datetime


@dataclass(frozen=True)
class CrlContents:
    """A verified CRL: its times (UTC), its CRL number (``None`` without the extension) and its
    revoked serials, one entry per serial (the earliest date if a serial is listed twice), by serial."""

    this_update: dt.datetime
    next_update: dt.datetime
    number: int | None
    revoked: tuple[RevokedSerial, ...]


def _may_sign_crls(cert: x509.Certificate) -> bool:
    """CA:true, and cRLSign when the certificate limits its key's usage at all."""
    constraints = _basic_constraints(cert)
    if constraints is None or not constraints.ca:
        return False
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.crl_sign


def _complete(crl: x509.CertificateRevocationList) -> bool:
    """A full CRL of every certificate the CA issued: not a delta, not limited to some reasons,
    certificate kinds or one distribution point, not listing other issuers' certificates."""
    for extension in crl.extensions:
        if extension.oid == x509.ExtensionOID.DELTA_CRL_INDICATOR:
            return False
        if extension.oid == x509.ExtensionOID.ISSUING_DISTRIBUTION_POINT:
            scope = extension.value
            if (
                scope.full_name
                or scope.relative_name
                or scope.only_some_reasons
                or scope.indirect_crl
                or scope.only_contains_ca_certs
                or scope.only_contains_attribute_certs
            ):
                return False
        elif extension.critical and extension.oid not in _CRL_EXTENSIONS_UNDERSTOOD:
            return False
    return True


def _entries(crl: x509.CertificateRevocationList) -> tuple[RevokedSerial, ...]:
    earliest: dict[int, dt.datetime] = {}
    for entry in crl:
        for extension in entry.extensions:
            if extension.oid == x509.CRLEntryExtensionOID.CERTIFICATE_ISSUER or (
                extension.critical and extension.oid not in _ENTRY_EXTENSIONS_UNDERSTOOD
            ):
                raise InvalidCrl("unsupported")
        when = entry.revocation_date_utc
        serial = entry.serial_number
        if serial not in earliest or when < earliest[serial]:
            earliest[serial] = when
    return tuple(RevokedSerial(serial=serial, revoked_at=earliest[serial]) for serial in sorted(earliest))


def load_crl(data: bytes, *, authority: x509.Certificate, now: dt.datetime) -> CrlContents:
    """The CRL in ``data`` (PEM or DER), if ``authority`` (the trusted CA certificate) signed it and it
    is current at ``now``: its this update no later than ``now`` plus ``CRL_CLOCK_SKEW``, its next
    update not passed (the next update itself is still current).

    Raises ``InvalidCrl`` with ``code`` unreadable, foreign, not_crl_signer, bad_signature,
    unsupported, no_next_update, not_yet_valid or expired, checked in that order, so an unsigned
    CRL is never reported as merely out of date."""
    at = utc(now)
    try:
        crl = x509.load_pem_x509_crl(data) if _is_pem(data) else x509.load_der_x509_crl(data)
        if crl.issuer != authority.subject:
            raise InvalidCrl("foreign")
        if not _may_sign_crls(authority):
            raise InvalidCrl("not_crl_signer")
        if not crl.is_signature_valid(authority.public_key()):  # type: ignore[arg-type]
            raise InvalidCrl("bad_signature")
        if not _complete(crl):
            raise InvalidCrl("unsupported")
        revoked = _entries(crl)
        try:
            number: int | None = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        except x509.ExtensionNotFound:
            number = None
        this_update, next_update = crl.last_update_utc, crl.next_update_utc
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidCrl("unreadable") from None
    if next_update is None:
        raise InvalidCrl("no_next_update")
    if this_update > at + CRL_CLOCK_SKEW:
        raise InvalidCrl("not_yet_valid")
    if at > next_update:
        raise InvalidCrl("expired")
    return CrlContents(this_update=this_update, next_update=next_update, number=number, revoked=revoked)


# --- identity hash ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentityClaim:
    """The identity hash a certificate carries: ``form`` "bank" (ours) or "kisa"; ``hash_name`` the
    algorithm of a KISA VID (``None`` if it names one we do not know)."""

    form: str
    value: bytes
    hash_name: str | None = "sha256"


def _tlv(data: bytes, at: int) -> tuple[int, bytes, int]:
    """(tag, content, end) of the DER element at ``at``; ``ValueError`` if it does not fit."""
    if at + 2 > len(data):
        raise ValueError("truncated")
    tag, first = data[at], data[at + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tag")
    start = at + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("truncated")
    return tag, data[start:end], end


def _primitives(data: bytes, depth: int = 0) -> Iterator[tuple[int, bytes]]:
    """Every primitive element inside ``data`` (a run of DER elements), in document order."""
    if depth > _MAX_DEPTH:
        raise ValueError("nested too deeply")
    at = 0
    while at < len(data):
        tag, content, at = _tlv(data, at)
        if tag & 0x20:  # constructed: SEQUENCE, SET, [n] EXPLICIT
            yield from _primitives(content, depth + 1)
        else:
            yield tag, content


def _decode_oid(content: bytes) -> str:
    values: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            values.append(value)
            value = 0
    if not values:
        raise ValueError("empty OID")
    head = values[0]
    first = min(head // 40, 2)
    return ".".join(str(arc) for arc in [first, head - first * 40, *values[1:]])


def _kisa_vid(value: bytes) -> IdentityClaim | None:
    """The VID in KISA's IdentifyData: after the VID OID, the hash algorithm's OID and the OCTET STRING."""
    seen_vid = False
    hash_oid: str | None = None
    for tag, content in _primitives(value):
        if tag == 0x06:
            oid = _decode_oid(content)
            if oid == KISA_VID_OID:
                seen_vid = True
            elif seen_vid and hash_oid is None:
                hash_oid = oid
        elif tag == 0x04 and seen_vid:
            return IdentityClaim(form="kisa", value=content, hash_name=_HASHES.get(hash_oid or ""))
    return None


def external_identity(cert: x509.Certificate) -> IdentityClaim | None:
    """The identity hash in ``cert``'s subjectAltName (ours or KISA's VID); ``None`` if it carries none."""
    ours = certificate_identity(cert)
    if ours is not None:
        return IdentityClaim(form="bank", value=ours)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    for name in san.get_values_for_type(x509.OtherName):
        if name.type_id == IDENTITY_OID:
            # Ours but not an OCTET STRING: an identity claim that cannot match anything.
            return IdentityClaim(form="bank", value=b"")
        if name.type_id == KISA_IDENTIFY_DATA_OID:
            try:
                return _kisa_vid(name.value) or IdentityClaim(form="kisa", value=b"", hash_name=None)
            except ValueError:
                return IdentityClaim(form="kisa", value=b"", hash_name=None)
    return None


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(size)]) + size


def kisa_vid(id_number: str, random_num: bytes, *, hash_name: str = "sha256") -> bytes:
    """KISA's VID: ``H(H(DER(SEQUENCE { PrintableString digits, BIT STRING random_num })))``.

    Raises ``ValueError`` for an id number without digits, a random value under 16 bytes or an
    unknown hash."""
    digits = "".join(ch for ch in id_number if ch in "0123456789")
    if not digits:
        raise ValueError("the identity number has no digits")
    if len(random_num) < _MIN_RANDOM_BYTES:
        raise ValueError("the identity random value is too short")
    if hash_name not in _HASHES.values():
        raise ValueError(f"unsupported VID hash {hash_name!r}")
    printable = b"\x13" + _der_length(len(digits)) + digits.encode("ascii")
    bits = b"\x03" + _der_length(len(random_num) + 1) + b"\x00" + random_num
    content = b"\x30" + _der_length(len(printable) + len(bits)) + printable + bits
    # SHA-1 only where an older certificate's VID names it: comparing, not protecting anything new.
    inner = hashlib.new(hash_name, content, usedforsecurity=False).digest()
    return hashlib.new(hash_name, inner, usedforsecurity=False).digest()


def external_identity_matches(claim: IdentityClaim, id_number: str, random_value: bytes) -> bool:
    """Whether ``claim`` is the identity hash of ``id_number`` with ``random_value`` (from the key file)."""
    if not claim.value or claim.hash_name is None:
        return False
    try:
        if claim.form == "kisa":
            computed = kisa_vid(id_number, random_value, hash_name=claim.hash_name)
        else:
            computed = identity_hash(id_number, random_value)
    except ValueError:
        return False
    return hmac.compare_digest(claim.value, computed)
