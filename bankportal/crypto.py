"""Field-level encryption (AES-256-GCM with a key ring) and keyed blind indexes.

Pure helpers: no ORM. Keys come from settings (``FIELD_ENCRYPTION_KEYS``, newest first, and
``BLIND_INDEX_KEY``; ``ACCOUNT_PIN_KEY`` is a ring of the same shape for account passwords).
Every ciphertext is stored together with the id of the key that made it, so keys can rotate:
decrypt with any known key, encrypt only with the newest.

The associated data of a ciphertext is its ``purpose`` (which field) and, optionally, ``bound_to``
(which row, e.g. the row's unique blind index), so a ciphertext copied into another field or
another row fails authentication instead of decrypting there.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import ImproperlyConfigured

NONCE_BYTES = 12


class DecryptionError(Exception):
    """The ciphertext is corrupt, was moved to another field, or its key is unknown."""


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, bytes]  # insertion order: newest first
    current_id: str

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise DecryptionError(f"unknown encryption key id {key_id!r}") from None


def parse_key_ring(value: str, *, name: str = "FIELD_ENCRYPTION_KEYS") -> KeyRing:
    """Parse ``id1:base64key,id2:base64key`` (newest first); each key must be 32 bytes."""
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        key_id = key_id.strip()
        if not sep or not key_id or not key_id.isalnum() or len(key_id) > 16:
            raise ImproperlyConfigured(f"{name}: each entry must be 'keyid:base64key' with an alphanumeric id")
        try:
            raw = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(f"{name}: key {key_id!r} is not valid base64") from None
        if len(raw) != 32:
            raise ImproperlyConfigured(f"{name}: key {key_id!r} must decode to 32 bytes, got {len(raw)}")
        if key_id in keys:
            raise ImproperlyConfigured(f"{name}: key id {key_id!r} appears twice")
        keys[key_id] = raw
    if not keys:
        raise ImproperlyConfigured(f"{name} must hold at least one key")
    return KeyRing(keys=keys, current_id=next(iter(keys)))


def check_blind_index_key(value: str, *, name: str = "BLIND_INDEX_KEY") -> bytes:
    raw = value.encode("utf-8")
    if len(raw) < 32:
        raise ImproperlyConfigured(f"{name} must be at least 32 characters long")
    return raw


def associated_data(purpose: str, bound_to: str = "") -> bytes:
    """``purpose`` alone (unbound, the original form) or ``purpose NUL bound_to``.

    A purpose never contains NUL, so the two forms can never collide.
    """
    if not purpose or "\x00" in purpose or "\x00" in bound_to:
        raise ValueError("purpose must be non-empty and neither purpose nor bound_to may contain NUL")
    return f"{purpose}\x00{bound_to}".encode() if bound_to else purpose.encode()


def seal(plaintext: bytes, *, key: bytes, aad: bytes) -> str:
    """AES-256-GCM with a fresh random nonce; returns base64 of ``nonce || ciphertext || tag``."""
    nonce = os.urandom(NONCE_BYTES)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext, aad)).decode("ascii")


def unseal(token: str, *, key: bytes, aad: bytes) -> bytes:
    """Inverse of ``seal``; raises ``DecryptionError`` for anything that does not authenticate."""
    try:
        blob = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError("ciphertext is not base64") from None
    if len(blob) <= NONCE_BYTES:
        raise DecryptionError("ciphertext too short")
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise DecryptionError("ciphertext failed authentication") from None


def encrypt(plaintext: str, *, ring: KeyRing, purpose: str, bound_to: str = "") -> tuple[str, str]:
    """Return ``(key_id, token)`` under the newest key.

    ``purpose`` (and ``bound_to`` when given) are the associated data: the token decrypts only
    with the same purpose and the same ``bound_to``.
    """
    aad = associated_data(purpose, bound_to)
    return ring.current_id, seal(plaintext.encode("utf-8"), key=ring.key(ring.current_id), aad=aad)


def decrypt(token: str, *, key_id: str, ring: KeyRing, purpose: str, bound_to: str = "") -> str:
    """Raise ``DecryptionError`` for an unknown key, a corrupt token, or another purpose/row."""
    return unseal(token, key=ring.key(key_id), aad=associated_data(purpose, bound_to)).decode("utf-8")


def blind_index(value: str, *, key: bytes, purpose: str) -> str:
    """Keyed hash for exact-match search without storing the value (HMAC-SHA256, hex)."""
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=16)
def _ring_for(value: str, name: str = "FIELD_ENCRYPTION_KEYS") -> KeyRing:
    return parse_key_ring(value, name=name)


def current_ring() -> KeyRing:
    """The field-encryption key ring from settings (parsed once per distinct value)."""
    from django.conf import settings

    return _ring_for(settings.FIELD_ENCRYPTION_KEYS)


def current_pin_ring() -> KeyRing:
    """The account-password key ring (``ACCOUNT_PIN_KEY``) from settings."""
    from django.conf import settings

    return _ring_for(settings.ACCOUNT_PIN_KEY, "ACCOUNT_PIN_KEY")


def check_rings_disjoint(*rings: tuple[str, KeyRing]) -> None:
    """Refuse one key reused across rings: each secret serves one purpose, so one leak is one loss."""
    seen: dict[bytes, str] = {}
    for name, ring in rings:
        for raw in ring.keys.values():
            if raw in seen and seen[raw] != name:
                raise ImproperlyConfigured(f"{name} reuses a key from {seen[raw]}; generate a separate key")
            seen[raw] = name


def current_blind_index_key() -> bytes:
    from django.conf import settings

    return check_blind_index_key(settings.BLIND_INDEX_KEY)
