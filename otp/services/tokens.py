"""OTP tokens (OTP 발생기): registration at this bank, verification, accident reports, and unlock by
approved staff request. The registry import is ``token_import``, digital OTP enrollment ``digital_otp``;
both build on the shared steps here.

Rules: ``otp.totp`` (pure). The token row carries what every institution shares (통합OTP): its
status, the consecutive-error counter and the last time step used. Every code check locks the
token row, so errors counted here and at another institution add up exactly, and a code is
accepted once. Seeds are AES-GCM ciphertext bound to the serial; they never leave a service
except in the otpauth URI of a digital OTP enrollment, shown once as a QR code.

Code checks (``otp_verify``, ``otp_register_online``, ``digital_otp_enroll_confirm``,
``otp_token_record_external_failure``) return an ``OtpOutcome`` whose ``result`` is an
``OtpResult``; a wrong code is committed with its count, so call them outside any other
transaction. Staff-side services (``otp_register_at_branch``, ``otp_accident_report``,
``otp_tokens_import``) raise ``ValidationError`` (``OtpRefused`` carries the ``OtpResult``).

Lock order: the staff request (unlock), then the customer, then tokens by pk, then registrations;
the audit append last.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer, StaffRequest
from accounts.services._approval import claim_approved_request, target_id
from accounts.services._common import (
    Actor,
    is_staff_actor,
    require_actor,
    require_customer_or_perm,
    require_not_own_record,
    require_perm,
    user_or_none,
)
from accounts.services.staff_requests import staff_request_executor
from bankportal import crypto
from bankportal.actors import SystemActor
from bankportal.audit.services import audit_record
from bankportal.notifications.services import send_sms_on_commit
from bankportal.session_levels import has_certificate_session
from bankportal.timeutil import kst_today
from otp import totp
from otp.models import OtpRegistration, OtpToken

SEED_PURPOSE = "otp.token.seed"
REGISTER_PERMISSION = "otp.add_otpregistration"
ACCIDENT_PERMISSION = "otp.record_otp_accident"
UNLOCK_PERMISSION = "otp.unlock_otptoken"
# Staff or a job checking a code on the customer's behalf (the customer's own users need none).
VERIFY_PERMISSION = "otp.verify_otpregistration"
# The integrated-OTP centre reporting a wrong code typed at another institution.
EXTERNAL_PERMISSION = "otp.change_otptoken"

ERR_WRONG = _("The OTP number is not correct.")
ERR_LOCKED = _(
    "The OTP is locked after 10 consecutive wrong numbers (counted at every institution). "
    "Visit a branch with your ID to unlock it."
)
ERR_REPLAYED = _("This OTP number has already been used. Wait for the next number and try again.")
ERR_ACCIDENT_REPORTED = _(
    "Your OTP is reported lost (사고신고). Online registration is not possible: visit a branch with your ID."
)
ERR_NO_DEVICE = _("No OTP is registered for you at this bank.")
ERR_CERTIFICATE_REQUIRED = _("Registering an OTP online needs a certificate login. Sign in with your certificate.")
ERR_UNKNOWN_SERIAL = _("No OTP with this serial number is known. Check the number on the back of the device.")
ERR_NOT_REGISTRABLE = _("This OTP cannot be registered here. Visit a branch with your ID and the device.")
ERR_ISSUED_HERE = _("An OTP issued by this bank is registered at a branch.")
ERR_IN_USE = _("This OTP is registered to another customer at this bank.")
ERR_WARRANTY_EXPIRED = _("This OTP's warranty has ended; register the replacement device instead.")
ERR_ALREADY_REGISTERED = _("This OTP is already registered for this customer.")
ERR_NOT_LOCKED = _("The customer has no locked OTP to unlock.")
ERR_TOKEN_CHANGED = _("The OTP changed after the request was made; record a new request.")


class OtpResult(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    REPLAYED = "replayed"
    ACCIDENT_REPORTED = "accident_reported"
    NO_DEVICE = "no_device"
    CERTIFICATE_REQUIRED = "certificate_required"
    UNKNOWN_SERIAL = "unknown_serial"
    NOT_REGISTRABLE = "not_registrable"
    ISSUED_HERE = "issued_here"
    IN_USE = "in_use"
    WARRANTY_EXPIRED = "warranty_expired"
    ALREADY_REGISTERED = "already_registered"


OTP_RESULT_MESSAGES: dict[OtpResult, Any] = {
    OtpResult.OK: _("The OTP number is correct."),
    OtpResult.WRONG: ERR_WRONG,
    OtpResult.LOCKED: ERR_LOCKED,
    OtpResult.REPLAYED: ERR_REPLAYED,
    OtpResult.ACCIDENT_REPORTED: ERR_ACCIDENT_REPORTED,
    OtpResult.NO_DEVICE: ERR_NO_DEVICE,
    OtpResult.CERTIFICATE_REQUIRED: ERR_CERTIFICATE_REQUIRED,
    OtpResult.UNKNOWN_SERIAL: ERR_UNKNOWN_SERIAL,
    OtpResult.NOT_REGISTRABLE: ERR_NOT_REGISTRABLE,
    OtpResult.ISSUED_HERE: ERR_ISSUED_HERE,
    OtpResult.IN_USE: ERR_IN_USE,
    OtpResult.WARRANTY_EXPIRED: ERR_WARRANTY_EXPIRED,
    OtpResult.ALREADY_REGISTERED: ERR_ALREADY_REGISTERED,
}


@dataclass(frozen=True)
class OtpOutcome:
    """What a code check or online registration decided. ``errors`` is the token's shared count."""

    result: OtpResult
    registration: OtpRegistration | None = None
    errors: int = 0

    @property
    def ok(self) -> bool:
        return self.result is OtpResult.OK

    @property
    def errors_left(self) -> int:
        return totp.errors_left(self.errors)

    @property
    def message(self) -> str:
        return str(OTP_RESULT_MESSAGES[self.result])


