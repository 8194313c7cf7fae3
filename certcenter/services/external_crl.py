"""Other institutions' CRLs: which certificates a trusted CA revoked, and refusing them here.

Operations load a trusted CA's CRL from a file or a URL (``ca_trust_crl``); the nightly job
(``trusted_authorities_crl_refresh``) downloads it again from each active CA's ``crl_url``. A CRL is
loaded only if the trusted CA certificate signed it, it is complete and current
(``ca.load_crl``), and it is not older than the one loaded (an earlier this update or a lower CRL
number): a replayed old CRL cannot bring a revoked certificate back. Loading replaces the CA's
``ExternalRevocation`` rows in one transaction. Every load and refusal is audited
(``trusted_authority.crl_load`` / ``.crl_refused``) with the command's or the job's system actor.

``external_revocation_check`` is the lookup that registration (``certcenter.services.external``),
certificate login and e-signatures (``certcenter.services.login``) make for another institution's
certificate:

* its serial is in the CA's loaded CRL → refused (``revoked``): the customer asks the issuing
  institution and has a new certificate issued there;
* a CRL was loaded but is past its next update → refused (``revocation_unknown``, fail closed):
  the status cannot be confirmed until a current CRL is loaded (the next update itself is fine);
* no CRL was ever loaded for the CA → accepted unchecked. A documented choice: trusting a CA does
  not require outbound access to it; ``ca_trust_list`` shows such a CA as "no CRL loaded".

This module sits below ``external`` and ``login`` (both import it; it imports neither).

Lock order: the trusted CA's row, then its revocation rows, audit last.
"""

from __future__ import annotations

import datetime as dt
import http.client
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.services._common import Actor, require_perm
from bankportal.actors import SystemActor, system_actor
from bankportal.audit.services import audit_record
from certcenter import ca
from certcenter.models import SERIAL_MAX_DIGITS, ExternalRevocation, TrustedAuthority, serial_text
from certcenter.services.authority import colon_hex

logger = logging.getLogger(__name__)

CRL_PERMISSION = "certcenter.change_trustedauthority"
CRL_URL_MAX = 500
CRL_MAX_BYTES = 16 * 1024 * 1024  # a large CA's full CRL is a few MB
CRL_FETCH_TIMEOUT_SECONDS = 20  # per connect or read
CRL_FETCH_DEADLINE_SECONDS = 120  # the whole download: a server dripping bytes cannot hold the job
_CHUNK = 64 * 1024
_BULK = 1000

ERR_REVOKED = _(
    "This certificate was revoked on %(date)s by the institution that issued it (%(issuer)s), so it can no "
    "longer be used here. Ask %(issuer)s about it and have a new certificate issued there, then register "
    "the new certificate in the certificate centre."
)
ERR_REVOCATION_UNKNOWN = _(
    "Whether this certificate has been revoked cannot be confirmed right now (the issuing institution's "
    "revocation list here is out of date). Try again later, or use a certificate issued by this bank."
)

ERR_CRL_UNREADABLE = _(
    "This is not a certificate revocation list (PEM or DER). Check that you gave the CA's CRL file or URL."
)
ERR_CRL_FOREIGN = _(
    "This CRL was issued by another CA (%(issuer)s), not by %(name)s. Give the CRL of this CA (its CRL "
    "distribution point)."
)
ERR_CRL_BAD_SIGNATURE = _(
    "This CRL names the CA but its signature does not verify with the trusted CA certificate: it was altered "
    "or signed with another key. Nothing was loaded; get the CRL from the institution's own distribution point."
)
ERR_CRL_NOT_SIGNER = _(
    "The trusted CA certificate may not sign CRLs (its key usage lacks cRLSign), so its CRLs cannot be checked "
    "here. Ask the institution which certificate signs its CRLs."
)
ERR_CRL_UNSUPPORTED = _(
    "This is a delta, partitioned or indirect CRL, or it carries a critical extension this bank does not "
    "understand: only the CA's complete CRL can be loaded. Ask the institution for its full CRL."
)
ERR_CRL_NO_NEXT_UPDATE = _(
    "This CRL has no next update, so it could never be known to be out of date. Nothing was loaded; ask the "
    "institution for a CRL with a next update."
)
ERR_CRL_NOT_YET_VALID = _("This CRL is dated in the future. Check this server's clock, then load it again.")
ERR_CRL_EXPIRED = _("This CRL is out of date (its next update was %(date)s). Load the CA's current CRL.")
ERR_CRL_OLDER = _(
    "This CRL (number %(number)s, issued %(date)s) is older than the one loaded already (number "
    "%(loaded_number)s, issued %(loaded_date)s). Nothing was changed; load the CA's current CRL."
)
ERR_CRL_URL = _("Give the CRL's address as an http:// or https:// URL of at most 500 characters.")
ERR_CRL_NO_URL = _("This CA has no CRL URL. Set one with ca_trust_crl FINGERPRINT --set-url URL, or load a CRL file.")
ERR_CRL_DOWNLOAD = _(
    "The CRL could not be downloaded from %(url)s (%(reason)s). Check the URL and the network, then try again."
)
ERR_CRL_TOO_LARGE = _("The CRL is larger than %(limit)s MB; nothing was loaded. Check that the URL or file is the CRL.")

