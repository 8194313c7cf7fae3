"""Joint certificates (공동인증서): issue, renewal, reissue and revocation.

The pages identify the customer, check the security medium and hand over the customer's CSR (the
private key, its password and the identity random value R never reach the server: R arrives only
to compute the identity hash, and is not stored). Rules (kinds, fees, the renewal window, serials)
live in ``certcenter.rules``; all ``cryptography`` work in ``certcenter.ca``.

Each change is one transaction. Lock order: the agreement row, then the customer's certificate
rows by primary key, then (inside ``ledger_post``) the withdrawal account, internal fee income
appended unlocked, the new certificate row, audit last. Staff revoke only through a staff request
a branch manager approves (kind ``certificate_revoke``: the approval runs
``certificate_revoke_approved``), whose row ``claim_approved_request`` locks before all of these.

After every revocation commits, the CRL is regenerated (``crl_regenerate``, on commit); a failure
there is logged, and the next request for /pki/crl/ or the daily job makes it.

Actors: the customer's own ``User``, or a named system actor holding ``ISSUE_PERMISSION`` (the
anonymous issue and reissue pages: ``certificate_web_actor()``). Staff are refused: they neither
issue nor revoke directly.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.identity import customer_rrn
from accounts.models import Account, Agreement, Customer, Journal, StaffRequest, User
from accounts.services._approval import claim_approved_request, target_id
from accounts.services._common import Actor, is_staff_actor, require_customer_or_perm, require_perm
from accounts.services.agreements import WEB_FLOW_PERMISSIONS
from accounts.services.ledger import fee_income_account, ledger_post
from accounts.services.staff_requests import APPROVE_PERMISSION, staff_request_executor
from bankportal.actors import SystemActor, system_actor
from bankportal.audit.services import audit_record
from bankportal.notifications.services import send_sms_on_commit
from bankportal.timeutil import kst_today
from certcenter import ca, rules
from certcenter.cloud.api import financial_cloud
from certcenter.models import Certificate, CertificateAuthority, serial_text
from certcenter.selectors import pki_urls
from certcenter.services.authority import CRL_PERMISSION, ERR_NOT_INITIALISED, _signing_material, crl_regenerate

logger = logging.getLogger(__name__)

ISSUE_PERMISSION = "certcenter.add_certificate"
# A system actor revoking for the customer (staff never hold it for this: they use a staff request).
REVOKE_PERMISSION = "certcenter.change_certificate"
# Approving (and so carrying out) a staff revocation: the branch manager's approval right. A
# dedicated certcenter permission would need a Meta permission on Certificate (not there yet).
STAFF_REVOKE_PERMISSION = APPROVE_PERMISSION
ADDITIONAL_AUTH_PURPOSE = "certificate_reissue"  # otp.models.AdditionalAuthChallenge.Purpose
IDENTITY_RANDOM_MIN = 16
IDENTITY_RANDOM_MAX = 64
SUBJECT_CN_MAX = 64  # X.520 ub-common-name

Kind = Certificate.Kind
Status = Certificate.Status
Reason = Certificate.RevocationReason


class ReissueReason(enum.StrEnum):
    """Why a customer reissues (재발급)."""

    LOST = "lost"
    FORGOTTEN_PASSWORD = "forgotten_password"  # noqa: S105 (a reason, not a password)
    EXPIRED = "expired"


# How a reissue revokes the customer's current certificates: a lost key may be in someone else's
# hands (key compromise); otherwise the new certificate simply supersedes them.
REISSUE_REVOCATION = {
    ReissueReason.LOST: Reason.KEY_COMPROMISE,
    ReissueReason.FORGOTTEN_PASSWORD: Reason.SUPERSEDED,
    ReissueReason.EXPIRED: Reason.SUPERSEDED,
}


# Reasons a customer or staff may give; "superseded" is reserved for renewal and reissue.
REVOKE_REASONS = (Reason.UNSPECIFIED, Reason.KEY_COMPROMISE, Reason.CESSATION_OF_OPERATION, Reason.AFFILIATION_CHANGED)

ERR_MEDIUM_NOT_VERIFIED = _("Answer the security medium challenge first.")
ERR_AGREEMENT_NOT_ACTIVE = _(
    "Certificates are issued only while internet banking is in normal use. Release a suspension first, "
    "or visit a branch."
)
ERR_NOT_WITHDRAWAL_ACCOUNT = _("Choose one of the withdrawal accounts of your internet banking agreement.")
ERR_ACCOUNT_NOT_ACTIVE = _("This withdrawal account is closed or has payments stopped. Choose another.")
ERR_CHOOSE_ACCOUNT = _("Choose the withdrawal account the fee is paid from.")
ERR_KIND_NOT_ALLOWED = _("This kind of certificate is not issued to this kind of customer.")
ERR_STORAGE = _("Choose where the certificate is kept: this browser, or a file (hard disk or USB).")
ERR_IDENTITY_RANDOM = _("The certificate request is incomplete. Start again.")
ERR_INSUFFICIENT_FUNDS = _(
    "The balance of the withdrawal account is not enough for the certificate fee (%(fee)s won). "
    "Nothing was issued or charged."
)
ERR_CSR = {
    "malformed": _("The certificate request could not be read. Start again."),
    "bad_signature": _(
        "The certificate request is not signed by its own key (proof of possession failed). Start again."
    ),
    "key_type": _("The certificate key must be an RSA key. Use a current browser and start again."),
    "key_size": _("The certificate key must be an RSA key of 2,048 bits. Use a current browser and start again."),
    "hash": _("The certificate request must be signed with SHA-256. Use a current browser and start again."),
}
ERR_CA_UNAVAILABLE = _("Certificates cannot be issued at the moment. Please try again later.")
ERR_RENEWAL_WINDOW = _(
    "This certificate can be renewed from %(opens)s 00:00 to %(expires)s 23:59:59 (Korea time). "
    "Outside that period, reissue it instead."
)
ERR_NOT_RENEWABLE = _("Only a valid certificate can be renewed; a revoked or expired one is reissued.")
ERR_REISSUE_REASON = _("Choose why the certificate is reissued: lost, forgotten password or expired.")
ERR_ADDITIONAL_AUTH_REQUIRED = _("Verify the code sent to your phone first.")
ERR_REVOKE_REASON = _("Choose a reason for revoking the certificate.")
ERR_NOT_REVOCABLE = _("This certificate is already revoked or expired.")
ERR_CERTIFICATE_CHANGED = _("The certificate changed after the request was made; record a new request.")
ERR_STAFF_REVOKE = _("Staff revoke a certificate through a staff request approved by a branch manager.")
ERR_NOT_OWN_CERTIFICATE = _("You can only manage your own certificates.")

ISSUED_SMS = _(
    "[%(bank)s] A joint certificate (%(kind)s) was issued for your internet banking on %(date)s. "
    "If this was not you, call us at once."
)
REVOKED_SMS = _(
    "[%(bank)s] Your joint certificate (%(kind)s, issued %(date)s) was revoked. If this was not you, call us at once."
)
FINANCIAL_ISSUED_SMS = _(
    "[%(bank)s] A financial certificate was issued on %(date)s and stored in the financial certificate cloud. "
    "If this was not you, call us at once."
)
FINANCIAL_REVOKED_SMS = _(
    "[%(bank)s] Your financial certificate (issued %(date)s) was revoked and deleted from the cloud. "
    "If this was not you, call us at once."
)


@dataclass(frozen=True)
class IssuedCertificate:
    """What an issue, renewal or reissue hands the page: the row, the DER and the fee receipt."""

    certificate: Certificate
    der: bytes
    fee_journal: Journal | None
    fee: int


def certificate_web_actor() -> SystemActor:
    """The named actor of the anonymous certificate pages (issue, reissue): the agreement web flows'
    checks (identification, account password, security medium, additional authentication) plus issuing."""
    return system_actor("certcenter_web", WEB_FLOW_PERMISSIONS | {ISSUE_PERMISSION})


def _crl_actor() -> SystemActor:
    return system_actor("certcenter_revocation", [CRL_PERMISSION])


def _refuse(message: Any, code: str, **params: Any) -> ValidationError:
    return ValidationError(message, code=code, params=params or None)


# --- Checks ----------------------------------------------------------------------------------------


def _require_issuer_actor(actor: Any, customer_id: int) -> None:
    """The customer's own user, or a system actor that may issue; never staff."""
    if is_staff_actor(actor):
        raise PermissionDenied("staff do not issue certificates; the customer does, online")
    require_customer_or_perm(actor, customer_id, ISSUE_PERMISSION, refusal=str(ERR_NOT_OWN_CERTIFICATE))


