"""Financial certificates (금융인증서): issued by our CA, the key held by the financial certificate cloud.

The cloud (``certcenter.cloud.api``, the role the clearing house plays) makes the key pair, keeps it
encrypted and signs only after the customer's 6-digit PIN; this module is the bank's side: the
certificate (our issuing CA, 3 years to the expiry day 23:59:59 KST, free, kind ``financial``,
storage ``cloud``), its row in the CA's register (so the CRL, OCSP, certificate login and
``signature_verify`` treat it like any certificate of ours), and the customer-facing rules.

- ``financial_issue``: the pages have identified the customer and checked the additional
  authentication and the security medium; the cloud enrols a key under the PIN, our CA certifies
  it, the cloud stores the certificate. One transaction with the cloud's rows (the local cloud joins
  it). A customer holds one financial certificate: a new one revokes the current one (superseded),
  which is also how a locked certificate is replaced (reissued, never unlocked).
- ``financial_sign``: the cloud signs a text after the PIN (outside any transaction: the wrong-PIN
  count must commit even when the caller then refuses), and ``signature_verify`` stores the evidence.
- ``financial_login``: name + mobile number + PIN from any device: the cloud signs the login nonce
  of the session and ``certificate_login`` checks it like any certificate login.
- ``financial_renew``: from 00:00 KST one calendar month before the expiry day through the expiry
  day, with the PIN: a new key and certificate, the old one superseded.
- Revocation (the customer's "lost phone", staff through a manager-approved request, supersession)
  is ``certificate_revoke`` / ``revoke_locked`` in ``certcenter.services.issuance``, which revoke in
  the cloud too.

Cloud refusals become ``ValidationError`` with the cloud's code and a message saying what to do.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Agreement, Customer, User
from accounts.phones import InvalidPhone, normalise_mobile
from accounts.services._common import Actor, is_staff_actor, require_customer_or_perm
from certcenter import rules
from certcenter.cloud.api import (
    CertificateStatus,
    CloudCertificate,
    CloudRefused,
    Refusal,
    financial_cloud,
    pin_problem,
)
from certcenter.models import Certificate, ExternalCertificate, SignatureEvidence
from certcenter.services.external import external_certificate_register
from certcenter.services.issuance import (
    ERR_MEDIUM_NOT_VERIFIED,
    ERR_NOT_OWN_CERTIFICATE,
    ISSUE_PERMISSION,
    IssuedCertificate,
    active_agreement_of,
    issue_locked,
    lock_active_agreement,
    regenerate_crl_on_commit,
    revoke_locked,
)
from certcenter.services.login import LoginResult, certificate_login, signature_verify

Kind = Certificate.Kind
Status = Certificate.Status
Reason = Certificate.RevocationReason

ERR_PIN_MISMATCH = _("The two PINs differ. Enter the same 6-digit PIN twice.")
ERR_PIN_FORMAT = _("Enter a PIN of exactly 6 digits.")
ERR_PIN_TRIVIAL = _(
    "This PIN is too easy to guess (the same digit, a run such as 123456, a repeated pattern or your "
    "birth date). Choose another 6-digit PIN."
)
ERR_WRONG_PIN = _("The PIN is wrong. %(left)s more wrong PINs lock the financial certificate.")
ERR_LOCKED = _(
    "Your financial certificate is locked after 5 wrong PINs. It cannot be unlocked: issue a new "
    "financial certificate (the locked one is replaced)."
)
ERR_REVOKED = _("This financial certificate was revoked. Issue a new financial certificate.")
ERR_EXPIRED = _("This financial certificate has expired. Issue a new financial certificate.")
ERR_UNAVAILABLE = _("The financial certificate service is not available right now. Please try again later.")
ERR_NO_CERTIFICATE = _(
    "No financial certificate of this bank was found for this name and mobile number. Check both, "
    "or issue a financial certificate (or register one issued at another institution)."
)
ERR_NONE_HELD = _("You have no financial certificate in use. Issue one first.")
ERR_RENEWAL_WINDOW = _(
    "A financial certificate can be renewed from %(start)s through %(end)s (its expiry day). After that, "
    "issue a new one."
)
ERR_CORPORATE = _("Corporate internet banking uses joint certificates only. Issue a joint certificate instead.")
ERR_NO_MOBILE = _(
    "A financial certificate is found by your name and mobile number, and no mobile number is registered for you. "
    "Visit a branch to register one."
)
ERR_NOT_RENEWABLE = _("Only a valid financial certificate can be renewed. Issue a new one instead.")
ERR_NOT_OFFERED = _(
    "This financial certificate cannot be registered here: it is not yours, already registered, or no longer "
    "in use. Choose one from the list."
)

_CLOUD_MESSAGES = {
    Refusal.LOCKED: ("locked", ERR_LOCKED),
    Refusal.REVOKED: ("revoked", ERR_REVOKED),
    Refusal.SUPERSEDED: ("revoked", ERR_REVOKED),
    Refusal.EXPIRED: ("expired", ERR_EXPIRED),
    Refusal.TRIVIAL_PIN: ("trivial_pin", ERR_PIN_TRIVIAL),
}


def _refuse(message: Any, code: str, **params: Any) -> ValidationError:
    return ValidationError(message, code=code, params=params or None)


def cloud_refusal(refused: CloudRefused) -> ValidationError:
    """The customer's message for a refusal of the cloud (wrong PIN: how many tries are left)."""
    if refused.code is Refusal.WRONG_PIN:
        return _refuse(ERR_WRONG_PIN, "wrong_pin", left=refused.tries_left or 0)
    code, message = _CLOUD_MESSAGES.get(refused.code, ("unavailable", ERR_UNAVAILABLE))
    return _refuse(message, code)