_LOAD_REFUSALS: dict[str, Any] = {
    "unreadable": ERR_CRL_UNREADABLE,
    "foreign": ERR_CRL_FOREIGN,
    "bad_signature": ERR_CRL_BAD_SIGNATURE,
    "not_crl_signer": ERR_CRL_NOT_SIGNER,
    "unsupported": ERR_CRL_UNSUPPORTED,
    "no_next_update": ERR_CRL_NO_NEXT_UPDATE,
    "not_yet_valid": ERR_CRL_NOT_YET_VALID,
    "expired": ERR_CRL_EXPIRED,
}


def crl_refresh_actor() -> SystemActor:
    """The named actor of the nightly CRL download."""
    return system_actor("trusted_crl_refresh", {CRL_PERMISSION})


def _refuse(message: Any, code: str, **params: Any) -> ValidationError:
    return ValidationError(message, code=code, params=params or None)


def _kst(moment: dt.datetime) -> str:
    return moment.astimezone(ca.KST).strftime("%Y-%m-%d %H:%M:%S KST")


# --- the lookup (registration, login, e-signature) ------------------------------------------------------


def external_revocation_check(*, authority: TrustedAuthority, serial: str, now: dt.datetime) -> None:
    """Refuse another institution's certificate (``serial``: decimal text) that its CA revoked, or
    whose status the CA's loaded CRL can no longer confirm at ``now``; accept it when no CRL of the
    CA was ever loaded (see the module docstring). Raises ``ValidationError`` (revoked,
    revocation_unknown)."""
    if authority.crl_loaded_at is None:
        return
    revoked_at = (
        ExternalRevocation.objects.filter(authority=authority, serial=serial)
        .values_list("revoked_at", flat=True)
        .first()
    )
    # A listed certificate stays revoked however old the list: say so rather than "try later".
    if revoked_at is not None:
        raise _refuse(
            ERR_REVOKED, "revoked", date=revoked_at.astimezone(ca.KST).date().isoformat(), issuer=authority.name
        )
    if authority.crl_is_stale(now):
        raise _refuse(ERR_REVOCATION_UNKNOWN, "revocation_unknown")


# --- status (ca_trust_list, admin) ---------------------------------------------------------------------


@dataclass(frozen=True)
class CrlStatus:
    """What is known of a trusted CA's CRL at ``now``."""

    loaded: bool
    url: str
    number: str = ""
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    loaded_at: dt.datetime | None = None
    revoked: int = 0
    stale: bool = False


def trusted_authority_crl_status(authority: TrustedAuthority, *, now: dt.datetime | None = None) -> CrlStatus:
    now = now or timezone.now()
    if authority.crl_loaded_at is None:
        return CrlStatus(loaded=False, url=authority.crl_url)
    return CrlStatus(
        loaded=True,
        url=authority.crl_url,
        number=authority.crl_number,
        this_update=authority.crl_this_update,
        next_update=authority.crl_next_update,
        loaded_at=authority.crl_loaded_at,
        revoked=authority.revocations.count(),
        stale=authority.crl_is_stale(now),
    )


# --- the URL ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrlUrlChange:
    authority: TrustedAuthority
    changed: bool