def _load_csr(csr: bytes | str) -> Any:
    data = csr.encode("ascii", "replace") if isinstance(csr, str) else bytes(csr)
    try:
        return ca.load_csr(data)
    except ca.InvalidCsr as exc:
        raise _refuse(ERR_CSR.get(exc.code, ERR_CSR["malformed"]), f"csr_{exc.code}") from None


def _check_identity_random(identity_random: bytes) -> bytes:
    if not isinstance(identity_random, bytes | bytearray | memoryview):
        raise _refuse(ERR_IDENTITY_RANDOM, "identity_random")
    value = bytes(identity_random)
    if not IDENTITY_RANDOM_MIN <= len(value) <= IDENTITY_RANDOM_MAX:
        raise _refuse(ERR_IDENTITY_RANDOM, "identity_random")
    return value


def _identity_number(customer: Customer) -> str:
    """The real-name number the identity hash binds: the BRN for a corporation, else the RRN."""
    if customer.kind == Customer.Kind.CORPORATION:
        return customer.brn or ""
    return customer_rrn(customer)


def _fee(kind: str, customer: Customer) -> int:
    try:
        return rules.fee_for(kind, customer.kind)
    except rules.KindNotAllowed:
        raise _refuse(ERR_KIND_NOT_ALLOWED, "kind_not_allowed") from None


