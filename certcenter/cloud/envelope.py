"""Envelope encryption of the cloud's private keys, and the PIN verifier. Pure: no ORM, keys passed in.

Per certificate:

- a fresh RSA-2048 key pair, made here (``new_private_key``);
- a random 32-byte data key (DEK) that encrypts the PKCS#8 DER private key with AES-256-GCM; the
  associated data binds the ciphertext to the certificate's ``cloud_id``;
- the DEK itself encrypted ("wrapped") with AES-256-GCM under a key-encryption key (KEK) from the
  ``CLOUD_KEK`` ring; the associated data binds it to the ``cloud_id`` and the KEK's id.

Stored: the KEK id, both nonces and both ciphertexts (``SealedKey``); never the DEK, the KEK or the
clear key. Any KEK still in the ring unwraps; new keys are wrapped under the newest (``rewrap``
moves an old one forward without touching the key's own ciphertext).

The PIN verifier is HMAC-SHA256 over (cloud_id, PIN) under a key derived from the KEK, so a
database dump alone allows no offline guessing of the million PINs. The KEK never serves two
algorithms directly: wrapping and the PIN MAC use their own HKDF-SHA256 sub-keys of it.

Errors: ``EnvelopeError`` (an unknown KEK id, or a ciphertext that does not authenticate).
"""

from __future__ import annotations

import hmac
import os
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bankportal.crypto import DecryptionError, KeyRing

KEY_BITS = 2048
DEK_BYTES = 32
NONCE_BYTES = 12

_WRAP_LABEL = b"bankportal.fincloud.wrap.v1"
_PIN_LABEL = b"bankportal.fincloud.pin.v1"
_KEY_AAD = b"bankportal.fincloud.key.v1"
_DEK_AAD = b"bankportal.fincloud.dek.v1"


class EnvelopeError(Exception):
    """The key does not open: its KEK is not in the ring, or a ciphertext failed authentication."""


@dataclass(frozen=True)
class SealedKey:
    """What the database keeps of a private key. ``repr`` shows ids and sizes only."""

    kek_id: str
    key_nonce: bytes
    key_ciphertext: bytes
    dek_nonce: bytes
    wrapped_dek: bytes

    def __repr__(self) -> str:
        return f"<SealedKey kek={self.kek_id} {len(self.key_ciphertext)} bytes>"