def _check_new_pin(pin: str, pin_again: str, customer: Customer) -> None:
    if not isinstance(pin, str) or len(pin) != 6 or not (pin.isascii() and pin.isdigit()):
        raise _refuse(ERR_PIN_FORMAT, "pin_format")
    if pin != pin_again:
        raise _refuse(ERR_PIN_MISMATCH, "pin_mismatch")
    if pin_problem(pin, customer.birth_date) is not None:
        raise _refuse(ERR_PIN_TRIVIAL, "trivial_pin")


def _require_own_user(actor: Actor, customer_id: int) -> None:
    if is_staff_actor(actor):
        raise PermissionDenied(ERR_NOT_OWN_CERTIFICATE)
    require_customer_or_perm(actor, customer_id, ISSUE_PERMISSION, refusal=str(ERR_NOT_OWN_CERTIFICATE))


def current_financial_certificate(customer_id: int, now: dt.datetime | None = None) -> Certificate | None:
    """The customer's financial certificate in use (valid, not revoked, not past its expiry), if any."""
    now = now or timezone.now()
    return (
        Certificate.objects.financial()
        .filter(customer_id=customer_id, status=Status.VALID, revoked_at__isnull=True, not_after__gte=now)
        .order_by("-not_after", "-pk")
        .first()
    )


def held_financial_certificate(
    customer_id: int, now: dt.datetime | None = None
) -> Certificate | ExternalCertificate | None:
    """The financial certificate the customer signs with here: ours in use, or else another
    institution's registered here (the newest of either kind first by kind: ours wins)."""
    now = now or timezone.now()
    own = current_financial_certificate(customer_id, now)
    if own is not None:
        return own
    return (
        ExternalCertificate.objects.filter(
            customer_id=customer_id,
            cloud_id__isnull=False,
            status=ExternalCertificate.Status.REGISTERED,
            not_after__gte=now,
        )
        .order_by("-not_after", "-pk")
        .first()
    )


def signing_financial_certificate(
    customer_id: int, now: dt.datetime | None = None
) -> Certificate | ExternalCertificate | None:
    """The customer's financial certificate (``held_financial_certificate``) that the cloud will sign
    with, i.e. not locked there: what a page offers for signing. A locked certificate is still valid
    in the register (the CA has not revoked it) but signs nothing until a new one is issued."""
    certificate = held_financial_certificate(customer_id, now)
    if certificate is None or certificate.cloud_id is None:
        return None
    try:
        held = financial_cloud().status(cloud_id=certificate.cloud_id)
    except CloudRefused:
        return None
    return certificate if held.status == CertificateStatus.ACTIVE else None


