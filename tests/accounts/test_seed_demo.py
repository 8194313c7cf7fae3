"""seed_demo: the personas a newcomer logs in with, loaded idempotently and only in development."""

import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.identity import customer_rrn
from accounts.management.commands.seed_demo import DEMO_CERTIFICATE_PASSWORD
from accounts.models import Account, Agreement, Customer, User
from accounts.selectors import ledger_problems
from accounts.services import agreement_online as online
from bankportal.audit.models import AuditEvent
from bankportal.audit.verification import audit_verify
from bankportal.content.models import FaqEntry, Notice
from bankportal.timeutil import kst_today
from certcenter import ca
from certcenter import services as certcenter_services
from certcenter.ca.keyfile import read_key_file
from certcenter.models import Certificate
from otp.models import SecurityCard

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _demo_files_in_tmp(settings, tmp_path):  # type: ignore[no-untyped-def]
    """The demo certificate's files go under VAR_DIR: never the developer's own var/ in a test."""
    settings.VAR_DIR = tmp_path


def _counts() -> tuple[int, ...]:
    return (
        User.objects.count(),
        Customer.objects.count(),
        Account.objects.count(),
        AuditEvent.objects.count(),
        Notice.objects.count(),
        FaqEntry.objects.count(),
    )


def test_seed_demo_creates_the_personas_and_prints_their_logins(settings):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    printed = out.getvalue()
    for username in ("hong01", "minji01", "acme01", "teller01", "manager01"):
        assert username in printed
        assert User.objects.filter(username=username).exists()
    minor = User.objects.get(username="minji01").customer
    assert minor.is_minor(kst_today()) and minor.solo_minor_cap
    assert User.objects.get(username="acme01").customer.kind == Customer.Kind.CORPORATION
    assert User.objects.get(username="teller01").groups.filter(name="Teller").exists()
    assert User.objects.get(username="manager01").groups.filter(name="Branch manager").exists()
    assert sorted(Account.objects.filter(holder__users__username="hong01").values_list("balance", flat=True)) == [
        300_000,
        5_000_000,
    ]
    assert ledger_problems() == [] and audit_verify().ok


def test_seed_demo_gives_each_persona_an_agreement_in_the_state_its_page_needs(settings):
    """Registered personas log in; 김하나 can register online today; 최휴면 was suspended by the dormancy job."""
    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    for username in ("hong01", "minji01", "acme01"):
        agreement = Agreement.objects.get(user__username=username)
        assert agreement.state == Agreement.State.ACTIVE
        assert SecurityCard.objects.filter(customer=agreement.customer, status=SecurityCard.Status.ACTIVE).exists()
    assert Agreement.objects.get(user__username="minji01").minor_signed_up_alone
    newcomer = Agreement.objects.get(customer__name="김하나")
    assert newcomer.state == Agreement.State.APPLIED and newcomer.user is None
    assert newcomer.registration_deadline > timezone.now()
    dormant = Agreement.objects.get(user__username="rest01")
    assert (dormant.state, dormant.suspension_reason) == (Agreement.State.SUSPENDED, "dormant")
    assert AuditEvent.objects.filter(action__startswith="agreement.", object_id=str(dormant.pk)).exists()
    printed = out.getvalue()
    assert "/ebanking/register/" in printed and "/security/release/" in printed
    assert printed.count("01:") >= 3  # the demo security cards' first codes


def test_seed_demo_is_idempotent(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    first = _counts()
    call_command("seed_demo", stdout=io.StringIO())
    assert _counts() == first


def test_seed_demo_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="refusing with DEBUG off"):
        call_command("seed_demo", stdout=io.StringIO())
    assert User.objects.count() == 0