def lock_active_agreement(agreement: Agreement) -> Agreement:
    # Lock the agreement: a suspension or termination at the same moment waits for the issue, or
    # the issue sees it and is refused.
    locked = Agreement.objects.select_for_update().select_related("customer").get(pk=agreement.pk)
    if locked.state != Agreement.State.ACTIVE:
        raise _refuse(ERR_AGREEMENT_NOT_ACTIVE, "agreement_not_active")
    return locked


def active_agreement_of(customer_id: int) -> Agreement:
    agreement = Agreement.objects.filter(customer_id=customer_id, state=Agreement.State.ACTIVE).first()
    if agreement is None:
        raise _refuse(ERR_AGREEMENT_NOT_ACTIVE, "agreement_not_active")
    return agreement


def _withdrawal_account(agreement: Agreement, account: Account | None) -> Account:
    """The agreement's withdrawal account the fee is paid from, active (read after the agreement lock)."""
    accounts = agreement.withdrawal_accounts.filter(kind=Account.Kind.CUSTOMER, holder_id=agreement.customer_id)
    if account is None:
        active = list(accounts.filter(status=Account.Status.ACTIVE).order_by("pk")[:2])
        if len(active) != 1:
            raise _refuse(ERR_CHOOSE_ACCOUNT, "choose_account")
        return active[0]
    current = accounts.filter(pk=account.pk).first()
    if current is None:
        raise _refuse(ERR_NOT_WITHDRAWAL_ACCOUNT, "not_withdrawal_account")
    if current.status != Account.Status.ACTIVE:
        raise _refuse(ERR_ACCOUNT_NOT_ACTIVE, "account_not_active")
    return current


def _lock_valid_certificates(customer_id: int, now: dt.datetime) -> list[Certificate]:
    # Lock in primary-key order: a renewal, a reissue and a revocation at once never deadlock.
    return list(
        Certificate.objects.joint()
        .select_for_update()
        .filter(customer_id=customer_id, status=Status.VALID, revoked_at__isnull=True, not_after__gte=now)
        .order_by("pk")
    )


# --- Issue -------------------------------------------------------------------------------------------


def _issuing_authority() -> tuple[CertificateAuthority, ca.CaMaterial]:
    issuing = CertificateAuthority.objects.filter(role=CertificateAuthority.Role.ISSUING, is_active=True).first()
    if issuing is None:
        raise _refuse(ERR_NOT_INITIALISED, "not_initialised")
    return issuing, _signing_material(issuing)


def _charge(*, account: Account, fee: int, kind: str, actor: Actor) -> Journal | None:
    """The fee from the withdrawal account to its branch's fee income; ``None`` for a free kind."""
    if fee == 0:
        return None
    try:
        return ledger_post(
            kind=Journal.Kind.FEE,
            legs=[(account, -fee), (fee_income_account(account.branch), fee)],
            actor=actor,
            memo=f"{_('Joint certificate fee')} ({Kind(kind).label})",
        )
    except ValidationError as exc:
        if exc.code == "insufficient_funds":
            raise _refuse(ERR_INSUFFICIENT_FUNDS, "insufficient_funds", fee=f"{fee:,}") from None
        raise


