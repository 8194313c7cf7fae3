"""Envelope encryption of cloud keys and the PIN verifier (pure: no database)."""

from __future__ import annotations

import base64
import dataclasses
import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bankportal.crypto import parse_key_ring
from certcenter.cloud import envelope

OLD = "old:" + base64.b64encode(b"o" * 32).decode()
NEW = "new:" + base64.b64encode(b"n" * 32).decode()
OLD_RING = parse_key_ring(OLD, name="CLOUD_KEK")
ROTATED = parse_key_ring(f"{NEW},{OLD}", name="CLOUD_KEK")
NEW_ONLY = parse_key_ring(NEW, name="CLOUD_KEK")
CLOUD_ID = uuid.UUID("8d6f3c1e-2a4b-4c5d-9e8f-0a1b2c3d4e5f")
OTHER_ID = uuid.UUID("8d6f3c1e-2a4b-4c5d-9e8f-0a1b2c3d4e60")


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return envelope.new_private_key()


def _same_key(a: rsa.RSAPrivateKey, b: rsa.RSAPrivateKey) -> bool:
    return a.private_numbers() == b.private_numbers()


def test_new_keys_are_rsa_2048():
    assert envelope.new_private_key().key_size == 2048


def test_a_sealed_key_opens_with_its_cloud_id_and_kek(key):
    sealed = envelope.seal_private_key(key, cloud_id=CLOUD_ID, ring=OLD_RING)
    assert sealed.kek_id == "old"
    assert len(sealed.key_nonce) == len(sealed.dek_nonce) == 12
    assert len(sealed.wrapped_dek) == 32 + 16  # the DEK and the GCM tag
    assert _same_key(envelope.open_private_key(sealed, cloud_id=CLOUD_ID, ring=OLD_RING), key)
    assert "kek=old" in repr(sealed) and sealed.key_ciphertext.hex() not in repr(sealed)


def test_each_seal_uses_a_new_data_key_and_nonces(key):
    one = envelope.seal_private_key(key, cloud_id=CLOUD_ID, ring=OLD_RING)
    two = envelope.seal_private_key(key, cloud_id=CLOUD_ID, ring=OLD_RING)
    assert one.key_ciphertext != two.key_ciphertext
    assert one.wrapped_dek != two.wrapped_dek


def test_a_key_copied_to_another_record_does_not_open(key):
    sealed = envelope.seal_private_key(key, cloud_id=CLOUD_ID, ring=OLD_RING)
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_private_key(sealed, cloud_id=OTHER_ID, ring=OLD_RING)


def test_a_tampered_ciphertext_or_kek_id_does_not_open(key):
    sealed = envelope.seal_private_key(key, cloud_id=CLOUD_ID, ring=ROTATED)
    flipped = bytes([sealed.key_ciphertext[0] ^ 1]) + sealed.key_ciphertext[1:]
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_private_key(dataclasses.replace(sealed, key_ciphertext=flipped), cloud_id=CLOUD_ID, ring=ROTATED)
    # The KEK id is bound into the wrapped key's associated data: relabelling it fails too.
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_private_key(dataclasses.replace(sealed, kek_id="old"), cloud_id=CLOUD_ID, ring=ROTATED)


def test_an_older_kek_still_unwraps_and_rewrap_moves_to_the_newest(key):
    sealed = envelope.seal_private_key(key, cloud_id=CLOUD_ID, ring=OLD_RING)
    assert _same_key(envelope.open_private_key(sealed, cloud_id=CLOUD_ID, ring=ROTATED), key)
    moved = envelope.rewrap(sealed, cloud_id=CLOUD_ID, ring=ROTATED)
    assert moved.kek_id == "new"
    assert moved.key_ciphertext == sealed.key_ciphertext  # only the data key was wrapped again
    assert _same_key(envelope.open_private_key(moved, cloud_id=CLOUD_ID, ring=NEW_ONLY), key)


def test_without_its_kek_a_key_does_not_open_and_says_so(key):
    sealed = envelope.seal_private_key(key, cloud_id=CLOUD_ID, ring=OLD_RING)
    with pytest.raises(envelope.EnvelopeError, match="unknown key-encryption key id 'old'"):
        envelope.check_unwraps(sealed, cloud_id=CLOUD_ID, ring=NEW_ONLY)
    replaced = parse_key_ring("old:" + base64.b64encode(b"x" * 32).decode(), name="CLOUD_KEK")
    with pytest.raises(envelope.EnvelopeError, match="does not unwrap"):
        envelope.check_unwraps(sealed, cloud_id=CLOUD_ID, ring=replaced)


def test_the_pin_verifier_is_keyed_and_bound_to_the_record():
    verifier = envelope.pin_verifier("482915", cloud_id=CLOUD_ID, ring=OLD_RING)
    assert len(verifier) == 32
    assert envelope.pin_matches("482915", verifier, cloud_id=CLOUD_ID, ring=OLD_RING, kek_id="old")
    assert not envelope.pin_matches("482916", verifier, cloud_id=CLOUD_ID, ring=OLD_RING, kek_id="old")
    assert not envelope.pin_matches("482915", verifier, cloud_id=OTHER_ID, ring=OLD_RING, kek_id="old")
    # Another KEK gives another verifier: without the KEK a dump offers nothing to test PINs against.
    assert envelope.pin_verifier("482915", cloud_id=CLOUD_ID, ring=NEW_ONLY) != verifier
    with pytest.raises(envelope.EnvelopeError):
        envelope.pin_matches("482915", verifier, cloud_id=CLOUD_ID, ring=NEW_ONLY, kek_id="old")


def test_signatures_are_pkcs1_v15_sha256(key):
    signature = envelope.sign(key, b"nonce")
    key.public_key().verify(signature, b"nonce", padding.PKCS1v15(), hashes.SHA256())
