"""The audit seal key: required in production, never the development key, refused when malformed."""

from __future__ import annotations

import base64

import pytest

from tests.bankportal.test_settings import PRODUCTION, _load_settings

GOOD = "s1:" + base64.b64encode(b"\x07" * 32).decode()


def _production(**env: str) -> dict[str, str]:
    return {**PRODUCTION, "AUDIT_SEAL_KEY": GOOD, **env}


def test_production_loads_with_a_seal_key_from_a_file(tmp_path):
    path = tmp_path / "seal.key"
    path.write_text(GOOD + "\n")
    env = _production()
    del env["AUDIT_SEAL_KEY"]
    result = _load_settings(**env, AUDIT_SEAL_KEY_FILE=str(path))
    assert result.returncode == 0, result.stderr


def test_production_refuses_to_start_without_a_seal_key():
    env = _production()
    del env["AUDIT_SEAL_KEY"]
    result = _load_settings(**env)
    assert result.returncode != 0 and "AUDIT_SEAL_KEY must be set" in result.stderr


def test_production_refuses_the_development_seal_key():
    """Under another key id too: the seed is what gives it away."""
    import bankportal.settings as settings_module

    dev_seed = settings_module._DEV_AUDIT_SEAL_KEY.partition(":")[2]
    result = _load_settings(**_production(AUDIT_SEAL_KEY="prod1:" + dev_seed))
    assert result.returncode != 0 and "must not be the development key" in result.stderr


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("AUDIT_SEAL_KEY", "s1:QUJD", "AUDIT_SEAL_KEY: key 's1' must decode to 32 bytes"),
        ("AUDIT_SEAL_KEY", "no-key-id", "AUDIT_SEAL_KEY must be 'keyid:base64-of-32-bytes'"),
        ("AUDIT_SEAL_KEY", "s-1:" + "C" * 43 + "=", "key id must be 1-16 letters or digits"),
        ("AUDIT_SEAL_PUBLIC_KEYS", "old:notbase64!!", "AUDIT_SEAL_PUBLIC_KEYS: key 'old' is not valid base64"),
        ("AUDIT_SEAL_PUBLIC_KEYS", "s1:" + "D" * 43 + "=", "gives the current AUDIT_SEAL_KEY id a different key"),
    ],
)
def test_a_malformed_seal_key_stops_start_up_with_a_clear_message(name, value, message):
    result = _load_settings(**_production(**{name: value}))
    assert result.returncode != 0
    assert message in result.stderr