def _subject_name(customer: Customer) -> str:
    return " ".join(customer.name.split())[:SUBJECT_CN_MAX] or str(customer.pk)


def issue_locked(
    *,
    agreement: Agreement,
    account: Account | None,
    kind: str,
    storage: str,
    public_key: Any,
    identity_random: bytes | None,
    actor: Actor,
    now: dt.datetime,
    action: str,
    details: Mapping[str, Any],
    cloud_id: uuid.UUID | None = None,
) -> IssuedCertificate:
    """Charge, sign, store, audit and notify, inside the caller's transaction (agreement locked).

    A joint certificate binds the identity hash of R; a financial one (``cloud_id``: the cloud's key)
    carries none, is free and runs ``rules.FINANCIAL_VALIDITY_YEARS``."""
    customer = agreement.customer
    financial = kind == Kind.FINANCIAL
    fee = 0 if financial else _fee(kind, customer)
    # A financial certificate is free: no withdrawal account is needed.
    paying = None if financial else _withdrawal_account(agreement, account)
    # Refused for want of money before anything is signed or stored (and it all rolls back anyway).
    journal = _charge(account=paying, fee=fee, kind=kind, actor=actor) if paying is not None else None
    issuing, material = _issuing_authority()
    serial = rules.new_serial()
    try:
        certificate = ca.issue_customer_certificate(
            issuer=material,
            public_key=public_key,
            subject_common_name=_subject_name(customer),
            serial=serial,
            kind=ca.CertificateKind(kind),
            identity=ca.identity_hash(_identity_number(customer), identity_random)
            if identity_random is not None
            else None,
            urls=pki_urls(),
            now=now,
            years=rules.FINANCIAL_VALIDITY_YEARS if financial else 1,
        )
    except ca.InvalidCsr as exc:
        raise _refuse(ERR_CSR.get(exc.code, ERR_CSR["malformed"]), f"csr_{exc.code}") from None
    except ca.CaError:
        logger.error("certificate issue: the issuing CA cannot sign for the validity period")
        raise _refuse(ERR_CA_UNAVAILABLE, "ca_unavailable") from None
    der = ca.certificate_der(certificate)
    row = Certificate.objects.create(
        customer=customer,
        issuer=issuing,
        serial=serial_text(serial),
        kind=kind,
        storage=storage,
        status=Status.VALID,
        subject_cn=_subject_name(customer),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        certificate_der=der,
        cloud_id=cloud_id,
        created_at=now,
    )
    audit_record(
        action=action,
        actor=actor,
        customer_id=customer.pk,
        obj=row,
        details={
            "serial": row.serial,
            "kind": kind,
            "storage": storage,
            "fee": fee,
            "journal": journal.pk if journal is not None else None,
            "account": paying.number if journal is not None and paying is not None else None,
            "not_after": row.not_after.isoformat(),
            **details,
        },
    )
    if customer.phone:
        send_sms_on_commit(
            to=customer.phone,
            body=str(FINANCIAL_ISSUED_SMS if financial else ISSUED_SMS)
            % {"bank": settings.BANK_NAME_KO, "kind": Kind(kind).label, "date": kst_today(now).isoformat()},
            purpose="certificate_issue",
        )
    return IssuedCertificate(certificate=row, der=der, fee_journal=journal, fee=fee)


def _check_request(*, kind: str, storage: str, csr: bytes | str, identity_random: bytes) -> tuple[Any, bytes]:
    # Joint certificates only: a financial certificate's key is made in the cloud (services.financial).
    if kind not in Kind.values or kind == Kind.FINANCIAL:
        raise _refuse(ERR_KIND_NOT_ALLOWED, "kind_not_allowed")
    if storage not in (Certificate.Storage.BROWSER, Certificate.Storage.FILE):
        raise _refuse(ERR_STORAGE, "storage")
    return _load_csr(csr), _check_identity_random(identity_random)


