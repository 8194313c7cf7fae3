"""My financial certificate (내 금융인증서), /certificates/financial/mine/: the signed-in customer's financial
certificate in use, as the bank's register and the cloud tell it, its renewal (갱신) and its revocation
(폐기, "I lost my phone").

Every page needs a certificate session (``banking_required``); the actor is the customer's own user, and
the certificate is always the customer's own one in use (``current_financial_certificate``): no page takes
a certificate from the request, so another customer's session can neither see nor act on it. The forms
carry the serial the page showed, so that a certificate renewed, revoked or reissued in the meantime (in
another window, by staff) is never acted on unseen.

- Status: valid from and until (KST), the cloud's state (in use, locked), wrong PINs so far and tries
  left, the institutions it is registered at, the renewal window.
- Renewal: inside the window, one click and the PIN on the keypad (``financial_renew``, outside any
  transaction: the cloud commits the wrong-PIN count itself); outside it, the window's dates only.
- Revocation: the reason (lost phone or PIN known to someone else → key compromise; no longer used →
  cessation of operation) and an explicit confirmation, then ``certificate_revoke`` (which revokes in the
  cloud too, regenerates the CRL and texts the customer).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.models import User
from bankportal.session_levels import banking_required
from bankportal.timeutil import KST
from certcenter import rules
from certcenter.cloud.api import MAX_WRONG_PINS, CertificateStatus, CloudCertificate, CloudRefused, financial_cloud
from certcenter.financial_login import PinEntryForm, issue_url
from certcenter.models import SERIAL_MAX_DIGITS, Certificate, ExternalCertificate
from certcenter.services import certificate_revoke
from certcenter.services.financial import ERR_NONE_HELD, current_financial_certificate, financial_renew

Reason = Certificate.RevocationReason

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# The customer's two reasons (both in ``issuance.REVOKE_REASONS``), in plain words.
REVOKE_CHOICES = (
    (Reason.KEY_COMPROMISE.value, _("I lost my phone, or someone else may know my PIN")),
    (Reason.CESSATION_OF_OPERATION.value, _("I no longer use it")),
)
CLOUD_STATUS_LABELS = {
    CertificateStatus.ACTIVE: _("In use"),
    CertificateStatus.LOCKED: _("Locked after 5 wrong PINs"),
    CertificateStatus.REVOKED: _("Revoked"),
    CertificateStatus.SUPERSEDED: _("Replaced by its renewal"),
    CertificateStatus.PENDING: _("Being issued"),
}

ERR_CHANGED = _(
    "Your financial certificate has changed since that page was shown (renewed, revoked or issued anew). "
    "Check it below and try again."
)
ERR_REVOKE_REASON = _("Choose why you revoke the financial certificate.")
ERR_REVOKE_CONFIRM = _("Tick the box to confirm that the financial certificate will be revoked. This cannot be undone.")
ERR_CLOUD_UNAVAILABLE = _(
    "The financial certificate cloud cannot be reached right now, so its state is not shown. Please try again later."
)
MSG_RENEWED = _(
    "Your financial certificate is renewed: the new one is valid until %(date)s (Korea time). Use it with the same PIN."
)
MSG_REVOKED = _(
    "Your financial certificate %(serial)s is revoked: it no longer works, at this bank or anywhere else. "
    "Issue a new one when you need it."
)


class RenewForm(PinEntryForm):
    """The serial the page showed and the PIN."""

    serial = forms.CharField(max_length=SERIAL_MAX_DIGITS, widget=forms.HiddenInput)


class RevokeForm(forms.Form):
    """The serial the page showed, the reason and the confirmation."""

    serial = forms.CharField(max_length=SERIAL_MAX_DIGITS, widget=forms.HiddenInput)
    reason = forms.ChoiceField(
        label=_("Why do you revoke it?"),
        choices=REVOKE_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": ERR_REVOKE_REASON, "invalid_choice": ERR_REVOKE_REASON},
    )
    confirm = forms.BooleanField(
        label=_("I understand that the financial certificate stops working at once and cannot be restored."),
        error_messages={"required": ERR_REVOKE_CONFIRM},
    )


# --- Reads ---------------------------------------------------------------------------------------------


def _actor(request: HttpRequest) -> User:
    """The signed-in customer's own user (``banking_required`` lets only a signed-in user through)."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


def _current(request: HttpRequest) -> Certificate | None:
    """The signed-in customer's financial certificate in use; ``None`` for anyone without one (staff too)."""
    customer_id = _actor(request).customer_id
    return current_financial_certificate(customer_id) if customer_id is not None else None


def cloud_status(certificate: Certificate) -> CloudCertificate | None:
    """What the cloud tells about the certificate (state, wrong PINs, registrations); ``None`` if it does
    not know it (a read: nothing is counted or changed)."""
    if certificate.cloud_id is None:
        return None
    try:
        return financial_cloud().status(cloud_id=certificate.cloud_id)
    except CloudRefused:
        return None


def institution_name(code: str) -> str:
    """An institution's name in the page's language: ours from settings, a bank's from the reference data."""
    english = get_language() == "en"
    if code == settings.BANK_CODE:
        return str(settings.BANK_NAME_EN if english else settings.BANK_NAME_KO)
    names = settings.INTERBANK_INSTITUTIONS.get(code)
    return f"{names[1] if english else names[0]} ({code})" if names else code


