"""Time-based one-time passwords (RFC 6238: HMAC-SHA-1, 6 digits) and the OTP device rules. Pure: no ORM.

* A code is accepted for the current time step and one step either side (clock drift of the
  device), never two.
* A used code is never accepted twice: the matched step must be later than the last step used,
  so neither the same code nor an older step's code works after a newer one was used.
* The consecutive-error counter is the token's (통합OTP: shared by every institution that
  registered it); the 10th consecutive error locks the token everywhere; a right code resets it.

Time is always an argument (an aware ``datetime``); the algorithm is pyotp's.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import secrets

import pyotp

DIGITS = 6
DRIFT_STEPS = 1
MAX_CONSECUTIVE_ERRORS = 10
HARDWARE_STEP_SECONDS = 60
DIGITAL_STEP_SECONDS = 30
# RFC 4226 section 4: the shared secret MUST be at least 128 bits (160 recommended).
MIN_SEED_BYTES = 16
NEW_SEED_BYTES = 20

_CODE_RE = re.compile(r"^[0-9]{6}$")
_BASE32_RE = re.compile(r"^[A-Z2-7]+=*$")


def time_step(now: dt.datetime, step_seconds: int) -> int:
    """The RFC 6238 counter: whole steps since the Unix epoch."""
    if now.tzinfo is None:
        raise ValueError("an aware datetime is required")
    if step_seconds <= 0:
        raise ValueError("the time step must be positive")
    return int(now.timestamp()) // step_seconds


def normalise_seed(seed: str) -> str:
    """Upper-case base32 without spaces or padding; raise ``ValueError`` if it is not base32."""
    text = re.sub(r"[\s-]", "", seed or "").upper().rstrip("=")
    if not text or not _BASE32_RE.match(text):
        raise ValueError("not base32")
    try:
        base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raise ValueError("not base32") from None
    return text


def seed_bytes(seed: str) -> int:
    text = normalise_seed(seed)
    return len(base64.b32decode(text + "=" * (-len(text) % 8)))


def new_seed() -> str:
    """A fresh 160-bit secret, base32 without padding (what authenticator apps read)."""
    return base64.b32encode(secrets.token_bytes(NEW_SEED_BYTES)).decode("ascii").rstrip("=")


def _totp(seed: str, step_seconds: int) -> pyotp.TOTP:
    # HMAC-SHA-1: what OTP devices and authenticator apps compute (collisions do not weaken an HMAC).
    return pyotp.TOTP(normalise_seed(seed), digits=DIGITS, digest=hashlib.sha1, interval=step_seconds)


def code_at_step(seed: str, step: int, *, step_seconds: int) -> str:
    """The 6-digit code of time step ``step``."""
    return _totp(seed, step_seconds).generate_otp(step)


def code_at(seed: str, now: dt.datetime, *, step_seconds: int) -> str:
    """The 6-digit code a device shows at ``now``."""
    return code_at_step(seed, time_step(now, step_seconds), step_seconds=step_seconds)


def is_code_shaped(code: object) -> bool:
    return isinstance(code, str) and bool(_CODE_RE.match(code.strip()))


def match_step(seed: str, code: str, now: dt.datetime, step: int, drift: int = DRIFT_STEPS) -> int | None:
    """The time-step index whose code is ``code`` within ``drift`` steps of ``now``, else ``None``.

    ``step`` is the token's time step in seconds. Every candidate is compared in constant time,
    and all of them are computed, so the answer's timing says nothing about which one matched.
    """
    if not is_code_shaped(code):
        return None
    typed = code.strip()
    current = time_step(now, step)
    matched: int | None = None
    for candidate in range(current - drift, current + drift + 1):
        if secrets.compare_digest(code_at_step(seed, candidate, step_seconds=step), typed) and matched is None:
            matched = candidate
    return matched


def is_fresh(matched_step: int, last_used_step: int | None) -> bool:
    """A code is used once: only a step later than the last one used is accepted."""
    return last_used_step is None or matched_step > last_used_step


def errors_after_failure(errors: int) -> tuple[int, bool]:
    """The consecutive-error count after one more wrong code, and whether the token is now locked."""
    errors += 1
    return errors, errors >= MAX_CONSECUTIVE_ERRORS


def errors_left(errors: int) -> int:
    return max(0, MAX_CONSECUTIVE_ERRORS - errors)


def default_step_seconds(kind: str) -> int:
    """60 s for hardware and card-type tokens, 30 s for a digital OTP (authenticator apps)."""
    return DIGITAL_STEP_SECONDS if kind == "digital" else HARDWARE_STEP_SECONDS


def provisioning_uri(seed: str, *, account: str, issuer: str, step_seconds: int = DIGITAL_STEP_SECONDS) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads from a QR code."""
    return _totp(seed, step_seconds).provisioning_uri(name=account, issuer_name=issuer)


def mask_serial(serial: str) -> str:
    """Show the first 3 and last 4 characters of a serial, as customers see it printed."""
    if len(serial) <= 7:
        return serial[:1] + "*" * max(0, len(serial) - 2) + serial[-1:] if len(serial) > 2 else "*" * len(serial)
    return serial[:3] + "*" * (len(serial) - 7) + serial[-4:]


def mask_name(name: str) -> str:
    """The first and last character of a name, the rest masked: 김앨리스 → 김**스, 김철 → 김*."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
