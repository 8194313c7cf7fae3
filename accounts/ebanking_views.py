"""The customer-facing e-banking agreement pages (anonymous): online registration (인터넷뱅킹 등록),
ID lookup (아이디 찾기) and the online release of a suspension (인터넷뱅킹 일시정지 해제).

Thin: shape the input (``accounts.forms``), call the service of the step, render or redirect.
Every step acts as the web flows' named system actor (``agreement_web_actor``).

Multi-step flows keep their state in the session under one key per flow: the identified
agreement's id, the step reached and an expiry ``FLOW_SECONDS`` after identification. A step
opens only when the flow has reached exactly it, so posting to a later URL skips nothing; an
expired, missing or other step sends the visitor back to the start with a message. The session
never holds the RRN, the account password or a code. Every page is ``never_cache`` and every
form carries the CSRF token.

The identification steps use the sign-in throttle (django-axes, ``bankportal/throttling.py``):
a mismatch counts as a failed attempt keyed on the withdrawal account number and the client IP
(and on the IP alone), so one address can neither guess one account's details nor walk many
accounts faster than it could sign in; while paused, the step answers with the pause page.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from dataclasses import dataclass
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_credentials, get_lockout_response
from django.contrib import messages
from django.contrib.auth.password_validation import password_validators_help_texts
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import (
    AdditionalAuthCodeForm,
    AdditionalAuthSendForm,
    EbankingIdentifyForm,
    EbankingLoginChoiceForm,
    FindIdForm,
    OtpAnswerForm,
    ReleaseSignatureForm,
    SecurityCardAnswerForm,
)
from accounts.models import Agreement
from accounts.services.agreement_online import (
    ERR_USER_ID_FORMAT,
    RELEASE_SIGNATURE_PURPOSE,
    IdentifyPurpose,
    agreement_identify,
    agreement_register_online,
    agreement_release_actor,
    agreement_release_online,
    agreement_user_id_lookup,
    release_nonce,
    release_text,
)
from accounts.services.agreements import agreement_web_actor
from bankportal.forms import add_service_error
from bankportal.notifications.backends import ars_available
from bankportal.throttling import signin_throttle_clear_user
from certcenter.services import signature_verify
from otp.additionalauth import mask_phone
from otp.services import (
    ANTI_PHISHING_NOTICE,
    Medium,
    Purpose,
    Refusal,
    SecurityMediumRefused,
    additional_auth_start,
    additional_auth_use,
    additional_auth_verify,
    security_medium_challenge,
    security_medium_verify,
)
from otp.services.additional_auth import Channel
from otp.services.additional_auth import Purpose as AuthPurpose

FLOW_SECONDS = 10 * 60  # from identification to the last step

MSG_START_AGAIN = _("Please start again from the first step. Each step must be completed in order, within 10 minutes.")
MSG_CODE_SENT_SMS = _("We sent a 6-digit code by text message to %(phone)s. It is valid for 3 minutes.")
MSG_CODE_SENT_ARS = _("We are calling %(phone)s to read out a 6-digit code. It is valid for 3 minutes.")
ERR_MEDIUM_TRIES_LEFT = ngettext_lazy(
    "%(left)s more wrong entry locks the security medium.",
    "%(left)s more wrong entries lock the security medium.",
    "left",
)
ERR_CODE_TRIES_LEFT = ngettext_lazy("%(left)s try left.", "%(left)s tries left.", "left")
MSG_CODE_VERIFIED = _("Your phone is verified. Now sign the release with your joint certificate.")
ERR_VERIFY_CODE_AGAIN = _(
    "The phone verification is no longer valid (it can be used for 10 minutes). Send a new code and verify it, "
    "then sign again."
)
ERR_SIGN_TRIES = _(
    "The release was not signed after %(tries)s attempts. Please start again from the first step; if your "
    "certificate cannot be used, visit a branch with your ID."
)
SIGN_TRIES = 5  # refused signatures in one flow before it ends (each refusal is audited)

# The signing page's script (static/js/release-sign.js) reads these; the same texts as the
# certificate login page, so one translation serves both.
MSG_SIGN_WRONG_PASSWORD = _("The certificate password is wrong. Type it again (letters are case-sensitive).")
MSG_SIGN_BAD_KEY_FILE = _(
    "The key file (signPri.key) could not be read. Choose the signPri.key that came with the certificate."
)
MSG_SIGN_BAD_CERT_FILE = _("The certificate file (signCert.der) could not be read. Choose signCert.der.")
MSG_SIGN_CHOOSE = _("Choose a certificate stored in this browser, or load the two certificate files.")
MSG_SIGN_ENTER_PASSWORD = _("Enter the certificate password.")
MSG_SIGN_NO_SUPPORT = _(
    "This browser cannot make or use certificate keys. Use a current version of Chrome, Edge, Firefox or Safari."
)
MSG_SIGN_WORKING = _("Signing with your certificate…")
MSG_SIGN_NONE_STORED = _("No certificate is stored in this browser.")
MSG_SIGN_EXPIRES = _("valid until %(date)s")
# State refusals after a full identification that end a flow (shown on the refusal page).
_FLOW_ENDING_CODES = frozenset(
    {
        "registration_closed",
        "already_registered",
        "agreement_terminated",
        "application_lapsed",
        "not_registered",
        "not_suspended",
        "online_release_reason",
        "suspended_release_online",
        "suspended_branch_only",
    }
)
REGISTERED_KEY = "ebanking_registered_user_id"
RELEASED_KEY = "ebanking_released"

anonymous_page = require_http_methods(["GET", "HEAD", "POST"])


@dataclass(frozen=True)
class Flow:
    key: str  # the session key
    start: str  # URL name of the first step
    title: Any
    steps: tuple[Any, ...]


REGISTER = Flow(
    key="ebanking_flow_register",
    start="agreement_register",
    title=_("Register for internet banking"),
    steps=(_("Confirm it is you"), _("Security medium"), _("User ID and password")),
)
RELEASE = Flow(
    key="ebanking_flow_release",
    start="agreement_release",
    title=_("Release an internet banking suspension"),
    steps=(_("Confirm it is you"), _("Security medium"), _("Code sent to your phone"), _("Sign with your certificate")),
)


# --- Flow state ---------------------------------------------------------------------------------


def _start(request: HttpRequest, flow: Flow, agreement: Agreement, step: str) -> None:
    request.session.cycle_key()  # a fresh session id for the identified visitor
    request.session[flow.key] = {"agreement": agreement.pk, "step": step, "expires": time.time() + FLOW_SECONDS}


def _update(request: HttpRequest, flow: Flow, **changes: Any) -> None:
    request.session[flow.key] = {**request.session.get(flow.key, {}), **changes}


def _end(request: HttpRequest, flow: Flow) -> None:
    request.session.pop(flow.key, None)


def _state(request: HttpRequest, flow: Flow, step: str) -> tuple[Agreement, dict[str, Any]] | None:
    """The flow's agreement and state when the flow is at ``step`` and not expired, else ``None``."""
    state = request.session.get(flow.key)
    if not isinstance(state, dict) or state.get("step") != step:
        return None
    try:
        expires, agreement_id = float(state["expires"]), int(state["agreement"])
    except (KeyError, TypeError, ValueError):
        return None
    if time.time() > expires:
        _end(request, flow)
        return None
    agreement = Agreement.objects.select_related("customer").filter(pk=agreement_id).first()
    return (agreement, state) if agreement is not None else None


