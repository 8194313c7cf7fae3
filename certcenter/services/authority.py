"""Certificate centre services: set up our CA, publish its CRL, answer OCSP.

The CA private keys are decrypted only here, with ``settings.CA_KEY_PASSPHRASE``, to sign; they
never appear in a log line, an audit event, an error message or the admin. All ``cryptography``
work is in ``certcenter.ca``.

Lock order: the issuing CA's row first (it serialises CRL numbers), then the CRL row, audit last.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.services._common import require_perm
from bankportal.audit.services import audit_record
from certcenter import ca
from certcenter.models import SERIAL_MAX_DIGITS, Certificate, CertificateAuthority, CrlState, serial_text
from certcenter.selectors import crl_current, crl_is_current, pki_urls

logger = logging.getLogger(__name__)

CA_INIT_PERMISSION = "certcenter.add_certificateauthority"
CRL_PERMISSION = "certcenter.change_crlstate"

ROOT_YEARS = 20
ISSUING_YEARS = 10
# A CRL's nextUpdate: the daily job (or the next request) renews it long before this.
CRL_LIFETIME = dt.timedelta(days=2)
OCSP_NEXT_UPDATE = dt.timedelta(hours=1)
# pg_advisory_xact_lock key for ca_init ("CAINIT01" in ASCII): two runs at once never both create.
CA_INIT_LOCK_KEY = 0x4341494E49543031

# Unsigned OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED } (RFC 6960 4.2.1): what a
# responder says when it cannot sign. Constant bytes, so no key is needed to send them.
OCSP_MALFORMED_REQUEST = bytes.fromhex("30030a0101")
OCSP_INTERNAL_ERROR = bytes.fromhex("30030a0102")
OCSP_UNAUTHORIZED = bytes.fromhex("30030a0106")

ERR_WRONG_PASSPHRASE = _(
    "The stored %(role)s private key does not open with CA_KEY_PASSPHRASE: the passphrase is wrong. "
    "Nothing was changed. Set the passphrase the certificate authority was created with."
)
ERR_KEY_UNUSABLE = _(
    "The stored %(role)s cannot be used: %(problem)s. Nothing was changed; restore it from the backup."
)
ERR_KEY_MISMATCH = _(
    "The stored %(role)s private key does not belong to its certificate. Nothing was changed; "
    "restore the key from the backup."
)
ERR_ISSUING_WITHOUT_ROOT = _(
    "An issuing CA exists but no root CA. Nothing was changed; restore the root CA from the backup."
)
ERR_ROOT_CANNOT_SIGN = _(
    "The root CA cannot sign a new issuing CA (%(problem)s). Nothing was changed; "
    "replacing a CA (rotation) is not supported yet."
)
ERR_NOT_INITIALISED = _("The certificate authority is not set up yet: run python manage.py ca_init.")


@dataclass(frozen=True)
class CaSummary:
    """What ``ca_init`` reports about one CA: public facts only."""

    role: str
    created: bool
    subject: str
    serial: str
    fingerprint_sha256: str
    not_before: dt.datetime
    not_after: dt.datetime


@dataclass(frozen=True)
class CaInitResult:
    root: CaSummary
    issuing: CaSummary

    @property
    def created(self) -> tuple[str, ...]:
        """The roles created by this run (empty when both were already present)."""
        return tuple(summary.role for summary in (self.root, self.issuing) if summary.created)


def _passphrase() -> bytes:
    return settings.CA_KEY_PASSPHRASE.encode("utf-8")


def _fingerprint(certificate_der: bytes) -> str:
    return hashlib.sha256(certificate_der).hexdigest()


def colon_hex(hex_digest: str) -> str:
    """``ab12…`` → ``AB:12:…``: how fingerprints are shown (and audited: never RRN-shaped)."""
    return ":".join(hex_digest[i : i + 2] for i in range(0, len(hex_digest), 2)).upper()


def _role_label(role: str) -> str:
    return str(CertificateAuthority.Role(role).label)


def _open(certificate_pem: str, key_pem: str, role: str, passphrase: bytes) -> ca.CaMaterial:
    """The CA's certificate and decrypted key. Raises ``ValidationError`` (wrong_passphrase,
    key_unusable, key_mismatch); the message never carries key material."""
    params: dict[str, Any] = {"role": _role_label(role)}
    try:
        certificate = ca.load_certificate(certificate_pem.encode("ascii"))
    except ValueError:
        raise ValidationError(
            ERR_KEY_UNUSABLE, code="key_unusable", params={**params, "problem": "unreadable certificate"}
        ) from None
    try:
        key = ca.load_private_key(key_pem.encode("ascii"), passphrase)
    except ca.InvalidKeyPassphrase:
        raise ValidationError(ERR_WRONG_PASSPHRASE, code="wrong_passphrase", params=params) from None
    except ca.CaError as exc:  # stored unencrypted, or not RSA: the text names the problem, not the key
        raise ValidationError(ERR_KEY_UNUSABLE, code="key_unusable", params={**params, "problem": str(exc)}) from None
    if key.public_key() != certificate.public_key():
        raise ValidationError(ERR_KEY_MISMATCH, code="key_mismatch", params=params)
    return ca.CaMaterial(certificate=certificate, private_key=key)


@functools.lru_cache(maxsize=4)
def _cached_material(authority_id: int, certificate_pem: str, key_pem: str, passphrase: bytes) -> ca.CaMaterial:
    # Per process: OCSP answers and CRLs need the issuing key on every request, and decrypting it
    # each time would let a flood of requests burn CPU. Keyed by everything that could change.
    return _open(certificate_pem, key_pem, CertificateAuthority.Role.ISSUING, passphrase)


def _signing_material(authority: CertificateAuthority) -> ca.CaMaterial:
    return _cached_material(authority.pk, authority.certificate_pem, authority.key_pem, _passphrase())


def _summary(authority: CertificateAuthority, *, created: bool) -> CaSummary:
    certificate = ca.load_certificate(authority.certificate_pem.encode("ascii"))
    return CaSummary(
        role=authority.role,
        created=created,
        subject=certificate.subject.rfc4514_string(),
        serial=authority.serial,
        fingerprint_sha256=authority.fingerprint_sha256,
        not_before=authority.not_before,
        not_after=authority.not_after,
    )


def _store(
    role: str, material: ca.CaMaterial, *, common_name: str, passphrase: bytes, now: dt.datetime
) -> CertificateAuthority:
    certificate = material.certificate
    return CertificateAuthority.objects.create(
        role=role,
        name=common_name,
        certificate_pem=ca.certificate_pem(certificate).decode("ascii"),
        key_pem=ca.encrypt_private_key(material.private_key, passphrase).decode("ascii"),
        serial=serial_text(certificate.serial_number),
        fingerprint_sha256=_fingerprint(ca.certificate_der(certificate)),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        is_active=True,
        created_at=now,
    )


def _single_flight() -> None:
    """On PostgreSQL, wait for any other ca_init to finish (SQLite runs one writer at a time anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CA_INIT_LOCK_KEY])


