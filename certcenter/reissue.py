"""The certificate reissue (인증서 재발급) pages, anonymous: lost, forgotten password or expired.

Thin, like the issue flow (``certcenter.pages``) whose identification, certificate step and JSON
shapes it shares, with two steps more: the reason with the irreversible-action warning, and the
additional authentication (추가인증: a code to the registered phone by SMS or ARS call).

Steps: 1. terms, user ID, RRN or business number, withdrawal account and its password; 2. the reason
and the explicit confirmation, under the list of the current certificates (serial, kind, expiry)
that will be revoked; 3. the security medium; 4. the code sent to the registered phone, verified
here and spent inside the reissue's own transaction (``certificate_reissue`` takes the spending as a
callable: ``certcenter`` services do not import ``otp``); 5. kind, storage and the certificate
password — the page's script (static/js/certcenter-issue.js) makes the key pair and posts the CSR
and R to ``reissue_request``, which revokes every current certificate and issues the new one in one
transaction.

The session holds the flow state of ``accounts.ebanking_views`` (agreement id, step, an expiry 10
minutes after identification) plus the withdrawal account's id, the reason and the serials the
customer saw and confirmed; never the RRN, a password, a code or a key. A step opens only when the
flow has reached exactly it. If a certificate that was not on the confirmed list has appeared by the
time of the request, nothing is revoked and the customer starts again.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
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
    _restart,
    _start,
    _state,
    _update,
)
from bankportal.timeutil import KST
from certcenter.forms import REISSUE_REASONS, CertificateIdentifyForm, ReissueReasonForm
from certcenter.models import Certificate
from certcenter.pages import (
    ERR_BAD_REQUEST,
    ERR_FLOW_GONE,
    certificate_step_context,
    flow_account,
    identify_customer,
    issued_answer,
    json_refusal,
    parse_certificate_request,
)
from certcenter.phone_step import PhoneStep, phone_send, phone_step
from certcenter.services import ReissueReason, certificate_reissue, certificate_web_actor
from otp.services import (
    Purpose,
    additional_auth_use,
)
from otp.services.additional_auth import Purpose as AuthPurpose

REISSUE = Flow(
    key="certcenter_flow_reissue",
    start="certcenter:reissue",
    title=_("Reissue a joint certificate"),
    steps=(
        _("Confirm it is you"),
        _("Reason"),
        _("Security medium"),
        _("Code sent to your phone"),
        _("Certificate"),
    ),
)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

ERR_SUSPENDED_RELEASE_FIRST = _(
    "Internet banking is suspended for this agreement. Release the suspension first "
    "(Security centre → Release an internet banking suspension), then reissue the certificate."
)
ERR_CERTIFICATES_CHANGED = _(
    "Your certificates changed after you confirmed the reissue (a certificate was issued meanwhile). "
    "Nothing was revoked or charged. Start again and check the list of certificates to be revoked."
)
ERR_VERIFY_AGAIN = _(
    "The code from your phone has already been used or is no longer valid. Nothing was revoked or "
    "charged. Start again from the first step."
)
MSG_WORKING = _("Revoking your current certificates and issuing the new one. Please wait…")
MSG_NONE_REVOKED = _("none")

# Reissue refusals after which trying again in the same flow cannot help (the verification is spent
# or gone, or the agreement changed).
_ENDING_CODES = frozenset({"agreement_not_active", "medium_not_verified", "additional_auth_required", "reissue_reason"})

anonymous_page = require_http_methods(["GET", "HEAD", "POST"])


def _current_certificates(customer_id: int, now: dt.datetime) -> list[Certificate]:
    """The certificates a reissue now would revoke (as ``certificate_reissue`` selects them)."""
    return list(
        Certificate.objects.joint()
        .filter(customer_id=customer_id, status=Certificate.Status.VALID, revoked_at__isnull=True, not_after__gte=now)
        .order_by("pk")
    )


def _certificate_rows(certificates: list[Certificate]) -> list[dict[str, Any]]:
    return [
        {
            "serial": certificate.serial,
            "kind_label": Certificate.Kind(certificate.kind).label,
            "storage_label": Certificate.Storage(certificate.storage).label,
            "not_after_display": certificate.not_after.astimezone(KST).strftime(TIME_FORMAT),
        }
        for certificate in certificates
    ]


def _reason_label(reason: object) -> Any:
    return dict(REISSUE_REASONS).get(str(reason), "")


# --- Step 1: identification ----------------------------------------------------------------------------


@never_cache
@anonymous_page
def reissue_identify(request: HttpRequest) -> HttpResponse:
    """Step 1: the terms, user ID, RRN or business number, withdrawal account and its password."""
    form = CertificateIdentifyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        found = identify_customer(request, form, REISSUE, suspended_message=ERR_SUSPENDED_RELEASE_FIRST)
        if isinstance(found, HttpResponse):
            return found
        if found is not None:
            agreement, account = found
            _start(request, REISSUE, agreement, "reason")
            _update(request, REISSUE, account=account.pk)
            return redirect("certcenter:reissue_reason")
    return render(request, "certcenter/reissue_identify.html", _context(REISSUE, 1, form=form))


# --- Step 2: the reason and the irreversible-action warning --------------------------------------------


@never_cache
@anonymous_page
def reissue_reason(request: HttpRequest) -> HttpResponse:
    """Step 2: lost, forgotten password or expired, confirmed under the list of what will be revoked."""
    found = _state(request, REISSUE, "reason")
    if found is None:
        return _restart(request, REISSUE)
    agreement, _state_data = found
    current = _current_certificates(agreement.customer_id, timezone.now())
    form = ReissueReasonForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        _update(
            request,
            REISSUE,
            step="medium",
            reason=form.cleaned_data["reason"],
            revoke=[certificate.serial for certificate in current],
        )
        return redirect("certcenter:reissue_medium")
    return render(
        request,
        "certcenter/reissue_reason.html",
        _context(REISSUE, 2, form=form, certificates=_certificate_rows(current)),
    )


# --- Step 3: the security medium ------------------------------------------------------------------------


@never_cache
@anonymous_page
def reissue_medium(request: HttpRequest) -> HttpResponse:
    """Step 3: the security medium challenge (two security-card numbers, or the OTP's 6 digits)."""
    return _medium_step(
        request,
        REISSUE,
        purpose=Purpose.CERTIFICATE_ISSUE,
        next_step="phone",
        next_url=reverse("certcenter:reissue_phone"),
        step_number=3,
        actor=certificate_web_actor(),
    )


# --- Step 4: additional authentication (the code sent to the registered phone) --------------------------


_PHONE = PhoneStep(
    flow=REISSUE,
    number=4,
    template="certcenter/reissue_phone.html",
    purpose=AuthPurpose.CERTIFICATE_REISSUE,
    page="certcenter:reissue_phone",
    next_step="certificate",
    next_page="certcenter:reissue_certificate",
    actor=certificate_web_actor,
)


@never_cache
@anonymous_page
def reissue_phone(request: HttpRequest) -> HttpResponse:
    """Step 4: verify the code sent to the registered phone; it is spent by the reissue itself."""
    return phone_step(request, _PHONE)


@never_cache
@require_POST
def reissue_phone_send(request: HttpRequest) -> HttpResponse:
    """Send the code by SMS (or an ARS call where offered)."""
    return phone_send(request, _PHONE)


# --- Step 5: the certificate (the page's script does the key work) --------------------------------------


def _confirmed(state: dict[str, Any]) -> tuple[str, list[str]] | None:
    reason, serials = state.get("reason"), state.get("revoke")
    if reason not in {choice.value for choice in ReissueReason} or not isinstance(serials, list):
        return None
    return str(reason), [str(serial) for serial in serials]


def _reissue_messages() -> dict[str, str]:
    return {"working": str(MSG_WORKING), "none_revoked": str(MSG_NONE_REVOKED)}


@never_cache
@require_http_methods(["GET", "HEAD"])
def reissue_certificate(request: HttpRequest) -> HttpResponse:
    """Step 5: kind (with its fee), storage and the new certificate password (checked in the page)."""
    found = _state(request, REISSUE, "certificate")
    if found is None:
        return _restart(request, REISSUE)
    agreement, state = found
    confirmed = _confirmed(state)
    if confirmed is None:
        return _restart(request, REISSUE)
    reason, serials = confirmed
    context = certificate_step_context(agreement, state, request_url=reverse("certcenter:reissue_request"))
    context["messages_js"] = {**context["messages_js"], **_reissue_messages()}
    revoking = Certificate.objects.filter(customer_id=agreement.customer_id, serial__in=serials).order_by("pk")
    return render(
        request,
        "certcenter/reissue_certificate.html",
        _context(
            REISSUE,
            5,
            **context,
            reason_label=_reason_label(reason),
            certificates=_certificate_rows(list(revoking)),
        ),
    )


@never_cache
@require_POST
def reissue_request(request: HttpRequest) -> JsonResponse:
    """JSON: ``{csr, identity_random (base64), kind, storage}`` → the new certificate, its receipt and
    the serials revoked (``revoked``), or ``4xx {code, message}``. Opens only at step 5; one reissue
    per flow."""
    found = _state(request, REISSUE, "certificate")
    if found is None:
        return json_refusal("start_again", ERR_FLOW_GONE, status=409)
    agreement, state = found
    try:
        csr, identity_random, kind, storage = parse_certificate_request(request.body)
    except ValueError:
        return json_refusal("bad_request", ERR_BAD_REQUEST)
    account, confirmed = flow_account(state), _confirmed(state)
    if account is None or confirmed is None:
        _end(request, REISSUE)
        return json_refusal("start_again", ERR_FLOW_GONE, status=409)
    reason, serials = confirmed
    now = timezone.now()
    if {c.serial for c in _current_certificates(agreement.customer_id, now)} - set(serials):
        # Revoke only what the customer saw and confirmed (the service re-reads under its locks).
        _end(request, REISSUE)
        return json_refusal("certificates_changed", ERR_CERTIFICATES_CHANGED, status=409)
    actor = certificate_web_actor()
    spend = functools.partial(
        additional_auth_use, customer=agreement.customer, purpose=AuthPurpose.CERTIFICATE_REISSUE, actor=actor
    )
    try:
        issued = certificate_reissue(
            agreement=agreement,
            withdrawal_account=account,
            kind=kind,
            storage=storage,
            csr=csr,
            identity_random=identity_random,
            medium_verified=True,  # this step opens only after the medium step succeeded
            additional_auth=spend,
            reason=reason,
            actor=actor,
            now=now,
        )
    except ValidationError as refusal:
        if refusal.code in _ENDING_CODES:
            _end(request, REISSUE)
        message = ERR_VERIFY_AGAIN if refusal.code == "additional_auth_required" else refusal.messages[0]
        return json_refusal(refusal.code or "refused", message)
    except PermissionDenied:
        _end(request, REISSUE)
        return json_refusal("refused", ERR_FLOW_GONE, status=403)
    _end(request, REISSUE)  # one certificate per identification
    # What this reissue revoked: of the confirmed ones (a superset, checked above), those revoked now.
    revoked = (
        Certificate.objects.filter(customer_id=agreement.customer_id, serial__in=serials, revoked_at=now)
        .order_by("pk")
        .values_list("serial", flat=True)
    )
    return JsonResponse({**issued_answer(issued, account), "reason": reason, "revoked": list(revoked)})
