"""Hashing, merkle trees and signatures for the audit trail: pure functions, no ORM.

* Each event stores the hash of its canonical content (``content_hash``), computed when it is
  inserted; nothing links it to other events at that point, so writers never wait on each other.
* A seal covers a batch of events: the merkle root of their leaves (RFC 6962 shape: leaf
  ``H(0x00 ‖ id ‖ content hash)``, node ``H(0x01 ‖ left ‖ right)``, split at the largest power of
  two below the count, so odd counts need no duplicated leaf), chained onto the previous seal's hash
  and signed with an Ed25519 key the database never holds. Rewriting a row and recomputing every
  hash stored in the database still leaves signatures that do not match.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

GENESIS_HASH = "0" * 64
EVENT_DOMAIN = b"bankportal.audit.event.v1\n"
SEAL_DOMAIN = b"bankportal.audit.seal.v1\n"
SIGNATURE_DOMAIN = b"bankportal.audit.seal-signature.v1\n"
SEAL_FORMAT_VERSION = 1


def canonical(content: Mapping[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def event_content(event: Any) -> dict[str, Any]:
    """The fields an event's hash covers, read from anything shaped like an ``AuditEvent``.

    Not the id (assigned by the database at insert, after the hash) nor the transaction id: the
    merkle leaf binds the id, and membership in a seal binds the transaction id.
    """
    return {
        "created_at": event.created_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "customer_id": event.customer_ref,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "channel": event.channel,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "details": event.details,
    }


def content_hash(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(EVENT_DOMAIN + canonical(content)).hexdigest()


def leaf(event_id: int, event_hash: str) -> bytes:
    """The merkle leaf data of one event: its id (8 bytes, big-endian) and its content hash."""
    return event_id.to_bytes(8, "big", signed=True) + bytes.fromhex(event_hash)


def _leaf_node(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _inner_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: Sequence[bytes]) -> str:
    """RFC 6962 merkle tree hash of ``leaves`` in order, as hex (SHA-256 of nothing when empty).

    Pairing level by level and carrying an unpaired last node up unchanged gives exactly the
    RFC's left-balanced tree (split at the largest power of two below n).
    """
    if not leaves:
        return hashlib.sha256(b"").hexdigest()
    level = [_leaf_node(data) for data in leaves]
    while len(level) > 1:
        paired = [_inner_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0].hex()


def seal_content(
    *,
    number: int,
    sealed_at: str,
    first_txid: int | None,
    first_id: int,
    last_txid: int | None,
    last_id: int,
    count: int,
    merkle_root: str,
    prev_hash: str,
    key_id: str,
) -> dict[str, Any]:
    """What a seal's hash covers: its place in the chain, the range it seals and the batch's root."""
    return {
        "v": SEAL_FORMAT_VERSION,
        "number": number,
        "sealed_at": sealed_at,
        "first_txid": first_txid,
        "first_id": first_id,
        "last_txid": last_txid,
        "last_id": last_id,
        "count": count,
        "merkle_root": merkle_root,
        "prev_hash": prev_hash,
        "key_id": key_id,
    }


def seal_hash(content: Mapping[str, Any]) -> str:
    """``seal_k = H(seal_{k-1} ‖ merkle root ‖ first/last id and txid ‖ count ‖ …)`` via canonical JSON."""
    return hashlib.sha256(SEAL_DOMAIN + canonical(content)).hexdigest()


# --- keys and signatures --------------------------------------------------------------------------


@dataclass(frozen=True)
class SealKey:
    """The signing key: ``keyid:base64-of-a-32-byte-Ed25519-seed``."""

    key_id: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def public_key_b64(self) -> str:
        return public_key_b64(self.public_key)


def _key_id(raw: str, *, name: str) -> str:
    key_id = raw.strip()
    if not key_id or not key_id.isascii() or not key_id.isalnum() or len(key_id) > 16:
        raise ValueError(f"{name}: key id must be 1-16 letters or digits, got {key_id!r}")
    return key_id


def _b64_32(raw: str, *, name: str, key_id: str) -> bytes:
    try:
        value = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{name}: key {key_id!r} is not valid base64") from None
    if len(value) != 32:
        raise ValueError(f"{name}: key {key_id!r} must decode to 32 bytes, got {len(value)}")
    return value


def parse_seal_key(value: str, *, name: str = "AUDIT_SEAL_KEY") -> SealKey:
    """Parse ``keyid:base64-seed``; raise ``ValueError`` naming what is wrong."""
    key_id, sep, encoded = value.strip().partition(":")
    if not sep:
        raise ValueError(f"{name} must be 'keyid:base64-of-32-bytes'")
    key_id = _key_id(key_id, name=name)
    seed = _b64_32(encoded, name=name, key_id=key_id)
    return SealKey(key_id=key_id, private_key=Ed25519PrivateKey.from_private_bytes(seed))


def parse_public_keys(value: str, *, name: str = "AUDIT_SEAL_PUBLIC_KEYS") -> dict[str, Ed25519PublicKey]:
    """Parse ``keyid:base64-public-key[,…]`` (retired signing keys, kept to verify old seals)."""
    keys: dict[str, Ed25519PublicKey] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        if not sep:
            raise ValueError(f"{name}: each entry must be 'keyid:base64-of-32-bytes'")
        key_id = _key_id(key_id, name=name)
        if key_id in keys:
            raise ValueError(f"{name}: key id {key_id!r} appears twice")
        keys[key_id] = Ed25519PublicKey.from_public_bytes(_b64_32(encoded, name=name, key_id=key_id))
    return keys


def public_key_b64(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def parse_public_key_b64(value: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_b64_32(value, name="public key", key_id="?"))


def sign_seal(key: SealKey, hash_hex: str) -> str:
    return base64.b64encode(key.private_key.sign(SIGNATURE_DOMAIN + bytes.fromhex(hash_hex))).decode("ascii")


def signature_valid(public_key: Ed25519PublicKey, hash_hex: str, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), SIGNATURE_DOMAIN + bytes.fromhex(hash_hex))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
