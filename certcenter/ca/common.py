"""The CA's profile: OID arc, certificate kinds, errors, shared value types and the validity-period rule."""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

KST = zoneinfo.ZoneInfo("Asia/Seoul")

# The project's own OID arc: a UUID-derived OID under 2.25 (ITU-T X.667 / ISO/IEC 9834-8), which needs no
# registration and cannot collide with another organisation's arc. Generated once (uuid4
# 216f9187-9122-4bc9-b91d-7e3ad4a9d3d5) and never to be changed: issued certificates carry it. Never reuse
# another CA's OIDs (e.g. KISA's 1.2.410.200004.*): our certificates would claim policies we do not operate.
ARC_UUID = "216f9187-9122-4bc9-b91d-7e3ad4a9d3d5"
ARC = "2.25.44443820502310846391072228420191114197"

CA_KEY_BITS = 3072
CUSTOMER_KEY_BITS = 2048


class CertificateKind(enum.StrEnum):
    RESTRICTED = "restricted"  # 용도제한용: banking, insurance, card
    GENERAL = "general"  # 범용 (individual)
    CORPORATE = "corporate"  # 범용 (corporate)
    E_TAX = "e_tax"  # 전자세금용
    FINANCIAL = "financial"  # 금융인증서: key held in the financial certificate cloud


# ARC.1.<n>: certificate policies, one per kind.
POLICY_OIDS: dict[CertificateKind, x509.ObjectIdentifier] = {
    CertificateKind.RESTRICTED: x509.ObjectIdentifier(f"{ARC}.1.1"),
    CertificateKind.GENERAL: x509.ObjectIdentifier(f"{ARC}.1.2"),
    CertificateKind.CORPORATE: x509.ObjectIdentifier(f"{ARC}.1.3"),
    CertificateKind.E_TAX: x509.ObjectIdentifier(f"{ARC}.1.4"),
    CertificateKind.FINANCIAL: x509.ObjectIdentifier(f"{ARC}.1.5"),
}
# ARC.2.1: the otherName type-id of the identity hash in subjectAltName.
IDENTITY_OID = x509.ObjectIdentifier(f"{ARC}.2.1")


class CaError(Exception):
    """A CA operation was refused."""


class InvalidCsr(CaError):
    """The request or public key is refused; ``code``: malformed, bad_signature, key_type, key_size, hash."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class InvalidKeyPassphrase(CaError):
    """The encrypted private key does not open with this passphrase."""


class CertificateInvalid(CaError):
    """The certificate is not acceptable now; ``code``: expired, not_yet_valid, untrusted, bad_signature,
    not_end_entity."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class CaMaterial:
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey


@dataclass(frozen=True)
class PkiUrls:
    crl: str  # e.g. https://bank.example/pki/crl/
    ocsp: str  # e.g. https://bank.example/pki/ocsp
    ca_issuer: str  # e.g. https://bank.example/pki/ca/issuing.der


def utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC, whole seconds (X.509 times have no fractions); naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an aware datetime is required")
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def expiry_for(issued_at: dt.datetime, *, years: int = 1) -> dt.datetime:
    """23:59:59 KST on the expiry day: the KST date of issue plus ``years`` (29 February → 28 February)."""
    if years < 1:
        raise ValueError("years must be at least 1")
    issued_on = utc(issued_at).astimezone(KST).date()
    year = issued_on.year + years
    try:
        expiry_day = issued_on.replace(year=year)
    except ValueError:  # 29 February into a common year
        expiry_day = dt.date(year, 2, 28)
    return dt.datetime.combine(expiry_day, dt.time(23, 59, 59), tzinfo=KST)
