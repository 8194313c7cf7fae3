"""The pure audit hashing, merkle and signature rules, checked against fixed vectors."""

import base64
import datetime as dt
import hashlib
from types import SimpleNamespace

import pytest

from bankportal.audit.chain import (
    GENESIS_HASH,
    content_hash,
    event_content,
    leaf,
    merkle_root,
    parse_public_keys,
    parse_seal_key,
    seal_content,
    seal_hash,
    sign_seal,
    signature_valid,
)

# The Certificate Transparency reference inputs and the RFC 6962 roots of their first 1..8 leaves.
CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657")] + [
    bytes(range(0x60, 0x70))
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
SEED = bytes(range(32))
KEY = parse_seal_key("k1:" + base64.b64encode(SEED).decode())


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@pytest.mark.parametrize("count", range(1, 9))
def test_merkle_root_matches_the_rfc_6962_reference_vectors(count):
    """Single leaf, even and odd counts: the roots published with Certificate Transparency."""
    assert merkle_root(CT_LEAVES[:count]) == CT_ROOTS[count - 1]


def test_merkle_tree_of_three_is_left_balanced_without_a_duplicated_leaf():
    """Three leaves: H(1 ‖ H(1 ‖ a ‖ b) ‖ c); a copied last leaf (as in Bitcoin's tree) would give another root."""
    a, b, c = (_h(b"\x00" + x) for x in (b"a", b"b", b"c"))
    assert merkle_root([b"a", b"b", b"c"]) == _h(b"\x01" + _h(b"\x01" + a + b) + c).hex()
    assert merkle_root([b"a", b"b", b"c"]) != merkle_root([b"a", b"b", b"c", b"c"])


def test_a_single_leaf_root_is_its_leaf_hash_and_an_empty_tree_hashes_nothing():
    assert merkle_root([b"x"]) == _h(b"\x00x").hex()
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()


def test_a_leaf_binds_the_event_id_and_its_content_hash():
    digest = "ab" * 32
    assert leaf(7, digest) == (7).to_bytes(8, "big") + bytes.fromhex(digest)
    assert merkle_root([leaf(7, digest)]) != merkle_root([leaf(8, digest)])


def test_content_hash_is_stable_and_covers_every_field():
    """Key order does not matter; any changed field does."""
    event = SimpleNamespace(
        created_at=dt.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=dt.UTC),
        actor_id=3,
        actor_label="teller",
        customer_ref=9,
        action="customer.view",
        object_type="accounts.customer",
        object_id="9",
        channel="admin",
        ip="10.1.2.3",
        user_agent="UA",
        details={"b": 1, "a": [1, "가"]},
    )
    content = event_content(event)
    assert content_hash(content) == content_hash(dict(reversed(list(content.items()))))
    expected = hashlib.sha256(
        b"bankportal.audit.event.v1\n"
        + (
            '{"action":"customer.view","actor_id":3,"actor_label":"teller","channel":"admin","created_at":'
            '"2026-01-02T03:04:05.000678+00:00","customer_id":9,"details":{"a":[1,"가"],"b":1},"ip":"10.1.2.3",'
            '"object_id":"9","object_type":"accounts.customer","user_agent":"UA"}'
        ).encode()
    ).hexdigest()
    assert content_hash(content) == expected
    for name in content:
        assert content_hash({**content, name: "changed"}) != content_hash(content), name


def _seal(**overrides):
    fields = {
        "number": 1,
        "sealed_at": "2026-01-02T03:04:05+00:00",
        "first_txid": 100,
        "first_id": 1,
        "last_txid": 104,
        "last_id": 9,
        "count": 5,
        "merkle_root": "11" * 32,
        "prev_hash": GENESIS_HASH,
        "key_id": "k1",
    }
    return seal_content(**{**fields, **overrides})


@pytest.mark.parametrize(
    "field,value",
    [
        ("number", 2),
        ("first_txid", 101),
        ("first_id", 2),
        ("last_txid", None),
        ("last_id", 8),
        ("count", 4),
        ("merkle_root", "22" * 32),
        ("prev_hash", "f" * 64),
        ("key_id", "k2"),
        ("sealed_at", "2026-01-02T03:04:06+00:00"),
    ],
)
def test_the_seal_hash_covers_the_previous_seal_the_root_and_the_whole_range(field, value):
    assert seal_hash(_seal(**{field: value})) != seal_hash(_seal())


def test_a_signature_verifies_only_for_its_hash_and_key():
    digest = seal_hash(_seal())
    signature = sign_seal(KEY, digest)
    other = parse_seal_key("k2:" + base64.b64encode(bytes(32)).decode())
    assert signature_valid(KEY.public_key, digest, signature)
    assert not signature_valid(KEY.public_key, seal_hash(_seal(count=6)), signature)
    assert not signature_valid(other.public_key, digest, signature)
    assert not signature_valid(KEY.public_key, digest, "not base64!")


def test_ed25519_signatures_are_deterministic_for_a_fixed_key():
    """RFC 8032 signing has no randomness: the same seal signs the same way (reproducible vectors)."""
    digest = seal_hash(_seal())
    assert sign_seal(KEY, digest) == sign_seal(KEY, digest)
    assert len(base64.b64decode(sign_seal(KEY, digest))) == 64


def test_public_keys_parse_and_round_trip():
    keys = parse_public_keys(f" old1:{KEY.public_key_b64} , ")
    assert list(keys) == ["old1"]
    assert signature_valid(keys["old1"], "00" * 32, sign_seal(KEY, "00" * 32))
    assert parse_public_keys("") == {}


@pytest.mark.parametrize(
    "value,message",
    [
        ("no-colon", "keyid:base64"),
        ("k1:" + base64.b64encode(bytes(31)).decode(), "32 bytes"),
        ("k1:not*base64", "not valid base64"),
        (":" + base64.b64encode(SEED).decode(), "key id"),
        ("key-1:" + base64.b64encode(SEED).decode(), "key id"),
        ("k" * 17 + ":" + base64.b64encode(SEED).decode(), "key id"),
    ],
)
def test_a_malformed_signing_key_is_refused_with_the_reason(value, message):
    with pytest.raises(ValueError, match=message):
        parse_seal_key(value)


def test_a_repeated_public_key_id_is_refused():
    with pytest.raises(ValueError, match="appears twice"):
        parse_public_keys(f"a:{KEY.public_key_b64},a:{KEY.public_key_b64}")
