"""The financial certificate's issue pages (금융인증서 발급), anonymous, under /certificates/financial/issue/.

Thin, like the joint certificate's issue and reissue flows, whose identification, flow state,
phone step and security-medium step they share (``certcenter.pages.identify_customer``,
``accounts.ebanking_views``, ``templates/certcenter/_phone_forms.html``).

Steps (domain.md, "Financial certificate"): 1. the terms, user ID, RRN or business number,
withdrawal account and its password; 2. the code sent to the registered phone by SMS or ARS
(additional authentication, verified here); 3. the security medium; 4. the registered name, mobile
number and email shown for confirmation (the cloud finds the certificate by name and number later),
with the financial certificate in use, if any, and the confirmation that the new one replaces it;
5. the 6-digit PIN twice on the keypad. The PIN step spends the phone verification and calls
``financial_issue`` in one transaction, so a refused issue leaves the verification unspent (the
service takes no spending callable, unlike ``certificate_reissue``); then the done page.

The session holds the flow state of ``accounts.ebanking_views`` (agreement id, step, an expiry 10
minutes after identification) plus the serials of the certificates the customer agreed to replace;
never the RRN, a password, a code or the PIN. A step opens only when the flow has reached exactly it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.ebanking_views import (
    Flow,
    _context,
    _end,
    _medium_step,
    _refused,
    _restart,
    _start,
    _state,
    _update,
)
from accounts.models import Agreement, Customer
from accounts.phones import InvalidPhone, normalise_mobile
from bankportal.timeutil import KST
from certcenter.forms_financial import DetailsConfirmForm, FinancialIdentifyForm, PinForm
from certcenter.models import Certificate
from certcenter.pages import ERR_FLOW_GONE, identify_customer
from certcenter.phone_step import PhoneStep, phone_send, phone_step
from certcenter.services import certificate_web_actor
from certcenter.services.financial import financial_issue
from otp.services import Purpose, additional_auth_use
from otp.services.additional_auth import Purpose as AuthPurpose

FINANCIAL_ISSUE = Flow(
    key="certcenter_flow_financial_issue",
    start="certcenter:financial_issue",
    title=_("Issue a financial certificate"),
    steps=(
        _("Confirm it is you"),
        _("Code sent to your phone"),
        _("Security medium"),
        _("Your details"),
        _("PIN"),
    ),
)
ISSUED_KEY = "certcenter_financial_issued"  # what the done page shows (serial and expiry; nothing secret)
# The additional-authentication purpose the otp app already has for this flow.
PHONE_PURPOSE = AuthPurpose.FINANCIAL_CERTIFICATE_ISSUE
# The sign-in page's URL name (certcenter.financial_login_urls); its path while the name is unknown.
SIGNIN_URL_NAME = "certcenter:financial_signin"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

ERR_SUSPENDED_RELEASE_FIRST = _(
    "Internet banking is suspended for this agreement. Release the suspension first "
    "(Security centre → Release an internet banking suspension), then issue the financial certificate."
)
ERR_NO_MOBILE = _(
    "No mobile number that can receive text messages is registered for you. A financial certificate is "
    "found by your name and mobile number: visit a branch with your ID to register your mobile number first."
)
ERR_CORPORATE = _(
    "Financial certificates are for individual customers. Corporate internet banking uses a joint "
    "certificate: issue a joint certificate instead."
)
ERR_VERIFY_AGAIN = _(
    "The code from your phone has already been used or is no longer valid (a verification can be used for "
    "10 minutes). Nothing was issued. Start again from the first step."
)
ERR_CERTIFICATES_CHANGED = _(
    "A financial certificate was issued for you after you confirmed your details (in another window?). "
    "Nothing was issued or revoked. Start again and check which certificate will be replaced."
)

# Issue refusals after which this flow cannot go on (the verification or the agreement changed).
_ENDING_CODES = frozenset({"agreement_not_active", "medium_not_verified", "additional_auth_required"})
# Refusals of the PIN itself: shown on the PIN field, the flow stays.
_PIN_CODES = {"pin_format": "pin", "pin_mismatch": "pin_again", "trivial_pin": "pin"}

anonymous_page = require_http_methods(["GET", "HEAD", "POST"])


def _mobile(customer: Customer) -> str | None:
    """The customer's registered mobile number (digits), or ``None`` when there is none usable."""
    try:
        return normalise_mobile(customer.phone)
    except InvalidPhone:
        return None


