"""Account password (계좌 비밀번호) rules and their keyed storage. Pure: no ORM, keys passed in.

Four ASCII digits, not four equal digits and not a straight run (1234, 9876); the 5th
consecutive wrong entry locks the password until a branch resets it.

Four digits are only 10^4 values, so no slow hash protects them: anyone holding a dump and the
hash would try them all in minutes. They are stored as HMAC-SHA256 under a server-side key
(``ACCOUNT_PIN_KEY``, which the database never holds), bound to the account number, so a dump
alone allows no offline search and a hash copied onto another account does not verify there.

Stored forms (the key id lives in its own column, for rotation):

- ``hmac-sha256$<hex>``: the keyed hash of the password.
- ``wrapped$<base64>``: a hash from before keyed storage (a Django hasher string with its
  algorithm, parameters, salt and digest), sealed with AES-256-GCM under a key derived from the
  same key and bound to the account number. The plaintext passwords were unknown when it was
  migrated, so the old hash is kept, but only sealed; it is checked with Django's hasher and
  replaced by the keyed form at its next successful check.
"""

from __future__ import annotations

import hashlib
import hmac

from bankportal import crypto

PIN_LENGTH = 4
MAX_FAILURES = 5

KEYED_PREFIX = "hmac-sha256$"
WRAPPED_PREFIX = "wrapped$"

# Sub-keys, so the one configured key never serves two algorithms directly.
_MAC_LABEL = b"bankportal.account-pin.mac.v1"
_WRAP_LABEL = b"bankportal.account-pin.wrap.v1"


def pin_problem(pin: object) -> str | None:
    """``None`` for an acceptable new password, else ``"format"`` or ``"weak"``."""
    if not (isinstance(pin, str) and len(pin) == PIN_LENGTH and pin.isascii() and pin.isdigit()):
        return "format"
    digits = [int(d) for d in pin]
    steps = {b - a for a, b in zip(digits, digits[1:], strict=False)}
    if steps in ({0}, {1}, {-1}):
        return "weak"
    return None


def locks_after(failures: int) -> bool:
    """Whether this many consecutive failures lock the password."""
    return failures >= MAX_FAILURES


def _subkey(key: bytes, label: bytes) -> bytes:
    return hmac.new(key, label, hashlib.sha256).digest()


def _binding(account_number: str) -> bytes:
    if not account_number or "\x00" in account_number:
        raise ValueError("a password hash is bound to a non-empty account number")
    return account_number.encode()


def pin_hash(pin: str, *, account_number: str, key: bytes) -> str:
    """The stored form of ``pin`` for this account under ``key`` (deterministic)."""
    message = b"\x00".join((_binding(account_number), pin.encode()))
    return KEYED_PREFIX + hmac.new(_subkey(key, _MAC_LABEL), message, hashlib.sha256).hexdigest()


def pin_hash_matches(pin: str, stored: str, *, account_number: str, key: bytes) -> bool:
    """Whether ``stored`` (a keyed hash) is ``pin`` on this account; constant-time compare."""
    expected = pin_hash(pin, account_number=account_number, key=key)
    return hmac.compare_digest(expected.encode(), stored.encode())


def is_keyed(stored: str) -> bool:
    return stored.startswith(KEYED_PREFIX)


def is_wrapped(stored: str) -> bool:
    return stored.startswith(WRAPPED_PREFIX)


def _wrap_aad(account_number: str) -> bytes:
    return b"bankportal.account-pin.wrapped.v1\x00" + _binding(account_number)


def wrap_legacy_hash(legacy_hash: str, *, account_number: str, key: bytes) -> str:
    """Seal an old Django hasher string for this account (see the module docstring)."""
    if not legacy_hash or is_keyed(legacy_hash) or is_wrapped(legacy_hash):
        raise ValueError("only a legacy hasher string can be wrapped")
    token = crypto.seal(legacy_hash.encode(), key=_subkey(key, _WRAP_LABEL), aad=_wrap_aad(account_number))
    return WRAPPED_PREFIX + token


def unwrap_legacy_hash(stored: str, *, account_number: str, key: bytes) -> str:
    """The sealed Django hasher string; ``crypto.DecryptionError`` if it is not this account's."""
    if not is_wrapped(stored):
        raise crypto.DecryptionError("not a wrapped password hash")
    token = stored.removeprefix(WRAPPED_PREFIX)
    return crypto.unseal(token, key=_subkey(key, _WRAP_LABEL), aad=_wrap_aad(account_number)).decode()
