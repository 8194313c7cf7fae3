"""My certificates (내 인증서 관리): the signed-in customer's certificates, renewal (갱신) and revocation (폐기),
and the other institutions' certificates registered here (타기관 인증서), whose registration the customer
can delete (``external_deregister``, routed by ``certcenter.external_urls``).

Every page needs a certificate session (``banking_required``); the actor is the customer's own user.
A serial that is not one of this customer's certificates is a 404, never a hint that it exists.

Renewal follows the issue page: the page's script (static/js/certcenter-mine.js) checks the new
certificate password, makes the key pair, posts the CSR and the identity random value R as JSON to
``renew_request`` and keeps the encrypted key itself, in the old certificate's storage, then removes
the old browser copy. The private key and the certificate password never reach the server.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Account, Agreement, User
from bankportal.session_levels import banking_required
from bankportal.timeutil import KST
from certcenter import rules
from certcenter.ca.passwords import CERT_PASSWORD_MAX, CERT_PASSWORD_MIN
from certcenter.models import Certificate, ExternalCertificate
from certcenter.pages import (
    CSR_MAX_CHARS,
    MSG_NETWORK,
    MSG_NO_BROWSER_SUPPORT,
    MSG_PASSWORDS_DIFFER,
    MSG_SAVE_FAILED,
    PASSWORD_PROBLEMS,
    RANDOM_MAX_CHARS,
)
from certcenter.services import certificate_renew, certificate_revoke
from certcenter.services.external import external_certificate_deregister
from certcenter.services.issuance import ERR_NOT_WITHDRAWAL_ACCOUNT, REVOKE_REASONS

Status = Certificate.Status
Reason = Certificate.RevocationReason

DEFAULT_REVOKE_REASON = Reason.CESSATION_OF_OPERATION
BODY_MAX_BYTES = CSR_MAX_CHARS + RANDOM_MAX_CHARS + 1024
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

ERR_BAD_REQUEST = _("The renewal request could not be read. Reload the page and try again.")
ERR_NOT_FOUND = _("This certificate is not one of yours. Go back to My certificates.")
MSG_RENEW_WORKING = _("Making your new key pair and renewing the certificate. Please wait…")
MSG_IN_BROWSER = _("Stored in this browser")
MSG_NOT_IN_BROWSER = _("Not in this browser")
MSG_BROWSER_COUNT = _("Certificates of yours stored in this browser: %(count)s.")
MSG_BROWSER_COPY_REMOVED = _("The copy kept in this browser has been deleted.")
MSG_NO_BROWSER_COPY = _("No copy of this certificate was kept in this browser.")
MSG_DEREGISTERED = _(
    "The registration of the certificate issued by %(issuer)s was deleted: it can no longer be used here. "
    "The certificate itself still works at its issuer."
)
MSG_EXTERNAL_EXPIRED = _("Expired")


# --- Reads ---------------------------------------------------------------------------------------------


def _actor(request: HttpRequest) -> User:
    """The signed-in customer's own user (``banking_required`` lets only a signed-in user through)."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


def _customer_id(request: HttpRequest) -> int | None:
    return _actor(request).customer_id


def _own_certificate(request: HttpRequest, serial: str) -> Certificate:
    """This customer's certificate with ``serial``; 404 for anything else (another's, unknown)."""
    customer_id = _customer_id(request)
    certificate = (
        Certificate.objects.joint().select_related("customer").filter(serial=serial, customer_id=customer_id).first()
        if customer_id is not None and serial.isdigit()
        else None
    )
    if certificate is None:
        raise Http404(ERR_NOT_FOUND)
    return certificate


def _kst(moment: dt.datetime) -> str:
    return moment.astimezone(KST).strftime(TIME_FORMAT)


def _is_current(certificate: Certificate, now: dt.datetime) -> bool:
    """Valid and not past its expiry (the daily job marks expired ones later)."""
    return certificate.status == Status.VALID and certificate.revoked_at is None and now < certificate.not_after


def _status_label(certificate: Certificate, now: dt.datetime) -> str:
    if certificate.status == Status.VALID and not _is_current(certificate, now):
        return str(Status.EXPIRED.label)
    return str(Status(certificate.status).label)


def _fee(certificate: Certificate) -> int | None:
    try:
        return rules.fee_for(certificate.kind, certificate.customer.kind)
    except rules.KindNotAllowed:
        return None


def _row(certificate: Certificate, now: dt.datetime) -> dict[str, Any]:
    opens, expires = rules.renewal_window_days(certificate.not_after)
    current = _is_current(certificate, now)
    return {
        "certificate": certificate,
        "kind_label": Certificate.Kind(certificate.kind).label,
        "storage_label": Certificate.Storage(certificate.storage).label,
        "status_label": _status_label(certificate, now),
        "not_after_display": _kst(certificate.not_after),
        "current": current,
        "renewal_open": current and rules.renewal_open(certificate.not_after, now),
        "renewal_opens": opens.isoformat(),
        "renewal_until": expires.isoformat(),
        "revoked_display": _kst(certificate.revoked_at) if certificate.revoked_at else "",
        "revocation_label": Reason(certificate.revocation_reason).label if certificate.revocation_reason else "",
    }


