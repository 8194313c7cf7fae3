"""Registering another institution's certificate (타행/타기관 인증서 등록), anonymous pages under /certificates/other/.

Thin, like the issue and reissue flows whose identification and state they share
(``certcenter.pages.identify_customer``, ``accounts.ebanking_views``): the session holds the
agreement's id, the step reached, an expiry 10 minutes after identification and, at the last step,
the nonce and time of the text to sign; never the RRN, a password, a code or a key.

Steps: 1. terms, user ID, RRN or business number, withdrawal account and its password; 2. the
security medium; 3. the code sent to the registered phone (additional authentication, verified here
and spent inside the registration's transaction); 4. the certificate: the page's script
(static/js/certcenter-external.js, on pki.js) takes it from this browser's storage or the two files
(signCert.der, signPri.key), opens the key with the certificate password, signs the text this page
issued and posts the certificate, the signature and the identity random value read from the key file
to ``external_request``. The private key and the certificate password never reach the server.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import secrets
import uuid
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from django.contrib import messages
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
from accounts.models import Agreement
from bankportal.timeutil import KST
from certcenter.forms import CertificateIdentifyForm
from certcenter.forms_financial import FinancialRegisterForm
from certcenter.models import ExternalCertificate
from certcenter.pages import (
    ERR_BAD_REQUEST,
    ERR_FLOW_GONE,
    MSG_BAD_CERT_FILE,
    MSG_BAD_KEY_FILE,
    MSG_CHOOSE_CERTIFICATE,
    MSG_ENTER_PASSWORD,
    MSG_EXPIRES,
    MSG_NETWORK,
    MSG_NO_BROWSER_SUPPORT,
    MSG_NONE_STORED,
    MSG_WRONG_PASSWORD,
    identify_customer,
    json_refusal,
)
from certcenter.phone_step import PhoneStep, phone_send, phone_step
from certcenter.services.external import (
    external_certificate_register,
    external_registration_text,
    external_web_actor,
)
from certcenter.services.financial import financial_certificates_elsewhere, financial_register_other
from otp.services import Purpose, additional_auth_use
from otp.services.additional_auth import Purpose as AuthPurpose

EXTERNAL = Flow(
    key="certcenter_flow_external",
    start="certcenter:external",
    title=_("Register another institution's certificate"),
    steps=(_("Confirm it is you"), _("Security medium"), _("Code sent to your phone"), _("Certificate")),
)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# A certificate is about 1.5 KB (base64 about 2 KB), a signature 256 bytes, the random value 20.
CERTIFICATE_MAX_CHARS = 16 * 1024
SIGNATURE_MAX_CHARS = 1024
RANDOM_MAX_CHARS = 200
BODY_MAX_BYTES = CERTIFICATE_MAX_CHARS + SIGNATURE_MAX_CHARS + RANDOM_MAX_CHARS + 1024
NONCE_BYTES = 24

ERR_SUSPENDED_RELEASE_FIRST = _(
    "Internet banking is suspended for this agreement. Release the suspension first "
    "(Security centre → Release an internet banking suspension), then register the certificate."
)
MSG_SIGNING = _("Checking and registering your certificate…")
MSG_IDENTITY_CHECKED = _("Checked against your resident registration number (or business number)")
MSG_IDENTITY_NOT_CARRIED = _("This certificate carries no identity check value")
MSG_CLOUD_CHOICE = _("Financial certificate issued by %(issuer)s, valid until %(date)s")


# Refusals after which trying again in the same flow cannot help.
_ENDING_CODES = frozenset({"agreement_not_active", "medium_not_verified", "additional_auth_required"})

anonymous_page = require_http_methods(["GET", "HEAD", "POST"])


# --- Step 1: identification ----------------------------------------------------------------------------


@never_cache
@anonymous_page
def external_identify(request: HttpRequest) -> HttpResponse:
    """Step 1: the terms, user ID, RRN or business number, withdrawal account and its password."""
    form = CertificateIdentifyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        found = identify_customer(request, form, EXTERNAL, suspended_message=ERR_SUSPENDED_RELEASE_FIRST)
        if isinstance(found, HttpResponse):
            return found
        if found is not None:
            agreement, _account = found
            _start(request, EXTERNAL, agreement, "medium")
            return redirect("certcenter:external_medium")
    return render(request, "certcenter/external_identify.html", _context(EXTERNAL, 1, form=form))


# --- Step 2: the security medium ------------------------------------------------------------------------


@never_cache
@anonymous_page
def external_medium(request: HttpRequest) -> HttpResponse:
    """Step 2: the security medium challenge (two security-card numbers, or the OTP's 6 digits)."""
    return _medium_step(
        request,
        EXTERNAL,
        purpose=Purpose.CERTIFICATE_ISSUE,
        next_step="phone",
        next_url=reverse("certcenter:external_phone"),
    )


# --- Step 3: additional authentication ------------------------------------------------------------------


_PHONE = PhoneStep(
    flow=EXTERNAL,
    number=3,
    template="certcenter/external_phone.html",
    purpose=AuthPurpose.OTHER_BANK_CERTIFICATE,
    page="certcenter:external_phone",
    next_step="certificate",
    next_page="certcenter:external_certificate",
    actor=external_web_actor,
)


@never_cache
@anonymous_page
def external_phone(request: HttpRequest) -> HttpResponse:
    """Step 3: verify the code sent to the registered phone; the registration spends it."""
    return phone_step(request, _PHONE)


@never_cache
@require_POST
def external_phone_send(request: HttpRequest) -> HttpResponse:
    """Send the code by SMS (or an ARS call where offered)."""
    return phone_send(request, _PHONE)


# --- Step 4: the certificate (the page's script signs) ----------------------------------------------------


def _text(agreement: Agreement, state: dict[str, Any]) -> str | None:
    """The text this flow issued for signing, rebuilt from the session; ``None`` if there is none."""
    nonce, issued = state.get("nonce"), state.get("issued")
    if not isinstance(nonce, str) or not isinstance(issued, str) or agreement.user is None:
        return None
    try:
        issued_at = dt.datetime.fromisoformat(issued)
    except ValueError:
        return None
    return external_registration_text(user_id=agreement.user.get_username(), nonce=nonce, issued_at=issued_at)


def _messages() -> dict[str, str]:
    return {
        "wrong_password": str(MSG_WRONG_PASSWORD),
        "bad_key_file": str(MSG_BAD_KEY_FILE),
        "bad_cert_file": str(MSG_BAD_CERT_FILE),
        "choose": str(MSG_CHOOSE_CERTIFICATE),
        "enter_password": str(MSG_ENTER_PASSWORD),
        "no_support": str(MSG_NO_BROWSER_SUPPORT),
        "network": str(MSG_NETWORK),
        "working": str(MSG_SIGNING),
        "none_stored": str(MSG_NONE_STORED),
        "expires": str(MSG_EXPIRES),
    }


@never_cache
@require_http_methods(["GET", "HEAD"])
def external_certificate(request: HttpRequest) -> HttpResponse:
    """Step 4: choose the certificate (this browser or the two files), its password, and sign."""
    found = _state(request, EXTERNAL, "certificate")
    if found is None:
        return _restart(request, EXTERNAL)
    agreement, state = found
    text = _text(agreement, state)
    if text is None:
        issued = timezone.now().replace(microsecond=0)
        _update(request, EXTERNAL, nonce=secrets.token_urlsafe(NONCE_BYTES), issued=issued.isoformat())
        text = _text(agreement, request.session[EXTERNAL.key])
    if text is None:  # an agreement without its user: identification would not have passed
        return _restart(request, EXTERNAL)
    return _certificate_page(request, agreement, text, FinancialRegisterForm(_cloud_choices(agreement)))


def _cloud_choices(agreement: Agreement) -> list[tuple[str, str]]:
    """The customer's financial certificates in the cloud from other institutions, not yet registered here."""
    choices = []
    for item in financial_certificates_elsewhere(agreement.customer):
        try:
            issuer = _issuer_name(x509.load_der_x509_certificate(item.certificate_der))
        except ValueError:
            continue
        expiry = item.not_after.astimezone(KST).date().isoformat() if item.not_after else ""
        choices.append((str(item.cloud_id), str(MSG_CLOUD_CHOICE) % {"issuer": issuer, "date": expiry}))
    return choices


def _issuer_name(cert: x509.Certificate) -> str:
    names = cert.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) or cert.issuer.get_attributes_for_oid(
        NameOID.COMMON_NAME
    )
    return str(names[0].value) if names else cert.issuer.rfc4514_string()


