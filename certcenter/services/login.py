"""Certificate login (공동인증서 로그인) and e-signature verification (전자서명 검증).

The private key never reaches the server: the browser opens it with the certificate password and
signs. So the server sees only a certificate and a signature, and checks, in this order:

1. the challenge (login only): known, of this browser session, unused, at most 2 minutes old. It
   is spent (``used_at``) in its own committed transaction **before** anything else is checked, so
   every attempt, refused or not, uses up its nonce and a replay is always refused;
2. the certificate parses and chains to our active root and issuing CA, and is valid now, to the
   second (the expiry day's 23:59:59 KST is still valid): an altered or foreign certificate is
   never told to renew. A certificate whose issuer is an active ``TrustedAuthority`` (another
   institution's CA that operations trust with ``ca_trust_add``) is instead checked as signed
   directly by that CA certificate, both valid now (``ca.verify_issued_by_trusted``);
3. login: the signature over the nonce (ASCII) proves possession of the key, before anything about
   the customer's state is revealed; then our ``Certificate`` row (same issuer, serial and DER),
   status valid — or, for another institution's certificate, its ``ExternalCertificate`` row
   (same trusted CA, serial and DER), registered — and the customer's e-banking agreement active;
4. signature: the row as for a login, the certificate is this customer's, then the signature over
   the text (UTF-8).

Another institution's certificate is checked against its CA's CRL as loaded here
(``external_crl.external_revocation_check``): listed → refused (revoked); a loaded CRL past its next
update → refused (revocation_unknown, fail closed); no CRL ever loaded for the CA → not checked.
Their OCSP responders are not asked.

Every refusal is a ``ValidationError`` whose ``code`` says why and whose message says what to do,
and is audited (``certificate.login_refused`` / ``signature.refused``, with the reason) in its own
transaction. A bad signature is **not** counted as a wrong entry against the agreement: the
certificate password is checked in the browser, so a wrong password never reaches the server,
and a bad signature from whoever holds a public certificate must not be able to suspend its owner.

A success records the agreement's use (dormancy, wrong-entry reset), stores the signed nonce as
``SignatureEvidence`` (purpose ``login``) and audits ``certificate.login``; the view then signs the
user in. Lock order: the challenge row (own transaction); then the agreement row, audit last.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Agreement, Customer, User
from accounts.services._common import require_customer_or_perm, require_perm
from accounts.services.agreements import USE_PERMISSION, agreement_record_use
from bankportal.actors import SystemActor, system_actor
from bankportal.audit.services import audit_record
from certcenter import ca
from certcenter.models import (
    LOGIN_CHALLENGE_LIFETIME_SECONDS,
    SERIAL_MAX_DIGITS,
    Certificate,
    CertificateAuthority,
    ExternalCertificate,
    LoginChallenge,
    SignatureEvidence,
    TrustedAuthority,
    serial_text,
)
from certcenter.selectors import active_authorities
from certcenter.services.external_crl import external_revocation_check
from certcenter.signing import text_sha256

# The login acts for an anonymous browser: it records agreement use like the password sign-in.
LOGIN_PERMISSION = USE_PERMISSION
SIGNATURE_PERMISSION = "certcenter.add_signatureevidence"
CHALLENGE_LIFETIME = dt.timedelta(seconds=LOGIN_CHALLENGE_LIFETIME_SECONDS)
NONCE_BYTES = 32
NONCE_MAX_LENGTH = 100  # the nonce is 43 base64url characters; anything far longer is not ours

ERR_CHALLENGE_UNKNOWN = _("This login request is unknown or has ended. Reload the page and try again.")
ERR_CHALLENGE_OTHER_SESSION = _(
    "This login request was made in another browser or session. Reload this page and try again."
)
ERR_CHALLENGE_USED = _(
    "This login request was already used; each attempt needs a new one. Reload the page and try again."
)
ERR_CHALLENGE_EXPIRED = _("The login request expired: it is valid for 2 minutes. Reload the page and try again.")
ERR_MALFORMED = _(
    "The certificate could not be read. Choose the certificate again, or load both files of the "
    "certificate (signCert.der and signPri.key)."
)
ERR_UNAVAILABLE = _("Certificate login is not available right now. Please try again later.")
ERR_UNTRUSTED = _(
    "This certificate was not issued by this bank or by an institution registered here, or it has been "
    "altered, so it cannot be used here. If another bank or institution issued it, register it in the "
    "certificate centre first (Register another institution's certificate); otherwise use a certificate "
    "issued by this bank, or issue one in the certificate centre."
)
ERR_NOT_YET_VALID = _(
    "This certificate is not valid yet. Check that your computer's date and time are correct, then try again."
)
ERR_EXPIRED = _(
    "This certificate expired on %(date)s. A certificate can be renewed only from 60 days before it "
    "expires until the end of its expiry day; now reissue it in the certificate centre "
    "(additional authentication is needed)."
)
ERR_EXTERNAL_EXPIRED = _(
    "This certificate expired on %(date)s. Renew or reissue it at the bank or institution that issued "
    "it, then register the new certificate in the certificate centre."
)
ERR_BAD_SIGNATURE = _(
    "The signature does not match this certificate. Try again; if it keeps failing, the certificate's "
    "key file may be damaged: reissue the certificate in the certificate centre."
)
ERR_UNKNOWN = _(
    "This certificate is not registered with this bank. Register it (or issue a new one) in the "
    "certificate centre, then log in again."
)
ERR_REVOKED = _(
    "This certificate was revoked on %(date)s and can no longer be used. Reissue it in the certificate centre."
)
ERR_SUSPENDED = _(
    "Internet banking is suspended for this customer (%(reason)s). Release the suspension in the "
    "security centre (%(url)s), then log in again."
)
ERR_NOT_REGISTERED = _(
    "Internet banking is not registered yet. Complete the online registration (%(url)s), then log in again."
)
ERR_NO_AGREEMENT = _(
    "There is no e-banking agreement for this certificate's owner. Apply at a branch, then register online."
)
ERR_NOT_YOURS = _("This certificate belongs to another customer. Sign with your own certificate.")

# ca.CertificateInvalid codes → (refusal code, message).
_CHAIN_REFUSALS: dict[str, tuple[str, Any]] = {
    "not_end_entity": ("untrusted", ERR_UNTRUSTED),
    "untrusted": ("untrusted", ERR_UNTRUSTED),
    "bad_signature": ("untrusted", ERR_UNTRUSTED),
    "not_yet_valid": ("not_yet_valid", ERR_NOT_YET_VALID),
    "expired": ("expired", ERR_EXPIRED),
}


# A certificate the portal accepts: one we issued, or another institution's registered here.
RegisteredCertificate = Certificate | ExternalCertificate


@dataclass(frozen=True)
class LoginResult:
    user: User
    certificate: RegisteredCertificate


@dataclass(frozen=True)
class TrustedCertificate:
    """A parsed certificate that chains to our CAs (``issuer``) or to a trusted CA (``authority``)."""

    cert: x509.Certificate
    issuer: CertificateAuthority | None = None
    authority: TrustedAuthority | None = None


@dataclass
class _Attempt:
    """What the refusal audit may say about an attempt, filled in as the checks learn it."""

    serial: str = ""
    customer_id: int | None = None


def certificate_login_actor() -> SystemActor:
    """The named actor of the anonymous certificate login page."""
    return system_actor("certificate_login", {LOGIN_PERMISSION})


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _kst_date(moment: dt.datetime) -> str:
    return moment.astimezone(ca.KST).date().isoformat()


def _refuse(code: str, message: Any, **params: Any) -> ValidationError:
    return ValidationError(message, code=code, params=params or None)


def _expired(cert: x509.Certificate, *, external: bool = False) -> ValidationError:
    message = ERR_EXTERNAL_EXPIRED if external else ERR_EXPIRED
    return _refuse("expired", message, date=_kst_date(cert.not_valid_after_utc))


# --- challenge ----------------------------------------------------------------------------------


def certificate_login_challenge(*, session_key: str, actor: Any, now: dt.datetime | None = None) -> LoginChallenge:
    """A new login nonce (32 random bytes, base64url, no padding) for the browser session ``session_key``,
    valid 2 minutes. The nonce itself is returned on the unsaved attribute ``nonce``; only its hash is
    stored. Not audited (a page view); the login that spends it is."""
    require_perm(actor, LOGIN_PERMISSION)
    if not session_key:
        raise ValueError("a login challenge needs a saved session")
    now = now or timezone.now()
    nonce = base64.urlsafe_b64encode(secrets.token_bytes(NONCE_BYTES)).rstrip(b"=").decode("ascii")
    challenge = LoginChallenge.objects.create(
        nonce_sha256=_sha256(nonce),
        session_sha256=_sha256(session_key),
        created_at=now,
        expires_at=now + CHALLENGE_LIFETIME,
    )
    challenge.nonce = nonce  # type: ignore[attr-defined]
    return challenge


def _spend_challenge(nonce: str, session_key: str, now: dt.datetime) -> None:
    """Mark the challenge used, committed at once, or refuse. A challenge of another session is not
    spent (whoever copied the nonce cannot use up its owner's attempt)."""
    if not isinstance(nonce, str) or not nonce or len(nonce) > NONCE_MAX_LENGTH or not session_key:
        raise _refuse("challenge_unknown", ERR_CHALLENGE_UNKNOWN)
    refusal: ValidationError | None = None
    with transaction.atomic():
        # Locks the challenge: a replay racing the original waits here and then finds it used.
        challenge = LoginChallenge.objects.select_for_update().filter(nonce_sha256=_sha256(nonce)).first()
        if challenge is None:
            refusal = _refuse("challenge_unknown", ERR_CHALLENGE_UNKNOWN)
        elif not hmac.compare_digest(challenge.session_sha256, _sha256(session_key)):
            refusal = _refuse("challenge_other_session", ERR_CHALLENGE_OTHER_SESSION)
        elif challenge.used_at is not None:
            refusal = _refuse("challenge_used", ERR_CHALLENGE_USED)
        else:
            challenge.used_at = now
            challenge.save(update_fields=["used_at"])
            if now > challenge.expires_at:  # exactly 2:00 is still valid
                refusal = _refuse("challenge_expired", ERR_CHALLENGE_EXPIRED)
    # Raised after the block: the spent challenge stays committed even when the attempt is refused.
    if refusal is not None:
        raise refusal


# --- certificate checks -------------------------------------------------------------------------


def parse_certificate(certificate_der: bytes, attempt: _Attempt | None = None) -> x509.Certificate:
    """The certificate in ``certificate_der``; ``ValidationError`` (malformed) if it does not parse."""
    if not isinstance(certificate_der, bytes | bytearray | memoryview):
        raise _refuse("malformed", ERR_MALFORMED)
    try:
        cert = x509.load_der_x509_certificate(bytes(certificate_der))
        serial = cert.serial_number
    except ValueError:
        raise _refuse("malformed", ERR_MALFORMED) from None
    if attempt is not None and serial > 0 and len(str(serial)) <= SERIAL_MAX_DIGITS:
        attempt.serial = str(serial)
    return cert


def trusted_authority_for(cert: x509.Certificate) -> tuple[TrustedAuthority, x509.Certificate] | None:
    """The active trusted CA named as ``cert``'s issuer (the one whose key signed it, if several share
    the name), with its parsed certificate; ``None`` when no active trusted CA has that name."""
    try:
        issuer_name = cert.issuer.rfc4514_string()
    except ValueError:
        return None
    candidates = []
    for row in TrustedAuthority.objects.filter(is_active=True, subject=issuer_name).order_by("pk"):
        authority_cert = x509.load_der_x509_certificate(bytes(row.certificate_der))
        if authority_cert.subject != cert.issuer:
            continue
        if ca.signed_by(cert, authority_cert):
            return row, authority_cert
        candidates.append((row, authority_cert))
    # Same name but another key: checked against it anyway, to say "untrusted" or "altered".
    return candidates[0] if candidates else None


def check_external_chain(cert: x509.Certificate, authority_cert: x509.Certificate, now: dt.datetime) -> None:
    """``cert`` was signed directly by the trusted ``authority_cert`` and both are valid at ``now``;
    else the refusal (untrusted, not_yet_valid, expired) a login would give."""
    try:
        ca.verify_issued_by_trusted(cert, authority=authority_cert, now=now)
    except ca.CertificateInvalid as invalid:
        code, message = _CHAIN_REFUSALS.get(invalid.code, ("untrusted", ERR_UNTRUSTED))
        if code == "expired":
            raise _expired(cert, external=True) from None
        raise _refuse(code, message) from None


@functools.lru_cache(maxsize=16)
def _parsed_ca(certificate_pem: str) -> x509.Certificate:
    """Our CA certificates, parsed once per process: the cache is keyed by the PEM text itself, so a
    new or rotated CA is simply another entry (the rows are still read on every check)."""
    return ca.load_certificate(certificate_pem.encode("ascii"))


def _trusted_certificate(certificate_der: bytes, now: dt.datetime, attempt: _Attempt) -> TrustedCertificate:
    """The parsed certificate and our issuing CA, if it chains to our active CAs and is valid at ``now``;
    or the trusted CA of another institution that signed it, if it is valid at ``now``."""
    cert = parse_certificate(certificate_der, attempt)
    external = trusted_authority_for(cert)
    if external is not None:
        row, authority_cert = external
        check_external_chain(cert, authority_cert, now)
        return TrustedCertificate(cert=cert, authority=row)
    authorities = {authority.role: authority for authority in active_authorities()}
    root_row = authorities.get(CertificateAuthority.Role.ROOT)
    issuing_row = authorities.get(CertificateAuthority.Role.ISSUING)
    if root_row is None or issuing_row is None:
        raise _refuse("unavailable", ERR_UNAVAILABLE)
    root, issuing = _parsed_ca(root_row.certificate_pem), _parsed_ca(issuing_row.certificate_pem)
    try:
        ca.verify_chain(cert, issuing=issuing, root=root, now=now)
    except ca.CertificateInvalid as invalid:
        code, message = _CHAIN_REFUSALS.get(invalid.code, ("untrusted", ERR_UNTRUSTED))
        if code == "expired":
            raise _expired(cert) from None
        raise _refuse(code, message) from None
    return TrustedCertificate(cert=cert, issuer=issuing_row)


def _registered_row(
    trusted: TrustedCertificate, certificate_der: bytes, *, lock: bool = False
) -> RegisteredCertificate:
    """The row of this certificate: ours (same issuer, serial and the very same DER), or another
    institution's registered here (same trusted CA, serial and DER, status registered).

    With ``lock`` (inside a transaction) the row is read FOR UPDATE: a revocation or
    deregistration committing at this moment is either seen here or waits for the caller."""
    serial = trusted.cert.serial_number
    row: RegisteredCertificate | None = None
    if serial > 0 and len(str(serial)) <= SERIAL_MAX_DIGITS:
        if trusted.authority is not None:
            external = ExternalCertificate.objects.filter(
                authority=trusted.authority, serial=serial_text(serial), status=ExternalCertificate.Status.REGISTERED
            )
            if lock:
                external = external.select_for_update().select_related("authority")
            row = external.first()
        else:
            ours = Certificate.objects.filter(issuer=trusted.issuer, serial=serial_text(serial))
            row = (ours.select_for_update() if lock else ours).first()
    if row is None or bytes(row.certificate_der) != bytes(certificate_der):
        raise _refuse("unknown", ERR_UNKNOWN)
    return row


def _check_usable(row: RegisteredCertificate, cert: x509.Certificate, now: dt.datetime) -> None:
    """Ours: not revoked, and not marked expired by the daily job. Another institution's: registered
    (found only so) and not revoked as far as its CA's loaded CRL tells (see the module docstring)."""
    if isinstance(row, ExternalCertificate):
        external_revocation_check(authority=row.authority, serial=row.serial, now=now)
        return
    if row.revoked_at is not None:
        raise _refuse("revoked", ERR_REVOKED, date=_kst_date(row.revoked_at))
    if row.status != Certificate.Status.VALID:
        raise _expired(cert)


def _check_signature(cert: x509.Certificate, data: bytes, signature: bytes) -> None:
    if not isinstance(signature, bytes) or not ca.verify_signature(cert, data, signature):
        raise _refuse("bad_signature", ERR_BAD_SIGNATURE)


def _check_agreement(agreement: Agreement | None) -> tuple[Agreement, User]:
    """The agreement's internet-banking user if the agreement is active; the refusal says what to do otherwise."""
    if agreement is None:
        raise _refuse("no_agreement", ERR_NO_AGREEMENT)
    if agreement.state == Agreement.State.SUSPENDED:
        raise _refuse(
            "suspended",
            ERR_SUSPENDED,
            reason=Agreement.SuspensionReason(agreement.suspension_reason).label
            if agreement.suspension_reason
            else Agreement.State.SUSPENDED.label,
            url=reverse("agreement_release"),
        )
    if agreement.state == Agreement.State.APPLIED:
        raise _refuse("not_registered", ERR_NOT_REGISTERED, url=reverse("agreement_register"))
    user = agreement.user
    if agreement.state != Agreement.State.ACTIVE or user is None or not user.is_active:
        raise _refuse("no_agreement", ERR_NO_AGREEMENT)
    return agreement, user


def store_evidence(
    row: RegisteredCertificate, *, text: str, signature: bytes, purpose: str, now: dt.datetime
) -> SignatureEvidence:
    """Keep a verified signature as evidence, pointing at whichever kind of certificate made it."""
    return SignatureEvidence.objects.create(
        customer_id=row.customer_id,
        certificate=row if isinstance(row, Certificate) else None,
        external_certificate=row if isinstance(row, ExternalCertificate) else None,
        certificate_serial=row.serial,
        purpose=purpose,
        text=text,
        text_sha256=text_sha256(text),
        signature=bytes(signature),
        verified_at=now,
    )


def _audit_refusal(action: str, refusal: ValidationError, attempt: _Attempt, actor: Any, **details: Any) -> None:
    # Its own transaction: the refusal stays on record although the caller sees an error
    # (a caller that wraps this service in its own transaction rolls it back with its own work).
    with transaction.atomic():
        audit_record(
            action=action,
            actor=actor,
            customer_id=attempt.customer_id,
            details={"reason": refusal.code, "serial": attempt.serial, **details},
        )


def _issuer_details(row: RegisteredCertificate) -> dict[str, Any]:
    """For the audit trail: which trusted CA issued another institution's certificate (ours: nothing)."""
    return {"trusted_authority": row.authority_id} if isinstance(row, ExternalCertificate) else {}


# --- login --------------------------------------------------------------------------------------


def certificate_login(
    *,
    challenge_nonce: str,
    certificate_der: bytes,
    signature: bytes,
    session_key: str,
    actor: Any,
    now: dt.datetime | None = None,
) -> LoginResult:
    """Check a certificate login (see the module docstring for the order); the caller then signs in
    ``result.user``. Raises ``ValidationError`` (challenge_unknown, challenge_other_session,
    challenge_used, challenge_expired, malformed, unavailable, untrusted, not_yet_valid, expired,
    bad_signature, unknown, revoked, revocation_unknown, suspended, not_registered, no_agreement), audited;
    ``PermissionDenied``
    without ``accounts.use_agreement``."""
    require_perm(actor, LOGIN_PERMISSION)
    now = now or timezone.now()
    attempt = _Attempt()
    try:
        _spend_challenge(challenge_nonce, session_key, now)
        trusted = _trusted_certificate(certificate_der, now, attempt)
        cert = trusted.cert
        _check_signature(cert, challenge_nonce.encode("ascii"), signature)
        row = _registered_row(trusted, certificate_der)
        attempt.customer_id = row.customer_id
        _check_usable(row, cert, now)
        with transaction.atomic():
            # Locks the agreement: a suspension landing at this moment (wrong entries, staff, the
            # dormancy sweep) is either seen here or waits until this login has recorded its use.
            open_agreement = (
                Agreement.objects.select_for_update(of=("self",))  # the user join is nullable: lock the agreement only
                .select_related("user")
                .filter(customer_id=row.customer_id, state__in=Agreement.OPEN_STATES)
                .first()
            )
            agreement, user = _check_agreement(open_agreement)
            agreement_record_use(agreement=agreement, actor=actor, now=now)
            evidence = store_evidence(
                row, text=challenge_nonce, signature=signature, purpose=SignatureEvidence.Purpose.LOGIN, now=now
            )
            audit_record(
                action="certificate.login",
                actor=user,
                customer_id=row.customer_id,
                obj=row,
                details={
                    "serial": row.serial,
                    "agreement": agreement.pk,
                    "evidence": evidence.pk,
                    **_issuer_details(row),
                },
            )
    except ValidationError as refusal:
        _audit_refusal("certificate.login_refused", refusal, attempt, actor)
        raise
    return LoginResult(user=user, certificate=row)


# --- e-signature --------------------------------------------------------------------------------


def signature_verify(
    *,
    customer: Customer,
    certificate_der: bytes,
    text: str,
    signature: bytes,
    purpose: str,
    actor: Any,
    now: dt.datetime | None = None,
) -> SignatureEvidence:
    """Verify ``customer``'s signature over ``text`` (UTF-8; build it with ``certcenter.signing.canonical_text``)
    and store it as evidence, audited ``signature.verified``.

    The certificate must chain to our CAs (or to a trusted CA of another institution), be valid now,
    registered, not revoked (ours; or by its CRL as loaded here) and this customer's.
    The agreement's state is the caller's business (a suspension release signs while suspended).
    Raises ``ValidationError`` (malformed, unavailable, untrusted, not_yet_valid, expired, unknown,
    revoked, revocation_unknown, not_yours, bad_signature), audited ``signature.refused``;
    ``PermissionDenied`` for anyone but the customer's own user or an actor with
    ``certcenter.add_signatureevidence``; ``ValueError`` for an unknown purpose or an empty text (the
    caller's mistake)."""
    require_customer_or_perm(actor, customer.pk, SIGNATURE_PERMISSION)
    if purpose not in SignatureEvidence.Purpose.values:
        raise ValueError(f"unknown signature purpose {purpose!r}")
    if not isinstance(text, str) or not text:
        raise ValueError("an empty text cannot be signed")
    now = now or timezone.now()
    attempt = _Attempt(customer_id=customer.pk)
    try:
        trusted = _trusted_certificate(certificate_der, now, attempt)
        cert = trusted.cert
        with transaction.atomic():
            # One locked read of the certificate's row: a revocation or deregistration committing at this
            # moment is either seen here or waits until the evidence is stored. Lock order: the caller's own
            # document rows first (the agreement of a release, a transfer's day total), then this
            # certificate, and never a customer account before it (issue and reissue lock certificates
            # before the fee's account). A refusal below has written nothing yet.
            row = _registered_row(trusted, certificate_der, lock=True)
            if row.customer_id != customer.pk:
                raise _refuse("not_yours", ERR_NOT_YOURS)
            _check_usable(row, cert, now)
            _check_signature(cert, text.encode("utf-8"), signature)
            evidence = store_evidence(row, text=text, signature=signature, purpose=purpose, now=now)
            audit_record(
                action="signature.verified",
                actor=actor,
                customer_id=customer.pk,
                obj=evidence,
                details={"purpose": purpose, "serial": row.serial, "evidence": evidence.pk, **_issuer_details(row)},
            )
    except ValidationError as refusal:
        _audit_refusal("signature.refused", refusal, attempt, actor, purpose=purpose)
        raise
    return evidence
