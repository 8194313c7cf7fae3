"""JSON endpoints of the certificate login page (/certificates/login/...), for the page's script.

* ``POST /certificates/login/challenge/`` → ``{"nonce": "...", "expires_in": 120}``: a nonce bound to
  this browser session (created here if the browser has none yet).
* ``POST /certificates/login/`` with ``{"nonce", "certificate", "signature"}`` (JSON; the certificate
  DER and the RSASSA-PKCS1-v1_5 SHA-256 signature over the nonce's ASCII bytes, both standard
  base64) → ``{"redirect": "/banking/"}``, or ``400 {"code", "message"}`` with the message in the
  user's language saying what to do.

Both are CSRF-protected: the page sends the token in the ``X-CSRFToken`` header (the CSRF cookie is
HttpOnly, so the page takes the token from the form it renders). Responses are never cached.

Throttle: every refused login (including unreadable requests) counts for the client IP in the cache
(Redis in production). After ``SIGNIN_IP_FAILURE_LIMIT`` (20) refusals within ``AXES_COOLOFF_TIME``
(15 minutes) of the first, both endpoints answer 429 with a translated message for 15 minutes; the
refusals while paused are not counted (a flood cannot keep the pause closed) and the pause is audited
once. A success does not reset the per-IP counter (one valid certificate must not clear an address
that is trying others), as with the password sign-in.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from bankportal.audit.services import audit_record
from bankportal.middleware import client_ip
from bankportal.session_levels import Level, set_session_level
from certcenter import services

# Limits on what the page sends: a certificate is about 1.5 KB, an RSA-2048 signature 256 bytes.
CERTIFICATE_MAX_CHARS = 16 * 1024
SIGNATURE_MAX_CHARS = 1024
NONCE_MAX_CHARS = 100
BODY_MAX_BYTES = CERTIFICATE_MAX_CHARS + SIGNATURE_MAX_CHARS + 1024
THROTTLE_PREFIX = "certcenter:login-refusals:"
# The user the certificate login signs in is found by the service, not by a password backend.
LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"

ERR_BAD_REQUEST = _("The login request could not be read. Reload the page and try again.")
ERR_PAUSED = _(
    "Too many failed certificate logins came from your network. Certificate login is paused for "
    "%(minutes)d minutes; please try again later."
)


def _actor() -> Any:
    return services.certificate_login_actor()


def throttle_keys(request: HttpRequest) -> tuple[str, str]:
    address = client_ip(request) or "unknown"
    return f"{THROTTLE_PREFIX}{address}", f"{THROTTLE_PREFIX}{address}:paused"


def window_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def _paused(request: HttpRequest) -> JsonResponse | None:
    _count_key, paused_key = throttle_keys(request)
    if not cache.get(paused_key):
        return None
    minutes = window_seconds() // 60
    response = JsonResponse({"code": "paused", "message": str(ERR_PAUSED % {"minutes": minutes})}, status=429)
    response["Retry-After"] = str(window_seconds())
    return response


def count_refusal(request: HttpRequest) -> None:
    count_key, paused_key = throttle_keys(request)
    cache.add(count_key, 0, timeout=window_seconds())
    try:
        count = cache.incr(count_key)
    except ValueError:  # expired between add and incr
        cache.set(count_key, 1, timeout=window_seconds())
        count = 1
    if count >= settings.SIGNIN_IP_FAILURE_LIMIT and cache.add(paused_key, True, timeout=window_seconds()):
        cache.delete(count_key)
        with transaction.atomic():
            audit_record(action="certificate.login_paused", details={"refusals": count})


def _refusal(request: HttpRequest, code: str, message: str) -> JsonResponse:
    count_refusal(request)
    return JsonResponse({"code": code, "message": message}, status=400)


def _b64(value: Any, max_chars: int) -> bytes:
    if not isinstance(value, str) or not value or len(value) > max_chars:
        raise ValueError("missing or too long")
    return base64.b64decode(value, validate=True)


def _parse(body: bytes) -> tuple[str, bytes, bytes]:
    """(nonce, certificate DER, signature) from the JSON body; ``ValueError`` if unreadable."""
    if len(body) > BODY_MAX_BYTES:
        raise ValueError("too long")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError("not JSON") from None
    if not isinstance(payload, dict):
        raise ValueError("not an object")
    nonce = payload.get("nonce")
    if not isinstance(nonce, str) or not nonce or len(nonce) > NONCE_MAX_CHARS or not nonce.isascii():
        raise ValueError("bad nonce")
    try:
        certificate = _b64(payload.get("certificate"), CERTIFICATE_MAX_CHARS)
        signature = _b64(payload.get("signature"), SIGNATURE_MAX_CHARS)
    except binascii.Error:
        raise ValueError("not base64") from None
    return nonce, certificate, signature


@never_cache
@require_POST
def login_challenge(request: HttpRequest) -> JsonResponse:
    """A new login nonce for this browser session (2 minutes, single use)."""
    if (paused := _paused(request)) is not None:
        return paused
    if request.session.session_key is None:
        request.session.save()
        request.session.modified = True  # so the session cookie is sent with this answer
    session_key = request.session.session_key or ""
    challenge = services.certificate_login_challenge(session_key=session_key, actor=_actor())
    return JsonResponse(
        {"nonce": challenge.nonce, "expires_in": int(services.CHALLENGE_LIFETIME.total_seconds())}  # type: ignore[attr-defined]
    )


@never_cache
@require_POST
def certificate_login(request: HttpRequest) -> JsonResponse:
    """Check the signed nonce and certificate; on success sign the agreement's user in with a banking session."""
    if (paused := _paused(request)) is not None:
        return paused
    try:
        nonce, certificate_der, signature = _parse(request.body)
    except ValueError:
        return _refusal(request, "bad_request", str(ERR_BAD_REQUEST))
    try:
        # Checked against the current session key: login() below rotates it, so it comes after.
        result = services.certificate_login(
            challenge_nonce=nonce,
            certificate_der=certificate_der,
            signature=signature,
            session_key=request.session.session_key or "",
            actor=_actor(),
        )
    except ValidationError as refusal:
        return _refusal(request, refusal.code or "refused", refusal.messages[0])
    request.signin_method = "certificate"  # type: ignore[attr-defined]  # for the login history
    auth_login(request, result.user, backend=LOGIN_BACKEND)
    set_session_level(request, Level.CERTIFICATE)
    return JsonResponse({"redirect": reverse("banking_home")})