def _restart(request: HttpRequest, flow: Flow) -> HttpResponse:
    _end(request, flow)
    messages.warning(request, MSG_START_AGAIN)
    return redirect(flow.start)


def _refused(request: HttpRequest, flow: Flow | None, message: Any, *, code: str = "") -> HttpResponse:
    """End the flow and say why, with where to go next."""
    if flow is not None:
        _end(request, flow)
    return render(
        request,
        "accounts/ebanking/refused.html",
        {"flow": flow, "message": message, "code": code, "title": flow.title if flow else _("Find my ID")},
    )


def _context(flow: Flow, step: int, **extra: Any) -> dict[str, Any]:
    return {"flow": flow, "step": step, **extra}


def _password_rules() -> list[str]:
    return list(password_validators_help_texts())


# --- Identification (shared by the three flows) --------------------------------------------------


def _throttle_credentials(form: Form) -> dict[str, Any]:
    # Keyed like a user name: the account being tried (digits only; user IDs start with a letter).
    return get_credentials(f"ebanking:{form.cleaned_data['account_number']}")


def _identify(request: HttpRequest, form: Form, purpose: IdentifyPurpose) -> Agreement | HttpResponse | None:
    """The identified agreement; a pause page while throttled; else ``None`` with the refusal on the form."""
    credentials = _throttle_credentials(form)
    if not AxesProxyHandler.is_allowed(request, credentials):
        return get_lockout_response(request, None, credentials)
    data = form.cleaned_data
    try:
        return agreement_identify(
            purpose=purpose,
            name=data["name"],
            id_number=data["id_number"],
            account_number=data["account_number"],
            account_password=data["account_password"],
            actor=agreement_web_actor(),
        )
    except ValidationError as refusal:
        if refusal.code == "details_mismatch":
            # A counted failure; the throttle's middleware answers with the pause page at the limit.
            AxesProxyHandler.user_login_failed(sender=__name__, credentials=credentials, request=request)
        form.add_error(None, refusal)
        form.refusal_code = refusal.code or ""  # type: ignore[attr-defined]
        return None


