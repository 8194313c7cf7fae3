"""A fake "other bank" for the tests: its CA, its customers' joint certificates (with our identity hash
or KISA's VID) and their encrypted key files (PBES2 PKCS#8 with the identity random value as an
attribute, as real signPri.key files keep it), all made with ``cryptography``."""

from __future__ import annotations

import datetime as dt
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.x509.oid import NameOID

from certcenter import ca
from certcenter.ca.identity import der_octet_string

OTHER_BANK = "Hanul Bank"  # fictional, like the demo bank
SHA256_OID = "2.16.840.1.101.3.4.2.1"


# --- DER, just enough for the tests ---------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(size)]) + size


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    values = [arcs[0] * 40 + arcs[1], *arcs[2:]]
    out = b""
    for value in values:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.insert(0, (value & 0x7F) | 0x80)
            value >>= 7
        out += bytes(chunk)
    return tlv(0x06, out)


def integer(value: int) -> bytes:
    raw = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return tlv(0x02, raw)


# --- the other bank's CA and certificates -----------------------------------------------------------------


def other_bank_ca(now: dt.datetime, *, name: str = f"{OTHER_BANK} Class 2 CA") -> ca.CaMaterial:
    """The other bank's CA that signs its customers' certificates (under its own root, which we never see)."""
    root = ca.new_root_ca(common_name=f"{OTHER_BANK} Root CA", organization=OTHER_BANK, now=now)
    return ca.new_issuing_ca(
        root=root,
        common_name=name,
        organization=OTHER_BANK,
        urls=ca.PkiUrls(crl="https://other.example/crl", ocsp="https://other.example/ocsp", ca_issuer=""),
        now=now,
    )


def kisa_identify_data(real_name: str, vid: bytes) -> bytes:
    """KISA's IdentifyData: realName, then a VID (type OID, hash algorithm, the hash)."""
    vid_value = seq(seq(oid(SHA256_OID)), tlv(0x04, vid))
    return seq(tlv(0x0C, real_name.encode()), seq(seq(oid(ca.trust.KISA_VID_OID), vid_value)))


def other_bank_certificate(
    issuer: ca.CaMaterial,
    key: rsa.RSAPrivateKey,
    *,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    name: str = "김앨리스()0088123420260310",
    identity: str | None = None,
    id_number: str = "",
    random_value: bytes = b"",
) -> x509.Certificate:
    """A customer's certificate signed by ``issuer``; ``identity`` "bank" (our otherName) or "kisa" (VID)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "KR"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, OTHER_BANK),
                    x509.NameAttribute(NameOID.COMMON_NAME, name),
                ]
            )
        )
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.private_key.public_key()), critical=False
        )
    )
    if identity == "bank":
        value = der_octet_string(ca.identity_hash(id_number, random_value))
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.OtherName(ca.IDENTITY_OID, value)]), critical=False
        )
    elif identity == "kisa":
        value = kisa_identify_data("김앨리스", ca.kisa_vid(id_number, random_value))
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.OtherName(ca.trust.KISA_IDENTIFY_DATA_OID, value)]), critical=False
        )
    return builder.sign(issuer.private_key, hashes.SHA256())


# --- the key file (signPri.key) ---------------------------------------------------------------------------

OUR_RANDOM_OID = f"{ca.ARC}.2.2"


def encrypted_key_file(
    key: rsa.RSAPrivateKey,
    password: str,
    *,
    random_value: bytes | None = None,
    kisa: bool = False,
    iterations: int = 100_000,
) -> bytes:
    """EncryptedPrivateKeyInfo (DER): PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC, what pki.js opens; the
    identity random value as PKCS#8 attribute ARC.2.2 (OCTET STRING) or KISA's randomNum (BIT STRING)."""
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    if random_value is not None:
        if kisa:
            attribute = seq(oid(ca.KISA_RANDOM_NUM_OID), tlv(0x31, tlv(0x03, b"\x00" + random_value)))
        else:
            attribute = seq(oid(OUR_RANDOM_OID), tlv(0x31, tlv(0x04, random_value)))
        # PrivateKeyInfo is SEQUENCE { version, algorithm, privateKey }: append [0] attributes.
        content = plain[2 + (plain[1] & 0x7F if plain[1] & 0x80 else 0) :]
        plain = seq(content, tlv(0xA0, attribute))
    salt, iv = os.urandom(16), os.urandom(16)
    aes_key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations).derive(
        password.encode()
    )
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    pbkdf2 = seq(
        oid("1.2.840.113549.1.5.12"),
        seq(tlv(0x04, salt), integer(iterations), seq(oid("1.2.840.113549.2.9"), tlv(0x05, b""))),
    )
    cipher = seq(oid("2.16.840.1.101.3.4.1.42"), tlv(0x04, iv))
    return seq(seq(oid("1.2.840.113549.1.5.13"), seq(pbkdf2, cipher)), tlv(0x04, encrypted))