class OtpRefused(ValidationError):
    """A staff-side OTP step refused by the rules; ``result`` says why (code ``otp_<result>``)."""

    def __init__(self, result: OtpResult) -> None:
        super().__init__(OTP_RESULT_MESSAGES[result], code=f"otp_{result.value}")
        self.result = result


class CertificateSessionRequired(PermissionDenied):
    """The step needs a certificate-level session (공동/금융인증서 login)."""


# --- The certificate guard (stub) ----------------------------------------------------------------


def require_certificate_session(request_or_flag: Any) -> None:
    """Refuse unless the session reached certificate level (공동/금융인증서 login).

    CERTIFICATE ISSUE: WIRE THIS. Today it accepts a request (``bankportal.session_levels``: the
    certificate login sets the level, and nothing sets it yet) or a plain bool for services called
    without a request. When the certificate centre lands, pass the request from the view and drop
    the bool form. Raises ``CertificateSessionRequired``.
    """
    passed = request_or_flag if isinstance(request_or_flag, bool) else has_certificate_session(request_or_flag)
    if not passed:
        raise CertificateSessionRequired(ERR_CERTIFICATE_REQUIRED)


# --- Seeds --------------------------------------------------------------------------------------


def _seal_seed(seed: str, serial: str) -> tuple[str, str]:
    return crypto.encrypt(seed, ring=crypto.current_ring(), purpose=SEED_PURPOSE, bound_to=serial)


def otp_token_seed(token: OtpToken) -> str:
    """Decrypt the seed for a check. Never render or log the result.

    Raises ``crypto.DecryptionError`` for a ciphertext moved from another token, a corrupt one, or
    a key id missing from ``FIELD_ENCRYPTION_KEYS``.
    """
    return crypto.decrypt(
        token.seed_ciphertext,
        key_id=token.seed_key_id,
        ring=crypto.current_ring(),
        purpose=SEED_PURPOSE,
        bound_to=token.serial,
    )