def new_private_key() -> rsa.RSAPrivateKey:
    """A new RSA-2048 key pair (the customer certificate profile of ``certcenter.ca``)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def new_data_key() -> bytes:
    return os.urandom(DEK_BYTES)


def public_key_der(private_key: rsa.RSAPrivateKey) -> bytes:
    """The SubjectPublicKeyInfo (DER) the institution's CA certifies."""
    return private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sign(private_key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """RSASSA-PKCS1-v1_5 with SHA-256 over ``data`` (what ``certcenter.ca.verify_signature`` checks)."""
    return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _subkey(kek: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(kek)


def _kek(ring: KeyRing, kek_id: str) -> bytes:
    try:
        return ring.key(kek_id)
    except DecryptionError:
        raise EnvelopeError(f"unknown key-encryption key id {kek_id!r}") from None


def _key_aad(cloud_id: uuid.UUID) -> bytes:
    return _KEY_AAD + b"\x00" + cloud_id.bytes


def _dek_aad(cloud_id: uuid.UUID, kek_id: str) -> bytes:
    return _DEK_AAD + b"\x00" + cloud_id.bytes + b"\x00" + kek_id.encode("ascii")


def _wrap(dek: bytes, *, cloud_id: uuid.UUID, ring: KeyRing) -> tuple[str, bytes, bytes]:
    kek_id = ring.current_id
    nonce = os.urandom(NONCE_BYTES)
    wrapped = AESGCM(_subkey(_kek(ring, kek_id), _WRAP_LABEL)).encrypt(nonce, dek, _dek_aad(cloud_id, kek_id))
    return kek_id, nonce, wrapped


def _unwrap(sealed: SealedKey, *, cloud_id: uuid.UUID, ring: KeyRing) -> bytes:
    wrap_key = _subkey(_kek(ring, sealed.kek_id), _WRAP_LABEL)
    try:
        return AESGCM(wrap_key).decrypt(sealed.dek_nonce, sealed.wrapped_dek, _dek_aad(cloud_id, sealed.kek_id))
    except (InvalidTag, ValueError):
        raise EnvelopeError("the data key does not unwrap") from None


def seal_private_key(private_key: rsa.RSAPrivateKey, *, cloud_id: uuid.UUID, ring: KeyRing) -> SealedKey:
    """Encrypt the key under a new DEK, wrapped under the ring's newest KEK."""
    dek = new_data_key()
    if len(dek) != DEK_BYTES:
        raise ValueError("a data key is 32 bytes")
    clear = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_nonce = os.urandom(NONCE_BYTES)
    key_ciphertext = AESGCM(dek).encrypt(key_nonce, clear, _key_aad(cloud_id))
    kek_id, dek_nonce, wrapped = _wrap(dek, cloud_id=cloud_id, ring=ring)
    return SealedKey(
        kek_id=kek_id, key_nonce=key_nonce, key_ciphertext=key_ciphertext, dek_nonce=dek_nonce, wrapped_dek=wrapped
    )


def check_unwraps(sealed: SealedKey, *, cloud_id: uuid.UUID, ring: KeyRing) -> None:
    """Raise ``EnvelopeError`` unless the data key unwraps: the KEK is the one that wrapped it.

    Checked before a PIN is, so a KEK missing from the ring, or replaced under the same id, is an
    operations error and never counts as the holder's wrong PIN."""
    _unwrap(sealed, cloud_id=cloud_id, ring=ring)


def open_private_key(sealed: SealedKey, *, cloud_id: uuid.UUID, ring: KeyRing) -> rsa.RSAPrivateKey:
    """The private key, for the one operation that needs it; raises ``EnvelopeError``."""
    dek = _unwrap(sealed, cloud_id=cloud_id, ring=ring)
    try:
        clear = AESGCM(dek).decrypt(sealed.key_nonce, sealed.key_ciphertext, _key_aad(cloud_id))
    except (InvalidTag, ValueError):
        raise EnvelopeError("the private key does not decrypt") from None
    key = serialization.load_der_private_key(clear, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise EnvelopeError("the stored key is not an RSA key")
    return key


def rewrap(sealed: SealedKey, *, cloud_id: uuid.UUID, ring: KeyRing) -> SealedKey:
    """The same encrypted key with its DEK wrapped under the ring's newest KEK; raises ``EnvelopeError``."""
    dek = _unwrap(sealed, cloud_id=cloud_id, ring=ring)
    kek_id, dek_nonce, wrapped = _wrap(dek, cloud_id=cloud_id, ring=ring)
    return SealedKey(
        kek_id=kek_id,
        key_nonce=sealed.key_nonce,
        key_ciphertext=sealed.key_ciphertext,
        dek_nonce=dek_nonce,
        wrapped_dek=wrapped,
    )


def pin_verifier(pin: str, *, cloud_id: uuid.UUID, ring: KeyRing, kek_id: str | None = None) -> bytes:
    """HMAC-SHA256 of the PIN bound to ``cloud_id``, under the PIN sub-key of ``kek_id`` (default: the newest)."""
    kek = _kek(ring, ring.current_id if kek_id is None else kek_id)
    message = cloud_id.bytes + b"\x00" + pin.encode("utf-8")
    return hmac.new(_subkey(kek, _PIN_LABEL), message, "sha256").digest()


def pin_matches(pin: str, stored: bytes, *, cloud_id: uuid.UUID, ring: KeyRing, kek_id: str) -> bool:
    """Whether ``stored`` is this certificate's verifier of ``pin``; constant-time compare.

    Raises ``EnvelopeError`` when ``kek_id`` is no longer in the ring."""
    expected = pin_verifier(pin, cloud_id=cloud_id, ring=ring, kek_id=kek_id)
    return hmac.compare_digest(expected, stored)
