"""Additional authentication (추가인증) codes: the rules as functions. Pure: no ORM, time passed in.

A 6-digit code goes to the registered phone by SMS or is read out by an ARS call; it is valid for
3 minutes and allows 5 tries. The code is never stored: only a keyed MAC of it, bound to the
challenge's own random nonce, so a copied MAC verifies nothing else and a database dump alone
cannot be searched (the key is the server's, not the database's).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

CODE_DIGITS = 6
LIFETIME = dt.timedelta(minutes=3)
MAX_TRIES = 5
# At most this many codes per customer and purpose in SEND_WINDOW: an SMS/ARS pumping brake.
MAX_SENDS = 5
SEND_WINDOW = dt.timedelta(hours=1)
# A verified code allows one action (a digital OTP enrollment, say) for this long after it was verified.
VERIFIED_USABLE_FOR = dt.timedelta(minutes=10)


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_nonce() -> str:
    return secrets.token_hex(16)


def code_mac(code: str, *, nonce: str, key: bytes) -> str:
    return hmac.new(key, f"additional-auth\x00{nonce}\x00{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(code: str, *, nonce: str, key: bytes, mac: str) -> bool:
    candidate = code.strip() if isinstance(code, str) else ""
    if not (len(candidate) == CODE_DIGITS and candidate.isascii() and candidate.isdigit()):
        return False
    return hmac.compare_digest(code_mac(candidate, nonce=nonce, key=key), mac)


def expires_at(created_at: dt.datetime) -> dt.datetime:
    return created_at + LIFETIME


def is_expired(expiry: dt.datetime, now: dt.datetime) -> bool:
    """Valid up to and including the expiry instant; expired one microsecond later."""
    return now > expiry


def tries_exhausted(attempts: int) -> bool:
    return attempts >= MAX_TRIES


def verification_usable(verified_at: dt.datetime, now: dt.datetime) -> bool:
    """A verification allows its action up to and including ``VERIFIED_USABLE_FOR`` after it; not
    before it was made (a clock moved back) and not one microsecond later."""
    return verified_at <= now <= verified_at + VERIFIED_USABLE_FOR


def mask_phone(phone: str) -> str:
    """A mobile number as pages show where a code went: 01012345678 → 010-****-5678.

    The middle digits are hidden; anything but 10 or 11 digits shows only its last four.
    """
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) in (10, 11):
        return f"{digits[:3]}-{'*' * (len(digits) - 7)}-{digits[-4:]}"
    return f"***-{digits[-4:]}" if len(digits) >= 4 else "***"