def normalise_serial(serial: str) -> str:
    return re.sub(r"[\s-]", "", serial or "").upper()


# --- Who may act --------------------------------------------------------------------------------


def _require_customer_or(actor: Any, customer_id: int, perm: str) -> None:
    """The customer (any of their users), or staff and jobs holding ``perm`` (never on their own record)."""
    require_customer_or_perm(actor, customer_id, perm, refusal="this actor may not act on this customer's OTP")


def _require_customer_self(actor: Any, customer_id: int) -> None:
    require_actor(actor)
    if isinstance(actor, SystemActor) or is_staff_actor(actor) or actor.customer_id != customer_id:
        raise PermissionDenied("only the customer registers an OTP online; staff register at a branch")


def _channel(actor: Any) -> str:
    return OtpRegistration.Channel.BRANCH if is_staff_actor(actor) else OtpRegistration.Channel.ONLINE


# --- Shared steps -------------------------------------------------------------------------------


def _lock_customer(customer: Customer) -> None:
    # Lock the customer: two registrations at once must leave one active, not fail on the index.
    Customer.objects.select_for_update().filter(pk=customer.pk).first()


def _lock_token(pk: int) -> OtpToken:
    # Lock the token: every institution's code checks and status changes on it are serialised, so
    # no error is lost, no code is accepted twice and no unlock undoes a lock it did not see.
    return OtpToken.objects.select_for_update().get(pk=pk)


def _status_refusal(token: OtpToken, *, allow_pending: bool = False) -> OtpResult | None:
    if token.status == OtpToken.Status.LOCKED:
        return OtpResult.LOCKED
    if token.status == OtpToken.Status.ACCIDENT_REPORTED:
        return OtpResult.ACCIDENT_REPORTED
    if token.status == OtpToken.Status.ACTIVE or (allow_pending and token.status == OtpToken.Status.PENDING):
        return None
    return OtpResult.NO_DEVICE


def _check_code(token: OtpToken, code: str, now: dt.datetime) -> OtpResult:
    """Decide one code on a locked, usable token and write the token's new state."""
    matched = totp.match_step(otp_token_seed(token), code, now, token.step_seconds)
    if matched is None:
        token.error_count, locked = totp.errors_after_failure(token.error_count)
        fields = ["error_count"]
        if locked:
            token.status = OtpToken.Status.LOCKED
            token.locked_at = now
            fields += ["status", "locked_at"]
        token.save(update_fields=fields)
        return OtpResult.LOCKED if locked else OtpResult.WRONG
    if not totp.is_fresh(matched, token.last_used_step):
        # Not counted as an error: it proves a recent code, it is not a guess (a double submit).
        return OtpResult.REPLAYED
    token.error_count = 0
    token.last_used_step = matched
    token.last_used_at = now
    token.save(update_fields=["error_count", "last_used_step", "last_used_at"])
    return OtpResult.OK


def _current_registration(customer_id: int) -> OtpRegistration | None:
    """The customer's latest registration that got past enrollment (active, accident-reported or retired)."""
    return (
        OtpRegistration.objects.filter(customer_id=customer_id)
        .exclude(status=OtpRegistration.Status.PENDING)
        .order_by("-registered_at", "-pk")
        .first()
    )


def _active_registration(customer_id: int) -> OtpRegistration | None:
    return OtpRegistration.objects.filter(customer_id=customer_id, status=OtpRegistration.Status.ACTIVE).first()


def _retire_registration(registration: OtpRegistration, *, now: dt.datetime, actor: Actor, reason: str) -> None:
    registration.status = OtpRegistration.Status.RETIRED
    registration.ended_at = now
    registration.save(update_fields=["status", "ended_at"])
    token = registration.token
    if token.kind == OtpToken.Kind.DIGITAL and token.status != OtpToken.Status.RETIRED:
        # A digital OTP exists only here; a hardware one stays usable at other institutions.
        token = _lock_token(token.pk)
        token.status = OtpToken.Status.RETIRED
        token.save(update_fields=["status"])
    audit_record(
        action="otp.registration_retire",
        actor=actor,
        customer_id=registration.customer_id,
        obj=registration,
        details={"serial": token.serial_masked, "reason": reason},
    )


