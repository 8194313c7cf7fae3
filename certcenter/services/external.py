"""Other institutions' certificates (타행/타기관 인증서 등록) and the CAs trusted to issue them.

Operations trust another institution's CA with ``ca_trust_add`` (``trusted_authority_add``) and stop
trusting it with ``ca_trust_remove`` (``trusted_authority_remove``); both are idempotent and audited
with the command's system actor. Our own CAs and certificates that may not sign certificates are
refused. A removed CA keeps its row (registrations and evidence point at it), but nothing under it
is accepted any more: neither a new registration nor a login or e-signature (``certcenter.services.login``
looks only at active trusted CAs).

A customer registers such a certificate in the certificate centre (``certcenter.external``): the
page identifies them with the agreement's data, checks the security medium and the additional
authentication (SMS or ARS code), then the browser signs a server-issued canonical text bound to the
flow with the certificate's key. ``external_certificate_register`` checks, in one transaction: the
agreement (locked, active), spends the additional authentication (a callable, as in
``certificate_reissue``: ``certcenter`` does not import ``otp``), the certificate was signed directly
by an active trusted CA and is valid now, the signature over the text, the identity hash when the
certificate carries one (ours or KISA's VID, with the random value the browser read from the key
file — never the key), and that no other customer holds a registration of it. Then the
``ExternalCertificate`` row, the signature as ``SignatureEvidence`` and the audit event, and an SMS
notice on commit. Any refusal writes nothing (the spent verification rolls back with it) and is
audited in its own transaction.

Revocation: a certificate listed in its CA's loaded CRL is refused, and so is every certificate of
a CA whose loaded CRL is past its next update; a CA whose CRL was never loaded is not checked
(``certcenter.services.external_crl``, where operations load CRLs). Other institutions' OCSP
responders are not asked.

Lock order: the agreement row, then the registrations of the same certificate, audit last.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.identity import customer_rrn
from accounts.models import Agreement, Customer
from accounts.services._common import Actor, is_staff_actor, require_customer_or_perm, require_perm
from accounts.services.agreements import WEB_FLOW_PERMISSIONS
from bankportal.actors import SystemActor, system_actor
from bankportal.audit.services import audit_record
from bankportal.notifications.services import send_sms_on_commit
from bankportal.timeutil import kst_today
from certcenter import ca
from certcenter.cloud.api import CloudRefused, financial_cloud
from certcenter.models import (
    SERIAL_MAX_DIGITS,
    CertificateAuthority,
    ExternalCertificate,
    SignatureEvidence,
    TrustedAuthority,
    serial_text,
)
from certcenter.services.authority import colon_hex
from certcenter.services.external_crl import external_revocation_check
from certcenter.services.login import (
    ERR_BAD_SIGNATURE,
    check_external_chain,
    parse_certificate,
    store_evidence,
    trusted_authority_for,
)
from certcenter.signing import canonical_text

logger = logging.getLogger(__name__)

TRUST_PERMISSION = "certcenter.add_trustedauthority"
UNTRUST_PERMISSION = "certcenter.change_trustedauthority"
REGISTER_PERMISSION = "certcenter.add_externalcertificate"
DEREGISTER_PERMISSION = "certcenter.change_externalcertificate"
ADDITIONAL_AUTH_PURPOSE = "other_bank_certificate"  # otp.models.AdditionalAuthChallenge.Purpose
IDENTITY_RANDOM_MAX = 64
NAME_MAX = 200
SUBJECT_MAX = 1000
SUBJECT_CN_MAX = 200
TEXT_PURPOSE = "external_registration"

Status = ExternalCertificate.Status

ERR_CA_UNREADABLE = _("The file is not a certificate (PEM or DER). Check that you chose the CA certificate file.")
ERR_CA_NOT_CA = _(
    "This certificate is not a CA certificate (it may not sign other certificates). Give the certificate of "
    "the CA that signs the customers' certificates."
)
ERR_CA_OURS = _(
    "This is one of this bank's own CA certificates; its certificates are accepted already. Nothing was added."
)
ERR_CA_EXPIRED = _("This CA certificate expired on %(date)s. Ask the institution for its current CA certificate.")
ERR_CA_SUBJECT = _("This CA certificate's subject name is too long to be kept. Nothing was added.")
ERR_FINGERPRINT = _(
    "Give the CA's SHA-256 fingerprint: 64 hexadecimal digits, with or without colons (see ca_trust_list)."
)
ERR_UNKNOWN_AUTHORITY = _("No trusted CA has this fingerprint. See ca_trust_list for the trusted CAs.")

ERR_MEDIUM_NOT_VERIFIED = _("Answer the security medium challenge first.")
ERR_ADDITIONAL_AUTH_REQUIRED = _("Verify the code sent to your phone first.")
ERR_AGREEMENT_NOT_ACTIVE = _(
    "Certificates are registered only while internet banking is in normal use. Release a suspension first, "
    "or visit a branch."
)
ERR_NOT_TRUSTED = _(
    "This certificate was not issued by an institution whose certificates this bank accepts, or it has "
    "been altered. Use a joint certificate from another bank or accredited institution, or issue one in "
    "this certificate centre."
)
ERR_OUR_CERTIFICATE = _(
    "This certificate was issued by this bank: it needs no registration. Log in with it in the certificate centre."
)
ERR_IDENTITY_RANDOM_MISSING = _(
    "The key file of this certificate does not hold the value that proves whose certificate it is. Choose "
    "the key file (signPri.key) that came with the certificate."
)
ERR_IDENTITY_MISMATCH = _(
    "This certificate was not issued to the resident registration number (or business number) you entered. "
    "Register a certificate issued in your own name."
)
ERR_ALREADY_REGISTERED = _(
    "This certificate is already registered for your internet banking (since %(date)s). You can log in with it now."
)
ERR_REGISTERED_ELSEWHERE = _(
    "This certificate is registered to another customer of this bank, so it cannot be registered for you. "
    "If it is yours, call the customer centre or visit a branch."
)
ERR_NOT_OWN = _("You can only manage your own certificates.")
ERR_STAFF = _("Staff do not register or delete customers' certificates; the customer does, online.")
ERR_NOT_REGISTERED = _("This certificate's registration was already deleted.")
ERR_CLOUD_REFUSED = _(
    "The financial certificate cloud refused this certificate (it may be locked, revoked or expired). "
    "Check it at the institution that issued it."
)

REGISTERED_SMS = _(
    "[%(bank)s] A joint certificate of another institution (%(issuer)s) was registered for your internet "
    "banking on %(date)s. If this was not you, call us at once."
)


# --- actors -----------------------------------------------------------------------------------------


def trust_command_actor(command: str) -> SystemActor:
    """The named actor of the ``ca_trust_*`` commands."""
    return system_actor(f"command:{command}", {TRUST_PERMISSION, UNTRUST_PERMISSION})


def external_web_actor() -> SystemActor:
    """The named actor of the anonymous registration pages: the agreement web flows' checks
    (identification, account password, security medium, additional authentication) plus registering."""
    return system_actor("certcenter_external_web", WEB_FLOW_PERMISSIONS | {REGISTER_PERMISSION})


def _refuse(message: Any, code: str, **params: Any) -> ValidationError:
    return ValidationError(message, code=code, params=params or None)


def _kst_date(moment: dt.datetime) -> str:
    return moment.astimezone(ca.KST).date().isoformat()


# --- trusted CAs (operations) -----------------------------------------------------------------------


@dataclass(frozen=True)
class TrustChange:
    """What ``trusted_authority_add`` / ``_remove`` did: ``changed`` is False for a repeat."""

    authority: TrustedAuthority
    changed: bool


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def normalise_fingerprint(text: str) -> str:
    """``AB:12:…`` or ``ab12…`` → 64 lower-case hex digits; ``ValidationError`` (fingerprint) otherwise."""
    plain = re.sub(r"[\s:]", "", text or "").lower()
    if not re.fullmatch(r"[0-9a-f]{64}", plain):
        raise _refuse(ERR_FINGERPRINT, "fingerprint")
    return plain


def trusted_authority_add(
    *, certificate: bytes, name: str = "", actor: Actor, now: dt.datetime | None = None
) -> TrustChange:
    """Trust another institution's CA certificate (PEM or DER) for registering its customers' certificates.

    Idempotent: a CA trusted already is left as it is (``changed`` False); a removed one is trusted
    again. ``name`` defaults to the certificate's common name. Audited ``trusted_authority.add`` (or
    ``.restore``). Raises ``ValidationError`` (unreadable, not_ca, own_ca, expired, subject_too_long);
    ``PermissionDenied`` without ``certcenter.add_trustedauthority``."""
    require_perm(actor, TRUST_PERMISSION)
    now = now or timezone.now()
    try:
        cert = ca.load_ca_certificate(bytes(certificate))
    except ca.InvalidCaCertificate as invalid:
        message = ERR_CA_NOT_CA if invalid.code == "not_ca" else ERR_CA_UNREADABLE
        raise _refuse(message, invalid.code) from None
    fingerprint = ca.fingerprint_sha256(cert)
    ours = {row.fingerprint_sha256 for row in CertificateAuthority.objects.defer("key_pem")}
    if fingerprint in ours or any(
        ca.load_certificate(row.certificate_pem.encode("ascii")).public_key() == cert.public_key()
        for row in CertificateAuthority.objects.defer("key_pem")
    ):
        raise _refuse(ERR_CA_OURS, "own_ca")
    if now > cert.not_valid_after_utc:
        raise _refuse(ERR_CA_EXPIRED, "expired", date=_kst_date(cert.not_valid_after_utc))
    subject = cert.subject.rfc4514_string()
    if len(subject) > SUBJECT_MAX:
        raise _refuse(ERR_CA_SUBJECT, "subject_too_long")
    label = (" ".join(name.split()) or _common_name(cert.subject) or subject)[:NAME_MAX]
    details = {
        "fingerprint": colon_hex(fingerprint),
        "subject": subject,
        "not_after": cert.not_valid_after_utc.isoformat(),
    }
    with transaction.atomic():
        # Locks the CA's row if it exists: two runs at once add it once (the unique fingerprint backs this up).
        existing = TrustedAuthority.objects.select_for_update().filter(fingerprint_sha256=fingerprint).first()
        if existing is not None and existing.is_active:
            return TrustChange(authority=existing, changed=False)
        if existing is not None:
            existing.is_active, existing.removed_at = True, None
            existing.save(update_fields=["is_active", "removed_at"])
            audit_record(action="trusted_authority.restore", actor=actor, obj=existing, details=details)
            return TrustChange(authority=existing, changed=True)
        authority = TrustedAuthority.objects.create(
            name=label,
            subject=subject,
            certificate_der=ca.certificate_der(cert),
            fingerprint_sha256=fingerprint,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            is_active=True,
            added_at=now,
        )
        audit_record(action="trusted_authority.add", actor=actor, obj=authority, details={"name": label, **details})
    return TrustChange(authority=authority, changed=True)


def trusted_authority_remove(*, fingerprint: str, actor: Actor, now: dt.datetime | None = None) -> TrustChange:
    """Stop trusting a CA (``fingerprint``: SHA-256, colon or plain hex): its certificates are no longer
    registered, nor accepted for login or e-signatures. The row and its registrations stay, for the
    evidence. Idempotent (``changed`` False when already removed). Audited ``trusted_authority.remove``.
    Raises ``ValidationError`` (fingerprint, unknown_authority); ``PermissionDenied`` without
    ``certcenter.change_trustedauthority``."""
    require_perm(actor, UNTRUST_PERMISSION)
    plain = normalise_fingerprint(fingerprint)
    now = now or timezone.now()
    with transaction.atomic():
        # Locks the CA: a registration under it waits, then finds it removed.
        authority = TrustedAuthority.objects.select_for_update().filter(fingerprint_sha256=plain).first()
        if authority is None:
            raise _refuse(ERR_UNKNOWN_AUTHORITY, "unknown_authority")
        if not authority.is_active:
            return TrustChange(authority=authority, changed=False)
        authority.is_active, authority.removed_at = False, now
        authority.save(update_fields=["is_active", "removed_at"])
        registered = authority.certificates.filter(status=Status.REGISTERED).count()
        audit_record(
            action="trusted_authority.remove",
            actor=actor,
            obj=authority,
            details={"fingerprint": colon_hex(plain), "name": authority.name, "registrations": registered},
        )
    return TrustChange(authority=authority, changed=True)


def trusted_authority_by_fingerprint(fingerprint: str) -> TrustedAuthority:
    """The trusted CA (active or removed) with this SHA-256 fingerprint (colon or plain hex). Raises
    ``ValidationError`` (fingerprint, unknown_authority)."""
    authority = TrustedAuthority.objects.filter(fingerprint_sha256=normalise_fingerprint(fingerprint)).first()
    if authority is None:
        raise _refuse(ERR_UNKNOWN_AUTHORITY, "unknown_authority")
    return authority


def trusted_authorities() -> list[TrustedAuthority]:
    """Every CA ever trusted, active ones first, by name (for ``ca_trust_list``)."""
    return sorted(TrustedAuthority.objects.all(), key=lambda row: (not row.is_active, row.name.lower(), row.pk))


# --- registration (the customer) ----------------------------------------------------------------------


def external_registration_text(*, user_id: str, nonce: str, issued_at: dt.datetime) -> str:
    """The canonical text the customer signs to register a certificate, bound to one page flow by
    ``nonce`` (kept in the session) and to the bank, the user ID and the time it was issued."""
    return canonical_text(
        {
            "purpose": TEXT_PURPOSE,
            "bank": settings.BANK_CODE,
            "user_id": user_id,
            "nonce": nonce,
            "issued_at": issued_at.astimezone(dt.UTC).replace(microsecond=0).isoformat(),
        }
    )


def _identity_number(customer: Customer) -> str:
    """The real-name number an identity hash binds: the BRN for a corporation, else the RRN."""
    if customer.kind == Customer.Kind.CORPORATION:
        return customer.brn or ""
    return customer_rrn(customer)


def _require_customer_actor(actor: Any, customer_id: int, permission: str) -> None:
    if is_staff_actor(actor):
        raise PermissionDenied(ERR_STAFF)
    require_customer_or_perm(actor, customer_id, permission, refusal=str(ERR_NOT_OWN))


def _audit_refusal(refusal: ValidationError, *, customer_id: int, serial: str, actor: Any) -> None:
    # Its own transaction: the refusal stays on record although everything else rolled back.
    with transaction.atomic():
        audit_record(
            action="external_certificate.register_refused",
            actor=actor,
            customer_id=customer_id,
            details={"reason": refusal.code, "serial": serial},
        )


def _check_identity(cert: x509.Certificate, customer: Customer, identity_random: bytes | None) -> bool:
    """Whether an identity hash was checked (``False`` when the certificate carries none); refuse a mismatch."""
    claim = ca.external_identity(cert)
    if claim is None:
        return False
    if not identity_random:
        raise _refuse(ERR_IDENTITY_RANDOM_MISSING, "identity_random_missing")
    if not ca.external_identity_matches(claim, _identity_number(customer), identity_random):
        raise _refuse(ERR_IDENTITY_MISMATCH, "identity_mismatch")
    return True


def _untrusted(cert: x509.Certificate) -> ValidationError:
    """No active trusted CA issued it: ours needs no registration; anything else is not accepted."""
    for row in CertificateAuthority.objects.defer("key_pem").filter(is_active=True):
        if ca.signed_by(cert, ca.load_certificate(row.certificate_pem.encode("ascii"))):
            return _refuse(ERR_OUR_CERTIFICATE, "our_certificate")
    return _refuse(ERR_NOT_TRUSTED, "untrusted")


def _lock_active_agreement(agreement: Agreement) -> Agreement:
    # Locks the agreement: a suspension or termination at this moment waits, or is seen and refused.
    locked = Agreement.objects.select_for_update().select_related("customer").get(pk=agreement.pk)
    if locked.state != Agreement.State.ACTIVE:
        raise _refuse(ERR_AGREEMENT_NOT_ACTIVE, "agreement_not_active")
    return locked


def external_certificate_register(
    *,
    agreement: Agreement,
    certificate_der: bytes,
    text: str,
    signature: bytes,
    identity_random: bytes | None,
    medium_verified: bool,
    additional_auth: Callable[[], object | None],
    actor: Actor,
    now: dt.datetime | None = None,
    cloud_id: uuid.UUID | None = None,
) -> ExternalCertificate:
    """Register another institution's certificate for the agreement's customer (see the module docstring).

    With ``cloud_id`` it is a financial certificate the cloud holds (the cloud signed ``text`` after
    the customer's PIN): the row keeps the id and the cloud records the registration at this bank
    in the same transaction (refused as ``cloud_<code>`` when the cloud refuses).

    ``text`` is the canonical text the page issued for this flow (``external_registration_text``) and
    ``signature`` the certificate key's RSASSA-PKCS1-v1_5 SHA-256 signature over it (UTF-8);
    ``identity_random`` the random value from the key file (ours: R; KISA: randomNum), or ``None``.
    ``additional_auth`` spends the SMS/ARS verification (purpose ``other_bank_certificate``) inside
    this transaction and returns it, or ``None`` when there is none. Audited
    ``external_certificate.register``; the customer gets an SMS notice on commit.

    Raises ``ValidationError`` (medium_not_verified, agreement_not_active, additional_auth_required,
    malformed, our_certificate, untrusted, not_yet_valid, expired, bad_signature,
    revoked, revocation_unknown, identity_random_missing, identity_mismatch, already_registered,
    registered_elsewhere) with
    nothing written; ``PermissionDenied`` for staff and anyone but the customer's own user or an actor
    holding ``certcenter.add_externalcertificate``; ``ValueError`` for an empty text."""
    _require_customer_actor(actor, agreement.customer_id, REGISTER_PERMISSION)
    if not isinstance(text, str) or not text:
        raise ValueError("an empty text cannot be signed")
    now = now or timezone.now()
    serial = ""
    try:
        if not medium_verified:
            raise _refuse(ERR_MEDIUM_NOT_VERIFIED, "medium_not_verified")
        if identity_random is not None and (
            not isinstance(identity_random, bytes) or len(identity_random) > IDENTITY_RANDOM_MAX
        ):
            raise _refuse(ERR_IDENTITY_RANDOM_MISSING, "identity_random_missing")
        with transaction.atomic():
            locked = _lock_active_agreement(agreement)
            if additional_auth() is None:
                raise _refuse(ERR_ADDITIONAL_AUTH_REQUIRED, "additional_auth_required")
            cert = parse_certificate(certificate_der)
            if cert.serial_number > 0 and len(str(cert.serial_number)) <= SERIAL_MAX_DIGITS:
                serial = serial_text(cert.serial_number)
            found = trusted_authority_for(cert)
            if found is None or not serial:
                raise _untrusted(cert)
            authority, authority_cert = found
            check_external_chain(cert, authority_cert, now)
            external_revocation_check(authority=authority, serial=serial, now=now)
            if not isinstance(signature, bytes) or not ca.verify_signature(cert, text.encode("utf-8"), signature):
                raise _refuse(ERR_BAD_SIGNATURE, "bad_signature")
            identity_checked = _check_identity(cert, locked.customer, identity_random)
            row = _create_registration(
                locked, authority=authority, cert=cert, serial=serial, identity_checked=identity_checked, now=now
            )
            if cloud_id is not None:
                _register_in_cloud(row, cloud_id, now)
            evidence = store_evidence(
                row,
                text=text,
                signature=signature,
                purpose=SignatureEvidence.Purpose.EXTERNAL_REGISTRATION,
                now=now,
            )
            audit_record(
                action="external_certificate.register",
                actor=actor,
                customer_id=locked.customer_id,
                obj=row,
                details={
                    "serial": row.serial,
                    "trusted_authority": authority.pk,
                    "issuer": authority.name,
                    "fingerprint": colon_hex(row.fingerprint_sha256),
                    "identity_checked": identity_checked,
                    "not_after": row.not_after.isoformat(),
                    "evidence": evidence.pk,
                },
            )
            customer = locked.customer
            if customer.phone:
                send_sms_on_commit(
                    to=customer.phone,
                    body=str(REGISTERED_SMS)
                    % {"bank": settings.BANK_NAME_KO, "issuer": authority.name, "date": kst_today(now).isoformat()},
                    purpose="external_certificate_register",
                )
    except ValidationError as refusal:
        _audit_refusal(refusal, customer_id=agreement.customer_id, serial=serial, actor=actor)
        raise
    return row


def _register_in_cloud(row: ExternalCertificate, cloud_id: uuid.UUID, now: dt.datetime) -> None:
    cloud = financial_cloud()
    try:
        held = cloud.status(cloud_id=cloud_id)
        if bytes(held.certificate_der) != bytes(row.certificate_der):
            raise _refuse(ERR_BAD_SIGNATURE, "bad_signature")  # the cloud holds another certificate under that id
        cloud.register(cloud_id=cloud_id, institution=settings.BANK_CODE, now=now)
    except CloudRefused as refused:
        raise _refuse(ERR_CLOUD_REFUSED, f"cloud_{refused.code.value}") from None
    row.cloud_id = cloud_id
    row.save(update_fields=["cloud_id"])


def _create_registration(
    agreement: Agreement,
    *,
    authority: TrustedAuthority,
    cert: x509.Certificate,
    serial: str,
    identity_checked: bool,
    now: dt.datetime,
) -> ExternalCertificate:
    # Locks the live registration of this certificate, if any: a deregistration at this moment
    # either finishes first or waits; two new ones at once meet the partial unique index below.
    existing = (
        ExternalCertificate.objects.select_for_update()
        .filter(authority=authority, serial=serial, status=Status.REGISTERED)
        .first()
    )
    if existing is not None and existing.customer_id == agreement.customer_id:
        raise _refuse(ERR_ALREADY_REGISTERED, "already_registered", date=_kst_date(existing.registered_at))
    if existing is not None:
        raise _refuse(ERR_REGISTERED_ELSEWHERE, "registered_elsewhere")
    der = ca.certificate_der(cert)
    try:
        with transaction.atomic():
            return ExternalCertificate.objects.create(
                customer_id=agreement.customer_id,
                authority=authority,
                serial=serial,
                subject_cn=(_common_name(cert.subject) or serial)[:SUBJECT_CN_MAX],
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
                certificate_der=der,
                fingerprint_sha256=ca.fingerprint_sha256(cert),
                identity_checked=identity_checked,
                status=Status.REGISTERED,
                registered_at=now,
            )
    except IntegrityError:
        # Registered by someone else between our read and this insert.
        raise _refuse(ERR_REGISTERED_ELSEWHERE, "registered_elsewhere") from None


def external_certificate_deregister(
    *, certificate: ExternalCertificate, actor: Actor, now: dt.datetime | None = None
) -> ExternalCertificate:
    """The customer deletes the registration of another institution's certificate (My certificates):
    it no longer logs in or signs here; the certificate itself is untouched at its issuer.

    Audited ``external_certificate.deregister``. Raises ``ValidationError`` (not_registered);
    ``PermissionDenied`` for staff and anyone but the customer's own user or an actor holding
    ``certcenter.change_externalcertificate``."""
    _require_customer_actor(actor, certificate.customer_id, DEREGISTER_PERMISSION)
    now = now or timezone.now()
    with transaction.atomic():
        # Locks the registration: two deletions at once, or one racing a login's evidence, are ordered.
        locked = ExternalCertificate.objects.select_for_update().get(pk=certificate.pk)
        if locked.status != Status.REGISTERED:
            raise _refuse(ERR_NOT_REGISTERED, "not_registered")
        locked.status, locked.deregistered_at = Status.DEREGISTERED, now
        locked.save(update_fields=["status", "deregistered_at"])
        audit_record(
            action="external_certificate.deregister",
            actor=actor,
            customer_id=locked.customer_id,
            obj=locked,
            details={"serial": locked.serial, "trusted_authority": locked.authority_id, "by": "customer"},
        )
    return locked
