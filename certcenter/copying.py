"""Copy a certificate to another device (인증서 복사): two anonymous pages and their JSON endpoints.

* ``GET /certificates/copy/receive/`` (``certcenter:copy_receive``): the receiving device. Its script
  (static/js/certcenter-copy.js) asks ``copy_start`` for a code, shows it (1234-5678-9012) with a
  5-minute countdown, polls ``copy_status`` and, once the certificate has arrived, calls
  ``copy_pickup`` and keeps the certificate in this browser (static/js/pki.js).
* ``GET /certificates/copy/send/`` (``certcenter:copy_send``): the sending device. Its script opens the
  key with the certificate password (so a mistyped password sends nothing; the password never leaves
  the page) and posts the certificate and the still-encrypted key to ``copy_upload``.

JSON endpoints (POST, CSRF token in the ``X-CSRFToken`` header, never cached):

* ``copy_start`` → ``{"code", "code_display", "expires_in"}`` (a code bound to this browser session);
* ``copy_status`` ``{"code"}`` → ``{"state": waiting|uploaded|picked_up|expired, "expires_in"}``;
* ``copy_pickup`` ``{"code"}`` → ``{"certificate", "key"`` (standard base64 DER), ``"serial", "subject",
  "not_after", "kind"}``;
* ``copy_upload`` ``{"code", "certificate", "key"}`` → ``{"ok": true}``.

Refusals are ``400 {"code", "message"}`` with the message in the user's language saying what to do;
a paused client gets ``429`` with ``Retry-After``. The rules and the throttle are in
``certcenter.services.copying``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from bankportal.middleware import client_ip
from certcenter.ca.passwords import CERT_PASSWORD_MAX
from certcenter.services import copying

# Base64 grows by 4/3; a little room for the JSON around it.
CERTIFICATE_MAX_CHARS = (copying.CERTIFICATE_MAX_BYTES + 2) // 3 * 4
KEY_MAX_CHARS = (copying.KEY_MAX_BYTES + 2) // 3 * 4
CODE_MAX_CHARS = 40
BODY_MAX_BYTES = CERTIFICATE_MAX_CHARS + KEY_MAX_CHARS + 1024

ERR_BAD_REQUEST = _("The request could not be read. Reload the page and try again.")

# What the page scripts say themselves (no server round trip).
MSG_NO_SUPPORT = _(
    "This browser cannot copy certificates. Use a recent Chrome, Edge, Firefox, Safari or Whale, "
    "with private browsing off."
)
MSG_NETWORK = _("The bank could not be reached. Check your connection and try again.")
MSG_WAITING = _("Waiting for the certificate. On the other device, open “Send a certificate” and type this code.")
MSG_EXPIRED = _("This code has expired. Make a new code and type it on the other device within 5 minutes.")
MSG_IMPORTING = _("The certificate has arrived. Keeping it in this browser…")
MSG_DONE = _(
    "The certificate “%(subject)s” (expires %(date)s) is now kept in this browser. You can log in with "
    "it using its certificate password."
)
MSG_BAD_COPY = _(
    "What arrived is not a usable certificate and key, so nothing was kept. Make a new code and send "
    "the certificate again."
)
MSG_SAVE_FAILED = _(
    "This browser could not keep the certificate (private browsing, or storage full). Allow site data "
    "for this bank, make a new code and send the certificate again."
)
MSG_CHOOSE = _("Choose a certificate in this browser, or load both certificate files.")
MSG_BAD_CERT_FILE = _("The certificate file could not be read. Choose the file signCert.der again.")
MSG_BAD_KEY_FILE = _("The key file could not be read. Choose the file signPri.key of this certificate.")
MSG_KEY_MISMATCH = _(
    "The key file does not belong to this certificate. Load the two files of the same certificate "
    "(signCert.der and signPri.key)."
)
MSG_ENTER_PASSWORD = _("Enter the certificate password.")
MSG_WRONG_PASSWORD = _("The certificate password is wrong. Type it again (capital and small letters are different).")
MSG_ENTER_CODE = _("Type the 12-digit code shown on the receiving device.")
MSG_SENDING = _("Checking the password and sending the certificate…")
MSG_SENT = _(
    "The certificate was sent. Finish on the receiving device: it imports the certificate by itself "
    "within the time it shows."
)
MSG_NONE_STORED = _("No certificate is kept in this browser. Load the two certificate files below.")
MSG_EXPIRES = _("expires %(date)s")


def _actor() -> Any:
    return copying.copy_actor()


def _messages() -> dict[str, str]:
    return {
        "no_support": str(MSG_NO_SUPPORT),
        "network": str(MSG_NETWORK),
        "waiting": str(MSG_WAITING),
        "expired": str(MSG_EXPIRED),
        "importing": str(MSG_IMPORTING),
        "done": str(MSG_DONE),
        "bad_copy": str(MSG_BAD_COPY),
        "save_failed": str(MSG_SAVE_FAILED),
        "choose": str(MSG_CHOOSE),
        "bad_cert_file": str(MSG_BAD_CERT_FILE),
        "bad_key_file": str(MSG_BAD_KEY_FILE),
        "key_mismatch": str(MSG_KEY_MISMATCH),
        "enter_password": str(MSG_ENTER_PASSWORD),
        "wrong_password": str(MSG_WRONG_PASSWORD),
        "enter_code": str(MSG_ENTER_CODE),
        "sending": str(MSG_SENDING),
        "sent": str(MSG_SENT),
        "none_stored": str(MSG_NONE_STORED),
        "expires": str(MSG_EXPIRES),
    }


def _refusal(refusal: ValidationError) -> JsonResponse:
    message = refusal.messages[0]
    if refusal.code == "paused":
        response = JsonResponse({"code": "paused", "message": message}, status=429)
        response["Retry-After"] = str(int(copying.THROTTLE_WINDOW.total_seconds()))
        return response
    return JsonResponse({"code": refusal.code or "refused", "message": message}, status=400)


def _bad_request(code: str = "bad_request", message: Any = ERR_BAD_REQUEST) -> JsonResponse:
    return JsonResponse({"code": code, "message": str(message)}, status=400)


def _json_body(request: HttpRequest) -> dict[str, Any]:
    """The JSON object of the body; ``ValueError`` if it is not one (``OverflowError`` if too long)."""
    if len(request.body) > BODY_MAX_BYTES:
        raise OverflowError("too long")
    try:
        payload = json.loads(request.body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError("not JSON") from None
    if not isinstance(payload, dict):
        raise ValueError("not an object")
    return payload


def _code(payload: dict[str, Any]) -> str:
    code = payload.get("code")
    if not isinstance(code, str) or len(code) > CODE_MAX_CHARS:
        raise ValueError("bad code")
    return code


def _b64(value: Any, max_chars: int) -> bytes:
    if not isinstance(value, str) or not value:
        raise ValueError("missing")
    if len(value) > max_chars:
        raise OverflowError("too long")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None


def _ensure_session(request: HttpRequest) -> str:
    if request.session.session_key is None:
        request.session.save()
        request.session.modified = True  # so the session cookie is sent with this answer
    return request.session.session_key or ""


# --- pages --------------------------------------------------------------------------------------


def _page(request: HttpRequest, template: str) -> HttpResponse:
    return render(
        request,
        template,
        {
            "start_url": reverse("certcenter:copy_start"),
            "status_url": reverse("certcenter:copy_status"),
            "pickup_url": reverse("certcenter:copy_pickup"),
            "upload_url": reverse("certcenter:copy_upload"),
            "lifetime_minutes": int(copying.COPY_LIFETIME.total_seconds()) // 60,
            "password_max": CERT_PASSWORD_MAX,
            "messages_js": _messages(),
        },
    )


@never_cache
@require_http_methods(["GET", "HEAD"])
def receive_page(request: HttpRequest) -> HttpResponse:
    """The receiving device: shows a one-time code and imports what arrives under it."""
    return _page(request, "certcenter/copy_receive.html")


@never_cache
@require_http_methods(["GET", "HEAD"])
def send_page(request: HttpRequest) -> HttpResponse:
    """The sending device: choose a certificate, check its password here, send it under the code."""
    return _page(request, "certcenter/copy_send.html")


# --- JSON endpoints -----------------------------------------------------------------------------


@never_cache
@require_POST
def start(request: HttpRequest) -> JsonResponse:
    """A new code for this browser session (5 minutes, single use)."""
    session_key = _ensure_session(request)
    try:
        copy = copying.copy_start(session_key=session_key, client_ip=client_ip(request), actor=_actor())
    except ValidationError as refusal:
        return _refusal(refusal)
    code: str = copy.code  # type: ignore[attr-defined]
    return JsonResponse(
        {
            "code": code,
            "code_display": copying.format_code(code),
            "expires_in": int(copying.COPY_LIFETIME.total_seconds()),
        }
    )


@never_cache
@require_POST
def status(request: HttpRequest) -> JsonResponse:
    """Where this session's copy stands."""
    try:
        code = _code(_json_body(request))
    except (ValueError, OverflowError):
        return _bad_request()
    try:
        state = copying.copy_status(
            code=code,
            session_key=request.session.session_key or "",
            client_ip=client_ip(request),
            actor=_actor(),
        )
    except ValidationError as refusal:
        return _refusal(refusal)
    return JsonResponse({"state": state.state, "expires_in": state.seconds_left})


