"""The customer's security centre (보안센터): my security media, digital OTP enrollment, registering
another institution's OTP (OTP 이용등록) and the accident report (사고신고).

Thin: authorise (a signed-in customer's own user; staff and users without a customer are refused
with a clear page), call one ``otp`` service, render or redirect. Every page is ``never_cache``: the
enrollment page carries a secret, and the others show the state of the customer's media. The
digital OTP secret is shown once, in the response to the POST that created it; it never goes into a
URL, the session, a message or the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.limits import Tier, maximum_limit
from accounts.models import Customer, User
from bankportal.notifications.backends import ars_available
from bankportal.session_levels import has_certificate_session
from otp.additionalauth import mask_phone
from otp.forms import (
    AccidentReportForm,
    DigitalOtpConfirmForm,
    OtpRegisterForm,
    PhoneCheckCodeForm,
    PhoneCheckSendForm,
)
from otp.models import AdditionalAuthChallenge, OtpRegistration, OtpToken
from otp.selectors import (
    customer_otp_accident_reported,
    customer_phone_check,
    customer_security_media,
    qr_data_uri,
)
from otp.services import (
    ANTI_PHISHING_NOTICE,
    OTP_RESULT_MESSAGES,
    OtpOutcome,
    OtpRefused,
    OtpResult,
    additional_auth_start,
    additional_auth_verify,
    digital_otp_enroll_confirm,
    digital_otp_enroll_start,
    otp_accident_report,
    otp_register_online,
    security_tier,
)

NOT_A_CUSTOMER = _(
    "The security centre is for the bank's customers, and this sign-in is not linked to a customer. "
    "Visit a branch to link your internet banking ID."
)
STAFF_NOT_A_CUSTOMER = _(
    "Staff IDs cannot use the customer security centre. Sign in with your own web member ID as a customer."
)
MSG_DIGITAL_REGISTERED = _("Your digital OTP is registered and active.")
MSG_OTP_REGISTERED = _("The OTP is registered for your internet banking.")
MSG_ACCIDENT_REPORTED = _(
    "Your OTP is reported lost and blocked at every institution. Visit a branch with your ID for a replacement."
)
ERR_NO_PENDING_ENROLLMENT = _("No digital OTP enrollment is waiting for a number. Start again to get a new QR code.")
ERR_ENROLLMENT_LOCKED = _("Too many wrong numbers for this enrollment. Start again to get a new QR code.")
ERR_TRIES_LEFT = _("%(left)s more wrong numbers in a row lock the OTP.")
MSG_PHONE_CODE_SENT_SMS = _("We sent a 6-digit code by text message to %(phone)s. It is valid for 3 minutes.")
MSG_PHONE_CODE_SENT_ARS = _("We are calling %(phone)s to read out a 6-digit code. It is valid for 3 minutes.")
MSG_PHONE_VERIFIED = _("Your phone is verified. Start the registration within 10 minutes.")
ERR_PHONE_TRIES_LEFT = ngettext_lazy("%(left)s try left.", "%(left)s tries left.", "left")

TIER_LABELS = {
    Tier.SAFE: _("Safe (OTP)"),
    Tier.GENERAL: _("General (security card)"),
    Tier.NONE: _("None (no security medium)"),
}
# Where an online registration's refusal is shown: next to the field it is about, else on top.
_SERIAL_RESULTS = {
    OtpResult.UNKNOWN_SERIAL,
    OtpResult.ISSUED_HERE,
    OtpResult.NOT_REGISTRABLE,
    OtpResult.IN_USE,
    OtpResult.WARRANTY_EXPIRED,
    OtpResult.ALREADY_REGISTERED,
}
_CODE_RESULTS = {OtpResult.WRONG, OtpResult.REPLAYED, OtpResult.LOCKED}
# An OTP that can still be reported lost: in use, or locked by wrong numbers (a lost locked OTP too).
_REPORTABLE = {OtpRegistration.Status.ACTIVE.value, OtpToken.Status.LOCKED.value}

CustomerView = Callable[..., HttpResponse]


def customer_required(view: CustomerView) -> Callable[..., HttpResponse]:
    """Anonymous → the login page; staff or a user without a customer → a clear refusal (403).

    The view is called as ``view(request, customer, ...)`` with the signed-in user's customer.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = cast(User, request.user)
        if user.is_staff or user.customer_id is None:
            message = STAFF_NOT_A_CUSTOMER if user.is_staff else NOT_A_CUSTOMER
            return render(request, "otp/security/not_a_customer.html", {"message": message}, status=403)
        return view(request, user.customer, *args, **kwargs)

    return never_cache(login_required(wrapped))


