"""The CA module: the certificate profile, the chain check, keys at rest, requests and the identity hash.

Plain functions, no database. The CA keys (RSA-3072) are made once per module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from certcenter import ca

ISSUED_AT = dt.datetime(2026, 11, 24, 1, 0, tzinfo=ca.KST)
EXPIRY = dt.datetime(2027, 11, 24, 23, 59, 59, tzinfo=ca.KST)
CA_CREATED = dt.datetime(2026, 1, 2, 9, 0, tzinfo=ca.KST)
URLS = ca.PkiUrls(
    crl="https://bank.example/pki/crl/",
    ocsp="https://bank.example/pki/ocsp",
    ca_issuer="https://bank.example/pki/ca/issuing.der",
)
RRN = "900101-1234567"
OTHER_RRN = "900101-1234568"


def _ca_pair(organization: str = "Haneul Demo Bank") -> tuple[ca.CaMaterial, ca.CaMaterial]:
    root = ca.new_root_ca(common_name="Haneul Root CA", organization=organization, now=CA_CREATED)
    issuing = ca.new_issuing_ca(
        root=root, common_name="Haneul Issuing CA", organization=organization, urls=URLS, now=CA_CREATED
    )
    return root, issuing


@pytest.fixture(scope="module")
def chain() -> tuple[ca.CaMaterial, ca.CaMaterial]:
    return _ca_pair()


@pytest.fixture(scope="module")
def root(chain: tuple[ca.CaMaterial, ca.CaMaterial]) -> ca.CaMaterial:
    return chain[0]


@pytest.fixture(scope="module")
def issuing(chain: tuple[ca.CaMaterial, ca.CaMaterial]) -> ca.CaMaterial:
    return chain[1]


@pytest.fixture(scope="module")
def impostor() -> tuple[ca.CaMaterial, ca.CaMaterial]:
    """Another root and issuing CA that copy our names exactly, with their own keys."""
    return _ca_pair()


@pytest.fixture(scope="module")
def customer_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def identity_r() -> bytes:
    return ca.new_identity_random()


def _issue(issuer: ca.CaMaterial, key: rsa.RSAPrivateKey, **overrides: object) -> x509.Certificate:
    arguments: dict[str, object] = {
        "issuer": issuer,
        "public_key": key.public_key(),
        "subject_common_name": "홍길동()0012345",
        "serial": 0x1F2E3D4C5B6A79880102,
        "kind": ca.CertificateKind.GENERAL,
        "identity": None,
        "urls": URLS,
        "now": ISSUED_AT,
    }
    arguments.update(overrides)
    return ca.issue_customer_certificate(**arguments)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def leaf(issuing: ca.CaMaterial, customer_key: rsa.RSAPrivateKey, identity_r: bytes) -> x509.Certificate:
    return _issue(issuing, customer_key, identity=ca.identity_hash(RRN, identity_r))


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension[x509.ExtensionType]:
    return cert.extensions.get_extension_for_class(kind)


def _verify(cert: x509.Certificate, root: ca.CaMaterial, issuing: ca.CaMaterial, now: dt.datetime) -> None:
    ca.verify_chain(cert, issuing=issuing.certificate, root=root.certificate, now=now)


def _refusal(cert: x509.Certificate, root: ca.CaMaterial, issuing: ca.CaMaterial, now: dt.datetime) -> str:
    with pytest.raises(ca.CertificateInvalid) as caught:
        _verify(cert, root, issuing, now)
    return caught.value.code


# --- the profile ------------------------------------------------------------------------------------------


def test_the_oid_arc_is_our_own_uuid_arc():
    arc = ca.ARC.split(".")
    assert arc[:2] == ["2", "25"] and len(arc) == 3
    assert int(arc[2]) == uuid.UUID("216f9187-9122-4bc9-b91d-7e3ad4a9d3d5").int
    assert {oid.dotted_string for oid in ca.POLICY_OIDS.values()} == {f"{ca.ARC}.1.{n}" for n in (1, 2, 3, 4, 5)}
    assert set(ca.POLICY_OIDS) == set(ca.CertificateKind)
    assert ca.IDENTITY_OID.dotted_string == f"{ca.ARC}.2.1"


def test_root_ca_is_self_signed_rsa3072_with_pathlen_1(root: ca.CaMaterial):
    cert = root.certificate
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)
    assert root.private_key.key_size == 3072
    basic = _ext(cert, x509.BasicConstraints)
    assert basic.critical and basic.value == x509.BasicConstraints(ca=True, path_length=1)
    usage = _ext(cert, x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    ski = _ext(cert, x509.SubjectKeyIdentifier)
    assert not ski.critical and ski.value == x509.SubjectKeyIdentifier.from_public_key(root.private_key.public_key())
    assert cert.not_valid_before_utc == CA_CREATED.astimezone(dt.UTC)
    assert cert.not_valid_after_utc == dt.datetime(2046, 1, 2, 23, 59, 59, tzinfo=ca.KST)


def test_issuing_ca_is_signed_by_the_root_with_pathlen_0(root: ca.CaMaterial, issuing: ca.CaMaterial):
    cert = issuing.certificate
    cert.verify_directly_issued_by(root.certificate)
    assert issuing.private_key.key_size == 3072
    basic = _ext(cert, x509.BasicConstraints)
    assert basic.critical and basic.value == x509.BasicConstraints(ca=True, path_length=0)
    usage = _ext(cert, x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not _ext(cert, x509.SubjectKeyIdentifier).critical
    aki = _ext(cert, x509.AuthorityKeyIdentifier)
    assert not aki.critical
    assert aki.value.key_identifier == _ext(root.certificate, x509.SubjectKeyIdentifier).value.digest
    assert cert.not_valid_after_utc == dt.datetime(2036, 1, 2, 23, 59, 59, tzinfo=ca.KST)


def test_issuing_ca_never_outlives_its_root(root: ca.CaMaterial):
    late = dt.datetime(2040, 5, 1, tzinfo=ca.KST)
    issuing = ca.new_issuing_ca(root=root, common_name="Late", organization="Haneul Demo Bank", urls=URLS, now=late)
    assert issuing.certificate.not_valid_after_utc == root.certificate.not_valid_after_utc


def test_customer_certificate_has_the_joint_certificate_profile(
    issuing: ca.CaMaterial, customer_key: rsa.RSAPrivateKey, leaf: x509.Certificate
):
    assert leaf.serial_number == 0x1F2E3D4C5B6A79880102
    assert leaf.signature_hash_algorithm is not None and leaf.signature_hash_algorithm.name == "sha256"
    assert leaf.public_key() == customer_key.public_key()
    assert leaf.subject.rfc4514_string() == "CN=홍길동()0012345,O=Haneul Demo Bank,C=KR"
    assert leaf.issuer == issuing.certificate.subject
    assert leaf.not_valid_before_utc == ISSUED_AT.astimezone(dt.UTC)
    assert leaf.not_valid_after_utc == EXPIRY

    basic = _ext(leaf, x509.BasicConstraints)
    assert basic.critical and basic.value == x509.BasicConstraints(ca=False, path_length=None)
    usage = _ext(leaf, x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature and usage.value.content_commitment
    assert not (usage.value.key_encipherment or usage.value.key_cert_sign or usage.value.crl_sign)
    ski = _ext(leaf, x509.SubjectKeyIdentifier)
    assert not ski.critical and ski.value == x509.SubjectKeyIdentifier.from_public_key(customer_key.public_key())
    aki = _ext(leaf, x509.AuthorityKeyIdentifier)
    assert not aki.critical
    assert aki.value.key_identifier == _ext(issuing.certificate, x509.SubjectKeyIdentifier).value.digest
    policies = _ext(leaf, x509.CertificatePolicies)
    assert not policies.critical
    assert [p.policy_identifier for p in policies.value] == [ca.POLICY_OIDS[ca.CertificateKind.GENERAL]]
    crl_dp = _ext(leaf, x509.CRLDistributionPoints)
    assert not crl_dp.critical
    assert [dp.full_name for dp in crl_dp.value] == [[x509.UniformResourceIdentifier(URLS.crl)]]
    aia = _ext(leaf, x509.AuthorityInformationAccess)
    assert not aia.critical
    assert [(d.access_method, d.access_location.value) for d in aia.value] == [
        (AuthorityInformationAccessOID.OCSP, URLS.ocsp),
        (AuthorityInformationAccessOID.CA_ISSUERS, URLS.ca_issuer),
    ]
    san = _ext(leaf, x509.SubjectAlternativeName)
    assert not san.critical
    (other_name,) = san.value
    assert isinstance(other_name, x509.OtherName) and other_name.type_id == ca.IDENTITY_OID
    assert other_name.value[:2] == b"\x04\x20"  # a DER OCTET STRING of 32 bytes
    assert {ext.oid for ext in leaf.extensions if ext.critical} == {
        x509.BasicConstraints.oid,
        x509.KeyUsage.oid,
    }


def test_customer_certificate_without_identity_has_no_subject_alt_name(
    issuing: ca.CaMaterial, customer_key: rsa.RSAPrivateKey
):
    cert = _issue(issuing, customer_key, identity=None)
    with pytest.raises(x509.ExtensionNotFound):
        _ext(cert, x509.SubjectAlternativeName)
    assert ca.certificate_identity(cert) is None
    assert not ca.identity_matches(cert, RRN, b"\x00" * 20)


@pytest.mark.parametrize("kind", list(ca.CertificateKind))
def test_each_kind_carries_its_policy_oid(issuing: ca.CaMaterial, customer_key: rsa.RSAPrivateKey, kind):
    cert = _issue(issuing, customer_key, kind=kind)
    assert ca.certificate_kind(cert) is kind


def test_a_certificate_under_no_policy_of_ours_has_no_kind(root: ca.CaMaterial):
    assert ca.certificate_kind(root.certificate) is None


@pytest.mark.parametrize("bits", [1024, 3072])
def test_only_rsa_2048_keys_are_certified(issuing: ca.CaMaterial, bits: int):
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)  # noqa: S505 (1024 must be refused)
    with pytest.raises(ca.InvalidCsr) as caught:
        _issue(issuing, key)
    assert caught.value.code == "key_size"


def test_an_ec_key_is_not_certified(issuing: ca.CaMaterial):
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ca.InvalidCsr) as caught:
        ca.issue_customer_certificate(
            issuer=issuing,
            public_key=key.public_key(),
            subject_common_name="x",
            serial=1,
            kind=ca.CertificateKind.RESTRICTED,
            identity=None,
            urls=URLS,
            now=ISSUED_AT,
        )
    assert caught.value.code == "key_type"


@pytest.mark.parametrize("serial", [0, -5, 2**159])
def test_serials_must_be_positive_and_at_most_20_octets(
    issuing: ca.CaMaterial, customer_key: rsa.RSAPrivateKey, serial: int
):
    with pytest.raises(ValueError):
        _issue(issuing, customer_key, serial=serial)


def test_largest_serial_is_accepted(issuing: ca.CaMaterial, customer_key: rsa.RSAPrivateKey):
    assert _issue(issuing, customer_key, serial=2**159 - 1).serial_number == 2**159 - 1


def test_no_certificate_outlives_the_issuing_ca(issuing: ca.CaMaterial, customer_key: rsa.RSAPrivateKey):
    ca_end = issuing.certificate.not_valid_after_utc  # 2036-01-02 23:59:59 KST
    last_day = dt.datetime(2035, 1, 2, 23, 0, tzinfo=ca.KST)
    assert _issue(issuing, customer_key, now=last_day).not_valid_after_utc == ca_end
    with pytest.raises(ca.CaError):
        _issue(issuing, customer_key, now=last_day + dt.timedelta(hours=1))


def test_naive_times_are_refused(issuing: ca.CaMaterial, customer_key: rsa.RSAPrivateKey):
    with pytest.raises(ValueError):
        _issue(issuing, customer_key, now=dt.datetime(2026, 11, 24, 1, 0))  # noqa: DTZ001


# --- validity period --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("issued_at", "expiry"),
    [
        (dt.datetime(2026, 11, 24, 1, 0, tzinfo=ca.KST), dt.datetime(2027, 11, 24, 23, 59, 59, tzinfo=ca.KST)),
        (dt.datetime(2028, 2, 29, 12, 0, tzinfo=ca.KST), dt.datetime(2029, 2, 28, 23, 59, 59, tzinfo=ca.KST)),
        # 00:30 KST is still the previous day in UTC: the KST date counts.
        (dt.datetime(2026, 11, 23, 15, 30, tzinfo=dt.UTC), dt.datetime(2027, 11, 24, 23, 59, 59, tzinfo=ca.KST)),
        (dt.datetime(2026, 11, 24, 23, 59, 59, tzinfo=ca.KST), dt.datetime(2027, 11, 24, 23, 59, 59, tzinfo=ca.KST)),
        (dt.datetime(2026, 11, 25, 0, 0, tzinfo=ca.KST), dt.datetime(2027, 11, 25, 23, 59, 59, tzinfo=ca.KST)),
        (dt.datetime(2027, 2, 28, 9, 0, tzinfo=ca.KST), dt.datetime(2028, 2, 28, 23, 59, 59, tzinfo=ca.KST)),
    ],
)
def test_expiry_is_the_same_kst_date_a_year_later_at_23_59_59(issued_at: dt.datetime, expiry: dt.datetime):
    result = ca.expiry_for(issued_at)
    assert result == expiry
    assert result.utcoffset() == dt.timedelta(hours=9)


def test_expiry_for_several_years_and_29_february():
    assert ca.expiry_for(dt.datetime(2028, 2, 29, tzinfo=ca.KST), years=4) == dt.datetime(
        2032, 2, 29, 23, 59, 59, tzinfo=ca.KST
    )
    with pytest.raises(ValueError):
        ca.expiry_for(dt.datetime(2026, 1, 1, tzinfo=ca.KST), years=0)


def test_leaf_issued_on_29_february_ends_on_28_february(issuing: ca.CaMaterial, customer_key: rsa.RSAPrivateKey):
    cert = _issue(issuing, customer_key, now=dt.datetime(2028, 2, 29, 1, 0, tzinfo=ca.KST))
    assert cert.not_valid_after_utc == dt.datetime(2029, 2, 28, 23, 59, 59, tzinfo=ca.KST)


# --- the chain ----------------------------------------------------------------------------------------------


def test_chain_verifies_on_issue(root: ca.CaMaterial, issuing: ca.CaMaterial, leaf: x509.Certificate):
    _verify(leaf, root, issuing, ISSUED_AT)


def test_expiry_day_23_59_59_is_valid_and_next_midnight_is_expired(
    root: ca.CaMaterial, issuing: ca.CaMaterial, leaf: x509.Certificate
):
    _verify(leaf, root, issuing, EXPIRY)
    _verify(leaf, root, issuing, EXPIRY + dt.timedelta(microseconds=999_999))
    assert _refusal(leaf, root, issuing, EXPIRY + dt.timedelta(seconds=1)) == "expired"
    assert EXPIRY + dt.timedelta(seconds=1) == dt.datetime(2027, 11, 25, 0, 0, 0, tzinfo=ca.KST)


def test_not_valid_before_issue(root: ca.CaMaterial, issuing: ca.CaMaterial, leaf: x509.Certificate):
    assert _refusal(leaf, root, issuing, ISSUED_AT - dt.timedelta(seconds=1)) == "not_yet_valid"


def test_a_ca_certificate_is_not_a_customer_certificate(root: ca.CaMaterial, issuing: ca.CaMaterial):
    assert _refusal(issuing.certificate, root, issuing, ISSUED_AT) == "not_end_entity"
    assert _refusal(root.certificate, root, issuing, ISSUED_AT) == "not_end_entity"


def test_certificate_from_another_root_with_our_names_is_untrusted(
    root: ca.CaMaterial,
    issuing: ca.CaMaterial,
    impostor: tuple[ca.CaMaterial, ca.CaMaterial],
    customer_key: rsa.RSAPrivateKey,
):
    other_root, other_issuing = impostor
    forged = _issue(other_issuing, customer_key)
    assert forged.issuer == issuing.certificate.subject
    assert _refusal(forged, root, issuing, ISSUED_AT) == "untrusted"
    # ... and their issuing CA does not chain to our root either.
    assert _refusal(forged, root, other_issuing, ISSUED_AT) == "untrusted"
    _verify(forged, other_root, other_issuing, ISSUED_AT)  # it is only our trust that is missing


def test_certificate_from_a_differently_named_ca_is_untrusted(
    root: ca.CaMaterial, issuing: ca.CaMaterial, customer_key: rsa.RSAPrivateKey
):
    _, foreign_issuing = _ca_pair(organization="Some Other Bank")
    assert _refusal(_issue(foreign_issuing, customer_key), root, issuing, ISSUED_AT) == "untrusted"


def test_certificate_under_a_non_ca_intermediate_is_untrusted(root: ca.CaMaterial, customer_key: rsa.RSAPrivateKey):
    """Signatures and names all line up, but the root signed the intermediate as an end entity (CA:false)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Not A CA")])
    not_a_ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(CA_CREATED)
        .not_valid_after(CA_CREATED + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root.private_key.public_key()), critical=False
        )
        .sign(root.private_key, hashes.SHA256())
    )
    fake_issuing = ca.CaMaterial(certificate=not_a_ca, private_key=key)
    cert = _issue(fake_issuing, customer_key)
    cert.verify_directly_issued_by(not_a_ca)
    assert _refusal(cert, root, fake_issuing, ISSUED_AT) == "untrusted"


