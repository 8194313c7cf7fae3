"""Field encryption: AES-GCM round trip, key rotation, tamper detection, blind index."""

import base64

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from bankportal import crypto

K1 = base64.b64encode(b"1" * 32).decode()
K2 = base64.b64encode(b"2" * 32).decode()


def test_round_trip_and_key_id():
    ring = crypto.parse_key_ring(f"k1:{K1}")
    key_id, token = crypto.encrypt("900101-1234567", ring=ring, purpose="p")
    assert key_id == "k1"
    assert "900101" not in token
    assert crypto.decrypt(token, key_id=key_id, ring=ring, purpose="p") == "900101-1234567"


@given(st.text(max_size=200))
def test_round_trip_any_text(text):
    ring = crypto.parse_key_ring(f"k1:{K1}")
    key_id, token = crypto.encrypt(text, ring=ring, purpose="p")
    assert crypto.decrypt(token, key_id=key_id, ring=ring, purpose="p") == text


def test_same_plaintext_encrypts_differently_each_time():
    ring = crypto.parse_key_ring(f"k1:{K1}")
    assert crypto.encrypt("x", ring=ring, purpose="p")[1] != crypto.encrypt("x", ring=ring, purpose="p")[1]


def test_rotation_encrypts_with_newest_and_still_decrypts_old():
    old_ring = crypto.parse_key_ring(f"k1:{K1}")
    key_id, token = crypto.encrypt("secret", ring=old_ring, purpose="p")
    new_ring = crypto.parse_key_ring(f"k2:{K2},k1:{K1}")
    assert new_ring.current_id == "k2"
    assert crypto.decrypt(token, key_id=key_id, ring=new_ring, purpose="p") == "secret"
    assert crypto.encrypt("secret", ring=new_ring, purpose="p")[0] == "k2"


def test_unknown_key_tampering_and_wrong_purpose_fail():
    ring = crypto.parse_key_ring(f"k1:{K1}")
    key_id, token = crypto.encrypt("secret", ring=ring, purpose="p")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token, key_id="k9", ring=ring, purpose="p")
    raw = bytearray(base64.b64decode(token))
    raw[-1] ^= 1
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(base64.b64encode(bytes(raw)).decode(), key_id=key_id, ring=ring, purpose="p")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token, key_id=key_id, ring=ring, purpose="other-field")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt("not base64 !", key_id=key_id, ring=ring, purpose="p")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "at least one key"),
        ("k1", "keyid:base64key"),
        (f"k-1:{K1}", "alphanumeric"),
        ("k1:@@@", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "32 bytes"),
        (f"k1:{K1},k1:{K2}", "appears twice"),
    ],
)
def test_key_ring_rejects_bad_configuration(value, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        crypto.parse_key_ring(value)


def test_blind_index_is_keyed_and_stable():
    a = crypto.blind_index("9001011234567", key=b"k" * 32, purpose="rrn")
    assert a == crypto.blind_index("9001011234567", key=b"k" * 32, purpose="rrn")
    assert a != crypto.blind_index("9001011234567", key=b"j" * 32, purpose="rrn")
    assert a != crypto.blind_index("9001011234568", key=b"k" * 32, purpose="rrn")
    assert "9001011234567" not in a


def test_a_bound_ciphertext_decrypts_only_with_the_same_binding():
    """``bound_to`` joins the associated data: another row's value, or none, fails authentication."""
    ring = crypto.parse_key_ring(f"k1:{K1}")
    key_id, token = crypto.encrypt("secret", ring=ring, purpose="p", bound_to="row-a")
    assert crypto.decrypt(token, key_id=key_id, ring=ring, purpose="p", bound_to="row-a") == "secret"
    for bound_to in ("row-b", ""):
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(token, key_id=key_id, ring=ring, purpose="p", bound_to=bound_to)
    _kid, unbound = crypto.encrypt("secret", ring=ring, purpose="p")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(unbound, key_id=key_id, ring=ring, purpose="p", bound_to="row-a")


def test_bound_and_unbound_associated_data_never_collide():
    assert crypto.associated_data("p") == b"p"
    assert crypto.associated_data("p", "x") == b"p\x00x"
    with pytest.raises(ValueError):
        crypto.associated_data("p\x00x")
    with pytest.raises(ValueError):
        crypto.associated_data("")


def test_one_key_in_two_rings_is_refused():
    field = crypto.parse_key_ring(f"k1:{K1}")
    crypto.check_rings_disjoint(("A", field), ("B", crypto.parse_key_ring(f"p1:{K2}")))
    with pytest.raises(ImproperlyConfigured, match="B reuses a key from A"):
        crypto.check_rings_disjoint(("A", field), ("B", crypto.parse_key_ring(f"p1:{K2},p0:{K1}")))