# --- Security medium (shared by registration and release) ----------------------------------------


def _identify_step(
    request: HttpRequest,
    flow: Flow,
    purpose: IdentifyPurpose,
    *,
    next_url: str,
    template: str,
    **extra: Any,
) -> HttpResponse:
    """Step 1 of registration and release: identify, start the flow's session state, go on."""
    form = EbankingIdentifyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        found = _identify(request, form, purpose)
        if isinstance(found, HttpResponse):
            return found
        if found is not None:
            _start(request, flow, found, "medium")
            return redirect(next_url)
    return render(request, template, _context(flow, 1, form=form, **extra))


def _medium_step(
    request: HttpRequest,
    flow: Flow,
    *,
    purpose: str,
    next_step: str,
    next_url: str,
    step_number: int = 2,
    actor: Any = None,
) -> HttpResponse:
    """A flow's security-medium step (two security-card numbers, or the OTP's 6 digits); shared by the
    e-banking flows and the certificate centre's, which pass their own step number and actor."""
    found = _state(request, flow, "medium")
    if found is None:
        return _restart(request, flow)
    agreement, state = found
    customer = agreement.customer
    actor = actor or agreement_web_actor()
    form: SecurityCardAnswerForm | OtpAnswerForm | None = None
    if request.method == "POST" and state.get("medium") in (Medium.OTP.value, Medium.SECURITY_CARD.value):
        form = (
            OtpAnswerForm(request.POST) if state["medium"] == Medium.OTP.value else SecurityCardAnswerForm(request.POST)
        )
        if form.is_valid():
            result = security_medium_verify(customer=customer, purpose=purpose, answer=form.answer(), actor=actor)
            if result.ok:
                _update(request, flow, step=next_step)
                return redirect(next_url)
            message: Any = result.message
            if result.refusal is Refusal.WRONG and result.tries_left:
                message = f"{result.message} {ERR_MEDIUM_TRIES_LEFT % {'left': result.tries_left}}"
            if result.refusal is Refusal.EXPIRED_CHALLENGE:
                messages.warning(request, message)
                form = None
            else:
                form.add_error(None, message)
    try:
        challenge = security_medium_challenge(customer=customer, purpose=purpose, actor=actor)
    except SecurityMediumRefused as refusal:
        return _refused(request, flow, refusal.messages[0], code=refusal.code or "")
    _update(request, flow, medium=challenge.medium.value)
    expected = OtpAnswerForm if challenge.medium is Medium.OTP else SecurityCardAnswerForm
    if not isinstance(form, expected):
        form = expected()
    return render(
        request,
        "accounts/ebanking/medium.html",
        _context(
            flow,
            step_number,
            form=form,
            challenge=challenge,
            is_otp=challenge.medium is Medium.OTP,
            notice=ANTI_PHISHING_NOTICE,
            action=request.path,
        ),
    )


# --- Online registration (인터넷뱅킹 등록) -----------------------------------------------------------


