"""The identity hash in subjectAltName: binds a certificate to a real-name number without revealing it.

Mirrors the Korean VID (KISA's "본인확인 식별정보"): ``VID = H(H(IDN || R))``, where IDN is the resident
registration number (or business registration number) as digits only, R is 20 random bytes, and H is SHA-256.
The certificate carries only the hash, as an ``otherName`` whose type-id is ``IDENTITY_OID`` and whose value is
a DER OCTET STRING. R is generated at issue and kept with the private key (never in the certificate), so only
the key holder, who also knows the number, can show that the certificate belongs to it. Without R, anyone
holding the certificate could find the RRN by hashing every plausible one (a birth date and a few digits).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography import x509

from .common import IDENTITY_OID, POLICY_OIDS, CertificateKind

IDENTITY_RANDOM_BYTES = 20
_MIN_RANDOM_BYTES = 16  # R guards a 13-digit number against guessing: never accept a short one


def new_identity_random() -> bytes:
    return secrets.token_bytes(IDENTITY_RANDOM_BYTES)


def identity_hash(id_number: str, r: bytes) -> bytes:
    """SHA-256(SHA-256(id_number_digits || r)); dashes and spaces in ``id_number`` are ignored.

    Raises ``ValueError`` if ``id_number`` has no digits or ``r`` is shorter than 16 bytes."""
    digits = "".join(ch for ch in id_number if ch in "0123456789")
    if not digits:
        raise ValueError("the identity number has no digits")
    if len(r) < _MIN_RANDOM_BYTES:
        raise ValueError("the identity random value is too short")
    inner = hashlib.sha256(digits.encode("ascii") + r).digest()
    return hashlib.sha256(inner).digest()


def der_octet_string(value: bytes) -> bytes:
    length = len(value)
    if length < 0x80:
        return b"\x04" + bytes([length]) + value
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return b"\x04" + bytes([0x80 | len(size)]) + size + value


def parse_der_octet_string(data: bytes) -> bytes | None:
    """The content of a DER OCTET STRING that is exactly ``data``; ``None`` if it is anything else."""
    if len(data) < 2 or data[0] != 0x04:
        return None
    first = data[1]
    if first < 0x80:
        length, start = first, 2
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            return None
        length, start = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    if len(data) != start + length:
        return None
    return data[start:]


def certificate_identity(cert: x509.Certificate) -> bytes | None:
    """The identity hash in the certificate's subjectAltName, or ``None`` if it carries none."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):  # none, or extensions that do not parse
        return None
    for name in san.get_values_for_type(x509.OtherName):
        if name.type_id == IDENTITY_OID:
            return parse_der_octet_string(name.value)
    return None


def identity_matches(cert: x509.Certificate, id_number: str, r: bytes) -> bool:
    """Whether the certificate's identity hash is that of ``id_number`` with ``r`` (``False`` if it has none)."""
    stored = certificate_identity(cert)
    if stored is None:
        return False
    try:
        computed = identity_hash(id_number, r)
    except ValueError:
        return False
    return hmac.compare_digest(stored, computed)


def certificate_kind(cert: x509.Certificate) -> CertificateKind | None:
    """The kind named by the certificate's policy OID; ``None`` for a certificate under none of ours."""
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    by_oid = {oid: kind for kind, oid in POLICY_OIDS.items()}
    for policy in policies:
        if policy.policy_identifier in by_oid:
            return by_oid[policy.policy_identifier]
    return None
