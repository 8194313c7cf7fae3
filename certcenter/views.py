"""Public PKI endpoints: the CA certificates, the CRL and the OCSP responder (RFC 6960).

Anonymous and binary: relying parties (browsers, OpenSSL, other banks) fetch them without a
session or a CSRF token. Bad input never gives a 500: OCSP garbage gets a malformedRequest answer.
"""

from __future__ import annotations

import base64
import binascii
import logging

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.utils.http import http_date
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from bankportal.actors import system_actor
from certcenter import selectors, services

logger = logging.getLogger(__name__)

# A request for one certificate is about 100 bytes, a few KB when signed with a certificate chain.
OCSP_MAX_REQUEST_BYTES = 8 * 1024
# The base-64 of that, URL-encoded (GET).
OCSP_MAX_GET_CHARS = 4 * ((OCSP_MAX_REQUEST_BYTES + 2) // 3) + 64
OCSP_CONTENT_TYPE = "application/ocsp-response"
# CA certificates change only with a rotation; the CRL and OCSP answers are regenerated on every
# revocation, so caches hold them briefly.
CA_CACHE_CONTROL = "public, max-age=86400"
CRL_CACHE_CONTROL = "public, max-age=300, no-transform"
OCSP_GET_CACHE_CONTROL = "public, max-age=60, no-transform, must-revalidate"

# Regenerates the CRL when a request finds none or an outdated one.
CRL_WEB_ACTOR = system_actor("web:crl_publish", [services.CRL_PERMISSION])

ERR_CRL_UNAVAILABLE = _("The certificate revocation list is temporarily unavailable. Please try again later.")
# Unsigned answers (malformed request, not set up, internal error) are never cached.
UNSIGNED_OCSP_ANSWERS = {services.OCSP_MALFORMED_REQUEST, services.OCSP_INTERNAL_ERROR, services.OCSP_UNAUTHORIZED}

CONTENT_TYPES = {"der": "application/pkix-cert", "pem": "application/x-pem-file"}


def _not_available(status: int = 404) -> HttpResponse:
    return HttpResponse(str(services.ERR_NOT_INITIALISED), status=status, content_type="text/plain; charset=utf-8")


@require_safe
def ca_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "certcenter/ca_index.html",
        {"authorities": selectors.active_authorities(), "urls": selectors.pki_urls()},
    )


@require_safe
def ca_certificate(request: HttpRequest, role: str, encoding: str) -> HttpResponse:
    body = selectors.ca_certificate_bytes(role, encoding=encoding)
    if body is None:
        return _not_available()
    response = HttpResponse(body, content_type=CONTENT_TYPES[encoding])
    response["Content-Disposition"] = f'inline; filename="{role}.{encoding}"'
    response["Cache-Control"] = CA_CACHE_CONTROL
    return response


@require_safe
def crl(request: HttpRequest) -> HttpResponse:
    try:
        state = services.crl_for_publication(actor=CRL_WEB_ACTOR)
    except ValidationError as exc:
        if exc.code == "not_initialised":
            return _not_available()
        logger.error("CRL: cannot sign a new CRL (%s)", exc.code)
        return HttpResponse(str(ERR_CRL_UNAVAILABLE), status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(bytes(state.crl_der), content_type="application/pkix-crl")
    response["Content-Disposition"] = 'inline; filename="issuing.crl"'
    response["Cache-Control"] = CRL_CACHE_CONTROL
    response["Last-Modified"] = http_date(state.generated_at.timestamp())
    return response


def _ocsp_response(body: bytes, *, cache_control: str) -> HttpResponse:
    response = HttpResponse(body, content_type=OCSP_CONTENT_TYPE)
    response["Cache-Control"] = cache_control
    return response


@csrf_exempt  # OCSP clients post a DER request, never a form with a CSRF token; nothing is written
def ocsp_post(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = -1
    if not 0 < declared <= OCSP_MAX_REQUEST_BYTES:
        return _ocsp_response(services.OCSP_MALFORMED_REQUEST, cache_control="no-store")
    body = request.read(OCSP_MAX_REQUEST_BYTES + 1)
    if not body or len(body) > OCSP_MAX_REQUEST_BYTES:
        return _ocsp_response(services.OCSP_MALFORMED_REQUEST, cache_control="no-store")
    return _ocsp_response(services.ocsp_answer(body), cache_control="no-store")


def _decode_get_request(encoded: str) -> bytes | None:
    """The DER request from the path: base-64 (standard or URL-safe alphabet, padding optional)."""
    if len(encoded) > OCSP_MAX_GET_CHARS:
        return None
    text = encoded.strip().rstrip("=")
    alphabet = b"-_" if ("-" in text or "_" in text) else None
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data or None


@require_safe
def ocsp_get(request: HttpRequest, encoded: str) -> HttpResponse:
    der = _decode_get_request(encoded)
    if der is None:
        return _ocsp_response(services.OCSP_MALFORMED_REQUEST, cache_control="no-store")
    answer = services.ocsp_answer(der)
    return _ocsp_response(
        answer, cache_control="no-store" if answer in UNSIGNED_OCSP_ANSWERS else OCSP_GET_CACHE_CONTROL
    )
