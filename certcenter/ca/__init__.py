"""The bank's in-house CA for joint certificates (공동인증서): every ``cryptography`` call of the certificate centre.

Pure: the standard library and ``cryptography`` only, no ORM; time is always an argument (aware datetimes).

* Hierarchy: a root CA (RSA-3072, CA:true pathlen 1) signs one issuing CA (RSA-3072, pathlen 0), which signs
  customers' certificates (RSA-2048, SHA-256) and its own CRL and OCSP responses.
* Customer certificates are valid from issue to 23:59:59 KST on the same date ``years`` later (29 February →
  28 February): ``expiry_for``. The expiry day's 23:59:59 is still valid; the next 00:00:00 is not.
* OID arc: ``2.25.<UUID as an integer>`` (``common.ARC``; ITU-T X.667 UUID-derived, needs no registration,
  collides with nobody). Policies are ``ARC.1.<n>`` per kind, the identity otherName is ``ARC.2.1``. We never
  borrow another CA's OIDs (KISA's 1.2.410.200004 arc belongs to the accredited CAs).
* Identity hash (mirrors the Korean VID): ``SHA-256(SHA-256(id_number_digits || R))`` with R 20 random bytes
  kept with the private key, in subjectAltName as ``otherName(ARC.2.1, OCTET STRING)``; a certificate can then
  be checked against an RRN by whoever holds both the RRN and R (see ``identity``).
* Other institutions' CAs (``trust``): a trusted CA certificate signs customers' certificates directly;
  their identity hash is ours or KISA's VID (``external_identity``); their CRLs are checked with ``load_crl``.
* Errors: ``CaError``; ``InvalidCsr.code``, ``CertificateInvalid.code`` say why; ``InvalidKeyPassphrase``.
"""

from __future__ import annotations

from .common import (
    ARC,
    IDENTITY_OID,
    KST,
    POLICY_OIDS,
    CaError,
    CaMaterial,
    CertificateInvalid,
    CertificateKind,
    InvalidCsr,
    InvalidKeyPassphrase,
    PkiUrls,
    expiry_for,
)
from .identity import certificate_identity, certificate_kind, identity_hash, identity_matches, new_identity_random
from .issue import issue_customer_certificate, new_issuing_ca, new_root_ca
from .keys import (
    certificate_der,
    certificate_pem,
    encrypt_private_key,
    load_certificate,
    load_csr,
    load_private_key,
    load_public_key,
)
from .passwords import CERT_PASSWORD_MAX, CERT_PASSWORD_MIN, certificate_password_problems
from .revocation import CertStatus, RevocationReason, build_crl, crl_der, ocsp_respond
from .trust import (
    CRL_CLOCK_SKEW,
    KISA_RANDOM_NUM_OID,
    CrlContents,
    IdentityClaim,
    InvalidCaCertificate,
    InvalidCrl,
    RevokedSerial,
    external_identity,
    external_identity_matches,
    fingerprint_sha256,
    kisa_vid,
    load_ca_certificate,
    load_crl,
    signed_by,
    verify_issued_by_trusted,
)
from .verify import verify_chain, verify_signature

__all__ = [
    "ARC",
    "CERT_PASSWORD_MAX",
    "CERT_PASSWORD_MIN",
    "CRL_CLOCK_SKEW",
    "IDENTITY_OID",
    "KISA_RANDOM_NUM_OID",
    "KST",
    "POLICY_OIDS",
    "CaError",
    "CaMaterial",
    "CertStatus",
    "CertificateInvalid",
    "CertificateKind",
    "CrlContents",
    "IdentityClaim",
    "InvalidCaCertificate",
    "InvalidCrl",
    "InvalidCsr",
    "InvalidKeyPassphrase",
    "PkiUrls",
    "RevocationReason",
    "RevokedSerial",
    "build_crl",
    "certificate_der",
    "certificate_identity",
    "certificate_kind",
    "certificate_password_problems",
    "certificate_pem",
    "crl_der",
    "encrypt_private_key",
    "expiry_for",
    "external_identity",
    "external_identity_matches",
    "fingerprint_sha256",
    "identity_hash",
    "identity_matches",
    "issue_customer_certificate",
    "kisa_vid",
    "load_ca_certificate",
    "load_crl",
    "load_certificate",
    "load_csr",
    "load_private_key",
    "load_public_key",
    "new_identity_random",
    "new_issuing_ca",
    "new_root_ca",
    "ocsp_respond",
    "signed_by",
    "verify_chain",
    "verify_issued_by_trusted",
    "verify_signature",
]
