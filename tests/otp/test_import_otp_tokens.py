"""``manage.py import_otp_tokens``: every row checked first, all or nothing with each bad row named,
idempotent on a second run, run as a named system actor, seeds encrypted."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from bankportal.audit.models import AuditEvent
from otp.models import OtpToken
from otp.services import otp_token_seed

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _operators_read_english():
    """The command speaks the active language (Korean by default); these tests read it in English."""
    with translation.override("en"):
        yield


HEADER = "serial,seed,kind,issuer,warranty\n"
GOOD = [
    "OTP1000000001,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,hardware,997,2034-12-31",
    "OTP1000000002,MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U,card_type,088,2035-06-30",
    "OTP1000000003,KRUGKIDROVUWG2ZAMJZG653OEBTG66BA,hardware,088,2035-06-30",
]


def write(tmp_path: Path, lines: list[str], name: str = "tokens.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(path: Path) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_otp_tokens", str(path), "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_good_file_is_imported_with_seeds_encrypted(tmp_path) -> None:
    """Every row becomes a token with the kind's time step; seeds decrypt only through the service."""
    out, _err = run(write(tmp_path, GOOD))
    assert "3 token(s) imported" in out
    tokens = {token.serial: token for token in OtpToken.objects.all()}
    assert set(tokens) == {"OTP1000000001", "OTP1000000002", "OTP1000000003"}
    first = tokens["OTP1000000001"]
    assert first.kind == "hardware" and first.issuer == "997" and first.step_seconds == 60
    assert first.status == OtpToken.Status.ACTIVE and str(first.warranty_until) == "2034-12-31"
    assert "GEZDGNBVGY3TQOJQ" not in first.seed_ciphertext
    assert otp_token_seed(first) == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    event = AuditEvent.objects.get(action="otp.tokens_import")
    assert event.actor_label == "system:command:import_otp_tokens" and event.details["created"] == 3


def test_one_bad_row_imports_nothing_and_is_named(tmp_path) -> None:
    """A file with one bad row imports no row at all; the error names the line and the reason."""
    lines = [*GOOD[:2], "OTP1000000009,not-base32!,hardware,997,2034-12-31", GOOD[2]]
    with pytest.raises(CommandError, match="1 bad row"):
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command("import_otp_tokens", str(write(tmp_path, lines)), "--no-progress", stdout=out, stderr=err)
        finally:
            assert "line 4: seed is not base32" in err.getvalue()
    assert OtpToken.objects.count() == 0
    assert not AuditEvent.objects.filter(action="otp.tokens_import").exists()


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("OTP1000000009,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,digital,997,2034-12-31", "kind must be"),
        ("OTP1000000009,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,hardware,97,2034-12-31", "issuer must be"),
        ("OTP1000000009,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,hardware,997,31/12/2034", "warranty must be"),
        ("OTP1,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,hardware,997,2034-12-31", "serial must be"),
        ("OTP1000000009,GEZDGNBVGY3TQOJQ,hardware,997,2034-12-31", "seed is shorter than 128 bits"),
        (
            "OTP1000000001,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,hardware,997,2034-12-31",
            "serial appears again (first on line 2)",
        ),
    ],
)
def test_each_kind_of_bad_row_is_explained(tmp_path, row, reason) -> None:
    """Kind, issuer, warranty date, serial shape, seed strength and duplicates are each named."""
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_otp_tokens", str(write(tmp_path, [*GOOD, row])), "--no-progress", stderr=err)
    assert f"line 5: {reason}" in err.getvalue()
    assert OtpToken.objects.count() == 0


def test_running_the_same_file_twice_changes_nothing(tmp_path) -> None:
    """The second run skips every row: same tokens, same ciphertexts, reported as unchanged."""
    path = write(tmp_path, GOOD)
    run(path)
    before = list(OtpToken.objects.order_by("pk").values())
    out, _err = run(path)
    assert "0 token(s) imported, 3 already in the registry unchanged" in out
    assert list(OtpToken.objects.order_by("pk").values()) == before


def test_a_known_serial_with_another_seed_is_a_bad_row(tmp_path) -> None:
    """Re-sending a serial with a different seed is refused, and the new rows beside it are not imported."""
    run(write(tmp_path, GOOD[:1], "first.csv"))
    changed = "OTP1000000001,MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U,hardware,997,2034-12-31"
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_otp_tokens", str(write(tmp_path, [changed, GOOD[1]], "second.csv")), "--no-progress", stderr=err
        )
    assert "line 2: serial OTP1000000001 is already registered with a different seed" in err.getvalue()
    assert OtpToken.objects.count() == 1


def test_a_missing_column_or_file_is_a_clear_error(tmp_path) -> None:
    """No traceback: a file without the columns, or no file, says what is wrong."""
    path = tmp_path / "bad.csv"
    path.write_text("serial,seed\nOTP1000000001,GEZDGNBVGY3TQOJQ\n", encoding="utf-8")
    with pytest.raises(CommandError, match="missing column"):
        call_command("import_otp_tokens", str(path))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_otp_tokens", str(tmp_path / "absent.csv"))


def test_a_progress_bar_is_shown_when_asked(tmp_path, capsys) -> None:
    """``--progress`` draws the bar (on stderr) even for a small file; the summary stays on stdout."""
    out = io.StringIO()
    call_command("import_otp_tokens", str(write(tmp_path, GOOD)), "--progress", stdout=out)
    assert "OTP tokens" in capsys.readouterr().err
    assert "3 token(s) imported" in out.getvalue()