@transaction.atomic
def ca_init(*, actor: Any, now: dt.datetime | None = None) -> CaInitResult:
    """Create the root and the issuing CA where missing; check the existing ones open with the passphrase.

    Safe to re-run: an existing CA is never replaced or changed. Writes the audit event ``ca.init``
    when it creates something. Raises ``PermissionDenied`` without ``certcenter.add_certificateauthority``
    and ``ValidationError`` (wrong_passphrase, key_unusable, key_mismatch, issuing_without_root,
    root_cannot_sign), in which case nothing is written.
    """
    require_perm(actor, CA_INIT_PERMISSION)
    now = now or timezone.now()
    passphrase = _passphrase()
    _single_flight()
    active = {authority.role: authority for authority in CertificateAuthority.objects.filter(is_active=True)}
    root_row, issuing_row = active.get(CertificateAuthority.Role.ROOT), active.get(CertificateAuthority.Role.ISSUING)
    if issuing_row is not None and root_row is None:
        raise ValidationError(ERR_ISSUING_WITHOUT_ROOT, code="issuing_without_root")

    organization = settings.BANK_CA_NAME
    root_created = root_row is None
    if root_row is None:
        name = f"{organization} Root CA"
        root = ca.new_root_ca(common_name=name, organization=organization, now=now, years=ROOT_YEARS)
        root_row = _store(CertificateAuthority.Role.ROOT, root, common_name=name, passphrase=passphrase, now=now)
    else:
        root = _open(root_row.certificate_pem, root_row.key_pem, root_row.role, passphrase)

    issuing_created = issuing_row is None
    if issuing_row is None:
        name = f"{organization} Issuing CA"
        if not root.certificate.not_valid_before_utc <= now <= root.certificate.not_valid_after_utc:
            raise ValidationError(
                ERR_ROOT_CANNOT_SIGN, code="root_cannot_sign", params={"problem": "the root CA is not valid now"}
            )
        try:
            issuing = ca.new_issuing_ca(
                root=root,
                common_name=name,
                organization=organization,
                urls=pki_urls(),
                now=now,
                years=ISSUING_YEARS,
            )
        except (ca.CaError, ValueError) as exc:
            raise ValidationError(ERR_ROOT_CANNOT_SIGN, code="root_cannot_sign", params={"problem": str(exc)}) from None
        issuing_row = _store(
            CertificateAuthority.Role.ISSUING, issuing, common_name=name, passphrase=passphrase, now=now
        )
    else:
        _open(issuing_row.certificate_pem, issuing_row.key_pem, issuing_row.role, passphrase)

    result = CaInitResult(
        root=_summary(root_row, created=root_created), issuing=_summary(issuing_row, created=issuing_created)
    )
    if result.created:
        audit_record(
            action="ca.init",
            actor=actor,
            obj=issuing_row,
            details={
                "created": list(result.created),
                **{
                    summary.role: {
                        "subject": summary.subject,
                        "serial": summary.serial,
                        # Colon-separated pairs, as openssl prints it: a bare hex digest can hold a
                        # run of 13 digits, which the audit trail would mask as a resident number.
                        "fingerprint_sha256": colon_hex(summary.fingerprint_sha256),
                        "not_after": summary.not_after.isoformat(),
                    }
                    for summary in (result.root, result.issuing)
                },
            },
        )
    return result


