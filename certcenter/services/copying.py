"""Copy a joint certificate to another device (인증서 복사).

1. **start** (receiving device): a 12-digit code from ``secrets``, bound to the receiver's browser
   session, valid 5 minutes (``COPY_LIFETIME_SECONDS``). Only an HMAC of the code (keyed from
   ``SECRET_KEY``: a plain hash of 12 digits is guessed in seconds) and a SHA-256 of the session key
   are stored. A new code ends the session's earlier copies that were not picked up.
2. **upload** (sending device): the certificate (DER) and its **still-encrypted** private key
   (``EncryptedPrivateKeyInfo``, PBES2, DER) under the code. A plain PKCS#8 key is refused: the
   server only ever holds ciphertext. The certificate must be one of ours (``Certificate`` row, same
   DER), valid and not revoked. The code must be known, unused, not expired and not yet uploaded to.
3. **status** / **pickup** (receiving device, same session only): the pickup returns the payload and
   empties it in the same transaction, so it is never returned twice.

A copy is valid up to and including ``expires_at`` (exactly 5:00 still counts). Its payload is
emptied on pickup or expiry (by the pickup or status call that finds it expired, by every new code
for all expired copies, and by the daily housekeeping job, which deletes the rows a day later).

Wrong codes (unknown, used, expired, already uploaded, or another session's) are counted per client
IP in the cache; after ``WRONG_CODE_LIMIT`` (10) within ``THROTTLE_WINDOW`` (15 minutes) of the first,
uploads (and code look-ups that are not the caller's own) are refused as paused for 15 minutes; the
pause is audited once. New codes are limited per client IP too (``START_LIMIT``).

Every state change is one transaction with its audit event; every refusal is audited in its own
transaction (``certificate.copy_refused`` with the step and reason). Neither the code nor the
payload ever reaches the audit trail or a log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from accounts.services._common import require_perm
from bankportal.actors import SystemActor, system_actor
from bankportal.audit.services import audit_record
from certcenter.models import COPY_LIFETIME_SECONDS, SERIAL_MAX_DIGITS, Certificate, CertificateCopy, serial_text

COPY_PERMISSION = "certcenter.add_certificatecopy"
PURGE_PERMISSION = "certcenter.change_certificatecopy"
COPY_LIFETIME = dt.timedelta(seconds=COPY_LIFETIME_SECONDS)
CODE_DIGITS = 12
# An RSA-2048 joint certificate is about 1.5 KB and its encrypted key about 1.3 KB.
CERTIFICATE_MAX_BYTES = 8 * 1024
KEY_MAX_BYTES = 8 * 1024
WRONG_CODE_LIMIT = 10
START_LIMIT = 30
THROTTLE_WINDOW = dt.timedelta(minutes=15)
THROTTLE_PREFIX = "certcenter:copy:"
PURGE_CHUNK_SIZE = 1_000
_HMAC_SALT = "certcenter.copy.code"
_PAYLOAD_VERSION = 1
# PBES2 (RFC 8018): what the certificate centre's key files use (static/js/pki.js).
_PBES2_OID = "1.2.840.113549.1.5.13"

ERR_CODE_UNKNOWN = _("This code is not valid. Check the 12 digits shown on the receiving device and type them again.")
ERR_CODE_EXPIRED = _(
    "This code has expired: a code is valid for 5 minutes. Make a new code on the receiving device and try again."
)
ERR_CODE_USED = _("This code was already used. Make a new code on the receiving device to copy a certificate again.")
ERR_ALREADY_UPLOADED = _(
    "A certificate was already sent with this code. Import it on the receiving device, or make a new "
    "code there to send another one."
)
ERR_OTHER_SESSION = _(
    "This code was made in another browser. Use the page that shows the code, or make a new code here."
)
ERR_NOT_UPLOADED = _("Nothing has been sent with this code yet. Send the certificate from the other device first.")
ERR_PLAIN_KEY = _(
    "This private key is not protected by a password, so it is not sent. Use the certificate's own "
    "key file (signPri.key), which is encrypted with the certificate password."
)
ERR_BAD_KEY = _("The private key could not be read. Choose the certificate again, or load its key file (signPri.key).")
ERR_BAD_CERTIFICATE = _(
    "The certificate could not be read. Choose the certificate again, or load its file (signCert.der)."
)
ERR_TOO_LARGE = _(
    "The certificate or key file is too large to be a joint certificate. Check that you chose the "
    "right files (signCert.der and signPri.key)."
)
ERR_NOT_OURS = _(
    "This certificate is not registered with this bank, so it cannot be copied here. Copy a "
    "certificate issued by this bank, or issue one in the certificate centre."
)
ERR_REVOKED = _(
    "This certificate was revoked and can no longer be used, so it is not copied. Reissue it in the certificate centre."
)
ERR_CERTIFICATE_EXPIRED = _(
    "This certificate has expired, so it is not copied. Reissue it in the certificate centre "
    "(additional authentication is needed)."
)
ERR_PAUSED = _(
    "Too many wrong copy codes came from your network. Certificate copying is paused for "
    "%(minutes)d minutes; please try again later."
)
ERR_TOO_MANY_CODES = _(
    "Too many copy codes were requested from your network. Please wait %(minutes)d minutes, then make a new code."
)

# Refusals at upload that say the code was wrong (counted against the client IP).
_WRONG_CODE_REASONS = frozenset({"code_unknown", "code_expired", "code_used", "already_uploaded", "other_session"})
# Refusals at status / pickup that look up a code that is not the caller's own.
_FOREIGN_CODE_REASONS = frozenset({"code_unknown", "other_session"})


class CopyState:
    WAITING = "waiting"
    UPLOADED = "uploaded"
    PICKED_UP = "picked_up"
    EXPIRED = "expired"


@dataclass(frozen=True)
class CopyStatus:
    state: str
    expires_at: dt.datetime
    seconds_left: int


@dataclass(frozen=True)
class CopiedCertificate:
    """What the receiver imports: the certificate, its encrypted key and the row's description."""

    certificate_der: bytes
    encrypted_key_der: bytes
    serial: str
    subject: str
    not_after: dt.datetime
    kind: str