def _tampered(cert: x509.Certificate, old: bytes, new: bytes) -> x509.Certificate:
    der = ca.certificate_der(cert)
    assert der.count(old) == 1 and len(old) == len(new)
    return x509.load_der_x509_certificate(der.replace(old, new))


def test_tampered_certificate_is_refused(root: ca.CaMaterial, issuing: ca.CaMaterial, leaf: x509.Certificate):
    tampered = _tampered(leaf, b"0012345", b"0012346")
    assert tampered.subject != leaf.subject
    assert _refusal(tampered, root, issuing, ISSUED_AT) == "bad_signature"


def test_tampered_signature_is_refused(root: ca.CaMaterial, issuing: ca.CaMaterial, leaf: x509.Certificate):
    der = bytearray(ca.certificate_der(leaf))
    der[-1] ^= 0x01
    tampered = x509.load_der_x509_certificate(bytes(der))
    assert _refusal(tampered, root, issuing, ISSUED_AT) == "bad_signature"


def test_verify_chain_refuses_naive_time(root: ca.CaMaterial, issuing: ca.CaMaterial, leaf: x509.Certificate):
    with pytest.raises(ValueError):
        _verify(leaf, root, issuing, dt.datetime(2027, 1, 1))  # noqa: DTZ001


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not on PATH")
def test_openssl_verifies_the_chain(tmp_path, root: ca.CaMaterial, issuing: ca.CaMaterial, leaf: x509.Certificate):
    for name, cert in (("root", root.certificate), ("issuing", issuing.certificate), ("leaf", leaf)):
        (tmp_path / f"{name}.pem").write_bytes(ca.certificate_pem(cert))
    attime = str(int(ISSUED_AT.timestamp()) + 60)
    result = subprocess.run(  # noqa: S603
        ["openssl", "verify", "-attime", attime, "-CAfile", "root.pem", "-untrusted", "issuing.pem", "leaf.pem"],  # noqa: S607
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "leaf.pem: OK"


# --- signatures made with the customer's key ---------------------------------------------------------------


def test_verify_signature_accepts_pkcs1v15_sha256_only(leaf: x509.Certificate, customer_key: rsa.RSAPrivateKey):
    data = b"transfer 50,000 KRW to 123456789012"
    signature = customer_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    assert ca.verify_signature(leaf, data, signature)
    assert not ca.verify_signature(leaf, data + b"0", signature)
    assert not ca.verify_signature(leaf, data, signature[:-1] + bytes([signature[-1] ^ 1]))
    assert not ca.verify_signature(leaf, data, b"")
    pss = customer_key.sign(
        data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH), hashes.SHA256()
    )
    assert not ca.verify_signature(leaf, data, pss)
    sha1 = customer_key.sign(data, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    assert not ca.verify_signature(leaf, data, sha1)


# --- the identity hash -------------------------------------------------------------------------------------


def test_identity_hash_is_double_sha256_of_the_digits_and_r(identity_r: bytes):
    inner = hashlib.sha256(b"9001011234567" + identity_r).digest()
    assert ca.identity_hash(RRN, identity_r) == hashlib.sha256(inner).digest()
    assert ca.identity_hash("9001011234567", identity_r) == ca.identity_hash(RRN, identity_r)
    assert len(ca.new_identity_random()) == 20
    assert ca.new_identity_random() != ca.new_identity_random()


@pytest.mark.parametrize(("id_number", "r"), [("", b"r" * 20), ("---", b"r" * 20), (RRN, b"r" * 15)])
def test_identity_hash_refuses_empty_numbers_and_short_r(id_number: str, r: bytes):
    with pytest.raises(ValueError):
        ca.identity_hash(id_number, r)


def test_identity_matches_the_right_rrn_only(leaf: x509.Certificate, identity_r: bytes):
    assert ca.certificate_identity(leaf) == ca.identity_hash(RRN, identity_r)
    assert ca.identity_matches(leaf, RRN, identity_r)
    assert ca.identity_matches(leaf, "9001011234567", identity_r)
    assert not ca.identity_matches(leaf, OTHER_RRN, identity_r)
    assert not ca.identity_matches(leaf, RRN, ca.new_identity_random())
    assert not ca.identity_matches(leaf, RRN, b"short")


def test_identity_survives_der_roundtrip(leaf: x509.Certificate, identity_r: bytes):
    again = ca.load_certificate(ca.certificate_der(leaf))
    assert ca.identity_matches(again, RRN, identity_r)


# --- serialisation and keys at rest --------------------------------------------------------------------------


def test_certificates_load_from_pem_and_der(leaf: x509.Certificate):
    assert ca.load_certificate(ca.certificate_pem(leaf)) == leaf
    assert ca.load_certificate(ca.certificate_der(leaf)) == leaf
    assert ca.certificate_pem(leaf).startswith(b"-----BEGIN CERTIFICATE-----")
    with pytest.raises(ValueError):
        ca.load_certificate(b"not a certificate")


def test_private_key_roundtrip_and_wrong_passphrase(issuing: ca.CaMaterial):
    pem = ca.encrypt_private_key(issuing.private_key, b"correct horse battery staple")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    loaded = ca.load_private_key(pem, b"correct horse battery staple")
    assert loaded.private_numbers() == issuing.private_key.private_numbers()
    with pytest.raises(ca.InvalidKeyPassphrase):
        ca.load_private_key(pem, b"correct horse battery stapl")
    with pytest.raises(ca.InvalidKeyPassphrase):
        ca.load_private_key(b"garbage", b"correct horse battery staple")


def test_an_empty_passphrase_and_an_unencrypted_key_are_refused(issuing: ca.CaMaterial):
    with pytest.raises(ValueError):
        ca.encrypt_private_key(issuing.private_key, b"")
    plain = issuing.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ca.CaError) as caught:
        ca.load_private_key(plain, b"anything")
    assert not isinstance(caught.value, ca.InvalidKeyPassphrase)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not on PATH")