def _external_row(certificate: ExternalCertificate, now: dt.datetime) -> dict[str, Any]:
    registered = certificate.status == ExternalCertificate.Status.REGISTERED
    status = (
        MSG_EXTERNAL_EXPIRED
        if registered and now > certificate.not_after
        else ExternalCertificate.Status(certificate.status).label
    )
    return {
        "certificate": certificate,
        "issuer": certificate.authority.name,
        "status_label": status,
        "registered": registered,
        "not_after_display": _kst(certificate.not_after),
        "registered_display": _kst(certificate.registered_at),
    }


def _external_rows(customer_id: int | None, now: dt.datetime) -> list[dict[str, Any]]:
    """The customer's registered other institutions' certificates (deleted registrations are not listed)."""
    if customer_id is None:
        return []
    rows = ExternalCertificate.objects.select_related("authority").filter(
        customer_id=customer_id, status=ExternalCertificate.Status.REGISTERED
    )
    return [_external_row(certificate, now) for certificate in rows]


# --- My certificates -----------------------------------------------------------------------------------


@never_cache
@banking_required
@require_http_methods(["GET", "HEAD"])
def my_certificates(request: HttpRequest) -> HttpResponse:
    """The customer's certificates: kind, storage, serial, expiry (KST), status, renewal window."""
    now = timezone.now()
    customer_id = _customer_id(request)
    certificates = (
        Certificate.objects.joint().select_related("customer").filter(customer_id=customer_id)
        if customer_id is not None
        else Certificate.objects.none()
    )
    return render(
        request,
        "certcenter/mine.html",
        {
            "rows": [_row(certificate, now) for certificate in certificates],
            "external_rows": _external_rows(customer_id, now),
            "messages_js": {
                "in_browser": str(MSG_IN_BROWSER),
                "not_in_browser": str(MSG_NOT_IN_BROWSER),
                "browser_count": str(MSG_BROWSER_COUNT),
            },
        },
    )


# --- Revoke --------------------------------------------------------------------------------------------


def _reasons() -> list[tuple[str, str]]:
    return [(reason.value, str(reason.label)) for reason in REVOKE_REASONS]


@never_cache
@banking_required
@require_http_methods(["GET", "HEAD", "POST"])
def revoke(request: HttpRequest, serial: str) -> HttpResponse:
    """GET: the irreversible-action warning and a reason; POST: revoke (폐기), then the result page,
    whose script deletes the copy kept in this browser."""
    certificate = _own_certificate(request, serial)
    now = timezone.now()
    context: dict[str, Any] = {
        "row": _row(certificate, now),
        "reasons": _reasons(),
        "chosen": DEFAULT_REVOKE_REASON.value,
    }
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        context["chosen"] = reason
        try:
            revoked = certificate_revoke(certificate=certificate, reason=reason, actor=_actor(request))
        except ValidationError as refusal:
            context["error"] = refusal.messages[0]
            context["row"] = _row(Certificate.objects.select_related("customer").get(pk=certificate.pk), now)
            return render(request, "certcenter/mine_revoke.html", context, status=400)
        return render(
            request,
            "certcenter/mine_revoked.html",
            {
                "row": _row(revoked, now),
                "messages_js": {
                    "removed": str(MSG_BROWSER_COPY_REMOVED),
                    "none": str(MSG_NO_BROWSER_COPY),
                },
            },
        )
    return render(request, "certcenter/mine_revoke.html", context)


# --- Renew ---------------------------------------------------------------------------------------------


def _withdrawal_accounts(customer_id: int) -> list[Account]:
    agreement = Agreement.objects.filter(customer_id=customer_id, state=Agreement.State.ACTIVE).first()
    if agreement is None:
        return []
    return list(
        agreement.withdrawal_accounts.filter(
            kind=Account.Kind.CUSTOMER, holder_id=customer_id, status=Account.Status.ACTIVE
        ).order_by("pk")
    )


def _renew_messages() -> dict[str, str]:
    return {
        **{f"password_{code}": str(text) for code, text in PASSWORD_PROBLEMS.items()},
        "passwords_differ": str(MSG_PASSWORDS_DIFFER),
        "no_support": str(MSG_NO_BROWSER_SUPPORT),
        "network": str(MSG_NETWORK),
        "working": str(MSG_RENEW_WORKING),
        "save_failed": str(MSG_SAVE_FAILED),
        "fee_free": str(_("free")),
        "won": str(_("%(amount)s won")),
        **{f"storage_{value}": str(label) for value, label in Certificate.Storage.choices},
    }


