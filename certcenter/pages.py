"""The certificate-centre pages (anonymous): certificate login and the issue (인증서 발급) flow.

Thin: shape the input (``certcenter.forms``), call the service of the step, render or answer JSON.
The issue flow follows the e-banking agreement pages (``accounts.ebanking_views``) and reuses their
flow state and security-medium step: the session holds the identified agreement's id, the
withdrawal account's id, the step reached and an expiry 10 minutes after identification; a step
opens only when the flow has reached exactly it. The session never holds the RRN, the account
password, the certificate password or any key.

Steps: 1. terms, user ID, RRN or business number, withdrawal account and its password (one page,
so that the one generic refusal never says which part was wrong); 2. the security medium;
3. kind, storage and the certificate password — the page's script (static/js/certcenter-issue.js)
makes the key pair, posts the CSR and the identity random value R to ``issue_request`` and keeps
the encrypted key itself. The private key and the certificate password never reach the server.

The reissue flow (``certcenter.reissue``) shares the identification, the certificate step's page
and its JSON shapes: ``identify_customer``, ``certificate_step_context``, ``parse_certificate_request``,
``issued_answer``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
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
    _throttle_credentials,
)
from accounts.models import Account, Agreement
from accounts.services.agreement_online import ERR_DETAILS_MISMATCH, IdentifyPurpose, agreement_identify
from accounts.services.agreements import agreement_record_wrong_entry, agreement_web_actor
from bankportal.timeutil import KST
from certcenter import rules
from certcenter.ca.passwords import CERT_PASSWORD_MAX, CERT_PASSWORD_MIN
from certcenter.forms import CertificateIdentifyForm
from certcenter.models import Certificate
from certcenter.services import IssuedCertificate, certificate_issue, certificate_web_actor
from otp.services import Purpose

ISSUE = Flow(
    key="certcenter_flow_issue",
    start="certcenter:issue",
    title=_("Issue a joint certificate"),
    steps=(_("Confirm it is you"), _("Security medium"), _("Certificate")),
)

ERR_SUSPENDED_RELEASE_FIRST = _(
    "Internet banking is suspended for this agreement. Release the suspension first "
    "(Security centre → Release an internet banking suspension), then issue the certificate."
)
ERR_BAD_REQUEST = _("The certificate request could not be read. Reload the page and start again.")
ERR_FLOW_GONE = _("Please start again from the first step. Each step must be completed in order, within 10 minutes.")

# Refusals after a full identification that end the flow (the refusal page says what to do).
_FLOW_ENDING_CODES = frozenset(
    {
        "agreement_terminated",
        "application_lapsed",
        "not_registered",
        "suspended_release_online",
        "suspended_branch_only",
    }
)
# Issue refusals after which trying again in the same flow cannot help.
_ISSUE_ENDING_CODES = frozenset({"agreement_not_active", "medium_not_verified"})
# A CSR is about 1 KB; R is 20 bytes.
CSR_MAX_CHARS = 8 * 1024
RANDOM_MAX_CHARS = 200
BODY_MAX_BYTES = CSR_MAX_CHARS + RANDOM_MAX_CHARS + 1024

anonymous_page = require_http_methods(["GET", "HEAD", "POST"])


# --- Certificate login ---------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "HEAD"])
def centre(request: HttpRequest) -> HttpResponse:
    """The certificate centre: certificate login and issue."""
    return render(request, "certcenter/centre.html")


@never_cache
@require_http_methods(["GET", "HEAD"])
def certificate_login_page(request: HttpRequest) -> HttpResponse:
    """The certificate login page; its script posts to the JSON endpoints of ``login_views``."""
    return render(
        request,
        "certcenter/login.html",
        {
            "challenge_url": reverse("certificate_login:challenge"),
            "login_url": reverse("certificate_login:login"),
            "messages_js": _login_messages(),
        },
    )


# --- Issue, step 1: identification ---------------------------------------------------------------------


def identify_customer(
    request: HttpRequest,
    form: CertificateIdentifyForm,
    flow: Flow,
    *,
    suspended_message: Any = ERR_SUSPENDED_RELEASE_FIRST,
) -> tuple[Agreement, Account] | HttpResponse | None:
    """The identified active agreement and its withdrawal account; a pause page while throttled; else
    ``None`` with the refusal on the form (or ``flow``'s refusal page for a flow-ending state, with
    ``suspended_message`` for a suspension the customer can release online)."""
    credentials = _throttle_credentials(form)
    if not AxesProxyHandler.is_allowed(request, credentials):
        return get_lockout_response(request, None, credentials)
    data = form.cleaned_data
    by_user = Agreement.objects.select_related("customer").filter(user__username=data["user_id"]).first()
    actor = agreement_web_actor()

    def mismatch() -> None:
        AxesProxyHandler.user_login_failed(sender=__name__, credentials=credentials, request=request)
        form.add_error(None, ValidationError(ERR_DETAILS_MISMATCH, code="details_mismatch"))

    try:
        # An unknown user ID gives no name: the identification fails like any wrong detail.
        found = agreement_identify(
            purpose=IdentifyPurpose.CERTIFICATE,  # an active agreement, the full RRN or business number
            name=by_user.customer.name if by_user is not None else "",
            id_number=data["id_number"],
            account_number=data["account_number"],
            account_password=data["account_password"],
            actor=actor,
        )
    except ValidationError as refusal:
        if refusal.code == "details_mismatch":
            mismatch()
            return None
        if refusal.code in _FLOW_ENDING_CODES:
            message = suspended_message if refusal.code == "suspended_release_online" else refusal.messages[0]
            return _refused(request, flow, message, code=refusal.code or "")
        form.add_error(None, refusal)
        return None
    if by_user is None or found.pk != by_user.pk:
        # Right details, account and password but another customer's user ID: still a wrong entry.
        agreement_record_wrong_entry(agreement=found, actor=actor, what="identifying_data")
        mismatch()
        return None
    account = Account.objects.get(number=data["account_number"], kind=Account.Kind.CUSTOMER)
    return found, account


@never_cache
@anonymous_page
def issue_identify(request: HttpRequest) -> HttpResponse:
    """Step 1: the terms, user ID, RRN or business number, withdrawal account and its password."""
    form = CertificateIdentifyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        found = identify_customer(request, form, ISSUE)
        if isinstance(found, HttpResponse):
            return found
        if found is not None:
            agreement, account = found
            _start(request, ISSUE, agreement, "medium")
            request.session[ISSUE.key] = {**request.session[ISSUE.key], "account": account.pk}
            return redirect("certcenter:issue_medium")
    return render(request, "certcenter/issue_identify.html", _context(ISSUE, 1, form=form))


# --- Issue, step 2: security medium ----------------------------------------------------------------------


@never_cache
@anonymous_page
def issue_medium(request: HttpRequest) -> HttpResponse:
    """Step 2: the security medium challenge (two security-card numbers, or the OTP's 6 digits)."""
    return _medium_step(
        request,
        ISSUE,
        purpose=Purpose.CERTIFICATE_ISSUE,
        next_step="certificate",
        next_url=reverse("certcenter:issue_certificate"),
    )


# --- Issue, step 3: the certificate (the page's script does the key work) --------------------------------


def flow_account(state: dict[str, Any]) -> Account | None:
    account_id = state.get("account")
    return Account.objects.filter(pk=account_id).first() if isinstance(account_id, int) else None


def _kinds(agreement: Agreement) -> list[dict[str, Any]]:
    customer_kind = agreement.customer.kind
    return [
        {
            "value": kind.value,
            "label": Certificate.Kind(kind.value).label,
            "fee": rules.fee_for(kind.value, customer_kind),
            "fee_display": f"{rules.fee_for(kind.value, customer_kind):,}",
        }
        for kind in rules.kinds_for(customer_kind)
    ]


# Texts the page scripts show (json_script; no inline script under the CSP).
PASSWORD_PROBLEMS = {
    "too_short": _("The certificate password is too short: use at least 10 characters."),
    "too_long": _("The certificate password is too long: use at most 50 characters."),
    "needs_letter": _("Add at least one letter to the certificate password."),
    "needs_digit": _("Add at least one digit to the certificate password."),
    "needs_special": _("Add at least one special character (such as ! @ # $ %) to the certificate password."),
    "whitespace": _("The certificate password cannot contain spaces."),
    "invalid_character": _(
        "Use only English letters, digits and special characters in the certificate password "
        "(switch the keyboard to English)."
    ),
}
MSG_PASSWORDS_DIFFER = _("The two certificate passwords are not the same. Type them again.")
MSG_NO_BROWSER_SUPPORT = _(
    "This browser cannot make or use certificate keys. Use a current version of Chrome, Edge, Firefox or Safari."
)
MSG_NETWORK = _("The bank could not be reached. Check your connection and try again.")
MSG_WORKING = _("Making your key pair and issuing the certificate. Please wait…")
MSG_SAVE_FAILED = _(
    "The certificate was issued but could not be kept in this browser. Download it as files below, now: "
    "the key cannot be made again."
)
MSG_WRONG_PASSWORD = _("The certificate password is wrong. Type it again (letters are case-sensitive).")
MSG_BAD_KEY_FILE = _(
    "The key file (signPri.key) could not be read. Choose the signPri.key that came with the certificate."
)
MSG_BAD_CERT_FILE = _("The certificate file (signCert.der) could not be read. Choose signCert.der.")
MSG_CHOOSE_CERTIFICATE = _("Choose a certificate stored in this browser, or load the two certificate files.")
MSG_ENTER_PASSWORD = _("Enter the certificate password.")
MSG_SIGNING_IN = _("Checking your certificate…")
MSG_NONE_STORED = _("No certificate is stored in this browser.")
MSG_EXPIRES = _("valid until %(date)s")


def _issue_messages() -> dict[str, str]:
    return {
        **{f"password_{code}": str(text) for code, text in PASSWORD_PROBLEMS.items()},
        "passwords_differ": str(MSG_PASSWORDS_DIFFER),
        "no_support": str(MSG_NO_BROWSER_SUPPORT),
        "network": str(MSG_NETWORK),
        "working": str(MSG_WORKING),
        "save_failed": str(MSG_SAVE_FAILED),
        "fee_free": str(_("free")),
        "won": str(_("%(amount)s won")),
        **{f"storage_{value}": str(label) for value, label in Certificate.Storage.choices},
    }


def _login_messages() -> dict[str, str]:
    return {
        "wrong_password": str(MSG_WRONG_PASSWORD),
        "bad_key_file": str(MSG_BAD_KEY_FILE),
        "bad_cert_file": str(MSG_BAD_CERT_FILE),
        "choose": str(MSG_CHOOSE_CERTIFICATE),
        "enter_password": str(MSG_ENTER_PASSWORD),
        "no_support": str(MSG_NO_BROWSER_SUPPORT),
        "network": str(MSG_NETWORK),
        "signing_in": str(MSG_SIGNING_IN),
        "none_stored": str(MSG_NONE_STORED),
        "expires": str(MSG_EXPIRES),
    }


def certificate_step_context(agreement: Agreement, state: dict[str, Any], *, request_url: str) -> dict[str, Any]:
    """What the certificate step's page (issue and reissue) shows and its script reads."""
    return {
        "kinds": _kinds(agreement),
        "storages": Certificate.Storage.choices,
        "account": flow_account(state),
        "user_id": agreement.user.get_username() if agreement.user else "",
        "password_min": CERT_PASSWORD_MIN,
        "password_max": CERT_PASSWORD_MAX,
        "request_url": request_url,
        "messages_js": _issue_messages(),
    }


@never_cache
@require_http_methods(["GET", "HEAD"])
def issue_certificate(request: HttpRequest) -> HttpResponse:
    """Step 3: kind (with its fee), storage and the certificate password (checked in the page, never sent)."""
    found = _state(request, ISSUE, "certificate")
    if found is None:
        return _restart(request, ISSUE)
    agreement, state = found
    return render(
        request,
        "certcenter/issue_certificate.html",
        _context(
            ISSUE, 3, **certificate_step_context(agreement, state, request_url=reverse("certcenter:issue_request"))
        ),
    )


def parse_certificate_request(body: bytes) -> tuple[bytes, bytes, str, str]:
    """(CSR DER, R, kind, storage) from the JSON body; ``ValueError`` if unreadable."""
    if len(body) > BODY_MAX_BYTES:
        raise ValueError("too long")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError("not JSON") from None
    if not isinstance(payload, dict):
        raise ValueError("not an object")
    values = {}
    for name, limit in (("csr", CSR_MAX_CHARS), ("identity_random", RANDOM_MAX_CHARS)):
        value = payload.get(name)
        if not isinstance(value, str) or not value or len(value) > limit:
            raise ValueError(f"bad {name}")
        try:
            values[name] = base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ValueError(f"{name} not base64") from None
    kind, storage = payload.get("kind"), payload.get("storage")
    if not isinstance(kind, str) or not isinstance(storage, str):
        raise ValueError("bad kind or storage")
    return values["csr"], values["identity_random"], kind, storage


def json_refusal(code: str, message: Any, status: int = 400) -> JsonResponse:
    return JsonResponse({"code": code, "message": str(message)}, status=status)


@never_cache
@require_POST
def issue_request(request: HttpRequest) -> JsonResponse:
    """JSON: ``{csr, identity_random (base64), kind, storage}`` → the issued certificate and receipt,
    or ``400 {code, message}``. Opens only at step 3 (after the security medium); one issue per flow."""
    found = _state(request, ISSUE, "certificate")
    if found is None:
        return json_refusal("start_again", ERR_FLOW_GONE, status=409)
    agreement, state = found
    try:
        csr, identity_random, kind, storage = parse_certificate_request(request.body)
    except ValueError:
        return json_refusal("bad_request", ERR_BAD_REQUEST)
    account = flow_account(state)
    if account is None:
        _end(request, ISSUE)
        return json_refusal("start_again", ERR_FLOW_GONE, status=409)
    try:
        issued = certificate_issue(
            agreement=agreement,
            withdrawal_account=account,
            kind=kind,
            storage=storage,
            csr=csr,
            identity_random=identity_random,
            medium_verified=True,  # this step opens only after the medium step succeeded
            actor=certificate_web_actor(),
        )
    except ValidationError as refusal:
        if refusal.code in _ISSUE_ENDING_CODES:
            _end(request, ISSUE)
        return json_refusal(refusal.code or "refused", refusal.messages[0])
    except PermissionDenied:
        _end(request, ISSUE)
        return json_refusal("refused", ERR_FLOW_GONE, status=403)
    _end(request, ISSUE)  # one certificate per identification
    return JsonResponse(issued_answer(issued, account))


def issued_answer(issued: IssuedCertificate, account: Account) -> dict[str, Any]:
    """The JSON the certificate step's script reads: the certificate (DER, base64) and the receipt."""
    row = issued.certificate
    return {
        "certificate": base64.b64encode(issued.der).decode("ascii"),
        "serial": row.serial,
        "kind": row.kind,
        "kind_label": str(Certificate.Kind(row.kind).label),
        "subject": row.subject_cn,
        "fee": issued.fee,
        "fee_display": f"{issued.fee:,}",
        "account": account.number_display,
        "not_after": row.not_after.isoformat(),
        "not_after_display": row.not_after.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S"),
    }