def _phone_display(digits: str) -> str:
    return f"{digits[:3]}-{digits[3:-4]}-{digits[-4:]}"


def _in_use(customer_id: int, now: dt.datetime) -> list[Certificate]:
    """The financial certificates in use that a new one would replace (valid, not revoked, not expired)."""
    return list(
        Certificate.objects.financial()
        .filter(customer_id=customer_id, status=Certificate.Status.VALID, revoked_at__isnull=True, not_after__gte=now)
        .order_by("pk")
    )


def _unusable(request: HttpRequest, agreement: Agreement) -> HttpResponse | None:
    """The refusal page for a customer who cannot hold a financial certificate online, else ``None``."""
    customer = agreement.customer
    if customer.kind == Customer.Kind.CORPORATION:
        return _refused(request, FINANCIAL_ISSUE, ERR_CORPORATE, code="corporate")
    if _mobile(customer) is None:
        return _refused(request, FINANCIAL_ISSUE, ERR_NO_MOBILE, code="no_phone")
    return None


def signin_url() -> str:
    """Where the done page sends the customer to sign in with the new financial certificate."""
    return reverse(SIGNIN_URL_NAME)


# --- Step 1: identification ----------------------------------------------------------------------------


@never_cache
@anonymous_page
def financial_issue_identify(request: HttpRequest) -> HttpResponse:
    """Step 1: the terms, user ID, RRN or business number, withdrawal account and its password."""
    form = FinancialIdentifyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        found = identify_customer(request, form, FINANCIAL_ISSUE, suspended_message=ERR_SUSPENDED_RELEASE_FIRST)
        if isinstance(found, HttpResponse):
            return found
        if found is not None:
            agreement, _account = found
            refusal = _unusable(request, agreement)
            if refusal is not None:
                return refusal
            _start(request, FINANCIAL_ISSUE, agreement, "phone")
            request.session.pop(ISSUED_KEY, None)
            return redirect("certcenter:financial_issue_phone")
    return render(request, "certcenter/financial/issue_identify.html", _context(FINANCIAL_ISSUE, 1, form=form))


# --- Step 2: additional authentication (the code sent to the registered phone) --------------------------


_PHONE = PhoneStep(
    flow=FINANCIAL_ISSUE,
    number=2,
    template="certcenter/financial/issue_phone.html",
    purpose=PHONE_PURPOSE,
    page="certcenter:financial_issue_phone",
    next_step="medium",
    next_page="certcenter:financial_issue_medium",
    actor=certificate_web_actor,
)


@never_cache
@anonymous_page
def financial_issue_phone(request: HttpRequest) -> HttpResponse:
    """Step 2: verify the code sent to the registered phone; the issue spends the verification."""
    return phone_step(request, _PHONE)


@never_cache
@require_POST
def financial_issue_phone_send(request: HttpRequest) -> HttpResponse:
    """Send the code by SMS (or an ARS call where offered)."""
    return phone_send(request, _PHONE)


# --- Step 3: the security medium ------------------------------------------------------------------------


@never_cache
@anonymous_page
def financial_issue_medium(request: HttpRequest) -> HttpResponse:
    """Step 3: the security medium challenge (two security-card numbers, or the OTP's 6 digits)."""
    return _medium_step(
        request,
        FINANCIAL_ISSUE,
        purpose=Purpose.CERTIFICATE_ISSUE,
        next_step="details",
        next_url=reverse("certcenter:financial_issue_details"),
        step_number=3,
        actor=certificate_web_actor(),
    )


# --- Step 4: name, mobile number and email; the certificate it replaces --------------------------------


def _certificate_rows(certificates: list[Certificate]) -> list[dict[str, str]]:
    return [
        {
            "serial": certificate.serial,
            "not_after_display": certificate.not_after.astimezone(KST).strftime(TIME_FORMAT),
        }
        for certificate in certificates
    ]


@never_cache
@anonymous_page
def financial_issue_details(request: HttpRequest) -> HttpResponse:
    """Step 4: the registered name, mobile number and email, confirmed; the certificate in use, if
    any, is named with its expiry and the customer confirms that the new one replaces it."""
    found = _state(request, FINANCIAL_ISSUE, "details")
    if found is None:
        return _restart(request, FINANCIAL_ISSUE)
    agreement, _state_data = found
    refusal = _unusable(request, agreement)  # the record may have changed at a branch meanwhile
    if refusal is not None:
        return refusal
    customer = agreement.customer
    current = _in_use(customer.pk, timezone.now())
    form = DetailsConfirmForm(request.POST if request.method == "POST" else None, replacing=bool(current))
    if request.method == "POST" and form.is_valid():
        _update(request, FINANCIAL_ISSUE, step="pin", replaces=[certificate.serial for certificate in current])
        return redirect("certcenter:financial_issue_pin")
    return render(
        request,
        "certcenter/financial/issue_details.html",
        _context(
            FINANCIAL_ISSUE,
            4,
            form=form,
            holder_name=customer.name,
            phone=_phone_display(_mobile(customer) or ""),
            email=customer.email,
            certificates=_certificate_rows(current),
        ),
    )


