"""Building and signing certificates: the root CA, the issuing CA and customers' joint certificates."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from .common import (
    CA_KEY_BITS,
    IDENTITY_OID,
    POLICY_OIDS,
    CaError,
    CaMaterial,
    CertificateKind,
    PkiUrls,
    expiry_for,
    utc,
)
from .identity import der_octet_string
from .keys import check_customer_key

_MAX_SERIAL_BITS = 159  # RFC 5280 4.1.2.2: a positive integer of at most 20 octets


def _name(common_name: str, organization: str | None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "KR")]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _organization(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(values[0].value) if values else None


def _authority_key_identifier(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())  # type: ignore[arg-type]
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _check_issuer_covers(issuer: x509.Certificate, not_before: dt.datetime, not_after: dt.datetime) -> None:
    # A certificate must not outlive the CA that vouches for it: refuse rather than silently shorten the
    # validity the customer paid for (time to roll the issuing CA over).
    if not issuer.not_valid_before_utc <= not_before or issuer.not_valid_after_utc < not_after:
        raise CaError("the issuing CA is not valid for the whole validity period")


def new_root_ca(*, common_name: str, organization: str, now: dt.datetime, years: int = 20) -> CaMaterial:
    """A self-signed root CA with a new RSA-3072 key: CA:true pathlen 1, keyCertSign + cRLSign."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=CA_KEY_BITS)
    name = _name(common_name, organization)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(utc(now))
        .not_valid_after(utc(expiry_for(now, years=years)))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CaMaterial(certificate=cert, private_key=key)


def new_issuing_ca(
    *, root: CaMaterial, common_name: str, organization: str, urls: PkiUrls, now: dt.datetime, years: int = 10
) -> CaMaterial:
    """An issuing CA with a new RSA-3072 key, signed by ``root``: CA:true pathlen 0, keyCertSign + cRLSign.

    ``urls`` is accepted for the contract but deliberately not embedded: the project's CRL and OCSP responder
    are the issuing CA's own (they cover customer certificates), and a CRL DP or OCSP URL in the issuing CA's
    certificate would send relying parties to answers signed by the wrong CA. Its validity is cut to the
    root's. Raises ``CaError`` if the root is not valid at ``now``."""
    del urls
    not_before = utc(now)
    not_after = min(utc(expiry_for(now, years=years)), root.certificate.not_valid_after_utc)
    _check_issuer_covers(root.certificate, not_before, not_after)
    key = rsa.generate_private_key(public_exponent=65537, key_size=CA_KEY_BITS)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_identifier(root.certificate), critical=False)
        .sign(root.private_key, hashes.SHA256())
    )
    return CaMaterial(certificate=cert, private_key=key)


def issue_customer_certificate(
    *,
    issuer: CaMaterial,
    public_key: object,
    subject_common_name: str,
    serial: int,
    kind: CertificateKind,
    identity: bytes | None,
    urls: PkiUrls,
    now: dt.datetime,
    years: int = 1,
) -> x509.Certificate:
    """A customer's joint certificate for an RSA-2048 ``public_key``, valid from ``now`` to the expiry day
    23:59:59 KST, signed by ``issuer`` with SHA-256.

    Raises ``InvalidCsr`` (key_type, key_size) for another key, ``ValueError`` for a serial that is not a
    positive integer of at most 20 octets, ``CaError`` if the issuing CA does not cover the validity period."""
    key = check_customer_key(public_key)
    if serial <= 0 or serial.bit_length() > _MAX_SERIAL_BITS:
        raise ValueError("the serial must be a positive integer of at most 20 octets")
    not_before = utc(now)
    not_after = utc(expiry_for(now, years=years))
    _check_issuer_covers(issuer.certificate, not_before, not_after)
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            _name(subject_common_name, _organization(issuer.certificate.subject)),
        )
        .issuer_name(issuer.certificate.subject)
        .public_key(key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # nonRepudiation: customers' e-signatures on transfers
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
        .add_extension(_authority_key_identifier(issuer.certificate), critical=False)
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(POLICY_OIDS[kind], None)]),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(urls.crl)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(urls.ocsp)
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(urls.ca_issuer)
                    ),
                ]
            ),
            critical=False,
        )
    )
    if identity is not None:
        if not identity:
            raise ValueError("an empty identity hash")
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.OtherName(IDENTITY_OID, der_octet_string(identity))]),
            critical=False,
        )
    return builder.sign(issuer.private_key, hashes.SHA256())