def _registrable(token: OtpToken, customer_id: int, today: dt.date) -> OtpResult | None:
    refusal = _status_refusal(token)
    if refusal is OtpResult.NO_DEVICE or token.kind == OtpToken.Kind.DIGITAL:
        return OtpResult.NOT_REGISTRABLE
    if refusal is not None:
        return refusal
    if token.warranty_until is not None and token.warranty_until < today:
        return OtpResult.WARRANTY_EXPIRED
    holder = (
        OtpRegistration.objects.filter(token=token, status=OtpRegistration.Status.ACTIVE)
        .values_list("customer_id", flat=True)
        .first()
    )
    if holder is not None:
        return OtpResult.ALREADY_REGISTERED if holder == customer_id else OtpResult.IN_USE
    return None


def _register(*, customer: Customer, token: OtpToken, actor: Actor, channel: str, now: dt.datetime) -> OtpRegistration:
    previous = (
        OtpRegistration.objects.select_for_update()
        .filter(customer=customer, status=OtpRegistration.Status.ACTIVE)
        .first()
    )
    if previous is not None:
        _retire_registration(previous, now=now, actor=actor, reason="replaced")
    registration = OtpRegistration.objects.create(
        customer=customer,
        token=token,
        name=str(token.get_kind_display()),
        confirmed=True,
        status=OtpRegistration.Status.ACTIVE,
        channel=channel,
        registered_at=now,
        registered_by=user_or_none(actor),
    )
    audit_record(
        action="otp.register",
        actor=actor,
        customer_id=customer.pk,
        obj=registration,
        details={
            "serial": token.serial_masked,
            "kind": token.kind,
            "issuer": token.issuer,
            "channel": channel,
            "replaces": previous.pk if previous else None,
        },
    )
    _notify(
        customer,
        _("[%(bank)s] An OTP (%(serial)s) was registered for your internet banking. Not you? Call %(phone)s."),
        token,
    )
    return registration


def _notify(customer: Customer, template: Promise, token: OtpToken) -> None:
    if customer.phone:
        body = str(template) % {
            "bank": settings.BANK_NAME_KO,
            "serial": token.serial_masked,
            "phone": settings.BANK_CALL_CENTRE,
        }
        send_sms_on_commit(to=customer.phone, body=body, purpose="otp")


def _refused(
    *, action: str, actor: Actor, customer_id: int, result: OtpResult, obj: Any = None, **details: Any
) -> OtpOutcome:
    audit_record(
        action=action, actor=actor, customer_id=customer_id, obj=obj, details={"result": result.value, **details}
    )
    return OtpOutcome(result=result, errors=getattr(obj, "error_count", 0) if isinstance(obj, OtpToken) else 0)


# --- Registration at a branch and online --------------------------------------------------------


@transaction.atomic
def otp_register_at_branch(*, customer: Customer, serial: str, actor: Actor) -> OtpRegistration:
    """Register a token (this bank's or another institution's) to ``customer`` at the counter.

    A registration the customer already has is retired (a replacement); an accident-reported one
    stays as it is. Raises ``OtpRefused`` (result UNKNOWN_SERIAL, NOT_REGISTRABLE, LOCKED,
    ACCIDENT_REPORTED, WARRANTY_EXPIRED, IN_USE, ALREADY_REGISTERED); ``PermissionDenied`` without
    ``otp.add_otpregistration`` or on the staff member's own customer record.
    """
    require_perm(actor, REGISTER_PERMISSION)
    require_not_own_record(actor, customer.pk)
    if not is_staff_actor(actor):
        raise PermissionDenied("a branch registration is made by a staff member")
    now = timezone.now()
    _lock_customer(customer)
    found = OtpToken.objects.filter(serial=normalise_serial(serial)).values_list("pk", flat=True).first()
    if found is None:
        raise OtpRefused(OtpResult.UNKNOWN_SERIAL)
    token = _lock_token(found)
    refusal = _registrable(token, customer.pk, kst_today(now))
    if refusal is not None:
        raise OtpRefused(refusal)
    return _register(customer=customer, token=token, actor=actor, channel=OtpRegistration.Channel.BRANCH, now=now)