def certificate_issue(
    *,
    agreement: Agreement,
    withdrawal_account: Account,
    kind: str,
    storage: str,
    csr: bytes | str,
    identity_random: bytes,
    medium_verified: bool,
    actor: Actor,
    now: dt.datetime | None = None,
) -> IssuedCertificate:
    """Issue a joint certificate for the customer's CSR and charge its fee, all or nothing.

    The page has identified the customer (user ID and RRN or business number, the withdrawal account
    and its password) and checked the security medium (``medium_verified``). ``csr`` is the PKCS#10
    request (PEM or DER) made with the browser's RSA-2048 key; ``identity_random`` the value R (16-64
    bytes) kept with the private key, hashed with the RRN (BRN for a corporation) into the
    certificate. The fee goes from ``withdrawal_account`` to its branch's fee income in the same
    transaction; the customer gets an SMS notice on commit. Audited as ``certificate.issue``.

    Raises ``ValidationError`` (medium_not_verified, kind_not_allowed, storage, identity_random,
    csr_<code>, agreement_not_active, not_withdrawal_account, account_not_active,
    insufficient_funds, account_frozen, not_initialised, ca_unavailable, ...) with nothing written;
    ``PermissionDenied`` for staff and for anyone but the customer's own user or an actor holding
    ``certcenter.add_certificate``.
    """
    _require_issuer_actor(actor, agreement.customer_id)
    if not medium_verified:
        raise _refuse(ERR_MEDIUM_NOT_VERIFIED, "medium_not_verified")
    request, random_value = _check_request(kind=kind, storage=storage, csr=csr, identity_random=identity_random)
    now = now or timezone.now()
    with transaction.atomic():
        locked = lock_active_agreement(agreement)
        return issue_locked(
            agreement=locked,
            account=withdrawal_account,
            kind=kind,
            storage=storage,
            public_key=request.public_key(),
            identity_random=random_value,
            actor=actor,
            now=now,
            action="certificate.issue",
            details={},
        )


# --- Revocation --------------------------------------------------------------------------------------


def regenerate_crl_on_commit() -> None:
    def regenerate() -> None:
        try:
            crl_regenerate(actor=_crl_actor())
        except Exception:
            # Never a 500 after the revocation committed: the CRL is remade by the next /pki/crl/
            # request that finds it out of date, and by the daily job.
            logger.exception("CRL regeneration after a revocation failed")

    transaction.on_commit(regenerate)


def revoke_locked(
    certificate: Certificate, *, reason: str, actor: Actor, now: dt.datetime, details: Mapping[str, Any]
) -> None:
    """Revoke a locked, valid certificate and audit it; the caller regenerates the CRL on commit.

    A financial certificate is revoked in the cloud too, in the same transaction: its key is destroyed."""
    certificate.status = Status.REVOKED
    certificate.revoked_at = now
    certificate.revocation_reason = reason
    certificate.save(update_fields=["status", "revoked_at", "revocation_reason"])
    if certificate.cloud_id is not None:
        financial_cloud().revoke(cloud_id=certificate.cloud_id, reason=reason, now=now)
    audit_record(
        action="certificate.revoke",
        actor=actor,
        customer_id=certificate.customer_id,
        obj=certificate,
        details={"serial": certificate.serial, "kind": certificate.kind, "reason": reason, **details},
    )


def notify_revoked(certificate: Certificate, customer: Customer) -> None:
    if customer.phone:
        send_sms_on_commit(
            to=customer.phone,
            body=str(FINANCIAL_REVOKED_SMS if certificate.kind == Kind.FINANCIAL else REVOKED_SMS)
            % {
                "bank": settings.BANK_NAME_KO,
                "kind": Kind(certificate.kind).label,
                "date": kst_today(certificate.created_at).isoformat(),
            },
            purpose="certificate_revoke",
        )


def _lock_revocable(certificate: Certificate, now: dt.datetime) -> Certificate:
    locked = Certificate.objects.select_for_update().select_related("customer").get(pk=certificate.pk)
    if locked.status != Status.VALID or locked.revoked_at is not None or locked.not_after < now:
        raise _refuse(ERR_NOT_REVOCABLE, "not_revocable")
    return locked


