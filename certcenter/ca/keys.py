"""Serialisation: CA private keys at rest, certificates, and the customer's request (CSR or bare public key)."""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .common import CUSTOMER_KEY_BITS, CaError, InvalidCsr, InvalidKeyPassphrase


def _is_pem(data: bytes) -> bool:
    return data.lstrip().startswith(b"-----BEGIN")


def encrypt_private_key(key: rsa.RSAPrivateKey, passphrase: bytes) -> bytes:
    """PEM, PKCS#8, encrypted with the best scheme this cryptography offers (PBES2 with AES-256-CBC)."""
    if not passphrase:
        raise ValueError("an empty passphrase would leave the key unprotected")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def load_private_key(pem: bytes, passphrase: bytes) -> rsa.RSAPrivateKey:
    """The RSA key in an encrypted PEM. Raises ``InvalidKeyPassphrase`` if it does not open with ``passphrase``,
    ``CaError`` if it is stored unencrypted or is not RSA."""
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase)
    except TypeError:  # "Password was given but private key is not encrypted"
        raise CaError("the private key is stored unencrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidKeyPassphrase("the private key does not open with this passphrase") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CaError("the private key is not an RSA key")
    return key


def certificate_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def certificate_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from PEM or DER; ``ValueError`` if it is neither."""
    if _is_pem(data):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def check_customer_key(key: object) -> rsa.RSAPublicKey:
    """``key`` if it is an RSA-2048 public key; ``InvalidCsr`` (key_type, key_size) otherwise."""
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidCsr("key_type")
    if key.key_size != CUSTOMER_KEY_BITS:
        raise InvalidCsr("key_size")
    return key


def load_public_key(data: bytes) -> rsa.RSAPublicKey:
    """A customer's SubjectPublicKeyInfo (PEM or DER, what WebCrypto's ``exportKey("spki")`` gives), RSA-2048 only.

    Raises ``InvalidCsr`` (malformed, key_type, key_size)."""
    try:
        key = serialization.load_pem_public_key(data) if _is_pem(data) else serialization.load_der_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidCsr("malformed") from None
    return check_customer_key(key)


def load_csr(data: bytes) -> x509.CertificateSigningRequest:
    """A PKCS#10 request (PEM or DER) whose own signature verifies (proof of possession), for an RSA-2048 key,
    signed with SHA-256. Raises ``InvalidCsr`` (malformed, bad_signature, key_type, key_size, hash)."""
    try:
        csr = x509.load_pem_x509_csr(data) if _is_pem(data) else x509.load_der_x509_csr(data)
        key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidCsr("malformed") from None
    check_customer_key(key)
    try:
        hash_algorithm = csr.signature_hash_algorithm
    except UnsupportedAlgorithm:
        raise InvalidCsr("hash") from None
    if not isinstance(hash_algorithm, hashes.SHA256):
        raise InvalidCsr("hash")
    try:
        signature_valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm, InvalidSignature):
        signature_valid = False
    if not signature_valid:
        raise InvalidCsr("bad_signature")
    return csr