@never_cache
@anonymous_page
def agreement_register(request: HttpRequest) -> HttpResponse:
    """Step 1: name, RRN or business number, withdrawal account and its password."""
    return _identify_step(
        request,
        REGISTER,
        IdentifyPurpose.REGISTER,
        next_url="agreement_register_medium",
        template="accounts/ebanking/register_identify.html",
        user_id_rule=ERR_USER_ID_FORMAT,
        password_rules=password_validators_help_texts(),
    )


@never_cache
@anonymous_page
def agreement_register_medium(request: HttpRequest) -> HttpResponse:
    """Step 2: the security medium challenge (two security-card numbers, or the OTP's 6 digits)."""
    return _medium_step(
        request,
        REGISTER,
        purpose=Purpose.AGREEMENT_REGISTRATION,
        next_step="login",
        next_url=reverse("agreement_register_login"),
    )


@never_cache
@anonymous_page
def agreement_register_login(request: HttpRequest) -> HttpResponse:
    """Step 3: the user ID and login password (rules shown before anything is typed)."""
    found = _state(request, REGISTER, "login")
    if found is None:
        return _restart(request, REGISTER)
    agreement, _state_data = found
    form = EbankingLoginChoiceForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            agreement_register_online(
                agreement=agreement,
                medium_verified=True,  # this step opens only after the medium step succeeded
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                actor=agreement_web_actor(),
            )
        except ValidationError as refusal:
            if not hasattr(refusal, "error_dict") and refusal.code in _FLOW_ENDING_CODES:
                return _refused(request, REGISTER, refusal.messages[0], code=refusal.code or "")
            if hasattr(refusal, "error_dict"):  # the service names the login password "password"
                refusal = ValidationError(
                    {
                        "password1" if field == "password" else field: errors
                        for field, errors in refusal.error_dict.items()
                    }
                )
            add_service_error(form, refusal)
        else:
            _end(request, REGISTER)
            request.session[REGISTERED_KEY] = form.cleaned_data["username"]
            return redirect("agreement_register_done")
    return render(
        request,
        "accounts/ebanking/register_login.html",
        _context(
            REGISTER, 3, form=form, user_id_rule=ERR_USER_ID_FORMAT, password_rules=password_validators_help_texts()
        ),
    )


@never_cache
@require_http_methods(["GET", "HEAD"])
def agreement_register_done(request: HttpRequest) -> HttpResponse:
    username = request.session.pop(REGISTERED_KEY, None)
    if not username:
        return redirect("login")
    return render(request, "accounts/ebanking/register_done.html", {"username": username, "flow": REGISTER})


# --- ID lookup (아이디 찾기) ------------------------------------------------------------------------


@never_cache
@anonymous_page
def agreement_find_id(request: HttpRequest) -> HttpResponse:
    """Name, birth date or business number, withdrawal account and its password → the masked ID on
    this page, the full ID by SMS to the registered phone."""
    form = FindIdForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        found = _identify(request, form, IdentifyPurpose.LOOKUP)
        if isinstance(found, HttpResponse):
            return found
        if found is not None:
            try:
                masked = agreement_user_id_lookup(agreement=found, actor=agreement_web_actor())
            except ValidationError as refusal:
                form.add_error(None, refusal)
            else:
                return render(
                    request,
                    "accounts/ebanking/find_id_result.html",
                    {"masked_id": masked, "phone": mask_phone(found.customer.phone)},
                )
    return render(request, "accounts/ebanking/find_id.html", {"form": form})


# --- Online release (인터넷뱅킹 일시정지 해제) ----------------------------------------------------------


@never_cache
@anonymous_page
def agreement_release(request: HttpRequest) -> HttpResponse:
    """Step 1: name, RRN or business number, withdrawal account and its password."""
    return _identify_step(
        request,
        RELEASE,
        IdentifyPurpose.RELEASE,
        next_url="agreement_release_medium",
        template="accounts/ebanking/release_identify.html",
    )


@never_cache
@anonymous_page
def agreement_release_medium(request: HttpRequest) -> HttpResponse:
    """Step 2: the security medium."""
    return _medium_step(
        request,
        RELEASE,
        purpose=Purpose.SUSPENSION_RELEASE,
        next_step="phone",
        next_url=reverse("agreement_release_phone"),
    )