@transaction.atomic
def otp_register_online(
    *,
    customer: Customer,
    serial: str,
    code: str,
    actor: Actor,
    certificate_session: Any,
    now: dt.datetime | None = None,
) -> OtpOutcome:
    """보안센터 → OTP 이용등록: the customer registers another institution's integrated OTP.

    Needs a certificate-level session (``require_certificate_session``: a request, or a bool
    until the certificate issue wires it) and a correct code from the token (a wrong one counts on
    the token's shared counter). Refused, with "visit a branch", while the customer's current OTP
    is accident-reported. Returns an ``OtpOutcome``: OK (with the new registration) or
    CERTIFICATE_REQUIRED, ACCIDENT_REPORTED, UNKNOWN_SERIAL, ISSUED_HERE, NOT_REGISTRABLE, LOCKED,
    WARRANTY_EXPIRED, IN_USE, ALREADY_REGISTERED, WRONG, REPLAYED. Every attempt is audited.
    Raises ``PermissionDenied`` for anyone but the customer's own user.
    """
    _require_customer_self(actor, customer.pk)
    now = now or timezone.now()
    action = "otp.register_online_refused"
    try:
        require_certificate_session(certificate_session)
    except CertificateSessionRequired:
        return _refused(action=action, actor=actor, customer_id=customer.pk, result=OtpResult.CERTIFICATE_REQUIRED)
    _lock_customer(customer)
    current = _current_registration(customer.pk)
    if current is not None and current.status == OtpRegistration.Status.ACCIDENT_REPORTED:
        return _refused(action=action, actor=actor, customer_id=customer.pk, result=OtpResult.ACCIDENT_REPORTED)
    found = OtpToken.objects.filter(serial=normalise_serial(serial)).values_list("pk", flat=True).first()
    if found is None:
        return _refused(action=action, actor=actor, customer_id=customer.pk, result=OtpResult.UNKNOWN_SERIAL)
    token = _lock_token(found)
    refusal = (
        OtpResult.ISSUED_HERE
        if token.issuer == settings.BANK_CODE
        else _registrable(token, customer.pk, kst_today(now))
    )
    if refusal is not None:
        return _refused(
            action=action, actor=actor, customer_id=customer.pk, result=refusal, obj=token, serial=token.serial_masked
        )
    result = _check_code(token, code, now)
    if result is not OtpResult.OK:
        return _refused(
            action=action,
            actor=actor,
            customer_id=customer.pk,
            result=result,
            obj=token,
            serial=token.serial_masked,
            errors=token.error_count,
        )
    registration = _register(
        customer=customer, token=token, actor=actor, channel=OtpRegistration.Channel.ONLINE, now=now
    )
    return OtpOutcome(result=OtpResult.OK, registration=registration, errors=0)


# --- Verification -------------------------------------------------------------------------------


