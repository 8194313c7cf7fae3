"""Helpers for the tests of the online release's signing step: a real joint certificate issued through
the certificate centre's service (the browser's key and CSR played with ``cryptography``), and the
signature the page's script would post."""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.test import Client
from django.urls import reverse

from accounts.models import Account, Agreement
from bankportal.actors import system_actor
from certcenter import services

CA_ACTOR = system_actor("test:ca_init", [services.CA_INIT_PERMISSION])
CERT_WEB = services.certificate_web_actor()
IDENTITY_RANDOM = bytes(range(20))
RELEASE_SIGN = reverse("agreement_release_sign")


@functools.cache
def customer_key(name: str = "alice") -> rsa.RSAPrivateKey:
    """A customer's RSA-2048 key as WebCrypto makes it (one per name, cached for speed)."""
    del name
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def csr_for(key: rsa.RSAPrivateKey) -> bytes:
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "browser")]))
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Cert:
    der: bytes
    key: rsa.RSAPrivateKey
    row: Any  # certcenter.models.Certificate


def issue_certificate(agreement: Agreement, account: Account, *, key_name: str = "alice") -> Cert:
    """A restricted-use (free) certificate for the active ``agreement``'s customer, issued by the service."""
    key = customer_key(key_name)
    issued = services.certificate_issue(
        agreement=agreement,
        withdrawal_account=account,
        kind="restricted",
        storage="file",
        csr=csr_for(key),
        identity_random=IDENTITY_RANDOM,
        medium_verified=True,
        actor=CERT_WEB,
    )
    return Cert(der=issued.der, key=key, row=issued.certificate)


def sign(key: rsa.RSAPrivateKey, text: str) -> bytes:
    """RSASSA-PKCS1-v1_5 with SHA-256 over the UTF-8 text: what BankPki.sign does."""
    return key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def post_signature(
    browser: Client, cert: Cert, *, text: str | None = None, key: rsa.RSAPrivateKey | None = None
) -> Any:
    """Open the signing page, sign its text (or ``text``) with ``key`` (default: the certificate's) and post."""
    if text is None:
        page = browser.get(RELEASE_SIGN)
        assert page.status_code == 200, page
        text = page.context["text"]
    return browser.post(RELEASE_SIGN, {"certificate": b64(cert.der), "signature": b64(sign(key or cert.key, text))})
