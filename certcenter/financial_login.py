"""Sign-in with the financial certificate from any device (금융인증서 로그인), /certificates/financial/signin/.

Two steps on one page, no flow state: 1. the name and the mobile number, of which only the shape is
checked, so this step never tells whether a certificate exists; 2. the same page asks for the PIN on
the on-screen keypad (the name and number ride along as hidden fields). The PIN step takes a login
nonce bound to this browser session (``certificate_login_challenge``, one per attempt, made right
before it is used so that a slow hand on the keypad never meets an expired nonce), and
``financial_login`` has the cloud sign it after the PIN and ``certificate_login`` check it. The
session then opens as the joint certificate's login opens it (``certcenter.login_views``):
``login()`` with ``signin_method`` for the login history, the session level ``CERTIFICATE``, then
the ``next`` page if it is one of ours, else the banking home.

Refusals of the PIN step: no usable certificate for this name and number (one generic message, the
same whatever the reason), a wrong PIN with the tries left, locked (issue a new one), revoked or
expired, and ``certificate_login``'s (a suspended agreement: release it first). Each one counts for
the client IP in the joint certificate login's own counter (``login_views.count_refusal``), so the
pause after ``SIGNIN_IP_FAILURE_LIMIT`` refusals covers both logins (429, audited once). Form errors
(an empty name, a PIN that is not 6 digits) never reach the cloud and are not counted.

Not wrapped in a transaction (the settings have no ATOMIC_REQUESTS): the cloud commits its
wrong-PIN count itself.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import login as auth_login
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.phones import InvalidPhone, normalise_mobile
from bankportal.audit.services import audit_record
from bankportal.session_levels import Level, set_session_level
from certcenter import services
from certcenter.cloud.api import PIN_LENGTH
from certcenter.login_views import ERR_PAUSED, LOGIN_BACKEND, count_refusal, throttle_keys, window_seconds
from certcenter.services.financial import financial_login

SIGNIN_METHOD = "financial_certificate"  # the login history's name for this way in
ISSUE_URL_NAME = "certcenter:financial_issue"
NAME_MAX = 100
PHONE_MAX = 20
NEXT_MAX = 2000

ERR_NAME = _("Enter your name as registered at the bank.")
ERR_PHONE = _("Enter your mobile number, such as 010-1234-5678.")
ERR_PIN = _("Enter the 6-digit PIN of your financial certificate.")
# Refusals after which the page offers to issue a new financial certificate.
_ISSUE_CODES = frozenset({"no_financial_certificate", "locked", "revoked", "expired"})


class HolderForm(forms.Form):
    """Step 1: whose certificate (the cloud finds it by name and mobile number)."""

    name = forms.CharField(
        label=_("Name"),
        max_length=NAME_MAX,
        error_messages={"required": ERR_NAME, "max_length": ERR_NAME},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    phone = forms.CharField(
        label=_("Mobile number"),
        max_length=PHONE_MAX,
        error_messages={"required": ERR_PHONE, "max_length": ERR_PHONE},
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )

    def clean_name(self) -> str:
        return " ".join(str(self.cleaned_data["name"]).split())

    def clean_phone(self) -> str:
        try:
            return normalise_mobile(str(self.cleaned_data["phone"]))
        except InvalidPhone:
            raise ValidationError(ERR_PHONE, code="phone") from None


class PinEntryForm(forms.Form):
    """The financial certificate's PIN, typed or tapped on the keypad (also the renewal's form)."""

    pin = forms.CharField(
        label=_("PIN (6 digits)"),
        min_length=PIN_LENGTH,
        max_length=PIN_LENGTH,
        strip=False,
        error_messages={"required": ERR_PIN, "min_length": ERR_PIN, "max_length": ERR_PIN},
    )

    def clean_pin(self) -> str:
        pin = str(self.cleaned_data["pin"])
        if not (pin.isascii() and pin.isdigit()):
            raise ValidationError(ERR_PIN, code="pin")
        return pin


class PinForm(HolderForm, PinEntryForm):
    """Step 2: the holder again (hidden fields) and the PIN."""


def issue_url() -> str:
    """The financial certificate's issue page."""
    return reverse(ISSUE_URL_NAME)


def _next_url(request: HttpRequest) -> str:
    """Where a successful sign-in goes: ``next`` if it is a page of this site, else the banking home."""
    target = str(request.POST.get("next") or request.GET.get("next") or "")
    hosts = {request.get_host()}
    ours = url_has_allowed_host_and_scheme(target, allowed_hosts=hosts, require_https=request.is_secure())
    return target if target and len(target) <= NEXT_MAX and ours else reverse("banking_home")