def _secret_groups(uri: str) -> list[str]:
    """The base32 secret of an otpauth URI in groups of four, for typing into an app by hand."""
    secret = parse_qs(urlsplit(uri).query).get("secret", [""])[0]
    return [secret[i : i + 4] for i in range(0, len(secret), 4)]


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


# --- My security media (나의 보안매체) --------------------------------------------------------------


@customer_required
@require_safe
def security_centre(request: HttpRequest, customer: Customer) -> HttpResponse:
    media = customer_security_media(customer)
    tier = security_tier(customer)
    corporate = customer.kind == Customer.Kind.CORPORATION
    limit = maximum_limit(corporate=corporate, tier=tier, minor_cap=customer.solo_minor_cap)
    otp_media = [medium for medium in media if medium.medium == "otp"]
    return render(
        request,
        "otp/security/centre.html",
        {
            "media": media,
            "tier": tier.value,
            "tier_label": TIER_LABELS[tier],
            "limit": limit,
            "minor_cap": customer.solo_minor_cap,
            "corporate": corporate,
            "has_reportable_otp": any(medium.status in _REPORTABLE for medium in otp_media),
            "anti_phishing_notice": ANTI_PHISHING_NOTICE,
        },
    )


# --- Digital OTP (디지털 OTP) -----------------------------------------------------------------------


def _pending_enrollment(customer: Customer) -> bool:
    return any(
        medium.medium == "otp" and medium.status == OtpRegistration.Status.PENDING
        for medium in customer_security_media(customer, include_ended=True)
    )


def _digital_refusal(outcome: OtpOutcome) -> Any:
    if outcome.result is OtpResult.NO_DEVICE:
        return ERR_NO_PENDING_ENROLLMENT
    if outcome.result is OtpResult.LOCKED:
        return ERR_ENROLLMENT_LOCKED
    if outcome.result is OtpResult.WRONG:
        return f"{outcome.message} {ERR_TRIES_LEFT % {'left': outcome.errors_left}}"
    return outcome.message


PHONE_CHECK_PURPOSE = AdditionalAuthChallenge.Purpose.DIGITAL_OTP_ENROLL


def _digital_page(
    request: HttpRequest,
    customer: Customer,
    *,
    form: DigitalOtpConfirmForm | None = None,
    phone_form: PhoneCheckCodeForm | None = None,
    send_error: Any = None,
    start_error: Any = None,
) -> HttpResponse:
    """The digital OTP page at whatever step the customer is: verify the phone, start, confirm."""
    phone_check = customer_phone_check(customer.pk, PHONE_CHECK_PURPOSE, now=timezone.now())
    return render(
        request,
        "otp/security/digital_otp.html",
        {
            "form": form or DigitalOtpConfirmForm(),
            "phone_form": phone_form or PhoneCheckCodeForm(),
            "phone_check": phone_check,
            "phone_masked": mask_phone(customer.phone),
            "ars_available": ars_available(),
            "send_error": send_error,
            "start_error": start_error,
            "pending": _pending_enrollment(customer),
        },
    )


@customer_required
@require_http_methods(["GET", "POST"])
def digital_otp(request: HttpRequest, customer: Customer) -> HttpResponse:
    """GET: explain, and offer the phone check, then the start button (and the code field if an
    enrollment is waiting). POST: confirm the waiting enrollment with one code from the app."""
    form = DigitalOtpConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        outcome = digital_otp_enroll_confirm(customer=customer, code=form.cleaned_data["code"], actor=_user(request))
        if outcome.ok:
            messages.success(request, MSG_DIGITAL_REGISTERED)
            return redirect("security:centre")
        field = "code" if outcome.result in (OtpResult.WRONG, OtpResult.REPLAYED) else None
        form.add_error(field, _digital_refusal(outcome))
    return _digital_page(request, customer, form=form)


@customer_required
@require_POST
def digital_otp_phone_send(request: HttpRequest, customer: Customer) -> HttpResponse:
    """Send the phone-check code (추가인증) to the registered phone, by SMS or an ARS call."""
    form = PhoneCheckSendForm(request.POST)
    if not form.is_valid():
        return _digital_page(request, customer, send_error=form.errors["channel"][0])
    channel = form.cleaned_data["channel"]
    try:
        additional_auth_start(customer=customer, purpose=PHONE_CHECK_PURPOSE, channel=channel, actor=_user(request))
    except ValidationError as refusal:
        return _digital_page(request, customer, send_error=refusal.messages[0])
    sent = MSG_PHONE_CODE_SENT_ARS if channel == AdditionalAuthChallenge.Channel.ARS else MSG_PHONE_CODE_SENT_SMS
    messages.success(request, sent % {"phone": mask_phone(customer.phone)})
    return redirect("security:digital_otp")


