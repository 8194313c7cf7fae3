"""The typed environment readers fail loudly on values they cannot parse."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from bankportal.env import env_bool, env_choice, env_int, env_list, env_secret, env_str, env_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("", False),
    ],
)
def test_env_bool_accepts_the_usual_spellings(raw, expected):
    assert env_bool("FLAG", not expected, environ={"FLAG": raw}) is expected


@pytest.mark.parametrize("raw", ["2", "maybe", "tru", "enabled"])
def test_env_bool_rejects_anything_else(raw):
    with pytest.raises(ImproperlyConfigured, match="FLAG must be a boolean"):
        env_bool("FLAG", environ={"FLAG": raw})


def test_env_bool_default_when_unset():
    assert env_bool("FLAG", True, environ={}) is True


def test_env_int_parses_and_checks_bounds():
    assert env_int("N", 5, environ={"N": " 42 "}) == 42
    assert env_int("N", 5, environ={}) == 5
    assert env_int("N", 5, min_value=1, max_value=10, environ={"N": "1"}) == 1
    assert env_int("N", 5, min_value=1, max_value=10, environ={"N": "10"}) == 10
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("N", 5, min_value=1, environ={"N": "0"})
    with pytest.raises(ImproperlyConfigured, match="at most 10"):
        env_int("N", 5, max_value=10, environ={"N": "11"})


@pytest.mark.parametrize("raw", ["ten", "1.5", "0x10", "1e3"])
def test_env_int_rejects_non_integers(raw):
    with pytest.raises(ImproperlyConfigured, match="N must be an integer"):
        env_int("N", 0, environ={"N": raw})


def test_env_list_splits_and_drops_blanks():
    assert env_list("HOSTS", environ={"HOSTS": "a.example, b.example,,"}) == ["a.example", "b.example"]
    assert env_list("HOSTS", ["x"], environ={}) == ["x"]


def test_env_choice_rejects_unknown_values():
    assert env_choice("B", "console", ["console", "outbox"], environ={"B": "outbox"}) == "outbox"
    with pytest.raises(ImproperlyConfigured, match="B must be one of console, outbox"):
        env_choice("B", "console", ["console", "outbox"], environ={"B": "smtp"})


def test_env_secret_reads_value_or_file(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    assert env_secret("S", environ={"S": "direct"}) == "direct"
    assert env_secret("S", environ={"S_FILE": str(secret_file)}) == "from-file"
    assert env_secret("S", "fallback", environ={}) == "fallback"


def test_env_secret_rejects_both_empty_and_unreadable(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    with pytest.raises(ImproperlyConfigured, match="only one of S and S_FILE"):
        env_secret("S", environ={"S": "x", "S_FILE": str(empty)})
    with pytest.raises(ImproperlyConfigured, match="is empty"):
        env_secret("S", environ={"S_FILE": str(empty)})
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_secret("S", environ={"S_FILE": str(tmp_path / "missing")})
    with pytest.raises(ImproperlyConfigured, match="set but empty"):
        env_secret("S", environ={"S": "   "})


def test_env_url_checks_the_scheme():
    assert env_url("R", schemes=("redis",), environ={"R": "redis://127.0.0.1:6379/0"}) == "redis://127.0.0.1:6379/0"
    assert env_url("R", schemes=("redis",), environ={}) == ""
    for bad in ("http://x", "127.0.0.1:6379", "redis://"):
        with pytest.raises(ImproperlyConfigured, match="R must be a URL"):
            env_url("R", schemes=("redis",), environ={"R": bad})


def test_env_str_default():
    assert env_str("X", "d", environ={}) == "d"
    assert env_str("X", "d", environ={"X": ""}) == ""
