"""CLOUD_KEK: a key ring of its own, required with DEBUG off, never shared with the other rings."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FIELD_KEY = "k1:" + "A" * 43 + "="
CLOUD_KEY = "c1:" + base64.b64encode(b"c" * 32).decode()
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "s" * 20 + "x8f2k1m9q7w3e5r0t4y6u2i8o1p3a5s7d9f0g",
    "FIELD_ENCRYPTION_KEYS": FIELD_KEY,
    "BLIND_INDEX_KEY": "b" * 40,
    "ACCOUNT_PIN_KEY": "p1:" + "B" * 43 + "=",
    "AUDIT_SEAL_KEY": "s1:" + "C" * 43 + "=",
    "PKI_BASE_URL": "https://bank.example",
    "CA_KEY_PASSPHRASE": "c" * 32,
    "CLOUD_KEK": CLOUD_KEY,
    "SMS_BACKEND": "console",
    "EMAIL_BACKEND": "console",
    "ALLOWED_HOSTS": "bank.example",
}


def _load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings module in a fresh interpreter with exactly this environment."""
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    clean.update(env)
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", "import bankportal.settings as s; print(s.CLOUD_KEK[:3], s.FINANCIAL_CLOUD)"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_loads_with_a_cloud_kek_and_the_local_cloud():
    result = _load_settings(**PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["c1:", "certcenter.cloud.local.LocalCloud"]


def test_production_refuses_to_start_without_a_cloud_kek():
    env = dict(PRODUCTION)
    del env["CLOUD_KEK"]
    result = _load_settings(**env)
    assert result.returncode != 0
    assert "CLOUD_KEK must be set" in result.stderr


def test_the_cloud_kek_may_come_from_a_file(tmp_path):
    secret = tmp_path / "cloud_kek"
    secret.write_text(CLOUD_KEY + "\n")
    env = dict(PRODUCTION)
    del env["CLOUD_KEK"]
    result = _load_settings(**env, CLOUD_KEK_FILE=str(secret))
    assert result.returncode == 0, result.stderr


def test_a_malformed_cloud_kek_stops_start_up():
    result = _load_settings(**dict(PRODUCTION, CLOUD_KEK="c1:QUJD"))
    assert result.returncode != 0
    assert "CLOUD_KEK: key 'c1' must decode to 32 bytes" in result.stderr


def test_the_cloud_kek_never_reuses_another_rings_key():
    result = _load_settings(**dict(PRODUCTION, CLOUD_KEK=f"c2:{CLOUD_KEY[3:]},k9:{FIELD_KEY[3:]}"))
    assert result.returncode != 0
    assert "CLOUD_KEK reuses a key from FIELD_ENCRYPTION_KEYS" in result.stderr


def test_debug_has_a_development_cloud_kek():
    result = _load_settings(DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("dev ")  # the first three characters of "dev1:..."
