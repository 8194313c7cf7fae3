"""Digital OTP (디지털 OTP): enrollment from the security centre with a standard authenticator app.

Start creates a pending token (a fresh 160-bit secret, 30-second steps, this bank as issuer) and
registration, and returns the otpauth URI for one QR code (``bankportal.qr``); the secret is stored only
encrypted and the URI is never kept. One correct code confirms: the digital OTP becomes the
customer's active OTP (it counts as OTP for the security tier) and a previous one is retired.
Code checks share ``otp.services.tokens``'s rules (drift, replay guard, the token's error counter).

Online, start first spends a phone check (추가인증 to the registered phone, purpose
``DIGITAL_OTP_ENROLL``, verified within the last 10 minutes): a stolen web password alone must not
raise a customer to the safe tier. Staff at a branch check ID in person instead. An accident-reported
OTP does not stop it: a digital OTP is the usual replacement for a lost one, and the phone check is
the protection.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer
from accounts.services._common import Actor, is_staff_actor, user_or_none
from bankportal.actors import SystemActor
from bankportal.audit.services import audit_record
from otp import totp
from otp.models import AdditionalAuthChallenge, OtpRegistration, OtpToken
from otp.services.additional_auth import additional_auth_use
from otp.services.tokens import (
    REGISTER_PERMISSION,
    OtpOutcome,
    OtpResult,
    _channel,
    _check_code,
    _lock_customer,
    _lock_token,
    _notify,
    _refused,
    _require_customer_or,
    _retire_registration,
    _seal_seed,
    _status_refusal,
)

DIGITAL_VENDOR = "app"
PHONE_CHECK_PURPOSE = AdditionalAuthChallenge.Purpose.DIGITAL_OTP_ENROLL
ERR_PHONE_CHECK_REQUIRED = _(
    "Verify your mobile phone first: enter the code we send to your registered number, then start "
    "the registration within 10 minutes."
)


@dataclass(frozen=True)
class DigitalOtpEnrollment:
    """A pending digital OTP and its otpauth URI, shown once as a QR code. Never store or log ``uri``."""

    registration: OtpRegistration
    uri: str = field(repr=False)

    def __repr__(self) -> str:  # keep the secret out of tracebacks and debug output
        return f"DigitalOtpEnrollment(registration={self.registration.pk})"


# --- Digital OTP --------------------------------------------------------------------------------


def _new_digital_serial() -> str:
    # 10**15 serials: a collision is rare, and the unique index backs this check up.
    for _attempt in range(10):
        serial = f"D{settings.BANK_CODE}{secrets.randbelow(10**12):012d}"
        if not OtpToken.objects.filter(serial=serial).exists():
            return serial
    raise RuntimeError("could not find an unused digital OTP serial")


@transaction.atomic
def digital_otp_enroll_start(
    *, customer: Customer, actor: Actor, now: dt.datetime | None = None
) -> DigitalOtpEnrollment:
    """Start a digital OTP: a new secret, a pending token and registration, and the otpauth URI.

    The customer must first pass a phone check for ``PHONE_CHECK_PURPOSE``, verified within the last
    10 minutes; starting spends it (one check, one start). Staff and jobs holding
    ``otp.add_otpregistration`` need none. The URI (issuer = the bank's name, account = the
    customer's masked name) is for one QR code and is never stored or shown again; a previous
    unfinished enrollment is dropped. Raises ``ValidationError`` (code ``phone_check_required``)
    without a usable phone check; ``PermissionDenied`` for anyone but the customer, or staff with
    ``otp.add_otpregistration``.
    """
    _require_customer_or(actor, customer.pk, REGISTER_PERMISSION)
    now = now or timezone.now()
    _lock_customer(customer)
    phone_check = None
    if not (is_staff_actor(actor) or isinstance(actor, SystemActor)):  # they hold the permission (checked above)
        phone_check = additional_auth_use(customer=customer, purpose=PHONE_CHECK_PURPOSE, actor=actor, now=now)
        if phone_check is None:  # nothing was written, so there is nothing to audit (it would roll back)
            raise ValidationError(ERR_PHONE_CHECK_REQUIRED, code="phone_check_required")
    for pending in (
        OtpRegistration.objects.select_for_update()
        .filter(customer=customer, status=OtpRegistration.Status.PENDING)
        .order_by("pk")
    ):
        _retire_registration(pending, now=now, actor=actor, reason="enrollment restarted")
    seed = totp.new_seed()
    serial = _new_digital_serial()
    key_id, ciphertext = _seal_seed(seed, serial)
    token = OtpToken.objects.create(
        serial=serial,
        vendor=DIGITAL_VENDOR,
        kind=OtpToken.Kind.DIGITAL,
        issuer=settings.BANK_CODE,
        seed_ciphertext=ciphertext,
        seed_key_id=key_id,
        step_seconds=totp.DIGITAL_STEP_SECONDS,
        status=OtpToken.Status.PENDING,
    )
    registration = OtpRegistration.objects.create(
        customer=customer,
        token=token,
        name=str(OtpToken.Kind.DIGITAL.label),
        confirmed=False,
        status=OtpRegistration.Status.PENDING,
        channel=_channel(actor),
        registered_at=now,
        registered_by=user_or_none(actor),
    )
    audit_record(
        action="otp.digital_enroll_start",
        actor=actor,
        customer_id=customer.pk,
        obj=registration,
        details={"serial": token.serial_masked, "phone_check": phone_check.pk if phone_check else None},
    )
    uri = totp.provisioning_uri(
        seed, account=totp.mask_name(customer.name), issuer=settings.BANK_NAME_KO, step_seconds=token.step_seconds
    )
    return DigitalOtpEnrollment(registration=registration, uri=uri)


@transaction.atomic
def digital_otp_enroll_confirm(
    *, customer: Customer, code: str, actor: Actor, now: dt.datetime | None = None
) -> OtpOutcome:
    """Confirm a pending digital OTP with one correct code; it becomes the customer's active OTP.

    A registration the customer had is retired (a replacement). A wrong code counts on the new
    token like any other (10 lock it; start again). Returns OK (with the registration), WRONG,
    LOCKED, REPLAYED or NO_DEVICE (no enrollment pending). Raises ``PermissionDenied`` as
    ``digital_otp_enroll_start`` does.
    """
    _require_customer_or(actor, customer.pk, REGISTER_PERMISSION)
    now = now or timezone.now()
    _lock_customer(customer)
    pending = (
        OtpRegistration.objects.select_for_update()
        .filter(customer=customer, status=OtpRegistration.Status.PENDING)
        .order_by("-pk")
        .first()
    )
    action = "otp.digital_enroll_refused"
    if pending is None:
        return _refused(action=action, actor=actor, customer_id=customer.pk, result=OtpResult.NO_DEVICE)
    token = _lock_token(pending.token_id)
    refusal = _status_refusal(token, allow_pending=True)
    result = refusal or _check_code(token, code, now)
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
    previous = (
        OtpRegistration.objects.select_for_update()
        .filter(customer=customer, status=OtpRegistration.Status.ACTIVE)
        .first()
    )
    if previous is not None:
        _retire_registration(previous, now=now, actor=actor, reason="replaced")
    token.status = OtpToken.Status.ACTIVE
    token.save(update_fields=["status"])
    pending.status = OtpRegistration.Status.ACTIVE
    pending.confirmed = True
    pending.registered_at = now
    pending.save(update_fields=["status", "confirmed", "registered_at"])
    audit_record(
        action="otp.register",
        actor=actor,
        customer_id=customer.pk,
        obj=pending,
        details={
            "serial": token.serial_masked,
            "kind": token.kind,
            "issuer": token.issuer,
            "channel": pending.channel,
            "replaces": previous.pk if previous else None,
        },
    )
    _notify(
        customer,
        _("[%(bank)s] A digital OTP (%(serial)s) was registered for your internet banking. Not you? Call %(phone)s."),
        token,
    )
    return OtpOutcome(result=OtpResult.OK, registration=pending, errors=0)