def crl_url_clean(url: str) -> str:
    """``url`` stripped, if it is an http(s) URL of at most 500 characters; ``ValidationError`` (url)."""
    url = (url or "").strip()
    if len(url) > CRL_URL_MAX:
        raise _refuse(ERR_CRL_URL, "url")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise _refuse(ERR_CRL_URL, "url") from None
    return url


def trusted_authority_set_crl_url(*, authority: TrustedAuthority, url: str, actor: Actor) -> CrlUrlChange:
    """Set (or, with an empty ``url``, clear) the address the nightly job downloads the CA's CRL from.
    Idempotent (``changed`` False for the same URL). Audited ``trusted_authority.crl_url``. Raises
    ``ValidationError`` (url); ``PermissionDenied`` without ``certcenter.change_trustedauthority``."""
    require_perm(actor, CRL_PERMISSION)
    url = crl_url_clean(url) if (url or "").strip() else ""
    with transaction.atomic():
        # Locks the CA: an operator's change and the nightly job's read of the URL are ordered.
        locked = TrustedAuthority.objects.select_for_update().get(pk=authority.pk)
        if locked.crl_url == url:
            return CrlUrlChange(authority=locked, changed=False)
        previous, locked.crl_url = locked.crl_url, url
        locked.save(update_fields=["crl_url"])
        audit_record(
            action="trusted_authority.crl_url",
            actor=actor,
            obj=locked,
            details={"fingerprint": colon_hex(locked.fingerprint_sha256), "url": url, "previous": previous},
        )
    return CrlUrlChange(authority=locked, changed=True)


