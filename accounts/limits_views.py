"""Transfer limits (이체한도 조회/변경): the tier and its maxima, the customer's own limits, what is left
today, and changing them.

Lowering (or keeping) applies at once. Raising runs the security medium first (``Purpose.LIMIT_RAISE``:
two security-card numbers or the OTP's number): the new figures wait in the session on a second page,
and only a right answer calls ``transfer_limit_change(..., medium_verified=True)``. The service is
asked first without the medium, so a change above the tier's maxima or the minor cap is refused on
the first page, with its message, before the medium is asked for.

Every page needs a certificate session (``banking_required``); the actor is the customer's own user.
The tier comes from the security media (``otp.services.verification.security_tier``) on every
request, so a medium lost in between applies at once.
"""

from __future__ import annotations

import time
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.forms import OtpAnswerForm, SecurityCardAnswerForm, WonField
from accounts.limits import Limit, Tier
from accounts.models import Customer, User
from accounts.services.limits import customer_limits, remaining_today, transfer_limit_change, won
from bankportal.forms import add_service_error
from bankportal.session_levels import banking_required
from bankportal.timeutil import kst_today
from otp.services import (
    ANTI_PHISHING_NOTICE,
    Medium,
    Purpose,
    Refusal,
    SecurityMediumRefused,
    security_medium_challenge,
    security_medium_verify,
    security_tier,
)

PENDING_KEY = "transfer_limit_raise"
PENDING_SECONDS = 5 * 60  # from the first page to the medium's answer

TIER_LABELS = {
    Tier.SAFE: _("Safe (OTP)"),
    Tier.GENERAL: _("General (security card)"),
    Tier.NONE: _("None (no security medium)"),
}
MSG_LIMITS_CHANGED = _("Your transfer limits are now %(per_transfer)s won per transfer and %(per_day)s won a day.")
MSG_RAISE_START_AGAIN = _(
    "The limit change was not confirmed within 5 minutes, or it was already done. Enter the new limits again."
)
MSG_RAISE_CANCELLED = _("The limit change was cancelled. Your limits have not changed.")
ERR_NO_CUSTOMER = _("Transfer limits belong to a customer's internet banking. Log in with your own certificate.")
ERR_NO_MEDIUM_NO_CHANGE = _(
    "Without a security medium no transfers are possible, so there are no limits to change. "
    "Visit a branch for a security card or an OTP."
)
ERR_MEDIUM_TRIES_LEFT = ngettext_lazy(
    "%(left)s more wrong entry locks the security medium.",
    "%(left)s more wrong entries lock the security medium.",
    "left",
)
LIMIT_MAX_WON = 10**15  # far above any tier's maximum, far below BigInteger; above it is a typing error


class LimitChangeForm(forms.Form):
    """The customer's own limits in won; ``1,000,000`` and ``1000000원`` are accepted."""

    per_transfer = WonField(label=_("Per transfer (won)"), min_value=0, max_value=LIMIT_MAX_WON)
    per_day = WonField(label=_("Per day (won)"), min_value=0, max_value=LIMIT_MAX_WON)


# --- Helpers ---------------------------------------------------------------------------------------


def _customer(request: HttpRequest) -> tuple[User, Customer]:
    """The signed-in customer's own user and customer (``banking_required`` has let a user through)."""
    user = request.user
    if not isinstance(user, User) or user.customer_id is None or user.is_staff:
        raise PermissionDenied(ERR_NO_CUSTOMER)
    customer = Customer.objects.get(pk=user.customer_id)
    return user, customer


def _changed(request: HttpRequest, row: Any) -> HttpResponse:
    messages.success(request, MSG_LIMITS_CHANGED % {"per_transfer": won(row.per_transfer), "per_day": won(row.per_day)})
    return redirect("transfer_limits")


def _pending(request: HttpRequest) -> Limit | None:
    """The raise waiting for the medium, when it is younger than ``PENDING_SECONDS``."""
    state = request.session.get(PENDING_KEY)
    if not isinstance(state, dict):
        return None
    try:
        expires, per_transfer, per_day = float(state["expires"]), int(state["per_transfer"]), int(state["per_day"])
    except (KeyError, TypeError, ValueError):
        return None
    if time.time() > expires:
        request.session.pop(PENDING_KEY, None)
        return None
    return Limit(per_transfer=per_transfer, per_day=per_day)


def _limits_page(request: HttpRequest, customer: Customer, tier: Tier, form: LimitChangeForm | None) -> HttpResponse:
    now = timezone.now()
    limits = customer_limits(customer, tier=tier)
    remaining = remaining_today(customer, tier=tier, now=now)
    if form is None:
        form = LimitChangeForm(
            initial={"per_transfer": won(limits.effective.per_transfer), "per_day": won(limits.effective.per_day)}
        )
    return render(
        request,
        "accounts/limits/limits.html",
        {
            "tier": tier.value,
            "tier_label": TIER_LABELS[tier],
            "corporate": customer.kind == Customer.Kind.CORPORATION,
            "limits": limits,
            "remaining": remaining,
            "today": kst_today(now),
            "form": form,
        },
    )