def test_seed_demo_gives_the_dormant_persona_a_certificate_to_sign_the_release(settings, tmp_path):
    """최휴면's certificate is a real row issued before the dormancy; its two files are written under
    VAR_DIR/demo-certificates/rest01/ and the key opens with the printed password and signs the release."""
    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    folder = tmp_path / "demo-certificates" / "rest01"
    printed = out.getvalue()
    assert str(folder / "signCert.der") in printed and str(folder / "signPri.key") in printed
    assert f"Certificate password: {DEMO_CERTIFICATE_PASSWORD}" in printed

    agreement = Agreement.objects.get(user__username="rest01")
    assert agreement.state == Agreement.State.SUSPENDED
    row = Certificate.objects.get(customer=agreement.customer)
    assert row.status == Certificate.Status.VALID and row.storage == Certificate.Storage.FILE
    assert row.created_at < agreement.suspended_at
    der = (folder / "signCert.der").read_bytes()
    assert bytes(row.certificate_der) == der
    key_file = (folder / "signPri.key").read_bytes()
    with pytest.raises(TypeError):  # encrypted: does not open without the password
        serialization.load_der_private_key(key_file, password=None)
    key = serialization.load_der_private_key(key_file, password=DEMO_CERTIFICATE_PASSWORD.encode())
    assert isinstance(key, rsa.RSAPrivateKey)

    text = online.release_text(agreement=agreement, nonce=online.release_nonce(), issued_at=agreement.suspended_at)
    signature = key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    evidence = certcenter_services.signature_verify(
        customer=agreement.customer,
        certificate_der=der,
        text=text,
        signature=signature,
        purpose=online.RELEASE_SIGNATURE_PURPOSE,
        actor=online.agreement_release_actor(),
    )
    assert evidence.certificate == row


def test_seed_demo_issues_the_demo_certificate_once(settings, tmp_path):
    """A re-run finds the persona suspended: no second certificate, the files left as they are."""
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    folder = tmp_path / "demo-certificates" / "rest01"
    files = {name: (folder / name).read_bytes() for name in ("signCert.der", "signPri.key")}
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert Certificate.objects.joint().count() == 1
    assert {name: (folder / name).read_bytes() for name in files} == files
    assert DEMO_CERTIFICATE_PASSWORD in out.getvalue()


def test_seed_demo_says_when_there_is_no_demo_certificate(settings, tmp_path):
    """Files gone (or a database seeded before certificates): the command says how to get one."""
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    for path in (tmp_path / "demo-certificates" / "rest01").iterdir():
        path.unlink()
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "No demo certificate files" in out.getvalue()
    assert DEMO_CERTIFICATE_PASSWORD not in out.getvalue()


def test_the_demo_key_file_is_the_browsers_form_with_r_and_100000_iterations(settings, tmp_path):
    """The demo's signPri.key is what pki.js writes: PBES2 with at least 100,000 PBKDF2 iterations, and
    the identity random value R inside, so the certificate's identity hash checks against the RRN."""
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    key_file = (tmp_path / "demo-certificates" / "rest01" / "signPri.key").read_bytes()
    agreement = Agreement.objects.get(user__username="rest01")
    row = Certificate.objects.get(customer=agreement.customer)
    cert = x509.load_der_x509_certificate(bytes(row.certificate_der))

    key, random_value, iterations = read_key_file(key_file, DEMO_CERTIFICATE_PASSWORD)

    assert iterations >= 100_000
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    assert random_value is not None and len(random_value) == 20
    assert ca.identity_matches(cert, customer_rrn(agreement.customer), random_value)
    assert not ca.identity_matches(cert, "9001011234568", random_value)
    with pytest.raises(ValueError):
        read_key_file(key_file, "Not-the-password-1!")


def test_seed_demo_makes_the_financial_certificates_once(settings, tmp_path):
    """홍길동 holds one issued here; 이민지 one issued through another institution, to register here."""
    from certcenter.cloud.api import financial_cloud
    from certcenter.models import TrustedAuthority

    settings.DEBUG = True
    for _run in range(2):
        call_command("seed_demo", stdout=io.StringIO())
    own = Certificate.objects.financial().get()
    assert own.customer.name == "홍길동" and own.status == "valid"
    assert TrustedAuthority.objects.filter(name__contains="Hanul Securities").count() == 1
    elsewhere = financial_cloud().find(holder_name="이민지", phone="010-2345-6789")
    assert [(item.institution, item.status.value) for item in elsewhere] == [("299", "active")]
    assert settings.BANK_CODE not in elsewhere[0].registered