@dataclass(frozen=True)
class FinancialIssued:
    certificate: Certificate
    replaced: tuple[str, ...]  # serials of the financial certificates this one replaced


def financial_issue(
    *,
    agreement: Agreement,
    pin: str,
    pin_again: str,
    medium_verified: bool,
    actor: Actor,
    now: dt.datetime | None = None,
) -> FinancialIssued:
    """Issue a financial certificate to the agreement's customer (see the module docstring).

    The pages have run the identification (RRN, account and password), the SMS/ARS additional
    authentication and the security medium (``medium_verified``). Audited as
    ``certificate.financial_issue``; an SMS says the certificate was stored in the cloud.

    Raises ``ValidationError`` (medium_not_verified, pin_format, pin_mismatch, trivial_pin,
    agreement_not_active, not_initialised, ca_unavailable, unavailable) with nothing written;
    ``PermissionDenied`` for staff and anyone but the customer's own user (or a system actor with
    ``certcenter.add_certificate``, as the anonymous issue pages use).
    """
    _require_own_user(actor, agreement.customer_id)
    if not medium_verified:
        raise _refuse(ERR_MEDIUM_NOT_VERIFIED, "medium_not_verified")
    customer = Customer.objects.get(pk=agreement.customer_id)
    if customer.kind == Customer.Kind.CORPORATION:  # domain.md: corporate banking uses joint certificates only
        raise _refuse(ERR_CORPORATE, "corporate")
    try:
        normalise_mobile(customer.phone)
    except InvalidPhone:
        raise _refuse(ERR_NO_MOBILE, "no_mobile") from None
    _check_new_pin(pin, pin_again, customer)
    now = now or timezone.now()
    cloud = financial_cloud()
    with transaction.atomic():
        locked = lock_active_agreement(agreement)
        # The customer's current financial certificates, locked by primary key before any new row.
        current = list(
            Certificate.objects.financial()
            .select_for_update()
            .filter(customer_id=customer.pk, status=Status.VALID, revoked_at__isnull=True)
            .order_by("pk")
        )
        try:
            enrolment = cloud.enroll(
                institution=settings.BANK_CODE,
                holder_name=customer.name,
                phone=customer.phone,
                birth_date=customer.birth_date,
                pin=pin,
                now=now,
            )
        except CloudRefused as refused:
            raise cloud_refusal(refused) from None
        public_key = serialization.load_der_public_key(enrolment.public_key_der)
        issued = issue_locked(
            agreement=locked,
            account=None,
            kind=Kind.FINANCIAL,
            storage=Certificate.Storage.CLOUD,
            public_key=public_key,
            identity_random=None,
            actor=actor,
            now=now,
            action="certificate.financial_issue",
            details={"replaces": [row.serial for row in current]},
            cloud_id=enrolment.cloud_id,
        )
        try:
            cloud.attach_certificate(cloud_id=enrolment.cloud_id, certificate_der=issued.der, now=now)
        except CloudRefused as refused:
            raise cloud_refusal(refused) from None
        for row in current:
            revoke_locked(row, reason=Reason.SUPERSEDED, actor=actor, now=now, details={"by": "financial_issue"})
        if current:
            regenerate_crl_on_commit()
    return FinancialIssued(certificate=issued.certificate, replaced=tuple(row.serial for row in current))


def _cloud_sign(cloud_id: uuid.UUID, pin: str, data: bytes, now: dt.datetime) -> tuple[bytes, bytes]:
    try:
        signed = financial_cloud().sign(cloud_id=cloud_id, pin=pin, data=data, now=now)
    except CloudRefused as refused:
        raise cloud_refusal(refused) from None
    return signed.certificate_der, signed.signature