def certificate_revoke(
    *, certificate: Certificate, reason: str, actor: Actor, now: dt.datetime | None = None
) -> Certificate:
    """The customer deletes (revokes) their own certificate; it cannot be recovered.

    ``reason`` is one of ``REVOKE_REASONS``. The CRL is regenerated on commit and the customer gets
    an SMS notice. Audited as ``certificate.revoke``. Raises ``ValidationError`` (revoke_reason,
    not_revocable); ``PermissionDenied`` for staff (they record a ``certificate_revoke`` staff
    request), another customer, or a system actor without ``certcenter.change_certificate``.
    """
    if is_staff_actor(actor):
        raise PermissionDenied(ERR_STAFF_REVOKE)
    require_customer_or_perm(actor, certificate.customer_id, REVOKE_PERMISSION, refusal=str(ERR_NOT_OWN_CERTIFICATE))
    if reason not in REVOKE_REASONS:
        raise _refuse(ERR_REVOKE_REASON, "revoke_reason")
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_revocable(certificate, now)
        revoke_locked(locked, reason=reason, actor=actor, now=now, details={"by": "customer"})
        notify_revoked(locked, locked.customer)
        regenerate_crl_on_commit()
    return locked


def _prepare_certificate_revoke(request: StaffRequest, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The customer's valid certificate to revoke (``certificate``: its id) and the ``reason``."""
    customer_id = target_id(request.customer_id)
    reason = str(payload.get("reason") or "")
    if reason not in REVOKE_REASONS:
        raise _refuse(ERR_REVOKE_REASON, "revoke_reason")
    try:
        pk = int(payload.get("certificate") or 0)
    except (TypeError, ValueError):
        pk = 0
    certificate = Certificate.objects.filter(pk=pk, customer_id=customer_id).first()
    if certificate is None or certificate.status != Status.VALID or certificate.not_after < timezone.now():
        raise _refuse(ERR_NOT_REVOCABLE, "not_revocable")
    return {"certificate": certificate.pk, "serial": certificate.serial, "reason": reason}


@transaction.atomic
def certificate_revoke_approved(*, request: StaffRequest, actor: Actor) -> Certificate:
    """Revoke a customer's certificate as an approved staff request orders (책임자 승인).

    Only reachable through ``staff_request_approve`` (kind ``certificate_revoke``). Raises
    ``ValidationError`` when the certificate is no longer the valid one requested;
    ``PermissionDenied`` without ``accounts.approve_staffrequest`` or outside an approved request.
    """
    require_perm(actor, STAFF_REVOKE_PERMISSION)
    request = claim_approved_request(request=request, kind=StaffRequest.Kind.CERTIFICATE_REVOKE, actor=actor)
    now = timezone.now()
    locked = (
        Certificate.objects.select_for_update()
        .select_related("customer")
        .filter(pk=request.payload.get("certificate"), customer_id=target_id(request.customer_id))
        .first()
    )
    if (
        locked is None
        or locked.serial != request.payload.get("serial")
        or locked.status != Status.VALID
        or locked.revoked_at is not None
        or locked.not_after < now
    ):
        raise _refuse(ERR_CERTIFICATE_CHANGED, "certificate_changed")
    revoke_locked(
        locked,
        reason=str(request.payload.get("reason")),
        actor=actor,
        now=now,
        details={"by": "staff_request", "staff_request": request.pk},
    )
    notify_revoked(locked, locked.customer)
    regenerate_crl_on_commit()
    return locked


# --- Renewal and reissue -----------------------------------------------------------------------------


def _window_refusal(not_after: dt.datetime) -> ValidationError:
    opens, expires = rules.renewal_window_days(not_after)
    return _refuse(ERR_RENEWAL_WINDOW, "renewal_window", opens=opens.isoformat(), expires=expires.isoformat())


def certificate_renew(
    *,
    certificate: Certificate,
    csr: bytes | str,
    identity_random: bytes,
    actor: Actor,
    withdrawal_account: Account | None = None,
    now: dt.datetime | None = None,
) -> IssuedCertificate:
    """Renew (갱신) a valid certificate inside its window with a new key: same kind and storage, the fee
    again, and the old certificate revoked as superseded in the same transaction (CRL on commit).

    The window runs from 00:00 KST 60 days before the expiry day through the expiry day 23:59:59
    KST (``certcenter.rules``). The fee comes from ``withdrawal_account``, or, when none is given,
    the agreement's only active withdrawal account. Audited as ``certificate.renew`` (and
    ``certificate.revoke``). Raises ``ValidationError`` (renewal_window naming the window's KST
    dates, not_renewable, agreement_not_active, choose_account, insufficient_funds, csr_<code>, ...)
    with nothing written; ``PermissionDenied`` for anyone but the certificate's own customer's user.
    """
    if not isinstance(actor, User) or is_staff_actor(actor):
        raise PermissionDenied(ERR_NOT_OWN_CERTIFICATE)
    require_customer_or_perm(actor, certificate.customer_id, ISSUE_PERMISSION, refusal=str(ERR_NOT_OWN_CERTIFICATE))
    now = now or timezone.now()
    request, random_value = _check_request(
        kind=certificate.kind, storage=certificate.storage, csr=csr, identity_random=identity_random
    )
    with transaction.atomic():
        agreement = lock_active_agreement(active_agreement_of(certificate.customer_id))
        old = Certificate.objects.select_for_update().get(pk=certificate.pk)
        if old.status != Status.VALID or old.revoked_at is not None:
            raise _refuse(ERR_NOT_RENEWABLE, "not_renewable")
        if not rules.renewal_open(old.not_after, now):
            raise _window_refusal(old.not_after)
        issued = issue_locked(
            agreement=agreement,
            account=withdrawal_account,
            kind=old.kind,
            storage=old.storage,
            public_key=request.public_key(),
            identity_random=random_value,
            actor=actor,
            now=now,
            action="certificate.renew",
            details={"renews": old.serial},
        )
        # Once the new one exists: superseded, never a gap without a certificate.
        revoke_locked(old, reason=Reason.SUPERSEDED, actor=actor, now=now, details={"by": "renewal"})
        regenerate_crl_on_commit()
    return issued


def certificate_reissue(
    *,
    agreement: Agreement,
    withdrawal_account: Account,
    kind: str,
    storage: str,
    csr: bytes | str,
    identity_random: bytes,
    medium_verified: bool,
    additional_auth: Callable[[], object | None],
    reason: str,
    actor: Actor,
    now: dt.datetime | None = None,
) -> IssuedCertificate:
    """Reissue (재발급: lost, forgotten password, expired): revoke all the customer's current
    certificates, then issue a new one as ``certificate_issue`` does, all in one transaction.

    ``reason`` is a ``ReissueReason``: ``lost`` revokes as key compromise, the others as superseded.
    ``additional_auth`` spends the SMS/ARS additional authentication, once: it is called inside this
    transaction after the agreement lock and must return the spent verification or ``None`` when
    there is none (the page passes ``otp.services.additional_auth_use`` bound to the customer and
    purpose ``certificate_reissue``; ``certcenter`` keeps ``otp`` out of its imports like
    ``accounts.services.agreement_online``). Any refusal leaves every certificate, the money and the
    verification as they were. Audited as ``certificate.reissue`` (and ``certificate.revoke`` per
    revoked certificate).

    Raises ``ValidationError`` (reissue_reason, additional_auth_required and those of
    ``certificate_issue``); ``PermissionDenied`` as ``certificate_issue``.
    """
    _require_issuer_actor(actor, agreement.customer_id)
    if reason not in REISSUE_REVOCATION:
        raise _refuse(ERR_REISSUE_REASON, "reissue_reason")
    if not medium_verified:
        raise _refuse(ERR_MEDIUM_NOT_VERIFIED, "medium_not_verified")
    request, random_value = _check_request(kind=kind, storage=storage, csr=csr, identity_random=identity_random)
    now = now or timezone.now()
    with transaction.atomic():
        locked = lock_active_agreement(agreement)
        _fee(kind, locked.customer)  # a kind refusal before the verification is spent
        if additional_auth() is None:
            raise _refuse(ERR_ADDITIONAL_AUTH_REQUIRED, "additional_auth_required")
        current = _lock_valid_certificates(locked.customer_id, now)
        revocation = REISSUE_REVOCATION[ReissueReason(reason)]
        for old in current:
            revoke_locked(
                old, reason=revocation, actor=actor, now=now, details={"by": "reissue", "reissue_reason": reason}
            )
        if current:
            regenerate_crl_on_commit()
        return issue_locked(
            agreement=locked,
            account=withdrawal_account,
            kind=kind,
            storage=storage,
            public_key=request.public_key(),
            identity_random=random_value,
            actor=actor,
            now=now,
            action="certificate.reissue",
            details={"reason": reason, "revoked": [old.serial for old in current]},
        )


staff_request_executor(
    kind=StaffRequest.Kind.CERTIFICATE_REVOKE,
    target="customer",
    permission=STAFF_REVOKE_PERMISSION,
    execute=certificate_revoke_approved,
    prepare=_prepare_certificate_revoke,
)