@never_cache
@banking_required
@require_http_methods(["GET", "HEAD"])
def renew(request: HttpRequest, serial: str) -> HttpResponse:
    """The renewal page: the fee and the window; inside the window, the new certificate password
    (checked in the page, never sent) and the button; outside it, the window's dates only."""
    certificate = _own_certificate(request, serial)
    row = _row(certificate, timezone.now())
    fee = _fee(certificate)
    return render(
        request,
        "certcenter/mine_renew.html",
        {
            "row": row,
            "fee": fee,
            "fee_display": f"{fee:,}" if fee else "",
            "accounts": _withdrawal_accounts(certificate.customer_id) if row["renewal_open"] else [],
            "common_name": request.user.get_username(),
            "password_min": CERT_PASSWORD_MIN,
            "password_max": CERT_PASSWORD_MAX,
            "request_url": reverse("certcenter:mine_renew_request", args=[certificate.serial]),
            "messages_js": _renew_messages(),
        },
    )


def _parse_renewal(body: bytes) -> tuple[bytes, bytes, int | None]:
    """(CSR DER, R, withdrawal account id or ``None``) from the JSON body; ``ValueError`` if unreadable."""
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
    account = payload.get("account")
    if account is not None and (not isinstance(account, int) or isinstance(account, bool)):
        raise ValueError("bad account")
    return values["csr"], values["identity_random"], account


def _refusal(code: str, message: Any, status: int = 400) -> JsonResponse:
    return JsonResponse({"code": code, "message": str(message)}, status=status)


@never_cache
@banking_required
@require_POST
def renew_request(request: HttpRequest, serial: str) -> JsonResponse:
    """JSON: ``{csr, identity_random (base64), account (id, optional)}`` → the renewed certificate and
    its receipt, or ``4xx {code, message}``."""
    try:
        certificate = _own_certificate(request, serial)
    except Http404:
        return _refusal("not_found", ERR_NOT_FOUND, status=404)
    try:
        csr, identity_random, account_id = _parse_renewal(request.body)
    except ValueError:
        return _refusal("bad_request", ERR_BAD_REQUEST)
    account = None
    if account_id is not None:
        account = Account.objects.filter(pk=account_id, holder_id=certificate.customer_id).first()
        if account is None:
            return _refusal("not_withdrawal_account", ERR_NOT_WITHDRAWAL_ACCOUNT)
    try:
        renewed = certificate_renew(
            certificate=certificate,
            csr=csr,
            identity_random=identity_random,
            actor=_actor(request),
            withdrawal_account=account,
        )
    except ValidationError as refusal:
        return _refusal(refusal.code or "refused", refusal.messages[0])
    except PermissionDenied as denied:
        return _refusal("refused", denied, status=403)
    row = renewed.certificate
    journal = renewed.fee_journal
    paid_from = ""
    if journal is not None:
        paying = account or row.customer.accounts.filter(entries__journal=journal).first()
        paid_from = paying.number_display if paying is not None else ""
    return JsonResponse(
        {
            "certificate": base64.b64encode(renewed.der).decode("ascii"),
            "serial": row.serial,
            "old_serial": certificate.serial,
            "kind": row.kind,
            "kind_label": str(Certificate.Kind(row.kind).label),
            "storage": row.storage,
            "subject": row.subject_cn,
            "fee": renewed.fee,
            "fee_display": f"{renewed.fee:,}",
            "account": paid_from,
            "not_after": row.not_after.isoformat(),
            "not_after_display": _kst(row.not_after),
        }
    )


# --- Other institutions' certificates: delete the registration --------------------------------------------


def _own_external(request: HttpRequest, pk: int) -> ExternalCertificate:
    """This customer's registered other-institution certificate ``pk``; 404 for anything else."""
    customer_id = _customer_id(request)
    certificate = (
        ExternalCertificate.objects.select_related("authority")
        .filter(pk=pk, customer_id=customer_id, status=ExternalCertificate.Status.REGISTERED)
        .first()
        if customer_id is not None
        else None
    )
    if certificate is None:
        raise Http404(ERR_NOT_FOUND)
    return certificate


@never_cache
@banking_required
@require_http_methods(["GET", "HEAD", "POST"])
def external_deregister(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what deleting the registration means; POST: delete it, then back to My certificates."""
    certificate = _own_external(request, pk)
    now = timezone.now()
    if request.method == "POST":
        try:
            external_certificate_deregister(certificate=certificate, actor=_actor(request))
        except ValidationError as refusal:
            context = {"row": _external_row(certificate, now), "error": refusal.messages[0]}
            return render(request, "certcenter/mine_external_delete.html", context, status=400)
        messages.success(request, MSG_DEREGISTERED % {"issuer": certificate.authority.name})
        return redirect("certcenter:mine")
    return render(request, "certcenter/mine_external_delete.html", {"row": _external_row(certificate, now)})