def financial_sign(
    *, customer: Customer, pin: str, text: str, purpose: str, actor: Actor, now: dt.datetime | None = None
) -> SignatureEvidence:
    """Sign ``text`` with the customer's financial certificate (the PIN unlocks it in the cloud) and store
    the evidence through ``signature_verify`` (which checks the chain, revocation and the customer).

    Call outside any transaction. Raises ``ValidationError`` (no_financial_certificate, wrong_pin with
    the tries left, locked, revoked, expired, unavailable, and ``signature_verify``'s codes)."""
    now = now or timezone.now()
    certificate = held_financial_certificate(customer.pk, now)
    if certificate is None or certificate.cloud_id is None:  # a financial one always has it (a constraint)
        raise _refuse(ERR_NONE_HELD, "no_financial_certificate")
    der, signature = _cloud_sign(certificate.cloud_id, pin, text.encode("utf-8"), now)
    return signature_verify(
        customer=customer,
        certificate_der=der,
        text=text,
        signature=signature,
        purpose=purpose,
        actor=actor,
        now=now,
    )


def financial_transfer_signature(evidence: SignatureEvidence) -> Callable[[str], SignatureEvidence | None]:
    """What a page passes to ``transfer_execute`` as ``signature`` after ``financial_sign``: the
    evidence, if the service's own canonical text is exactly the one the PIN signed (else ``None``:
    refused as unsigned). The cloud signs before the transfer's transaction, which then only checks."""

    def signed(text: str) -> SignatureEvidence | None:
        return evidence if text == evidence.text and evidence.purpose == SignatureEvidence.Purpose.TRANSFER else None

    return signed


@dataclass(frozen=True)
class FinancialHolding:
    """A financial certificate usable at this bank: ours, or another institution's registered here."""

    cloud_id: uuid.UUID
    certificate: Certificate | ExternalCertificate


def financial_certificate_for(*, holder_name: str, phone: str, now: dt.datetime | None = None) -> FinancialHolding:
    """The financial certificate the cloud holds for this name and mobile number that this bank knows
    (issued here, or another institution's registered here; the newest in use).

    Raises ``ValidationError`` (no_financial_certificate)."""
    now = now or timezone.now()
    try:
        found = financial_cloud().find(holder_name=holder_name, phone=phone)
    except ValueError:
        found = []
    ids = [item.cloud_id for item in found if settings.BANK_CODE in item.registered]
    rows: list[Certificate | ExternalCertificate] = []
    if ids:
        rows += list(
            Certificate.objects.financial().filter(
                cloud_id__in=ids, status=Status.VALID, revoked_at__isnull=True, not_after__gte=now
            )
        )
        rows += list(
            ExternalCertificate.objects.filter(
                cloud_id__in=ids, status=ExternalCertificate.Status.REGISTERED, not_after__gte=now
            )
        )
    newest = max(rows, key=lambda row: (row.not_after, row.pk), default=None)
    if newest is None or newest.cloud_id is None:
        raise _refuse(ERR_NO_CERTIFICATE, "no_financial_certificate")
    return FinancialHolding(cloud_id=newest.cloud_id, certificate=newest)


def financial_certificates_elsewhere(customer: Customer) -> list[CloudCertificate]:
    """The customer's financial certificates in the cloud issued through other institutions and not
    yet registered here (what the registration page offers)."""
    if not customer.phone:
        return []
    try:
        found = financial_cloud().find(holder_name=customer.name, phone=customer.phone)
    except ValueError:
        return []
    return [
        item
        for item in found
        if item.institution != settings.BANK_CODE
        and settings.BANK_CODE not in item.registered
        and item.status == CertificateStatus.ACTIVE
    ]


def financial_register_other(
    *,
    agreement: Agreement,
    cloud_id: uuid.UUID,
    pin: str,
    text: str,
    medium_verified: bool,
    additional_auth: Callable[[], object | None],
    actor: Actor,
    now: dt.datetime | None = None,
) -> ExternalCertificate:
    """Register here another institution's financial certificate (타행 인증서 등록): the cloud signs the
    flow's registration ``text`` (``external_registration_text``) after the PIN, and
    ``external_certificate_register`` checks it like any other institution's certificate (trusted CA,
    chain, revocation, signature, the usual identity checks the pages made) and records the
    registration in the cloud as well.

    Call outside any transaction. Raises ``ValidationError`` (not_offered, wrong_pin, locked, ...,
    and ``external_certificate_register``'s codes)."""
    now = now or timezone.now()
    customer = Customer.objects.get(pk=agreement.customer_id)
    if cloud_id not in {item.cloud_id for item in financial_certificates_elsewhere(customer)}:
        raise _refuse(ERR_NOT_OFFERED, "not_offered")
    der, signature = _cloud_sign(cloud_id, pin, text.encode("utf-8"), now)
    return external_certificate_register(
        agreement=agreement,
        certificate_der=der,
        text=text,
        signature=signature,
        identity_random=None,
        medium_verified=medium_verified,
        additional_auth=additional_auth,
        actor=actor,
        now=now,
        cloud_id=cloud_id,
    )