def test_openssl_opens_the_encrypted_key_with_the_passphrase(tmp_path, issuing: ca.CaMaterial):
    (tmp_path / "ca.key").write_bytes(ca.encrypt_private_key(issuing.private_key, b"s3cret-Pass"))
    opened = subprocess.run(  # noqa: S603
        ["openssl", "pkey", "-in", "ca.key", "-passin", "pass:s3cret-Pass", "-pubout"],  # noqa: S607
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert opened.returncode == 0, opened.stderr
    assert serialization.load_pem_public_key(opened.stdout) == issuing.private_key.public_key()
    refused = subprocess.run(  # noqa: S603
        ["openssl", "pkey", "-in", "ca.key", "-passin", "pass:wrong", "-pubout"],  # noqa: S607
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert refused.returncode != 0


# --- requests from the browser -------------------------------------------------------------------------------


def _csr(key, algorithm: hashes.HashAlgorithm | None = None) -> x509.CertificateSigningRequest:
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "browser")]))
        .sign(key, algorithm or hashes.SHA256())
    )


def _csr_code(data: bytes) -> str:
    with pytest.raises(ca.InvalidCsr) as caught:
        ca.load_csr(data)
    return caught.value.code


def test_csr_in_pem_or_der_is_accepted(customer_key: rsa.RSAPrivateKey):
    csr = _csr(customer_key)
    for data in (csr.public_bytes(serialization.Encoding.PEM), csr.public_bytes(serialization.Encoding.DER)):
        assert ca.load_csr(data).public_key() == customer_key.public_key()