def crl_download(
    url: str,
    *,
    timeout: float = CRL_FETCH_TIMEOUT_SECONDS,
    deadline: float = CRL_FETCH_DEADLINE_SECONDS,
    max_bytes: int = CRL_MAX_BYTES,
) -> bytes:
    """The body at ``url`` (http or https only, redirects too), at most ``max_bytes``, within ``timeout``
    seconds per network wait and ``deadline`` seconds in all. Raises ``ValidationError`` (url,
    download_failed, too_large)."""
    url = crl_url_clean(url)
    # Only HTTP(S) handlers: a redirect to file:// or ftp:// fails instead of being followed.
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    request = urllib.request.Request(  # noqa: S310 (the scheme is http or https, checked above)
        url, headers={"Accept": "application/pkix-crl, application/x-pkcs7-crl, */*", "User-Agent": "bankportal-crl"}
    )
    too_large = _refuse(ERR_CRL_TOO_LARGE, "too_large", limit=max_bytes // (1024 * 1024) or 1)
    started = time.monotonic()
    try:
        with opener.open(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise too_large
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise too_large
                if time.monotonic() - started > deadline:
                    raise _refuse(ERR_CRL_DOWNLOAD, "download_failed", url=url, reason="took too long")
                chunks.append(chunk)
    except urllib.error.HTTPError as exc:
        raise _refuse(ERR_CRL_DOWNLOAD, "download_failed", url=url, reason=f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise _refuse(ERR_CRL_DOWNLOAD, "download_failed", url=url, reason=str(exc.reason)[:200]) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _refuse(ERR_CRL_DOWNLOAD, "download_failed", url=url, reason=type(exc).__name__) from None
    return b"".join(chunks)


# --- loading ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrlLoad:
    """What loading a CRL did: ``changed`` False when it is the CRL loaded already (same number and time)."""

    authority: TrustedAuthority
    changed: bool
    number: int | None
    this_update: dt.datetime
    next_update: dt.datetime
    revoked: int


def _audit_refusal(refusal: ValidationError, *, authority: TrustedAuthority, source: str, actor: Any) -> None:
    # Its own transaction: the refusal stays on record although nothing else is written.
    with transaction.atomic():
        audit_record(
            action="trusted_authority.crl_refused",
            actor=actor,
            obj=authority,
            details={
                "reason": refusal.code,
                "fingerprint": colon_hex(authority.fingerprint_sha256),
                "source": source[:CRL_URL_MAX],
            },
        )


def _contents(authority: TrustedAuthority, data: bytes, now: dt.datetime) -> ca.CrlContents:
    authority_cert = x509.load_der_x509_certificate(bytes(authority.certificate_der))
    try:
        return ca.load_crl(bytes(data), authority=authority_cert, now=now)
    except ca.InvalidCrl as invalid:
        params: dict[str, Any] = {}
        if invalid.code == "foreign":
            params = {"issuer": _crl_issuer(data), "name": authority.name}
        elif invalid.code == "expired":
            params = {"date": _crl_next_update(data)}
        raise _refuse(_LOAD_REFUSALS.get(invalid.code, ERR_CRL_UNREADABLE), invalid.code, **params) from None


def _parsed(data: bytes) -> x509.CertificateRevocationList:
    raw = bytes(data)
    return x509.load_pem_x509_crl(raw) if raw.lstrip().startswith(b"-----BEGIN") else x509.load_der_x509_crl(raw)


def _crl_issuer(data: bytes) -> str:
    """For the message only (the CRL was parsed once already)."""
    try:
        return _parsed(data).issuer.rfc4514_string()[:200]
    except ValueError:
        return "?"


def _crl_next_update(data: bytes) -> str:
    try:
        following = _parsed(data).next_update_utc
    except ValueError:
        following = None
    return _kst(following) if following is not None else "?"


def _older(contents: ca.CrlContents, loaded: TrustedAuthority) -> bool:
    if loaded.crl_this_update is not None and contents.this_update < loaded.crl_this_update:
        return True
    return bool(loaded.crl_number) and contents.number is not None and contents.number < int(loaded.crl_number)


def _same(contents: ca.CrlContents, loaded: TrustedAuthority) -> bool:
    number = "" if contents.number is None else str(contents.number)
    return contents.this_update == loaded.crl_this_update and number == loaded.crl_number


def _rows(authority: TrustedAuthority, contents: ca.CrlContents) -> list[ExternalRevocation]:
    # Serials no certificate registered here can have (zero, negative, past 20 octets) are left out.
    return [
        ExternalRevocation(authority=authority, serial=serial_text(entry.serial), revoked_at=entry.revoked_at)
        for entry in contents.revoked
        if entry.serial > 0 and len(str(entry.serial)) <= SERIAL_MAX_DIGITS
    ]


def trusted_authority_crl_load(
    *, authority: TrustedAuthority, data: bytes, source: str, actor: Actor, now: dt.datetime | None = None
) -> CrlLoad:
    """Load ``data`` (a CRL, PEM or DER; ``source`` says where it came from, for the audit trail) as
    the CA's current CRL: checked with ``ca.load_crl``, refused if older than the one loaded, then its
    revoked serials replace the CA's in one transaction. The same CRL again changes nothing
    (``changed`` False). Audited ``trusted_authority.crl_load`` (refusals ``.crl_refused``).

    Raises ``ValidationError`` (too_large, unreadable, foreign, not_crl_signer, bad_signature,
    unsupported, no_next_update, not_yet_valid, expired, older) with nothing loaded;
    ``PermissionDenied`` without ``certcenter.change_trustedauthority``."""
    require_perm(actor, CRL_PERMISSION)
    now = now or timezone.now()
    try:
        if len(data) > CRL_MAX_BYTES:
            raise _refuse(ERR_CRL_TOO_LARGE, "too_large", limit=CRL_MAX_BYTES // (1024 * 1024))
        contents = _contents(authority, data, now)
        with transaction.atomic():
            # Locks the CA: the nightly job and an operator loading at once are ordered, and the
            # second compares against what the first loaded (an older CRL never wins the race).
            locked = TrustedAuthority.objects.select_for_update().get(pk=authority.pk)
            details: dict[str, Any] = {
                "fingerprint": colon_hex(locked.fingerprint_sha256),
                "source": source[:CRL_URL_MAX],
                "number": contents.number,
                "this_update": contents.this_update.isoformat(),
                "next_update": contents.next_update.isoformat(),
            }
            if _older(contents, locked):
                raise _refuse(
                    ERR_CRL_OLDER,
                    "older",
                    number=contents.number if contents.number is not None else "-",
                    date=_kst(contents.this_update),
                    loaded_number=locked.crl_number or "-",
                    loaded_date=_kst(locked.crl_this_update) if locked.crl_this_update else "-",
                )
            if _same(contents, locked):
                revoked = locked.revocations.count()
                audit_record(
                    action="trusted_authority.crl_load",
                    actor=actor,
                    obj=locked,
                    details={**details, "revoked": revoked, "changed": False},
                )
                return CrlLoad(locked, False, contents.number, contents.this_update, contents.next_update, revoked)
            rows = _rows(locked, contents)
            locked.revocations.all().delete()
            ExternalRevocation.objects.bulk_create(rows, batch_size=_BULK)
            locked.crl_number = "" if contents.number is None else str(contents.number)
            locked.crl_this_update, locked.crl_next_update = contents.this_update, contents.next_update
            locked.crl_loaded_at = now
            locked.save(update_fields=["crl_number", "crl_this_update", "crl_next_update", "crl_loaded_at"])
            audit_record(
                action="trusted_authority.crl_load",
                actor=actor,
                obj=locked,
                details={**details, "revoked": len(rows), "changed": True},
            )
    except ValidationError as refusal:
        _audit_refusal(refusal, authority=authority, source=source, actor=actor)
        raise
    return CrlLoad(locked, True, contents.number, contents.this_update, contents.next_update, len(rows))


def trusted_authority_crl_fetch(
    *,
    authority: TrustedAuthority,
    actor: Actor,
    url: str | None = None,
    now: dt.datetime | None = None,
    download: Callable[[str], bytes] = crl_download,
) -> CrlLoad:
    """Download the CA's CRL from ``url`` (default: its ``crl_url``) and load it
    (``trusted_authority_crl_load``). A failed download is audited ``trusted_authority.crl_refused``.
    Raises ``ValidationError`` (no_url, url, download_failed, too_large, and the load's);
    ``PermissionDenied`` without ``certcenter.change_trustedauthority``."""
    require_perm(actor, CRL_PERMISSION)
    source = authority.crl_url if url is None else url
    try:
        if not source:
            raise _refuse(ERR_CRL_NO_URL, "no_url")
        data = download(source)
    except ValidationError as refusal:
        _audit_refusal(refusal, authority=authority, source=source, actor=actor)
        raise
    return trusted_authority_crl_load(authority=authority, data=data, source=source, actor=actor, now=now)


@dataclass
class CrlRefreshSummary:
    loaded: int = 0
    unchanged: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"loaded": self.loaded, "unchanged": self.unchanged, "failed": self.failed, "stale": self.stale}


def trusted_authorities_crl_refresh(
    *, actor: Actor, now: dt.datetime | None = None, download: Callable[[str], bytes] = crl_download
) -> CrlRefreshSummary:
    """Nightly: download and load the CRL of every active trusted CA that has a ``crl_url``, one CA
    at a time. A CA whose download or CRL fails is logged and audited, and the others go on. CAs left
    with an out-of-date CRL (their certificates are refused) are logged as errors for on-call.
    ``PermissionDenied`` without ``certcenter.change_trustedauthority``."""
    require_perm(actor, CRL_PERMISSION)
    summary = CrlRefreshSummary()
    for authority in TrustedAuthority.objects.filter(is_active=True).exclude(crl_url="").order_by("pk"):
        try:
            result = trusted_authority_crl_fetch(authority=authority, actor=actor, now=now, download=download)
        except ValidationError as refusal:
            logger.warning("CRL of trusted CA %s (%s) not loaded: %s", authority.pk, authority.name, refusal.code)
            summary.failed.append({"authority": authority.pk, "reason": refusal.code})
            continue
        except Exception:
            # One CA's failure (a database error, a bug) must not keep the others' CRLs out of date.
            logger.exception("CRL of trusted CA %s (%s) not loaded", authority.pk, authority.name)
            summary.failed.append({"authority": authority.pk, "reason": "error"})
            continue
        if result.changed:
            summary.loaded += 1
        else:
            summary.unchanged += 1
    at = now or timezone.now()
    for authority in TrustedAuthority.objects.filter(is_active=True, crl_next_update__lt=at).order_by("pk"):
        logger.error(
            "CRL of trusted CA %s (%s) is out of date since %s: its certificates are refused until a current "
            "CRL is loaded (ca_trust_crl)",
            authority.pk,
            authority.name,
            authority.crl_next_update,
        )
        summary.stale.append(authority.pk)
    return summary