def _phone_page(
    request: HttpRequest, agreement: Agreement, state: dict[str, Any], code_form: AdditionalAuthCodeForm | None = None
) -> HttpResponse:
    return render(
        request,
        "accounts/ebanking/release_phone.html",
        _context(
            RELEASE,
            3,
            code_form=code_form or AdditionalAuthCodeForm(),
            code_sent=bool(state.get("code_sent")),
            phone=mask_phone(agreement.customer.phone),
            ars_available=ars_available(),
        ),
    )


@never_cache
@anonymous_page
def agreement_release_phone(request: HttpRequest) -> HttpResponse:
    """Step 3: the code sent to the registered phone. A right one opens the signing step with a
    fresh text to sign; the verification is spent only by the release itself (step 4)."""
    found = _state(request, RELEASE, "phone")
    if found is None:
        return _restart(request, RELEASE)
    agreement, state = found
    if request.method != "POST":
        return _phone_page(request, agreement, state)
    code_form = AdditionalAuthCodeForm(request.POST)
    if code_form.is_valid():
        result = additional_auth_verify(
            customer=agreement.customer,
            purpose=AuthPurpose.SUSPENSION_RELEASE,
            answer=code_form.cleaned_data["phone_code"],
            actor=agreement_web_actor(),
        )
        if result.ok:
            # A new nonce for every signing step: a text signed in an earlier flow, or before the
            # code was verified again, never matches.
            _update(
                request,
                RELEASE,
                step="sign",
                nonce=release_nonce(),
                signing_since=timezone.now().isoformat(),
                sign_refusals=0,
            )
            messages.success(request, MSG_CODE_VERIFIED)
            return redirect("agreement_release_sign")
        message: Any = result.message
        if result.tries_left:
            message = f"{result.message} {ERR_CODE_TRIES_LEFT % {'left': result.tries_left}}"
        code_form.add_error("phone_code", message)
    return _phone_page(request, agreement, state, code_form)


def _sign_messages() -> dict[str, str]:
    return {
        "wrong_password": str(MSG_SIGN_WRONG_PASSWORD),
        "bad_key_file": str(MSG_SIGN_BAD_KEY_FILE),
        "bad_cert_file": str(MSG_SIGN_BAD_CERT_FILE),
        "choose": str(MSG_SIGN_CHOOSE),
        "enter_password": str(MSG_SIGN_ENTER_PASSWORD),
        "no_support": str(MSG_SIGN_NO_SUPPORT),
        "working": str(MSG_SIGN_WORKING),
        "none_stored": str(MSG_SIGN_NONE_STORED),
        "expires": str(MSG_SIGN_EXPIRES),
    }


def _signing_text(agreement: Agreement, state: dict[str, Any]) -> tuple[str, dt.datetime, str] | None:
    """The flow's nonce, when its signing step opened, and the text to sign; ``None`` if the state is unusable."""
    try:
        nonce = str(state["nonce"])
        issued_at = dt.datetime.fromisoformat(str(state["signing_since"]))
        return nonce, issued_at, release_text(agreement=agreement, nonce=nonce, issued_at=issued_at)
    except (KeyError, TypeError, ValueError):
        return None