@never_cache
@require_POST
def pickup(request: HttpRequest) -> JsonResponse:
    """The uploaded certificate and encrypted key, once, for the session that made the code."""
    try:
        code = _code(_json_body(request))
    except (ValueError, OverflowError):
        return _bad_request()
    try:
        copied = copying.copy_pickup(
            code=code,
            session_key=request.session.session_key or "",
            client_ip=client_ip(request),
            actor=_actor(),
        )
    except ValidationError as refusal:
        return _refusal(refusal)
    return JsonResponse(
        {
            "certificate": base64.b64encode(copied.certificate_der).decode("ascii"),
            "key": base64.b64encode(copied.encrypted_key_der).decode("ascii"),
            "serial": copied.serial,
            "subject": copied.subject,
            "not_after": copied.not_after.isoformat(),
            "kind": copied.kind,
        }
    )


@never_cache
@require_POST
def upload(request: HttpRequest) -> JsonResponse:
    """Store the certificate and its encrypted key under the receiver's code."""
    address = client_ip(request)
    try:
        payload = _json_body(request)
        code = _code(payload)
        certificate_der = _b64(payload.get("certificate"), CERTIFICATE_MAX_CHARS)
        key_der = _b64(payload.get("key"), KEY_MAX_CHARS)
    except OverflowError:
        return _bad_request("too_large", copying.ERR_TOO_LARGE)
    except ValueError:
        return _bad_request()
    try:
        copying.copy_upload(
            code=code, certificate_der=certificate_der, encrypted_key_der=key_der, client_ip=address, actor=_actor()
        )
    except ValidationError as refusal:
        return _refusal(refusal)
    return JsonResponse({"ok": True})