@transaction.atomic
def otp_verify(*, customer: Customer, code: str, actor: Actor, now: dt.datetime | None = None) -> OtpOutcome:
    """Check a code from the customer's active OTP registration at this bank.

    One transaction (call it outside any other, so a wrong code stays counted): locks the token,
    accepts the code of the current time step or one either side, once; a wrong code adds to the
    token's shared counter and the 10th consecutive one locks the token everywhere; a right code
    resets it. Returns an ``OtpOutcome``: OK, WRONG, LOCKED, REPLAYED, ACCIDENT_REPORTED or
    NO_DEVICE. Raises ``PermissionDenied`` for an actor who is neither the customer nor holds
    ``otp.verify_otpregistration``; ``crypto.DecryptionError`` if the seed is not this token's.
    """
    _require_customer_or(actor, customer.pk, VERIFY_PERMISSION)
    now = now or timezone.now()
    registration = _active_registration(customer.pk)
    if registration is None:
        current = _current_registration(customer.pk)
        accident = current is not None and current.status == OtpRegistration.Status.ACCIDENT_REPORTED
        result = OtpResult.ACCIDENT_REPORTED if accident else OtpResult.NO_DEVICE
        return _refused(action="otp.verify_refused", actor=actor, customer_id=customer.pk, result=result)
    token = _lock_token(registration.token_id)
    # Re-read under the token lock: an accident report takes the same lock before changing it.
    registration.refresh_from_db(fields=["status"])
    refusal = _status_refusal(token)
    if registration.status != OtpRegistration.Status.ACTIVE:
        refusal = (
            OtpResult.ACCIDENT_REPORTED
            if registration.status == OtpRegistration.Status.ACCIDENT_REPORTED
            else OtpResult.NO_DEVICE
        )
    if refusal is not None:
        return _refused(
            action="otp.verify_refused",
            actor=actor,
            customer_id=customer.pk,
            result=refusal,
            obj=token,
            serial=token.serial_masked,
        )
    result = _check_code(token, code, now)
    audit_record(
        action="otp.verified"
        if result is OtpResult.OK
        else ("otp.lock" if result is OtpResult.LOCKED else "otp.verify_failed"),
        actor=actor,
        customer_id=customer.pk,
        obj=token,
        details={"serial": token.serial_masked, "result": result.value, "errors": token.error_count},
    )
    return OtpOutcome(result=result, registration=registration, errors=token.error_count)


@transaction.atomic
def otp_token_record_external_failure(
    *, serial: str, institution: str, actor: Actor, now: dt.datetime | None = None
) -> OtpOutcome:
    """A wrong code typed for this token at another institution (reported by the 통합OTP centre).

    Adds to the token's shared counter exactly as a wrong code here does; the 10th consecutive
    error locks it everywhere. Returns WRONG, LOCKED, or the token's status refusal (LOCKED,
    ACCIDENT_REPORTED, NO_DEVICE) without counting. Raises ``PermissionDenied`` without
    ``otp.change_otptoken``; ``OtpToken.DoesNotExist`` for an unknown serial.
    """
    require_perm(actor, EXTERNAL_PERMISSION)
    now = now or timezone.now()
    token = _lock_token(OtpToken.objects.values_list("pk", flat=True).get(serial=normalise_serial(serial)))
    refusal = _status_refusal(token)
    if refusal is None:
        token.error_count, locked = totp.errors_after_failure(token.error_count)
        token.status, token.locked_at = (OtpToken.Status.LOCKED, now) if locked else (token.status, token.locked_at)
        token.save(update_fields=["error_count", "status", "locked_at"])
        result = OtpResult.LOCKED if locked else OtpResult.WRONG
    else:
        result = refusal
    audit_record(
        action="otp.external_failure",
        actor=actor,
        obj=token,
        details={
            "serial": token.serial_masked,
            "institution": institution[:3],
            "result": result.value,
            "errors": token.error_count,
        },
    )
    return OtpOutcome(result=result, errors=token.error_count)


# --- Accident report (사고신고) -------------------------------------------------------------------


