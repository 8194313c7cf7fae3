"""The financial certificate cloud's interface: the only module of ``certcenter.cloud`` the portal imports.

Frozen dataclasses in and out, never model instances, so the cloud could become a remote service.
``financial_cloud()`` returns the configured implementation (``settings.FINANCIAL_CLOUD``, default
``certcenter.cloud.local.LocalCloud``). Every argument is keyword-only; ``institution`` is a
3-digit institution code (``settings.BANK_CODE`` for ours); ``now`` is an aware datetime.

Refusals raise ``CloudRefused`` with a ``code`` (``Refusal``) and, for a wrong PIN, ``tries_left``.
The cloud returns codes only: the messages are the portal's. Malformed arguments (an institution
that is not 3 digits, an empty name, a phone that is not a mobile number, a new PIN that is not 6
digits, a certificate that does not parse) raise ``ValueError``: the portal's forms check them first.

``sign`` and ``renew`` check the PIN and commit the wrong-PIN count themselves, as a remote service
would, so that no caller's rollback can undo it: call them outside any transaction (inside one,
Django raises ``RuntimeError`` for the durable block). The other operations join the caller's
transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import uuid
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from certcenter.cloud.pins import MAX_WRONG_PINS, PIN_LENGTH, pin_problem

__all__ = [
    "MAX_WRONG_PINS",
    "PIN_LENGTH",
    "CertificateStatus",
    "CloudCertificate",
    "CloudRefused",
    "Enrollment",
    "FinancialCloud",
    "Refusal",
    "Signed",
    "financial_cloud",
    "pin_problem",
]


class CertificateStatus(enum.StrEnum):
    PENDING = "pending"  # key pair made, waiting for the institution's certificate
    ACTIVE = "active"  # usable with the PIN (until not_after)
    LOCKED = "locked"  # 5 wrong PINs: reissue, never unlock
    REVOKED = "revoked"  # key material destroyed
    SUPERSEDED = "superseded"  # renewed: the new certificate is attached


class Refusal(enum.StrEnum):
    UNKNOWN = "unknown"  # no such cloud_id
    NOT_PENDING = "not_pending"  # attach to a record that is not waiting for a certificate
    KEY_MISMATCH = "key_mismatch"  # the certificate is for another public key
    TRIVIAL_PIN = "trivial_pin"  # pin_problem() refused the new PIN
    WRONG_PIN = "wrong_pin"  # see tries_left
    LOCKED = "locked"  # 5 wrong PINs (the 5th wrong answer already says locked)
    REVOKED = "revoked"
    SUPERSEDED = "superseded"  # renewed; or a second renewal of the same certificate
    EXPIRED = "expired"  # past not_after (the expiry day 23:59:59 KST)
    NOT_ACTIVE = "not_active"  # still pending, or not yet valid
    # The key cannot be opened (its CLOUD_KEK id is no longer in the ring): an operations problem,
    # logged as an error; the PIN was not counted.
    UNAVAILABLE = "unavailable"


class CloudRefused(Exception):
    """The cloud refused; ``code`` is a ``Refusal`` value, ``tries_left`` is set for wrong_pin and locked."""

    def __init__(self, code: str, tries_left: int | None = None) -> None:
        super().__init__(code)
        self.code = Refusal(code)
        self.tries_left = tries_left

    def __repr__(self) -> str:
        return f"CloudRefused({self.code.value!r}, tries_left={self.tries_left!r})"


@dataclass(frozen=True)
class Enrollment:
    """A new key pair in the cloud: the institution's CA certifies ``public_key_der`` (SubjectPublicKeyInfo)."""

    cloud_id: uuid.UUID
    public_key_der: bytes


@dataclass(frozen=True)
class CloudCertificate:
    """What the cloud tells about one certificate (never its key, PIN verifier or phone number)."""

    cloud_id: uuid.UUID
    institution: str  # the issuing institution
    holder_name: str  # NFC, whitespace collapsed
    status: CertificateStatus
    wrong_pins: int
    tries_left: int
    serial: str  # decimal; "" while pending
    issuer: str  # the issuing CA's name (RFC 4514); "" while pending
    not_before: dt.datetime | None
    not_after: dt.datetime | None  # the expiry day 23:59:59 KST; None while pending
    certificate_der: bytes  # b"" while pending
    renews: uuid.UUID | None  # the certificate this one renews
    registered: tuple[str, ...]  # institutions it is registered at (the issuing one first), sorted otherwise
    created_at: dt.datetime

    def __repr__(self) -> str:
        return f"<CloudCertificate {self.cloud_id} {self.institution} {self.status.value}>"