def _revoked_entries(
    issuer: CertificateAuthority, *, now: dt.datetime
) -> list[tuple[int, dt.datetime, ca.RevocationReason]]:
    # An expired certificate fails validation anyway and may leave the CRL (RFC 5280 3.3); the
    # expiry second itself is still valid, so it stays listed through it.
    rows = (
        Certificate.objects.filter(issuer=issuer, revoked_at__isnull=False, not_after__gte=now)
        .order_by("revoked_at", "id")
        .values_list("serial", "revoked_at", "revocation_reason")
    )
    return [
        (int(serial), revoked_at, ca.RevocationReason(reason))
        for serial, revoked_at, reason in rows
        if revoked_at is not None  # always, by the filter; narrows the type
    ]


@transaction.atomic
def crl_regenerate(*, actor: Any, now: dt.datetime | None = None, only_if_out_of_date: bool = False) -> CrlState:
    """Sign a new CRL (number + 1) of the active issuing CA's revoked, unexpired certificates and store it.

    With ``only_if_out_of_date`` a CRL that is still current (another request made it meanwhile) is
    returned as it is. Audited as ``crl.regenerate``. Raises ``PermissionDenied`` without
    ``certcenter.change_crlstate`` and ``ValidationError`` (not_initialised, wrong_passphrase, ...).
    """
    require_perm(actor, CRL_PERMISSION)
    now = now or timezone.now()
    # Locks the issuing CA's row: two regenerations (the daily job, a revocation, a request) never
    # sign two different CRLs with the same number.
    issuing = (
        CertificateAuthority.objects.select_for_update()
        .filter(role=CertificateAuthority.Role.ISSUING, is_active=True)
        .first()
    )
    if issuing is None:
        raise ValidationError(ERR_NOT_INITIALISED, code="not_initialised")
    state = CrlState.objects.filter(issuer=issuing).first()
    if only_if_out_of_date and state is not None and crl_is_current(state, now=now):
        return state
    material = _signing_material(issuing)
    revoked = _revoked_entries(issuing, now=now)
    number = state.number + 1 if state is not None else 1
    next_update = now + CRL_LIFETIME
    crl = ca.build_crl(issuer=material, revoked=revoked, number=number, now=now, next_update=next_update)
    if state is None:
        state = CrlState(issuer=issuing)
    state.number = number
    state.crl_der = ca.crl_der(crl)
    state.generated_at = now
    state.next_update = next_update
    state.revoked_count = len(revoked)
    state.save()
    audit_record(action="crl.regenerate", actor=actor, obj=state, details={"number": number, "revoked": len(revoked)})
    return state


def crl_for_publication(*, actor: Any, now: dt.datetime | None = None) -> CrlState:
    """The current CRL, regenerated first if there is none yet or it is out of date (/pki/crl/).

    Raises ``ValidationError`` (not_initialised, ...) like ``crl_regenerate``."""
    now = now or timezone.now()
    return crl_current(now=now) or crl_regenerate(actor=actor, now=now, only_if_out_of_date=True)


def _certificate_status(issuer: CertificateAuthority, serial: int) -> ca.CertStatus:
    if serial <= 0 or len(str(serial)) > SERIAL_MAX_DIGITS:
        return ca.CertStatus("unknown")
    row = (
        Certificate.objects.filter(issuer=issuer, serial=serial_text(serial))
        .values("revoked_at", "revocation_reason")
        .first()
    )
    if row is None:
        return ca.CertStatus("unknown")
    if row["revoked_at"] is not None:
        return ca.CertStatus(
            "revoked", revoked_at=row["revoked_at"], reason=ca.RevocationReason(row["revocation_reason"])
        )
    # OCSP speaks of revocation only: an expired, never revoked certificate is "good" (RFC 6960 2.2).
    return ca.CertStatus("good")


def ocsp_answer(request_der: bytes, *, now: dt.datetime | None = None) -> bytes:
    """The DER OCSP response to ``request_der`` (RFC 6960), signed by the active issuing CA.

    Never raises for bad input: garbage gets malformedRequest, a request before ``ca_init``
    unauthorized, an issuing key that does not open internalError (logged, without the key).
    Writes nothing: answers are not audited (relying parties ask on every use).
    """
    now = now or timezone.now()
    issuing = CertificateAuthority.objects.filter(role=CertificateAuthority.Role.ISSUING, is_active=True).first()
    if issuing is None:
        return OCSP_UNAUTHORIZED
    try:
        material = _signing_material(issuing)
    except ValidationError as exc:
        logger.error("OCSP: the issuing CA key cannot be used (%s); answering internalError", exc.code)
        return OCSP_INTERNAL_ERROR
    return ca.ocsp_respond(
        issuer=material,
        request_der=request_der,
        lookup=lambda serial: _certificate_status(issuing, serial),
        now=now,
        next_update=OCSP_NEXT_UPDATE,
    )