@customer_required
@require_POST
def digital_otp_phone_verify(request: HttpRequest, customer: Customer) -> HttpResponse:
    """Check the phone-check code; a right one lets the customer start within 10 minutes."""
    phone_form = PhoneCheckCodeForm(request.POST)
    if phone_form.is_valid():
        result = additional_auth_verify(
            customer=customer,
            purpose=PHONE_CHECK_PURPOSE,
            answer=phone_form.cleaned_data["phone_code"],
            actor=_user(request),
        )
        if result.ok:
            messages.success(request, MSG_PHONE_VERIFIED)
            return redirect("security:digital_otp")
        message: Any = result.message
        if result.tries_left:
            message = f"{result.message} {ERR_PHONE_TRIES_LEFT % {'left': result.tries_left}}"
        phone_form.add_error("phone_code", message)
    return _digital_page(request, customer, phone_form=phone_form)


@customer_required
@require_POST
def digital_otp_start(request: HttpRequest, customer: Customer) -> HttpResponse:
    """Start (or restart) an enrollment and show its QR code and secret, once, in this response.

    Spends the customer's phone check; without one the page says to verify the phone first."""
    try:
        enrollment = digital_otp_enroll_start(customer=customer, actor=_user(request))
    except ValidationError as refusal:
        return _digital_page(request, customer, start_error=refusal.messages[0])
    return render(
        request,
        "otp/security/digital_otp_scan.html",
        {
            "qr_src": qr_data_uri(enrollment.uri),
            "secret_groups": _secret_groups(enrollment.uri),
            "serial": enrollment.registration.token.serial_masked,
            "form": DigitalOtpConfirmForm(),
        },
    )


# --- Another institution's OTP (OTP 이용등록) -------------------------------------------------------


def _registration_refusal(request: HttpRequest, customer: Customer) -> Any:
    """Why the form would be refused before any input (shown instead of it), or None.

    Only for display: the service decides again on every POST.
    """
    if customer_otp_accident_reported(customer.pk):
        return OTP_RESULT_MESSAGES[OtpResult.ACCIDENT_REPORTED]
    if not has_certificate_session(request):
        return OTP_RESULT_MESSAGES[OtpResult.CERTIFICATE_REQUIRED]
    return None


@customer_required
@require_http_methods(["GET", "POST"])
def otp_register(request: HttpRequest, customer: Customer) -> HttpResponse:
    form = OtpRegisterForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        outcome = otp_register_online(
            customer=customer,
            serial=form.cleaned_data["serial"],
            code=form.cleaned_data["code"],
            actor=_user(request),
            certificate_session=request,
        )
        if outcome.ok:
            messages.success(request, MSG_OTP_REGISTERED)
            return redirect("security:centre")
        message: Any = outcome.message
        if outcome.result is OtpResult.WRONG:
            message = f"{outcome.message} {ERR_TRIES_LEFT % {'left': outcome.errors_left}}"
        field = "serial" if outcome.result in _SERIAL_RESULTS else "code" if outcome.result in _CODE_RESULTS else None
        form.add_error(field, message)
    return render(
        request,
        "otp/security/otp_register.html",
        {
            "form": form,
            "refusal": _registration_refusal(request, customer),
            "issued_here": OTP_RESULT_MESSAGES[OtpResult.ISSUED_HERE],
        },
    )


# --- Accident report (사고신고) ---------------------------------------------------------------------


@customer_required
@require_http_methods(["GET", "POST"])
def accident_report(request: HttpRequest, customer: Customer) -> HttpResponse:
    form = AccidentReportForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            otp_accident_report(customer=customer, actor=_user(request), channel=OtpRegistration.Channel.ONLINE)
        except OtpRefused as refusal:
            form.add_error(None, refusal)
        else:
            messages.success(request, MSG_ACCIDENT_REPORTED)
            return redirect("security:centre")
    reportable = [
        medium
        for medium in customer_security_media(customer)
        if medium.medium == "otp" and medium.status in _REPORTABLE
    ]
    return render(request, "otp/security/accident_report.html", {"form": form, "reportable": reportable})
