"""Settings: production refuses unsafe defaults; the module fails loudly on bad values."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bankportal.settings as settings_module

ROOT = Path(__file__).resolve().parents[2]


def _load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings module in a fresh interpreter with exactly this environment."""
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    clean.update(env)
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", "import bankportal.settings as s; print(s.DEBUG, s.SECRET_KEY[:3])"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "s" * 20 + "x8f2k1m9q7w3e5r0t4y6u2i8o1p3a5s7d9f0g",
    "FIELD_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
    "BLIND_INDEX_KEY": "b" * 40,
    "ACCOUNT_PIN_KEY": "p1:" + "B" * 43 + "=",
    "AUDIT_SEAL_KEY": "s1:" + "C" * 43 + "=",
    "PKI_BASE_URL": "https://bank.example",
    "CA_KEY_PASSPHRASE": "c" * 32,
    "CLOUD_KEK": "f1:" + "D" * 43 + "=",
    "SMS_BACKEND": "console",
    "EMAIL_BACKEND": "console",
    "ALLOWED_HOSTS": "bank.example",
}


def test_argon2_is_the_first_password_hasher():
    assert settings_module.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_business_time_and_language_defaults():
    assert settings_module.TIME_ZONE == "Asia/Seoul"
    assert settings_module.USE_TZ is True
    assert settings_module.LANGUAGE_CODE == "ko"
    assert [code for code, _name in settings_module.LANGUAGES] == ["ko", "en"]


def test_production_settings_load_with_all_secrets():
    result = _load_settings(**PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("False")


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY", "ACCOUNT_PIN_KEY", "CLOUD_KEK"]
)
def test_production_refuses_to_start_without_a_secret(missing):
    env = dict(PRODUCTION)
    del env[missing]
    result = _load_settings(**env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "perhaps", "DEBUG must be a boolean"),
        ("SECRET_KEY", "short", "at least 50 characters"),
        ("FIELD_ENCRYPTION_KEYS", "k1:notbase64!!", "not valid base64"),
        ("FIELD_ENCRYPTION_KEYS", "k1:QUJD", "must decode to 32 bytes"),
        ("BLIND_INDEX_KEY", "too-short", "at least 32 characters"),
        ("ACCOUNT_PIN_KEY", "p1:QUJD", "ACCOUNT_PIN_KEY: key 'p1' must decode to 32 bytes"),
        ("ACCOUNT_PIN_KEY", "k1:" + "A" * 43 + "=", "ACCOUNT_PIN_KEY reuses a key from FIELD_ENCRYPTION_KEYS"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL must be a URL"),
        ("DATABASE_URL", "mysql://u@h/db", "PostgreSQL or SQLite"),
        ("SESSION_IDLE_SECONDS", "5", "SESSION_IDLE_SECONDS must be at least 60"),
        ("SMS_BACKEND", "pigeon", "SMS_BACKEND must be one of"),
        ("BANK_CODE", "12", "BANK_CODE must be 3 digits"),
    ],
)
def test_bad_values_stop_start_up_with_a_clear_message(name, value, message):
    env = dict(PRODUCTION)
    env[name] = value
    result = _load_settings(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_http_sms_backend_needs_a_gateway_url():
    env = dict(PRODUCTION, SMS_BACKEND="http")
    result = _load_settings(**env)
    assert result.returncode != 0
    assert "SMS_GATEWAY_URL" in result.stderr


def test_debug_gives_development_defaults():
    result = _load_settings(DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("True dev")


def test_secret_file_variant(tmp_path):
    secret = tmp_path / "secret_key"
    secret.write_text(PRODUCTION["SECRET_KEY"] + "\n")
    env = dict(PRODUCTION)
    del env["SECRET_KEY"]
    env["SECRET_KEY_FILE"] = str(secret)
    result = _load_settings(**env)
    assert result.returncode == 0, result.stderr