def test_csr_with_a_bad_signature_is_refused(customer_key: rsa.RSAPrivateKey):
    der = bytearray(_csr(customer_key).public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01
    assert _csr_code(bytes(der)) == "bad_signature"


def test_csr_for_a_key_the_signer_does_not_hold_is_refused(customer_key: rsa.RSAPrivateKey):
    # Someone else's public key put into a request signed with ours: no proof of possession.
    victim = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    mine = _csr(customer_key).public_bytes(serialization.Encoding.DER)
    theirs = _csr(victim).public_bytes(serialization.Encoding.DER)
    mine_spki = customer_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    their_spki = victim.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert mine.count(mine_spki) == 1 and theirs.count(their_spki) == 1
    assert _csr_code(mine.replace(mine_spki, their_spki)) == "bad_signature"


def test_csr_for_rsa_1024_is_refused():
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (the point of the test)
    assert _csr_code(_csr(weak).public_bytes(serialization.Encoding.PEM)) == "key_size"


def test_csr_for_an_ec_key_is_refused():
    csr = _csr(ec.generate_private_key(ec.SECP256R1()))
    assert _csr_code(csr.public_bytes(serialization.Encoding.PEM)) == "key_type"


def test_csr_signed_with_another_hash_is_refused(customer_key: rsa.RSAPrivateKey):
    csr = _csr(customer_key, hashes.SHA512())
    assert _csr_code(csr.public_bytes(serialization.Encoding.DER)) == "hash"


@pytest.mark.parametrize("data", [b"", b"garbage", b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END"])
def test_malformed_csr_is_refused(data: bytes):
    assert _csr_code(data) == "malformed"


def test_public_key_from_webcrypto_spki(customer_key: rsa.RSAPrivateKey):
    spki = customer_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert ca.load_public_key(spki) == customer_key.public_key()
    ec_spki = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ca.InvalidCsr) as caught:
        ca.load_public_key(ec_spki)
    assert caught.value.code == "key_type"
    with pytest.raises(ca.InvalidCsr) as caught:
        ca.load_public_key(b"\x30\x00")
    assert caught.value.code == "malformed"