# --- Step 5: the PIN, twice; the issue --------------------------------------------------------------------


def _pin_page(request: HttpRequest, form: PinForm, certificates: list[Certificate]) -> HttpResponse:
    return render(
        request,
        "certcenter/financial/issue_pin.html",
        _context(FINANCIAL_ISSUE, 5, form=form, certificates=_certificate_rows(certificates)),
    )


def _confirmed_serials(state: dict[str, Any]) -> set[str] | None:
    serials = state.get("replaces")
    return {str(serial) for serial in serials} if isinstance(serials, list) else None


@never_cache
@anonymous_page
def financial_issue_pin(request: HttpRequest) -> HttpResponse:
    """Step 5: the new 6-digit PIN twice on the keypad; then the cloud makes the key, our CA certifies
    it, the certificate in use is revoked and the customer gets the "stored in the cloud" SMS."""
    found = _state(request, FINANCIAL_ISSUE, "pin")
    if found is None:
        return _restart(request, FINANCIAL_ISSUE)
    agreement, state = found
    confirmed = _confirmed_serials(state)
    if confirmed is None:
        return _restart(request, FINANCIAL_ISSUE)
    customer = agreement.customer
    now = timezone.now()
    current = _in_use(customer.pk, now)
    if request.method != "POST":
        return _pin_page(request, PinForm(birth_date=customer.birth_date), current)
    form = PinForm(request.POST, birth_date=customer.birth_date)
    if not form.is_valid():  # checked before anything is spent or written
        return _pin_page(request, form, current)
    if {certificate.serial for certificate in current} - confirmed:
        # Replace only what the customer saw and confirmed.
        return _refused(request, FINANCIAL_ISSUE, ERR_CERTIFICATES_CHANGED, code="certificates_changed")
    refusal = _unusable(request, agreement)
    if refusal is not None:
        return refusal
    actor = certificate_web_actor()
    try:
        # One transaction: the phone verification is spent only if the certificate is issued
        # (financial_issue's cloud enrolment joins it; only sign/login/renew must run outside one).
        with transaction.atomic():
            if additional_auth_use(customer=customer, purpose=PHONE_PURPOSE, actor=actor, now=now) is None:
                raise ValidationError(ERR_VERIFY_AGAIN, code="additional_auth_required")
            issued = financial_issue(
                agreement=agreement,
                pin=form.cleaned_data["pin"],
                pin_again=form.cleaned_data["pin_again"],
                medium_verified=True,  # this step opens only after the medium step succeeded
                actor=actor,
                now=now,
            )
    except ValidationError as error:
        code = error.code or "refused"
        if code in _ENDING_CODES:
            return _refused(request, FINANCIAL_ISSUE, error.messages[0], code=code)
        form.add_error(_PIN_CODES.get(code), error)
        return _pin_page(request, form, current)
    except PermissionDenied:
        return _refused(request, FINANCIAL_ISSUE, ERR_FLOW_GONE, code="refused")
    _end(request, FINANCIAL_ISSUE)  # one certificate per identification
    certificate = issued.certificate
    request.session[ISSUED_KEY] = {
        "serial": certificate.serial,
        "not_after": certificate.not_after.astimezone(KST).strftime(TIME_FORMAT),
        "replaced": len(issued.replaced),
    }
    return redirect("certcenter:financial_issue_done")


# --- Done -------------------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "HEAD"])
def financial_issue_done(request: HttpRequest) -> HttpResponse:
    """The certificate is in the cloud: its expiry, and where to sign in with it."""
    issued = request.session.get(ISSUED_KEY)
    if not isinstance(issued, dict) or not issued.get("serial"):
        return redirect("certcenter:centre")
    return render(
        request,
        "certcenter/financial/issue_done.html",
        {"flow": FINANCIAL_ISSUE, "issued": issued, "signin_url": signin_url()},
    )