# --- Pages -----------------------------------------------------------------------------------------


@never_cache
@banking_required
@require_http_methods(["GET", "HEAD", "POST"])
def limits(request: HttpRequest) -> HttpResponse:
    """The limits and the change form; a lowering is saved here, a raise goes on to the medium."""
    user, customer = _customer(request)
    tier = security_tier(customer)
    if request.method != "POST":
        return _limits_page(request, customer, tier, None)
    form = LimitChangeForm(request.POST)
    if tier is Tier.NONE:
        form.add_error(None, ERR_NO_MEDIUM_NO_CHANGE)
        return _limits_page(request, customer, tier, form)
    if form.is_valid():
        per_transfer, per_day = form.cleaned_data["per_transfer"], form.cleaned_data["per_day"]
        try:
            row = transfer_limit_change(
                customer=customer,
                per_transfer=per_transfer,
                per_day=per_day,
                tier=tier,
                medium_verified=False,
                actor=user,
            )
        except ValidationError as refusal:
            if refusal.code != "limit_medium_required":
                add_service_error(form, refusal)
                return _limits_page(request, customer, tier, form)
            request.session[PENDING_KEY] = {
                "per_transfer": per_transfer,
                "per_day": per_day,
                "expires": time.time() + PENDING_SECONDS,
            }
            return redirect("transfer_limits_raise")
        request.session.pop(PENDING_KEY, None)  # a lowering replaces a raise left half-way
        return _changed(request, row)
    return _limits_page(request, customer, tier, form)


@never_cache
@banking_required
@require_http_methods(["GET", "HEAD", "POST"])
def limits_raise(request: HttpRequest) -> HttpResponse:
    """Confirm a raise with the security medium; a right answer applies it, a wrong one is counted."""
    user, customer = _customer(request)
    pending = _pending(request)
    if pending is None:
        messages.warning(request, MSG_RAISE_START_AGAIN)
        return redirect("transfer_limits")
    if request.method == "POST" and "cancel" in request.POST:
        request.session.pop(PENDING_KEY, None)
        messages.info(request, MSG_RAISE_CANCELLED)
        return redirect("transfer_limits")
    medium = request.session[PENDING_KEY].get("medium")
    form: SecurityCardAnswerForm | OtpAnswerForm | None = None
    if request.method == "POST" and medium in (Medium.OTP.value, Medium.SECURITY_CARD.value):
        form = OtpAnswerForm(request.POST) if medium == Medium.OTP.value else SecurityCardAnswerForm(request.POST)
        if form.is_valid():
            result = security_medium_verify(
                customer=customer, purpose=Purpose.LIMIT_RAISE, answer=form.answer(), actor=user
            )
            if result.ok:
                request.session.pop(PENDING_KEY, None)
                try:
                    row = transfer_limit_change(
                        customer=customer,
                        per_transfer=pending.per_transfer,
                        per_day=pending.per_day,
                        tier=security_tier(customer),
                        medium_verified=True,
                        actor=user,
                    )
                except ValidationError as refusal:  # the tier fell meanwhile (a medium reported lost)
                    for text in refusal.messages:
                        messages.error(request, text)
                    return redirect("transfer_limits")
                return _changed(request, row)
            message: Any = result.message
            if result.refusal is Refusal.WRONG and result.tries_left:
                message = f"{result.message} {ERR_MEDIUM_TRIES_LEFT % {'left': result.tries_left}}"
            if result.refusal is Refusal.EXPIRED_CHALLENGE:
                messages.warning(request, message)
                form = None
            else:
                form.add_error(None, message)
    try:
        challenge = security_medium_challenge(customer=customer, purpose=Purpose.LIMIT_RAISE, actor=user)
    except SecurityMediumRefused as refusal:
        request.session.pop(PENDING_KEY, None)
        messages.error(request, refusal.messages[0])
        return redirect("transfer_limits")
    request.session[PENDING_KEY] = {**request.session[PENDING_KEY], "medium": challenge.medium.value}
    expected = OtpAnswerForm if challenge.medium is Medium.OTP else SecurityCardAnswerForm
    if not isinstance(form, expected):
        form = expected()
    current = customer_limits(customer, tier=security_tier(customer)).effective
    return render(
        request,
        "accounts/limits/raise.html",
        {
            "form": form,
            "challenge": challenge,
            "is_otp": challenge.medium is Medium.OTP,
            "notice": ANTI_PHISHING_NOTICE,
            "pending": pending,
            "current": current,
        },
    )