def _certificate_page(
    request: HttpRequest, agreement: Agreement, text: str, cloud_form: FinancialRegisterForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "certcenter/external_certificate.html",
        _context(
            EXTERNAL,
            4,
            sign_text=text,
            request_url=reverse("certcenter:external_request"),
            login_url=reverse("certcenter:signin"),
            messages_js={**_messages(), "text": text},
            cloud_form=cloud_form if cloud_form.fields["certificate"].choices else None,  # type: ignore[attr-defined]
        ),
        status=status,
    )


@never_cache
@require_POST
def external_financial(request: HttpRequest) -> HttpResponse:
    """Step 4 for a financial certificate another institution issued: the cloud signs the flow's text after the
    PIN (no browser key work), and the registration is the same as for a joint certificate's."""
    found = _state(request, EXTERNAL, "certificate")
    if found is None:
        return _restart(request, EXTERNAL)
    agreement, state = found
    text = _text(agreement, state)
    if text is None:
        return _restart(request, EXTERNAL)
    form = FinancialRegisterForm(_cloud_choices(agreement), request.POST)
    if not form.is_valid():
        return _certificate_page(request, agreement, text, form, status=400)
    actor = external_web_actor()
    spend = functools.partial(
        additional_auth_use, customer=agreement.customer, purpose=AuthPurpose.OTHER_BANK_CERTIFICATE, actor=actor
    )
    try:
        row = financial_register_other(
            agreement=agreement,
            cloud_id=uuid.UUID(form.cleaned_data["certificate"]),
            pin=form.cleaned_data["pin"],
            text=text,
            medium_verified=True,  # this step opens only after the medium and phone steps succeeded
            additional_auth=spend,
            actor=actor,
        )
    except ValidationError as refusal:
        if refusal.code in _ENDING_CODES or refusal.code == "locked":
            _end(request, EXTERNAL)
            messages.error(request, refusal.messages[0])
            return redirect("certcenter:centre")
        form.add_error(None, refusal.messages[0])
        return _certificate_page(request, agreement, text, form, status=400)
    except PermissionDenied:
        _end(request, EXTERNAL)
        return _restart(request, EXTERNAL)
    _end(request, EXTERNAL)  # one registration per identification
    return render(
        request,
        "certcenter/external_financial_done.html",
        {
            "row": row,
            "expiry": row.not_after.astimezone(KST).strftime(TIME_FORMAT),
            "issuer": row.authority.name,
            "signin_url": reverse("certcenter:financial_signin"),
        },
    )