def copy_actor() -> SystemActor:
    """The named actor of the anonymous copy pages."""
    return system_actor("certificate_copy", {COPY_PERMISSION})


# --- small helpers ------------------------------------------------------------------------------


def normalise_code(code: Any) -> str | None:
    """The 12 digits of ``code`` as typed (spaces and hyphens ignored), or None if it is not 12 digits."""
    if not isinstance(code, str) or len(code) > 40:
        return None
    digits = code.replace(" ", "").replace("-", "")
    if len(digits) != CODE_DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return digits


def format_code(code: str) -> str:
    """``1234-5678-9012``: how the receiving page shows it."""
    return "-".join(code[i : i + 4] for i in range(0, CODE_DIGITS, 4))


def code_hmac(code: str) -> str:
    return salted_hmac(_HMAC_SALT, code, algorithm="sha256").hexdigest()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _refuse(code: str, message: Any, **params: Any) -> ValidationError:
    return ValidationError(message, code=code, params=params or None)


def _audit_refusal(step: str, refusal: ValidationError, actor: Any, **details: Any) -> None:
    # Its own transaction: the refusal stays on record although the caller sees an error.
    with transaction.atomic():
        audit_record(
            action="certificate.copy_refused", actor=actor, details={"step": step, "reason": refusal.code, **details}
        )


def pack_payload(certificate_der: bytes, encrypted_key_der: bytes) -> bytes:
    """The stored form: version byte, certificate length (4 bytes, big-endian), certificate, key."""
    return struct.pack(">BI", _PAYLOAD_VERSION, len(certificate_der)) + certificate_der + encrypted_key_der


def unpack_payload(payload: bytes) -> tuple[bytes, bytes]:
    version, length = struct.unpack(">BI", payload[:5])
    if version != _PAYLOAD_VERSION or length > len(payload) - 5:
        raise ValueError("not a certificate copy payload")
    return payload[5 : 5 + length], payload[5 + length :]


# --- throttle (per client IP, in the cache) -----------------------------------------------------


def _window_seconds() -> int:
    return int(THROTTLE_WINDOW.total_seconds())


def _ip_key(kind: str, client_ip: str | None) -> str:
    return f"{THROTTLE_PREFIX}{kind}:{client_ip or 'unknown'}"


def throttle_keys(client_ip: str | None) -> list[str]:
    """Every cache key of this client's copy throttle (tests and operations clear them)."""
    return [_ip_key(kind, client_ip) for kind in ("wrong", "paused", "starts")]