@transaction.atomic
def otp_accident_report(*, customer: Customer, actor: Actor, channel: str | None = None) -> OtpRegistration:
    """Report the customer's OTP lost: the token is blocked at once, everywhere, and the registration marked.

    The customer (online) or staff with ``otp.record_otp_accident`` (at a branch or by phone);
    staff can then register a replacement. ``channel`` defaults to the actor's (branch for staff).
    Raises ``OtpRefused`` (NO_DEVICE) when the customer has no active OTP here;
    ``PermissionDenied`` for anyone else or on the staff member's own record.
    """
    _require_customer_or(actor, customer.pk, ACCIDENT_PERMISSION)
    channel = channel or _channel(actor)
    if channel not in OtpRegistration.Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    now = timezone.now()
    _lock_customer(customer)
    registration = _active_registration(customer.pk)
    if registration is None:
        raise OtpRefused(OtpResult.NO_DEVICE)
    token = _lock_token(registration.token_id)
    registration = OtpRegistration.objects.select_for_update().get(pk=registration.pk)
    previous_status = token.status
    token.status = OtpToken.Status.ACCIDENT_REPORTED
    token.accident_reported_at = now
    token.save(update_fields=["status", "accident_reported_at"])
    registration.status = OtpRegistration.Status.ACCIDENT_REPORTED
    registration.ended_at = now
    registration.save(update_fields=["status", "ended_at"])
    audit_record(
        action="otp.accident_report",
        actor=actor,
        customer_id=customer.pk,
        obj=registration,
        details={"serial": token.serial_masked, "channel": channel, "token_status_before": previous_status},
    )
    _notify(
        customer,
        _("[%(bank)s] Your OTP (%(serial)s) was reported lost and is blocked. Not you? Call %(phone)s."),
        token,
    )
    return registration


# --- Unlock through an approved staff request (책임자 승인) ----------------------------------------


def _prepare_unlock(request: StaffRequest, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The customer's locked OTP registered here, named in the request (token id and masked serial)."""
    registration = (
        OtpRegistration.objects.filter(
            customer_id=target_id(request.customer_id),
            status=OtpRegistration.Status.ACTIVE,
            token__status=OtpToken.Status.LOCKED,
        )
        .select_related("token")
        .first()
    )
    if registration is None:
        raise ValidationError(ERR_NOT_LOCKED, code="otp_not_locked")
    return {"token": registration.token_id, "serial": registration.token.serial_masked}


@transaction.atomic
def otp_token_unlock(*, request: StaffRequest, actor: Actor) -> OtpToken:
    """Unlock the token named in an approved ``otp_unlock`` request (once): active, counter reset.

    The token is shared, so it is unlocked at every institution. Raises ``PermissionDenied``
    without ``otp.unlock_otptoken``, outside an approved request (``claim_approved_request``) or on
    the actor's own record; ``ValidationError`` when the token is no longer locked or no longer
    the customer's active OTP here.
    """
    require_perm(actor, UNLOCK_PERMISSION)
    # The staff request row first (the document this unlock acts on), then the token.
    request = claim_approved_request(request=request, kind=StaffRequest.Kind.OTP_UNLOCK, actor=actor)
    require_not_own_record(actor, request.customer_id)
    token_id = (request.payload or {}).get("token")
    customer_id = target_id(request.customer_id)
    token = OtpToken.objects.select_for_update().filter(pk=int(token_id or 0)).first()
    still_theirs = OtpRegistration.objects.filter(
        token_id=token_id, customer_id=customer_id, status=OtpRegistration.Status.ACTIVE
    ).exists()
    if token is None or token.status != OtpToken.Status.LOCKED or not still_theirs:
        raise ValidationError(ERR_TOKEN_CHANGED, code="otp_changed")
    token.status = OtpToken.Status.ACTIVE
    token.error_count = 0
    token.locked_at = None
    token.save(update_fields=["status", "error_count", "locked_at"])
    audit_record(
        action="otp.unlock",
        actor=actor,
        customer_id=request.customer_id,
        obj=token,
        details={"serial": token.serial_masked, "request": request.pk},
    )
    return token


staff_request_executor(
    kind=StaffRequest.Kind.OTP_UNLOCK,
    target="customer",
    permission=UNLOCK_PERMISSION,
    execute=otp_token_unlock,
    prepare=_prepare_unlock,
)
