"""Field-level encryption (AES-256-GCM with a key ring) and keyed blind indexes.

Pure helpers: no ORM. Keys come from settings (``FIELD_ENCRYPTION_KEYS``, newest first, and
``BLIND_INDEX_KEY``). Every ciphertext is stored together with the id of the key that made it,
so keys can rotate: decrypt with any known key, encrypt only with the newest.
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


def encrypt(plaintext: str, *, ring: KeyRing, purpose: str) -> tuple[str, str]:
    """Return ``(key_id, token)``; ``purpose`` is bound as associated data so a ciphertext
    copied into another field does not decrypt there."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring.key(ring.current_id)).encrypt(nonce, plaintext.encode("utf-8"), purpose.encode())
    return ring.current_id, base64.b64encode(nonce + sealed).decode("ascii")


def decrypt(token: str, *, key_id: str, ring: KeyRing, purpose: str) -> str:
    try:
        blob = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError("ciphertext is not base64") from None
    if len(blob) <= NONCE_BYTES:
        raise DecryptionError("ciphertext too short")
    try:
        plain = AESGCM(ring.key(key_id)).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], purpose.encode())
    except InvalidTag:
        raise DecryptionError("ciphertext failed authentication") from None
    return plain.decode("utf-8")


def blind_index(value: str, *, key: bytes, purpose: str) -> str:
    """Keyed hash for exact-match search without storing the value (HMAC-SHA256, hex)."""
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=8)
def _ring_for(value: str) -> KeyRing:
    return parse_key_ring(value)


def current_ring() -> KeyRing:
    """The key ring from settings (parsed once per distinct value)."""
    from django.conf import settings

    return _ring_for(settings.FIELD_ENCRYPTION_KEYS)


def current_blind_index_key() -> bytes:
    from django.conf import settings

    return check_blind_index_key(settings.BLIND_INDEX_KEY)
