"""ca_init: creates the root and the issuing CA once, keeps them on every later run, refuses a
wrong passphrase without touching anything; the settings that feed it."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from cryptography import x509
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from certcenter import ca, services
from certcenter.models import CertificateAuthority, CrlState
from certcenter.tasks import crl_regenerate_task
from tests.bankportal.test_settings import PRODUCTION, _load_settings

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
CA_ACTOR = system_actor("test:ca_init", [services.CA_INIT_PERMISSION])
PKI_PRODUCTION = {
    **PRODUCTION,
    "PKI_BASE_URL": "https://bank.example",
    "CA_KEY_PASSPHRASE": "correct horse battery staple",
}


def _snapshot() -> list[tuple[object, ...]]:
    return list(
        CertificateAuthority.objects.order_by("id").values_list(
            "id", "role", "name", "certificate_pem", "key_pem", "serial", "fingerprint_sha256", "is_active"
        )
    )


def _certificate(role: str) -> x509.Certificate:
    return ca.load_certificate(CertificateAuthority.objects.get(role=role).certificate_pem.encode())


# --- the service --------------------------------------------------------------------------------------


def test_ca_init_creates_a_root_and_an_issuing_ca_it_signed(settings):
    result = services.ca_init(actor=CA_ACTOR)

    assert result.created == ("root", "issuing")
    assert CertificateAuthority.objects.filter(is_active=True).count() == 2
    root, issuing = _certificate("root"), _certificate("issuing")
    root.verify_directly_issued_by(root)
    issuing.verify_directly_issued_by(root)
    assert issuing.issuer == root.subject
    assert issuing.not_valid_after_utc <= root.not_valid_after_utc
    for cert in (root, issuing):
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        assert constraints.ca
        assert settings.BANK_CA_NAME in cert.subject.rfc4514_string()
    assert result.root.subject == root.subject.rfc4514_string()
    assert result.issuing.not_after == issuing.not_valid_after_utc


def test_ca_keys_are_stored_encrypted_and_open_only_with_the_passphrase(settings):
    services.ca_init(actor=CA_ACTOR)

    for row in CertificateAuthority.objects.all():
        assert row.key_pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        key = ca.load_private_key(row.key_pem.encode(), settings.CA_KEY_PASSPHRASE.encode())
        assert key.public_key() == ca.load_certificate(row.certificate_pem.encode()).public_key()
        with pytest.raises(ca.InvalidKeyPassphrase):
            ca.load_private_key(row.key_pem.encode(), b"not the passphrase at all")
        assert "PRIVATE KEY" not in repr(row) + str(row)


def test_a_second_run_changes_nothing_and_writes_no_event():
    services.ca_init(actor=CA_ACTOR)
    before, events = _snapshot(), AuditEvent.objects.count()

    result = services.ca_init(actor=CA_ACTOR)

    assert result.created == ()
    assert _snapshot() == before
    assert AuditEvent.objects.count() == events
    assert result.root.fingerprint_sha256 == before[0][6]


def test_creation_is_audited_with_the_actor_and_no_key_material():
    services.ca_init(actor=CA_ACTOR)

    event = AuditEvent.objects.get(action="ca.init")
    assert event.actor_label == "system:test:ca_init"
    assert event.details["created"] == ["root", "issuing"]
    issuing = CertificateAuthority.objects.get(role="issuing")
    assert event.details["issuing"]["fingerprint_sha256"] == services.colon_hex(issuing.fingerprint_sha256)
    assert event.object_id == str(issuing.pk)
    text = str(event.details)
    assert "PRIVATE KEY" not in text
    assert issuing.key_pem.splitlines()[1] not in text


def test_a_wrong_passphrase_is_refused_and_nothing_is_touched(settings):
    services.ca_init(actor=CA_ACTOR)
    before, events = _snapshot(), AuditEvent.objects.count()
    settings.CA_KEY_PASSPHRASE = "a-different-passphrase-entirely"

    with pytest.raises(ValidationError) as refused:
        services.ca_init(actor=CA_ACTOR)

    assert refused.value.code == "wrong_passphrase"
    message = " ".join(refused.value.messages)
    assert "CA_KEY_PASSPHRASE" in message
    assert "PRIVATE KEY" not in message
    assert settings.CA_KEY_PASSPHRASE not in message
    assert _snapshot() == before
    assert AuditEvent.objects.count() == events


def test_a_wrong_passphrase_for_the_issuing_key_alone_is_refused_too(settings):
    """The root opens but the issuing key was (somehow) encrypted with another passphrase."""
    services.ca_init(actor=CA_ACTOR)
    issuing = CertificateAuthority.objects.get(role="issuing")
    key = ca.load_private_key(issuing.key_pem.encode(), settings.CA_KEY_PASSPHRASE.encode())
    issuing.key_pem = ca.encrypt_private_key(key, b"some other passphrase").decode()
    issuing.save()
    before = _snapshot()

    with pytest.raises(ValidationError) as refused, translation.override("en"):
        services.ca_init(actor=CA_ACTOR)

    assert refused.value.code == "wrong_passphrase"
    with translation.override("en"):
        assert "Issuing CA" in " ".join(refused.value.messages)
    assert _snapshot() == before


def test_a_key_that_belongs_to_another_certificate_is_refused(settings):
    services.ca_init(actor=CA_ACTOR)
    root, issuing = (CertificateAuthority.objects.get(role=role) for role in ("root", "issuing"))
    issuing.key_pem = root.key_pem
    issuing.save()

    with pytest.raises(ValidationError) as refused:
        services.ca_init(actor=CA_ACTOR)

    assert refused.value.code == "key_mismatch"


def test_an_issuing_ca_without_a_root_is_refused_not_replaced():
    services.ca_init(actor=CA_ACTOR)
    CertificateAuthority.objects.filter(role="root").update(is_active=False)
    before = _snapshot()

    with pytest.raises(ValidationError) as refused:
        services.ca_init(actor=CA_ACTOR)

    assert refused.value.code == "issuing_without_root"
    assert _snapshot() == before


def test_a_missing_issuing_ca_is_made_under_the_existing_root():
    services.ca_init(actor=CA_ACTOR)
    root_before = CertificateAuthority.objects.get(role="root")
    CertificateAuthority.objects.filter(role="issuing").update(is_active=False)

    result = services.ca_init(actor=CA_ACTOR)

    assert result.created == ("issuing",)
    assert CertificateAuthority.objects.get(role="root", is_active=True).certificate_pem == root_before.certificate_pem
    new_issuing = ca.load_certificate(
        CertificateAuthority.objects.get(role="issuing", is_active=True).certificate_pem.encode()
    )
    new_issuing.verify_directly_issued_by(_certificate("root"))


def test_an_expired_root_cannot_sign_a_new_issuing_ca():
    long_ago = timezone.now() - dt.timedelta(days=365 * 21)
    services.ca_init(actor=CA_ACTOR, now=long_ago)
    CertificateAuthority.objects.filter(role="issuing").update(is_active=False)
    before = _snapshot()

    with pytest.raises(ValidationError) as refused:
        services.ca_init(actor=CA_ACTOR)

    assert refused.value.code == "root_cannot_sign"
    assert _snapshot() == before


@pytest.mark.parametrize(
    "actor",
    [system_actor("test:nobody"), system_actor("test:crl", [services.CRL_PERMISSION])],
    ids=["no-permission", "other-permission"],
)
def test_ca_init_needs_its_permission(actor):
    with pytest.raises(PermissionDenied):
        services.ca_init(actor=actor)

    assert not CertificateAuthority.objects.exists()


def test_staff_cannot_run_ca_init(teller, manager):
    for user in (teller, manager):
        with pytest.raises(PermissionDenied):
            services.ca_init(actor=user)


# --- the command --------------------------------------------------------------------------------------


def test_the_command_prints_what_it_created_then_that_it_is_present():
    out = StringIO()
    call_command("ca_init", stdout=out)
    first = out.getvalue()

    assert "root CA: created" in first
    assert "issuing CA: created" in first
    issuing = CertificateAuthority.objects.get(role="issuing")
    colon_hex = ":".join(issuing.fingerprint_sha256[i : i + 2] for i in range(0, 64, 2)).upper()
    assert colon_hex in first
    assert "CN=" in first
    assert issuing.not_after.isoformat() in first
    assert "PRIVATE KEY" not in first

    out = StringIO()
    call_command("ca_init", stdout=out)

    assert "root CA: already present" in out.getvalue()
    assert "issuing CA: already present" in out.getvalue()
    event = AuditEvent.objects.get(action="ca.init")
    assert event.actor_label == "system:command:ca_init"
    assert event.channel == "command"


def test_the_command_fails_clearly_on_a_wrong_passphrase(settings):
    call_command("ca_init", stdout=StringIO())
    before = _snapshot()
    settings.CA_KEY_PASSPHRASE = "a-different-passphrase-entirely"

    with pytest.raises(CommandError) as failed:
        call_command("ca_init", stdout=StringIO())

    # Commands speak the bank's language (Korean); the message names the setting to fix in any language.
    assert "CA_KEY_PASSPHRASE" in str(failed.value)
    assert "PRIVATE KEY" not in str(failed.value)
    assert _snapshot() == before


def test_the_command_exits_non_zero_on_a_wrong_passphrase(tmp_path):
    """Run as operations would: a separate process, the passphrase from CA_KEY_PASSPHRASE_FILE."""
    database = tmp_path / "db.sqlite3"
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("the first passphrase, long enough\n")
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{database}",
        "CA_KEY_PASSPHRASE_FILE": str(passphrase),
    }

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    assert manage("migrate", "-v0").returncode == 0
    assert manage("ca_init").returncode == 0
    passphrase.write_text("another passphrase, long enough\n")
    refused = manage("ca_init")

    assert refused.returncode != 0
    assert "CommandError" in refused.stderr and "CA_KEY_PASSPHRASE" in refused.stderr
    assert "Traceback" not in refused.stderr


# --- the CRL job --------------------------------------------------------------------------------------


def test_the_crl_job_does_nothing_before_ca_init_and_numbers_crls_after():
    assert crl_regenerate_task() == {"ok": False, "reason": "not_initialised"}

    services.ca_init(actor=CA_ACTOR)
    first, second = crl_regenerate_task(), crl_regenerate_task()

    assert first == {"ok": True, "number": 1, "revoked": 0}
    assert second["number"] == 2
    assert CrlState.objects.get().number == 2


def test_crl_regeneration_needs_its_permission():
    services.ca_init(actor=CA_ACTOR)

    with pytest.raises(PermissionDenied):
        services.crl_regenerate(actor=CA_ACTOR)


# --- settings -----------------------------------------------------------------------------------------


def test_production_settings_load_with_the_pki_variables():
    result = _load_settings(**PKI_PRODUCTION)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", ["PKI_BASE_URL", "CA_KEY_PASSPHRASE"])
def test_production_refuses_to_start_without_a_pki_variable(missing):
    env = dict(PKI_PRODUCTION)
    del env[missing]

    result = _load_settings(**env)

    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


@pytest.mark.parametrize(
    ("passphrase", "refused"),
    [("x" * 15, True), ("x" * 16, False)],
    ids=["15-characters", "16-characters"],
)
def test_production_refuses_a_passphrase_shorter_than_16_characters(passphrase, refused):
    result = _load_settings(**{**PKI_PRODUCTION, "CA_KEY_PASSPHRASE": passphrase})

    assert (result.returncode != 0) is refused, result.stderr
    if refused:
        assert "CA_KEY_PASSPHRASE must be at least 16 characters" in result.stderr


def test_production_reads_the_passphrase_from_a_file(tmp_path):
    secret = tmp_path / "ca-passphrase"
    secret.write_text("a passphrase kept in a mounted secret\n")
    env = {k: v for k, v in PKI_PRODUCTION.items() if k != "CA_KEY_PASSPHRASE"}

    result = _load_settings(**env, CA_KEY_PASSPHRASE_FILE=str(secret))

    assert result.returncode == 0, result.stderr


def test_production_refuses_the_development_passphrase():
    from bankportal.settings import _DEV_CA_KEY_PASSPHRASE

    result = _load_settings(**{**PKI_PRODUCTION, "CA_KEY_PASSPHRASE": _DEV_CA_KEY_PASSPHRASE})

    assert result.returncode != 0
    assert "not the development one" in result.stderr


def test_check_deploy_passes_with_production_settings(tmp_path):
    """What .ci/run's deployment check does (a throwaway SQLite file instead of PostgreSQL)."""
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        **PKI_PRODUCTION,
        "SMS_BACKEND": "http",
        "SMS_GATEWAY_URL": "https://sms.example/send",
        "EMAIL_BACKEND": "smtp",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SECRET_KEY": "k" * 20 + "ZqW8xR2vN5mT1yB7cL4pD9hF3jG6sA0e-_Xu" + "u" * 10,
    }

    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_an_http_pki_base_url_exempts_only_pki_from_the_https_redirect():
    code = "import bankportal.settings as s; print(s.SECURE_REDIRECT_EXEMPT)"
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        **PKI_PRODUCTION,
        "PKI_BASE_URL": "http://pki.bank.example",
    }

    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    assert "'^pki/'" in result.stdout
