"""The cloud's tests: a root and issuing CA made in memory (no database), and helpers that enrol a holder
and attach the certificate that CA issues for the cloud's public key (3 years, to 23:59:59 KST)."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization

from certcenter import ca
from certcenter.cloud.api import CloudCertificate, Enrollment
from certcenter.cloud.local import LocalCloud

KST = ca.KST
CA_CREATED = dt.datetime(2026, 1, 2, 9, 0, tzinfo=KST)
ENROLLED_AT = dt.datetime(2026, 3, 2, 10, 0, tzinfo=KST)
EXPIRY = dt.datetime(2029, 3, 2, 23, 59, 59, tzinfo=KST)
URLS = ca.PkiUrls(
    crl="https://bank.example/pki/crl/",
    ocsp="https://bank.example/pki/ocsp",
    ca_issuer="https://bank.example/pki/ca/issuing.der",
)
BANK = "997"
OTHER_BANK = "004"

NAME = "김민수"
PHONE = "010-4821-7395"
BIRTH = dt.date(1990, 1, 1)
PIN = "482915"
WRONG_PIN = "482916"

_serials = itertools.count(0x1F2E3D4C5B6A7988)


@dataclass(frozen=True)
class Chain:
    root: ca.CaMaterial
    issuing: ca.CaMaterial


@pytest.fixture(scope="session")
def chain() -> Chain:
    root = ca.new_root_ca(common_name="Dasom Test Root CA", organization="Dasom Test", now=CA_CREATED)
    issuing = ca.new_issuing_ca(
        root=root, common_name="Dasom Test Issuing CA", organization="Dasom Test", urls=URLS, now=CA_CREATED
    )
    return Chain(root=root, issuing=issuing)


@pytest.fixture
def cloud() -> LocalCloud:
    return LocalCloud()


def certificate_for(chain: Chain, enrollment: Enrollment, *, now: dt.datetime = ENROLLED_AT) -> bytes:
    """What the institution's CA issues for the cloud's public key: valid 3 years, to 23:59:59 KST."""
    public_key = serialization.load_der_public_key(enrollment.public_key_der)
    certificate = ca.issue_customer_certificate(
        issuer=chain.issuing,
        public_key=public_key,
        subject_common_name="김민수()0012345",
        serial=next(_serials),
        kind=ca.CertificateKind.GENERAL,
        identity=None,
        urls=URLS,
        now=now,
        years=3,
    )
    return ca.certificate_der(certificate)


def enroll(cloud: LocalCloud, **overrides: object) -> Enrollment:
    arguments: dict[str, object] = {
        "institution": BANK,
        "holder_name": NAME,
        "phone": PHONE,
        "birth_date": BIRTH,
        "pin": PIN,
        "now": ENROLLED_AT,
    }
    arguments.update(overrides)
    return cloud.enroll(**arguments)  # type: ignore[arg-type]


def issue(cloud: LocalCloud, chain: Chain, **overrides: object) -> CloudCertificate:
    """Enrol and attach: an active financial certificate."""
    enrollment = enroll(cloud, **overrides)
    now = overrides.get("now", ENROLLED_AT)
    assert isinstance(now, dt.datetime)
    return cloud.attach_certificate(
        cloud_id=enrollment.cloud_id, certificate_der=certificate_for(chain, enrollment, now=now), now=now
    )