def _kst(moment: dt.datetime) -> str:
    return moment.astimezone(KST).strftime(TIME_FORMAT)


def summary(certificate: Certificate, now: dt.datetime) -> dict[str, Any]:
    """What the pages show about the certificate."""
    cloud = cloud_status(certificate)
    opens, until = rules.financial_renewal_window_days(certificate.not_after)
    active = cloud is not None and cloud.status == CertificateStatus.ACTIVE
    return {
        "certificate": certificate,
        "issued_display": _kst(certificate.not_before),
        "not_after_display": _kst(certificate.not_after),
        "cloud": cloud,
        "status_label": CLOUD_STATUS_LABELS[cloud.status] if cloud is not None else "",
        "active": active,
        "locked": cloud is not None and cloud.status == CertificateStatus.LOCKED,
        "max_tries": MAX_WRONG_PINS,
        "institutions": [institution_name(code) for code in cloud.registered] if cloud is not None else [],
        "renewal_opens": opens.isoformat(),
        "renewal_until": until.isoformat(),
        "renewal_open": active and rules.financial_renewal_open(certificate.not_after, now),
    }


def _changed(request: HttpRequest) -> HttpResponse:
    messages.error(request, ERR_CHANGED)
    return redirect("certcenter:financial_mine")


def _none_held(request: HttpRequest) -> HttpResponse:
    messages.info(request, ERR_NONE_HELD)
    return redirect("certcenter:financial_mine")


# --- My financial certificate --------------------------------------------------------------------------


@never_cache
@banking_required
@require_http_methods(["GET", "HEAD"])
def my_financial_certificate(request: HttpRequest) -> HttpResponse:
    """The certificate in use and its state, or how to get one."""
    certificate = _current(request)
    now = timezone.now()
    context: dict[str, Any] = {"issue_url": issue_url()}
    if certificate is not None:
        context["row"] = summary(certificate, now)
        context["cloud_unavailable"] = ERR_CLOUD_UNAVAILABLE
    # Other institutions' financial certificates registered here: their issuer renews and revokes them;
    # here they are only listed (the registration is deleted under "my certificates").
    customer_id = _actor(request).customer_id
    registered = ExternalCertificate.objects.none()
    if customer_id is not None:
        registered = (
            ExternalCertificate.objects.select_related("authority")
            .filter(
                customer_id=customer_id,
                cloud_id__isnull=False,
                status=ExternalCertificate.Status.REGISTERED,
                not_after__gte=now,
            )
            .order_by("-not_after", "-pk")
        )
    context["registered"] = [{"row": row, "not_after_display": _kst(row.not_after)} for row in registered]
    return render(request, "certcenter/financial/mine.html", context)


# --- Renew ---------------------------------------------------------------------------------------------


@never_cache
@banking_required
@require_http_methods(["GET", "HEAD", "POST"])
def renew(request: HttpRequest) -> HttpResponse:
    """GET: the window (and inside it the PIN keypad); POST: renew with the PIN, then back to the status."""
    certificate = _current(request)
    if certificate is None:
        return _none_held(request)
    now = timezone.now()
    form = RenewForm(request.POST if request.method == "POST" else None, initial={"serial": certificate.serial})
    status, code = 200, ""
    if request.method == "POST":
        status = 400
        if form.is_valid():
            if form.cleaned_data["serial"] != certificate.serial:
                return _changed(request)
            try:
                renewed = financial_renew(certificate=certificate, pin=form.cleaned_data["pin"], actor=_actor(request))
            except ValidationError as refusal:
                code = refusal.code or "refused"
                form.add_error(None, ValidationError(refusal.messages[0], code=code))
                now = timezone.now()  # the refusal's page shows the state after the PIN was counted
            else:
                messages.success(request, MSG_RENEWED % {"date": _kst(renewed.certificate.not_after)})
                return redirect("certcenter:financial_mine")
    return render(
        request,
        "certcenter/financial/mine_renew.html",
        {
            "row": summary(certificate, now),
            "form": form,
            "issue_url": issue_url(),
            "offer_issue": code in {"locked", "revoked", "expired"},
        },
        status=status,
    )


# --- Revoke --------------------------------------------------------------------------------------------


@never_cache
@banking_required
@require_http_methods(["GET", "HEAD", "POST"])
def revoke(request: HttpRequest) -> HttpResponse:
    """GET: what revoking means, the reason and the confirmation; POST: revoke, then back to the status."""
    certificate = _current(request)
    if certificate is None:
        return _none_held(request)
    form = RevokeForm(
        request.POST if request.method == "POST" else None,
        initial={"serial": certificate.serial, "reason": Reason.KEY_COMPROMISE.value},
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            if form.cleaned_data["serial"] != certificate.serial:
                return _changed(request)
            try:
                certificate_revoke(certificate=certificate, reason=form.cleaned_data["reason"], actor=_actor(request))
            except ValidationError as refusal:
                form.add_error(None, ValidationError(refusal.messages[0], code=refusal.code))
            else:
                messages.success(request, MSG_REVOKED % {"serial": certificate.serial})
                return redirect("certcenter:financial_mine")
    return render(
        request,
        "certcenter/financial/mine_revoke.html",
        {"row": summary(certificate, timezone.now()), "form": form},
        status=status,
    )