@dataclass(frozen=True)
class Signed:
    """RSASSA-PKCS1-v1_5 SHA-256 ``signature`` over the data, and the certificate that verifies it."""

    certificate_der: bytes
    signature: bytes


class FinancialCloud(Protocol):
    def enroll(
        self,
        *,
        institution: str,
        holder_name: str,
        phone: str,
        birth_date: dt.date | None,
        pin: str,
        now: dt.datetime,
    ) -> Enrollment:
        """Make a key pair in the cloud for the holder, locked by ``pin``; status pending. ``birth_date`` (None
        when unknown) only feeds the trivial-PIN rule.

        Raises ``CloudRefused`` (trivial_pin), ``ValueError`` for malformed arguments."""
        ...

    def attach_certificate(self, *, cloud_id: uuid.UUID, certificate_der: bytes, now: dt.datetime) -> CloudCertificate:
        """Store the certificate the institution's CA issued for the enrolled key; status active. Attaching a
        renewal supersedes the certificate it renews.

        Raises ``CloudRefused`` (unknown, not_pending, key_mismatch, superseded), ``ValueError`` for a
        certificate that does not parse."""
        ...

    def sign(self, *, cloud_id: uuid.UUID, pin: str, data: bytes, now: dt.datetime) -> Signed:
        """Sign ``data`` after a correct PIN. Outside any transaction (see the module docstring).

        Raises ``CloudRefused`` (unknown, revoked, superseded, locked, not_active, expired, wrong_pin)."""
        ...

    def find(self, *, holder_name: str, phone: str) -> list[CloudCertificate]:
        """The holder's active and locked certificates (expired ones too: ``not_after`` says so), newest first.

        Raises ``ValueError`` for a phone that is not a mobile number."""
        ...

    def status(self, *, cloud_id: uuid.UUID) -> CloudCertificate:
        """Raises ``CloudRefused`` (unknown)."""
        ...

    def renew(self, *, cloud_id: uuid.UUID, pin: str, now: dt.datetime) -> Enrollment:
        """A new key pair for the same holder and PIN (pending, ``renews`` the old one), after a correct PIN
        counted like ``sign``. Outside any transaction. An earlier renewal not yet attached is abandoned.

        Raises ``CloudRefused`` like ``sign``."""
        ...

    def revoke(self, *, cloud_id: uuid.UUID, reason: str, now: dt.datetime) -> CloudCertificate:
        """Revoke and destroy the key material (also of a pending renewal of it); idempotent.

        Raises ``CloudRefused`` (unknown)."""
        ...

    def register(self, *, cloud_id: uuid.UUID, institution: str, now: dt.datetime) -> CloudCertificate:
        """Register the certificate at ``institution`` (타행 등록; idempotent).

        Raises ``CloudRefused`` (unknown, revoked, superseded, locked, not_active, expired)."""
        ...

    def deregister(self, *, cloud_id: uuid.UUID, institution: str, now: dt.datetime) -> CloudCertificate:
        """Remove the registration at ``institution`` (idempotent). Raises ``CloudRefused`` (unknown)."""
        ...


@functools.lru_cache(maxsize=4)
def _implementation(path: str) -> FinancialCloud:
    if not path:
        raise ImproperlyConfigured("FINANCIAL_CLOUD must name the financial certificate cloud's class")
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"FINANCIAL_CLOUD={path!r} cannot be imported: {exc}") from None
    instance: FinancialCloud = cls()
    return instance


def financial_cloud() -> FinancialCloud:
    """The configured cloud (``settings.FINANCIAL_CLOUD``), made once per class path."""
    return _implementation(getattr(settings, "FINANCIAL_CLOUD", "certcenter.cloud.local.LocalCloud"))