def financial_login(
    *,
    holder_name: str,
    phone: str,
    pin: str,
    challenge_nonce: str,
    session_key: str,
    actor: Any,
    now: dt.datetime | None = None,
) -> LoginResult:
    """Log in from any device: the cloud signs the session's login nonce after the PIN, then
    ``certificate_login`` checks it (chain, record, revocation, agreement) and records the login.

    Call outside any transaction. Raises ``ValidationError`` (no_financial_certificate, wrong_pin,
    locked, revoked, expired, unavailable, and ``certificate_login``'s codes)."""
    now = now or timezone.now()
    holding = financial_certificate_for(holder_name=holder_name, phone=phone, now=now)
    der, signature = _cloud_sign(holding.cloud_id, pin, challenge_nonce.encode("ascii"), now)
    return certificate_login(
        challenge_nonce=challenge_nonce,
        certificate_der=der,
        signature=signature,
        session_key=session_key,
        actor=actor,
        now=now,
    )


def financial_renew(
    *, certificate: Certificate, pin: str, actor: Actor, now: dt.datetime | None = None
) -> IssuedCertificate:
    """Renew a financial certificate in its window with the PIN: the cloud makes a new key (counting
    the PIN like a signature), our CA certifies it, and the old certificate is revoked as superseded.

    Call outside any transaction. Audited ``certificate.financial_renew``. Raises ``ValidationError``
    (renewal_window naming the window's KST days, not_renewable, wrong_pin, locked, ..., agreement_not_active)."""
    if not isinstance(actor, User):
        raise PermissionDenied(ERR_NOT_OWN_CERTIFICATE)
    _require_own_user(actor, certificate.customer_id)
    now = now or timezone.now()
    if certificate.kind != Kind.FINANCIAL or certificate.cloud_id is None:
        raise _refuse(ERR_NOT_RENEWABLE, "not_renewable")
    if certificate.status != Status.VALID or certificate.revoked_at is not None:
        raise _refuse(ERR_NOT_RENEWABLE, "not_renewable")
    if not rules.financial_renewal_open(certificate.not_after, now):
        start, end = rules.financial_renewal_window_days(certificate.not_after)
        raise _refuse(ERR_RENEWAL_WINDOW, "renewal_window", start=start.isoformat(), end=end.isoformat())
    cloud = financial_cloud()
    try:
        enrolment = cloud.renew(cloud_id=certificate.cloud_id, pin=pin, now=now)
    except CloudRefused as refused:
        raise cloud_refusal(refused) from None
    with transaction.atomic():
        agreement = lock_active_agreement(active_agreement_of(certificate.customer_id))
        old = Certificate.objects.select_for_update().get(pk=certificate.pk)
        if old.status != Status.VALID or old.revoked_at is not None:
            raise _refuse(ERR_NOT_RENEWABLE, "not_renewable")
        issued = issue_locked(
            agreement=agreement,
            account=None,
            kind=Kind.FINANCIAL,
            storage=Certificate.Storage.CLOUD,
            public_key=serialization.load_der_public_key(enrolment.public_key_der),
            identity_random=None,
            actor=actor,
            now=now,
            action="certificate.financial_renew",
            details={"renews": old.serial},
            cloud_id=enrolment.cloud_id,
        )
        try:
            # Attaching the renewal supersedes the old certificate in the cloud (its key is gone).
            cloud.attach_certificate(cloud_id=enrolment.cloud_id, certificate_der=issued.der, now=now)
        except CloudRefused as refused:
            raise cloud_refusal(refused) from None
        revoke_locked(old, reason=Reason.SUPERSEDED, actor=actor, now=now, details={"by": "financial_renewal"})
        regenerate_crl_on_commit()
    return issued