def _release_sign(
    request: HttpRequest, agreement: Agreement, state: dict[str, Any], form: ReleaseSignatureForm
) -> HttpResponse | str:
    """Verify the posted signature and release; a response when the flow moves on or ends, else
    the message for the signing page."""
    signing = _signing_text(agreement, state)
    if signing is None:
        return _restart(request, RELEASE)
    nonce, issued_at, _text = signing
    customer = agreement.customer
    actor = agreement_release_actor()
    spend = functools.partial(
        additional_auth_use, customer=customer, purpose=AuthPurpose.SUSPENSION_RELEASE, actor=actor
    )
    verify = functools.partial(
        signature_verify,
        customer=customer,
        certificate_der=form.cleaned_data["certificate"],
        signature=form.cleaned_data["signature"],
        purpose=RELEASE_SIGNATURE_PURPOSE,
        actor=actor,
    )
    try:
        agreement_release_online(
            agreement=agreement,
            actor=actor,
            medium_verified=True,  # this step opens only after the medium and phone steps succeeded
            additional_auth=spend,
            signature=lambda text: verify(text=text),
            nonce=nonce,
            issued_at=issued_at,
        )
    except ValidationError as refusal:
        code = refusal.code or ""
        if code in _FLOW_ENDING_CODES or code == "release_text_expired":
            return _refused(request, RELEASE, refusal.messages[0], code=code)
        if code == "additional_auth_required":
            _update(request, RELEASE, step="phone", code_sent=False)
            messages.error(request, ERR_VERIFY_CODE_AGAIN)
            return redirect("agreement_release_phone")
        tries = int(state.get("sign_refusals") or 0) + 1
        if tries >= SIGN_TRIES:
            return _refused(request, RELEASE, ERR_SIGN_TRIES % {"tries": tries}, code="sign_tries")
        _update(request, RELEASE, sign_refusals=tries)
        return str(refusal.messages[0])
    _end(request, RELEASE)
    if agreement.user is not None:
        # Proved by account password, medium, phone and certificate: no sign-in pause left from the wrong entries.
        signin_throttle_clear_user(request, agreement.user.get_username())
    request.session[RELEASED_KEY] = True
    return redirect("agreement_release_done")


@never_cache
@anonymous_page
def agreement_release_sign(request: HttpRequest) -> HttpResponse:
    """Step 4: the release text (customer, what is released, time, the flow's nonce), signed in the
    browser with a joint certificate (static/js/release-sign.js); the server verifies the signature
    and releases, spending the phone verification in the same transaction."""
    found = _state(request, RELEASE, "sign")
    if found is None:
        return _restart(request, RELEASE)
    agreement, state = found
    signing = _signing_text(agreement, state)
    if signing is None:
        return _restart(request, RELEASE)
    form = ReleaseSignatureForm(request.POST if request.method == "POST" else None)
    error: str | None = None
    if request.method == "POST":
        if not form.is_valid():
            error = form.refusal()
        else:
            outcome = _release_sign(request, agreement, state, form)
            if isinstance(outcome, HttpResponse):
                return outcome
            error = outcome
    _nonce, issued_at, text = signing
    return render(
        request,
        "accounts/ebanking/release_sign.html",
        _context(
            RELEASE,
            4,
            form=ReleaseSignatureForm(),
            error=error,
            text=text,
            customer_name=agreement.customer.name,
            suspension=Agreement.SuspensionReason(agreement.suspension_reason).label
            if agreement.suspension_reason
            else "",
            issued_at=issued_at,
            messages_js=_sign_messages(),
        ),
    )


@never_cache
@require_POST
def agreement_release_phone_send(request: HttpRequest) -> HttpResponse:
    """Send the code by SMS (or an ARS call where offered) to the registered phone."""
    found = _state(request, RELEASE, "phone")
    if found is None:
        return _restart(request, RELEASE)
    agreement, _state_data = found
    form = AdditionalAuthSendForm(request.POST)
    if not form.is_valid():
        messages.error(request, str(form.errors["channel"][0]))
        return redirect("agreement_release_phone")
    channel = form.cleaned_data["channel"]
    try:
        additional_auth_start(
            customer=agreement.customer,
            purpose=AuthPurpose.SUSPENSION_RELEASE,
            channel=channel,
            actor=agreement_web_actor(),
        )
    except ValidationError as refusal:
        messages.error(request, refusal.messages[0])
        return redirect("agreement_release_phone")
    _update(request, RELEASE, code_sent=True)
    sent = MSG_CODE_SENT_ARS if channel == Channel.ARS else MSG_CODE_SENT_SMS
    messages.success(request, sent % {"phone": mask_phone(agreement.customer.phone)})
    return redirect("agreement_release_phone")


@never_cache
@require_http_methods(["GET", "HEAD"])
def agreement_release_done(request: HttpRequest) -> HttpResponse:
    if not request.session.pop(RELEASED_KEY, None):
        return redirect("agreement_release")
    return render(request, "accounts/ebanking/release_done.html", {"flow": RELEASE})