def _count(key: str) -> int:
    cache.add(key, 0, timeout=_window_seconds())
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=_window_seconds())
        return 1


def _paused_refusal() -> ValidationError:
    return _refuse("paused", ERR_PAUSED, minutes=_window_seconds() // 60)


def copy_paused(client_ip: str | None) -> bool:
    """Whether wrong codes from ``client_ip`` have paused copying."""
    return bool(cache.get(_ip_key("paused", client_ip)))


def _count_wrong_code(client_ip: str | None, actor: Any) -> None:
    count = _count(_ip_key("wrong", client_ip))
    if count >= WRONG_CODE_LIMIT and cache.add(_ip_key("paused", client_ip), True, timeout=_window_seconds()):
        cache.delete(_ip_key("wrong", client_ip))
        with transaction.atomic():
            audit_record(action="certificate.copy_paused", actor=actor, details={"wrong_codes": count})


# --- validation of what the sender uploads (no database) ----------------------------------------


def _der_element(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, content start, end) of the DER element at ``offset``; ``ValueError`` if malformed."""
    if offset + 2 > len(data):
        raise ValueError("truncated")
    tag, first = data[offset], data[offset + 1]
    start = offset + 2
    length = first
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("truncated")
    return tag, start, end


def _der_children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    children = []
    at = start
    while at < end:
        child = _der_element(data[:end], at)
        children.append(child)
        at = child[2]
    return children


def _decode_oid(content: bytes) -> str:
    values: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            values.append(value)
            value = 0
    if not values:
        raise ValueError("empty OID")
    head = values[0]
    first = 0 if head < 40 else 1 if head < 80 else 2
    return ".".join(str(v) for v in [first, head - first * 40, *values[1:]])


def check_encrypted_key(data: bytes) -> None:
    """``data`` is one DER ``EncryptedPrivateKeyInfo`` under PBES2 (RFC 5958, RFC 8018).

    Raises ``ValidationError`` ``plain_key`` for an unencrypted ``PrivateKeyInfo`` (SEQUENCE that
    starts with its version INTEGER) and ``bad_key`` for anything else that is not the encrypted form.
    """
    sequence, integer, octet_string, oid = 0x30, 0x02, 0x04, 0x06
    try:
        tag, start, end = _der_element(data, 0)
        if tag != sequence or end != len(data):
            raise ValueError("not one SEQUENCE")
        children = _der_children(data, start, end)
        if children and children[0][0] == integer:
            raise _refuse("plain_key", ERR_PLAIN_KEY)
        if len(children) != 2 or children[0][0] != sequence or children[1][0] != octet_string:
            raise ValueError("not an EncryptedPrivateKeyInfo")
        algorithm = _der_children(data, children[0][1], children[0][2])
        if not algorithm or algorithm[0][0] != oid:
            raise ValueError("no algorithm")
        if _decode_oid(data[algorithm[0][1] : algorithm[0][2]]) != _PBES2_OID or len(algorithm) != 2:
            raise ValueError("not PBES2")
        encrypted_length = children[1][2] - children[1][1]
        if encrypted_length == 0 or encrypted_length % 16:  # AES-CBC output: whole blocks
            raise ValueError("not AES-CBC ciphertext")
    except ValueError:
        raise _refuse("bad_key", ERR_BAD_KEY) from None


def _check_sizes(certificate_der: Any, encrypted_key_der: Any) -> tuple[bytes, bytes]:
    if not isinstance(certificate_der, bytes | bytearray) or not certificate_der:
        raise _refuse("bad_certificate", ERR_BAD_CERTIFICATE)
    if not isinstance(encrypted_key_der, bytes | bytearray) or not encrypted_key_der:
        raise _refuse("bad_key", ERR_BAD_KEY)
    if len(certificate_der) > CERTIFICATE_MAX_BYTES or len(encrypted_key_der) > KEY_MAX_BYTES:
        raise _refuse("too_large", ERR_TOO_LARGE)
    return bytes(certificate_der), bytes(encrypted_key_der)


def _our_certificate(certificate_der: bytes, now: dt.datetime) -> Certificate:
    """Our row of this very certificate (same serial and DER), valid and not revoked at ``now``."""
    try:
        serial = x509.load_der_x509_certificate(certificate_der).serial_number
    except ValueError:
        raise _refuse("bad_certificate", ERR_BAD_CERTIFICATE) from None
    row = None
    if serial > 0 and len(str(serial)) <= SERIAL_MAX_DIGITS:
        row = Certificate.objects.joint().filter(serial=serial_text(serial)).first()
    if row is None or bytes(row.certificate_der) != certificate_der:
        raise _refuse("not_ours", ERR_NOT_OURS)
    if row.revoked_at is not None or row.status == Certificate.Status.REVOKED:
        raise _refuse("revoked", ERR_REVOKED)
    if row.status != Certificate.Status.VALID or now > row.not_after:
        raise _refuse("certificate_expired", ERR_CERTIFICATE_EXPIRED)
    return row


# --- start --------------------------------------------------------------------------------------


def copy_start(
    *, session_key: str, client_ip: str | None, actor: Any, now: dt.datetime | None = None
) -> CertificateCopy:
    """A new copy for the receiving browser session ``session_key``, valid 5 minutes; the code is on
    the unsaved attribute ``code`` (only its HMAC is stored). Ends this session's earlier copies that
    were not picked up, and empties the payload of every expired copy. Audited ``certificate.copy_started``.

    Raises ``ValidationError`` ``too_many_codes`` after ``START_LIMIT`` codes from one client IP
    within 15 minutes; ``PermissionDenied`` without ``certcenter.add_certificatecopy``; ``ValueError``
    without a session key (the caller's mistake)."""
    require_perm(actor, COPY_PERMISSION)
    if not session_key:
        raise ValueError("a certificate copy needs a saved session")
    now = now or timezone.now()
    if _count(_ip_key("starts", client_ip)) > START_LIMIT:
        raise _refuse("too_many_codes", ERR_TOO_MANY_CODES, minutes=_window_seconds() // 60)
    session_sha256 = _sha256(session_key)
    copy_purge(actor=actor, now=now)
    for _attempt in range(5):
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        try:
            with transaction.atomic():
                # The session's open copies end now: the page that showed their codes has moved on.
                replaced = (
                    CertificateCopy.objects.filter(
                        receiver_session_sha256=session_sha256, picked_up_at__isnull=True, expires_at__gte=now
                    )
                    .exclude(created_at__gte=now)  # keeps expires_at > created_at
                    .update(expires_at=now, payload=None)
                )
                copy = CertificateCopy.objects.create(
                    code_hmac=code_hmac(code),
                    receiver_session_sha256=session_sha256,
                    created_at=now,
                    expires_at=now + COPY_LIFETIME,
                )
                audit_record(action="certificate.copy_started", actor=actor, obj=copy, details={"replaced": replaced})
        except IntegrityError:  # one in a trillion: the code of a copy still on file
            continue
        copy.code = code  # type: ignore[attr-defined]
        return copy
    raise RuntimeError("no free certificate copy code after 5 tries")


# --- upload -------------------------------------------------------------------------------------


def copy_upload(
    *,
    code: Any,
    certificate_der: Any,
    encrypted_key_der: Any,
    client_ip: str | None,
    actor: Any,
    now: dt.datetime | None = None,
) -> CertificateCopy:
    """Store the certificate and its encrypted key under ``code`` for the receiver to pick up.

    Raises ``ValidationError``: ``paused`` (wrong codes from this IP: nothing is checked, nothing
    audited), ``too_large``, ``bad_certificate``, ``bad_key``, ``plain_key``, ``not_ours``,
    ``revoked``, ``certificate_expired``, ``code_unknown``, ``code_used``, ``code_expired``,
    ``already_uploaded`` (the last four counted as wrong codes for ``client_ip``); each audited
    ``certificate.copy_refused``. ``PermissionDenied`` without ``certcenter.add_certificatecopy``."""
    require_perm(actor, COPY_PERMISSION)
    if copy_paused(client_ip):
        raise _paused_refusal()
    now = now or timezone.now()
    serial = ""
    try:
        digits = normalise_code(code)
        if digits is None:
            raise _refuse("code_unknown", ERR_CODE_UNKNOWN)
        cert_bytes, key_bytes = _check_sizes(certificate_der, encrypted_key_der)
        check_encrypted_key(key_bytes)
        row = _our_certificate(cert_bytes, now)
        serial = row.serial
        with transaction.atomic():
            # Locks the copy: two senders racing with the same code, or an upload racing the
            # receiver's pickup or a new code, are serialised; the second finds it uploaded or ended.
            copy = CertificateCopy.objects.select_for_update().filter(code_hmac=code_hmac(digits)).first()
            if copy is None:
                raise _refuse("code_unknown", ERR_CODE_UNKNOWN)
            if copy.picked_up_at is not None:
                raise _refuse("code_used", ERR_CODE_USED)
            if now > copy.expires_at:  # exactly 5:00 is still valid
                raise _refuse("code_expired", ERR_CODE_EXPIRED)
            if copy.uploaded_at is not None:
                raise _refuse("already_uploaded", ERR_ALREADY_UPLOADED)
            copy.payload = pack_payload(cert_bytes, key_bytes)
            copy.uploaded_at = now
            copy.save(update_fields=["payload", "uploaded_at"])
            audit_record(
                action="certificate.copy_uploaded",
                actor=actor,
                customer_id=row.customer_id,
                obj=copy,
                details={"serial": row.serial},
            )
    except ValidationError as refusal:
        _audit_refusal("upload", refusal, actor, serial=serial)
        if refusal.code in _WRONG_CODE_REASONS:
            _count_wrong_code(client_ip, actor)
        raise
    return copy


# --- status and pickup (the receiver) -----------------------------------------------------------


def _receivers_copy(digits: str | None, session_key: str, client_ip: str | None, *, lock: bool) -> CertificateCopy:
    """The copy of ``digits`` if this session made it. A look-up of a code that is not the
    caller's own counts as a wrong code and, while paused, is refused as paused."""
    copy = None
    if digits is not None:
        rows = CertificateCopy.objects.filter(code_hmac=code_hmac(digits))
        copy = (rows.select_for_update() if lock else rows).first()
    if copy is None:
        refusal = _refuse("code_unknown", ERR_CODE_UNKNOWN)
    elif not session_key or not hmac.compare_digest(copy.receiver_session_sha256, _sha256(session_key)):
        refusal = _refuse("other_session", ERR_OTHER_SESSION)
    else:
        return copy
    if copy_paused(client_ip):
        raise _paused_refusal()
    raise refusal


def _expire(copy: CertificateCopy, actor: Any) -> None:
    """Empty an expired copy's payload (inside the caller's transaction, row locked)."""
    if copy.payload is None:
        return
    copy.payload = None
    copy.save(update_fields=["payload"])
    audit_record(action="certificate.copy_expired", actor=actor, obj=copy, details={"uploaded": True})


def copy_status(
    *, code: Any, session_key: str, client_ip: str | None, actor: Any, now: dt.datetime | None = None
) -> CopyStatus:
    """Where the receiver's copy stands: waiting, uploaded, picked_up or expired (an expired copy's
    payload is emptied here). Raises ``ValidationError`` ``code_unknown`` / ``other_session`` (counted
    as wrong codes, audited) or ``paused``; ``PermissionDenied`` without the copy permission."""
    require_perm(actor, COPY_PERMISSION)
    now = now or timezone.now()
    try:
        with transaction.atomic():
            copy = _receivers_copy(normalise_code(code), session_key, client_ip, lock=True)
            if copy.picked_up_at is not None:
                state = CopyState.PICKED_UP
            elif now > copy.expires_at:
                state = CopyState.EXPIRED
                _expire(copy, actor)
            elif copy.uploaded_at is not None:
                state = CopyState.UPLOADED
            else:
                state = CopyState.WAITING
    except ValidationError as refusal:
        if refusal.code in _FOREIGN_CODE_REASONS:
            _audit_refusal("status", refusal, actor)
            _count_wrong_code(client_ip, actor)
        raise
    seconds_left = max(0, int((copy.expires_at - now).total_seconds()))
    return CopyStatus(state=state, expires_at=copy.expires_at, seconds_left=seconds_left)


def copy_pickup(
    *, code: Any, session_key: str, client_ip: str | None, actor: Any, now: dt.datetime | None = None
) -> CopiedCertificate:
    """Hand the uploaded certificate and encrypted key to the session that made the code, emptying
    the payload in the same transaction (so it is never returned twice). Audited
    ``certificate.copy_picked_up``.

    Raises ``ValidationError`` (audited ``certificate.copy_refused``): ``code_unknown``,
    ``other_session`` (both counted as wrong codes), ``paused``, ``code_used`` (already picked up),
    ``code_expired`` (the payload is emptied and stays so), ``not_uploaded``; ``PermissionDenied``
    without the copy permission."""
    require_perm(actor, COPY_PERMISSION)
    now = now or timezone.now()
    refusal: ValidationError | None = None
    result: CopiedCertificate | None = None
    try:
        with transaction.atomic():
            # Locks the copy: two pickups (two tabs of the same session) cannot both read the payload.
            copy = _receivers_copy(normalise_code(code), session_key, client_ip, lock=True)
            if copy.picked_up_at is not None:
                refusal = _refuse("code_used", ERR_CODE_USED)
            elif now > copy.expires_at:  # exactly 5:00 is still valid
                _expire(copy, actor)
                refusal = _refuse("code_expired", ERR_CODE_EXPIRED)
            elif copy.uploaded_at is None or copy.payload is None:
                refusal = _refuse("not_uploaded", ERR_NOT_UPLOADED)
            else:
                certificate_der, key_der = unpack_payload(bytes(copy.payload))
                # The row was checked at upload; it is read again for its current description.
                cert = x509.load_der_x509_certificate(certificate_der)
                serial = cert.serial_number
                row = Certificate.objects.filter(serial=serial_text(serial)).first()
                copy.payload = None
                copy.picked_up_at = now
                copy.save(update_fields=["payload", "picked_up_at"])
                audit_record(
                    action="certificate.copy_picked_up",
                    actor=actor,
                    customer_id=row.customer_id if row else None,
                    obj=copy,
                    details={"serial": str(serial)},
                )
                result = CopiedCertificate(
                    certificate_der=certificate_der,
                    encrypted_key_der=key_der,
                    serial=str(serial),
                    subject=row.subject_cn if row else "",
                    not_after=row.not_after if row else cert.not_valid_after_utc,
                    kind=row.kind if row else "",
                )
        # Raised after the block: an emptied expired payload stays committed.
        if refusal is not None:
            raise refusal
    except ValidationError as refused:
        _audit_refusal("pickup", refused, actor)
        if refused.code in _FOREIGN_CODE_REASONS:
            _count_wrong_code(client_ip, actor)
        raise
    if result is None:  # every other path raised
        raise RuntimeError("certificate copy pickup ended without a result")
    return result


# --- purge --------------------------------------------------------------------------------------


def copy_purge(*, actor: Any, now: dt.datetime | None = None, chunk_size: int = PURGE_CHUNK_SIZE) -> int:
    """Empty the payload of up to ``chunk_size`` copies past their expiry (one transaction, audited
    ``certificate.copy_purge`` with the count); the number emptied. Set based and idempotent.
    ``PermissionDenied`` without the copy or purge permission."""
    # The copy pages purge on every new code; the housekeeping job with its own permission.
    require_perm(actor, COPY_PERMISSION if actor is not None and actor.has_perm(COPY_PERMISSION) else PURGE_PERMISSION)
    now = now or timezone.now()
    with transaction.atomic():
        # SKIP LOCKED: a copy that a pickup or upload holds right now is left to it (and to the next run).
        expired = CertificateCopy.objects.filter(expires_at__lt=now, payload__isnull=False)
        picked = list(expired.select_for_update(skip_locked=True).values_list("pk", flat=True)[:chunk_size])
        if not picked:
            return 0
        emptied = expired.filter(pk__in=picked).update(payload=None)
        if emptied:
            audit_record(action="certificate.copy_purge", actor=actor, details={"count": emptied})
    return emptied


__all__ = [
    "CERTIFICATE_MAX_BYTES",
    "CODE_DIGITS",
    "COPY_LIFETIME",
    "COPY_PERMISSION",
    "KEY_MAX_BYTES",
    "PURGE_PERMISSION",
    "START_LIMIT",
    "THROTTLE_WINDOW",
    "WRONG_CODE_LIMIT",
    "CopiedCertificate",
    "CopyState",
    "CopyStatus",
    "check_encrypted_key",
    "code_hmac",
    "copy_actor",
    "copy_paused",
    "copy_pickup",
    "copy_purge",
    "copy_start",
    "copy_status",
    "copy_upload",
    "format_code",
    "normalise_code",
    "throttle_keys",
]
