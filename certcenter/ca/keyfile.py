"""A customer's key file (signPri.key) made on the server side: only for demo data and tests.

In the product the browser makes it (static/js/pki.js ``encryptPrivateKey``) and the key never
reaches the server. This writes the very same form, so the pages open it like one of theirs:
EncryptedPrivateKeyInfo (DER), PBES2 with PBKDF2-HMAC-SHA256 (100,000 iterations by default) and
AES-256-CBC, and the identity random value R as the PKCS#8 attribute ``ARC.2.2`` (OCTET STRING).

``cryptography`` cannot write PKCS#8 attributes or choose the PBKDF2 iteration count for PKCS#8
(``BestAvailableEncryption`` uses a fixed, lower count), hence this small DER writer. ``openssl pkey``
opens the result with the password.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from .common import ARC

IDENTITY_RANDOM_OID = f"{ARC}.2.2"
KEY_FILE_ITERATIONS = 100_000
_PBES2 = "1.2.840.113549.1.5.13"
_PBKDF2 = "1.2.840.113549.1.5.12"
_HMAC_SHA256 = "1.2.840.113549.2.9"
_AES_256_CBC = "2.16.840.1.101.3.4.1.42"


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(size)]) + size


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    out = b""
    for value in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.insert(0, (value & 0x7F) | 0x80)
            value >>= 7
        out += bytes(chunk)
    return _tlv(0x06, out)


def _integer(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big"))


def _content(element: bytes) -> bytes:
    """The content octets of one DER element (definite length)."""
    first = element[1]
    start = 2 + (first & 0x7F if first & 0x80 else 0)
    return element[start:]


def customer_key_file(
    key: rsa.RSAPrivateKey,
    password: str,
    *,
    identity_random: bytes | None = None,
    iterations: int = KEY_FILE_ITERATIONS,
) -> bytes:
    """``key`` as the encrypted PKCS#8 DER a customer keeps (see the module docstring); ``identity_random``
    (R) goes in as attribute ARC.2.2 when given."""
    if not password:
        raise ValueError("an empty password would leave the key unprotected")
    if iterations < KEY_FILE_ITERATIONS:
        raise ValueError(f"at least {KEY_FILE_ITERATIONS} PBKDF2 iterations")
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    if identity_random is not None:
        attribute = _seq(_oid(IDENTITY_RANDOM_OID), _tlv(0x31, _tlv(0x04, identity_random)))
        # PrivateKeyInfo is SEQUENCE { version, algorithm, privateKey [, [0] attributes] }.
        plain = _seq(_content(plain), _tlv(0xA0, attribute))
    salt, iv = os.urandom(16), os.urandom(16)
    aes_key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations).derive(
        password.encode("utf-8")
    )
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    kdf = _seq(_oid(_PBKDF2), _seq(_tlv(0x04, salt), _integer(iterations), _seq(_oid(_HMAC_SHA256), _tlv(0x05, b""))))
    cipher = _seq(_oid(_AES_256_CBC), _tlv(0x04, iv))
    return _seq(_seq(_oid(_PBES2), _seq(kdf, cipher)), _tlv(0x04, encrypted))


def _read(data: bytes, at: int = 0) -> tuple[int, bytes, int]:
    """(tag, content, end) of the DER element at ``at``."""
    tag, first = data[at], data[at + 1]
    start = at + 2
    length = first
    if first & 0x80:
        count = first & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("truncated DER")
    return tag, data[start:end], end


def _children(content: bytes) -> list[tuple[int, bytes]]:
    out, at = [], 0
    while at < len(content):
        tag, inner, at = _read(content, at)
        out.append((tag, inner))
    return out


def read_key_file(data: bytes, password: str) -> tuple[rsa.RSAPrivateKey, bytes | None, int]:
    """Open a key file of the form above: (the key, R or ``None``, the PBKDF2 iteration count).
    Raises ``ValueError`` for another form or a wrong password."""
    _tag, outer, _end = _read(data)
    (_t1, algorithm), (_t2, encrypted) = _children(outer)
    (_t3, pbes2_oid), (_t4, params) = _children(algorithm)
    if pbes2_oid != _oid(_PBES2)[2:]:
        raise ValueError("not PBES2")
    (_t5, kdf), (_t6, cipher) = _children(params)
    (_t7, _kdf_oid), (_t8, kdf_params) = _children(kdf)
    kdf_fields = _children(kdf_params)
    salt, iterations = kdf_fields[0][1], int.from_bytes(kdf_fields[1][1], "big")
    iv = _children(cipher)[1][1]
    aes_key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations).derive(
        password.encode("utf-8")
    )
    decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plain = unpadder.update(decryptor.update(encrypted) + decryptor.finalize()) + unpadder.finalize()
    identity_random = None
    for tag, content in _children(_read(plain)[1]):
        if tag == 0xA0:  # [0] attributes
            for _tag, attribute in _children(content):
                (_a, attribute_oid), (_b, values) = _children(attribute)
                if attribute_oid == _oid(IDENTITY_RANDOM_OID)[2:]:
                    identity_random = _children(values)[0][1]
    key = serialization.load_der_private_key(data, password=password.encode("utf-8"))
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA key")
    return key, identity_random, iterations