def _b64(payload: dict[str, Any], name: str, limit: int) -> bytes:
    value = payload.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ValueError(f"bad {name}")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError(f"{name} not base64") from None


def _parse(body: bytes) -> tuple[bytes, bytes, bytes | None]:
    """(certificate DER, signature, identity random or ``None``) from the JSON body; ``ValueError`` if unreadable."""
    if len(body) > BODY_MAX_BYTES:
        raise ValueError("too long")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError("not JSON") from None
    if not isinstance(payload, dict):
        raise ValueError("not an object")
    certificate = _b64(payload, "certificate", CERTIFICATE_MAX_CHARS)
    signature = _b64(payload, "signature", SIGNATURE_MAX_CHARS)
    # Absent when the key file holds no identity random value (a certificate without an identity hash).
    identity_random = (
        None if payload.get("identity_random") is None else _b64(payload, "identity_random", RANDOM_MAX_CHARS)
    )
    return certificate, signature, identity_random


def _answer(row: ExternalCertificate) -> dict[str, Any]:
    return {
        "serial": row.serial,
        "subject": row.subject_cn,
        "issuer": row.authority.name,
        "not_after": row.not_after.isoformat(),
        "not_after_display": row.not_after.astimezone(KST).strftime(TIME_FORMAT),
        "identity": str(MSG_IDENTITY_CHECKED if row.identity_checked else MSG_IDENTITY_NOT_CARRIED),
        "login_url": reverse("certcenter:signin"),
    }


@never_cache
@require_POST
def external_request(request: HttpRequest) -> JsonResponse:
    """JSON: ``{certificate, signature, identity_random (optional)}`` (standard base64) → the registration
    (``serial``, ``issuer``, ``not_after_display``, ...), or ``4xx {code, message}``. Opens only at step 4."""
    found = _state(request, EXTERNAL, "certificate")
    if found is None:
        return json_refusal("start_again", ERR_FLOW_GONE, status=409)
    agreement, state = found
    text = _text(agreement, state)
    if text is None:
        return json_refusal("start_again", ERR_FLOW_GONE, status=409)
    try:
        certificate, signature, identity_random = _parse(request.body)
    except ValueError:
        return json_refusal("bad_request", ERR_BAD_REQUEST)
    actor = external_web_actor()
    spend = functools.partial(
        additional_auth_use, customer=agreement.customer, purpose=AuthPurpose.OTHER_BANK_CERTIFICATE, actor=actor
    )
    try:
        row = external_certificate_register(
            agreement=agreement,
            certificate_der=certificate,
            text=text,
            signature=signature,
            identity_random=identity_random,
            medium_verified=True,  # this step opens only after the medium and phone steps succeeded
            additional_auth=spend,
            actor=actor,
        )
    except ValidationError as refusal:
        if refusal.code in _ENDING_CODES:
            _end(request, EXTERNAL)
        return json_refusal(refusal.code or "refused", refusal.messages[0])
    except PermissionDenied:
        _end(request, EXTERNAL)
        return json_refusal("refused", ERR_FLOW_GONE, status=403)
    _end(request, EXTERNAL)  # one registration per identification
    return JsonResponse(_answer(row))