def _paused(request: HttpRequest) -> HttpResponse | None:
    """The pause page while this address has too many refused certificate logins (joint or financial)."""
    _count_key, paused_key = throttle_keys(request)
    if not cache.get(paused_key):
        return None
    response = render(
        request,
        "certcenter/financial/signin_paused.html",
        {"message": ERR_PAUSED % {"minutes": window_seconds() // 60}},
        status=429,
    )
    response["Retry-After"] = str(window_seconds())
    return response


def _session_key(request: HttpRequest) -> str:
    """This browser's session key, made now if it has none (the login nonce is bound to it)."""
    if request.session.session_key is None:
        request.session.save()
        request.session.modified = True  # so the session cookie is sent with this answer
    return request.session.session_key or ""


def _page(request: HttpRequest, template: str, form: forms.Form, *, status: int = 200, **extra: Any) -> HttpResponse:
    context = {"form": form, "next": _next_url(request), "issue_url": issue_url(), **extra}
    return render(request, f"certcenter/financial/{template}", context, status=status)


def _holder_step(request: HttpRequest, form: HolderForm, *, status: int = 200) -> HttpResponse:
    return _page(request, "signin.html", form, status=status)


def _phone_display(digits: str) -> str:
    """010-1234-5678 from the normalised digits."""
    return f"{digits[:3]}-{digits[3:-4]}-{digits[-4:]}"


def _pin_step(
    request: HttpRequest, form: PinForm, holder: dict[str, Any], *, status: int = 200, refusal: str = ""
) -> HttpResponse:
    """The PIN page for ``holder`` (the cleaned name and mobile number, sent again as hidden fields)."""
    return _page(
        request,
        "signin_pin.html",
        form,
        status=status,
        name=holder["name"],
        phone=holder["phone"],
        phone_display=_phone_display(holder["phone"]),
        refusal=refusal,
        offer_issue=refusal in _ISSUE_CODES,
    )


def _refused(request: HttpRequest, form: PinForm, refusal: ValidationError) -> HttpResponse:
    """Count the refusal for this address and show it on the PIN step."""
    code = refusal.code or "refused"
    if code == "no_financial_certificate":
        # The only refusal nobody else records: the cloud audits PIN checks and certificate_login its own.
        with transaction.atomic():
            audit_record(
                action="certificate.login_refused",
                actor=services.certificate_login_actor(),
                details={"reason": code, "method": SIGNIN_METHOD},
            )
    count_refusal(request)
    holder = {"name": form.cleaned_data["name"], "phone": form.cleaned_data["phone"]}
    form.add_error(None, ValidationError(refusal.messages[0], code=code))
    return _pin_step(request, form, holder, status=400, refusal=code)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def financial_signin(request: HttpRequest) -> HttpResponse:
    """GET: step 1. POST without a PIN: step 2 for that name and number. POST with the PIN: sign in."""
    if (paused := _paused(request)) is not None:
        return paused
    if request.method != "POST":
        return _holder_step(request, HolderForm())
    if "pin" not in request.POST:
        holder = HolderForm(request.POST)
        if not holder.is_valid():
            return _holder_step(request, holder)
        # Only the shape was checked: the PIN step looks the same whether or not a certificate exists.
        return _pin_step(request, PinForm(), holder.cleaned_data)
    form = PinForm(request.POST)
    if not form.is_valid():
        if form.has_error("name") or form.has_error("phone"):
            holder = HolderForm(request.POST)
            holder.is_valid()
            return _holder_step(request, holder)
        return _pin_step(request, form, form.cleaned_data)
    session_key = _session_key(request)
    actor = services.certificate_login_actor()
    challenge = services.certificate_login_challenge(session_key=session_key, actor=actor)
    try:
        # Checked against the current session key: login() below rotates it, so it comes after.
        result = financial_login(
            holder_name=form.cleaned_data["name"],
            phone=form.cleaned_data["phone"],
            pin=form.cleaned_data["pin"],
            challenge_nonce=challenge.nonce,  # type: ignore[attr-defined]
            session_key=session_key,
            actor=actor,
        )
    except ValidationError as refusal:
        return _refused(request, form, refusal)
    target = _next_url(request)
    request.signin_method = SIGNIN_METHOD  # type: ignore[attr-defined]  # for the login history
    auth_login(request, result.user, backend=LOGIN_BACKEND)
    set_session_level(request, Level.CERTIFICATE)
    return redirect(target)
