"""The OTP rules as functions (otp.totp): RFC 6238 vectors, drift window, replay, error counter."""

from __future__ import annotations

import base64
import datetime as dt
import urllib.parse

import pyotp
import pytest

from otp import totp

UTC = dt.UTC
# RFC 6238 appendix B: the SHA-1 secret is the ASCII "12345678901234567890".
RFC_SEED = base64.b32encode(b"12345678901234567890").decode()
SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = dt.datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("unix", "eight_digits"),
    [(59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924"), (2000000000, "69279037")],
)
def test_codes_follow_rfc_6238_sha1_vectors(unix: int, eight_digits: str) -> None:
    """The 6-digit code is the last six digits of the RFC 6238 SHA-1 test vector (30-second step)."""
    now = dt.datetime.fromtimestamp(unix, tz=UTC)
    assert totp.code_at(RFC_SEED, now, step_seconds=30) == eight_digits[-6:]


def test_time_step_counts_whole_steps_and_needs_an_aware_time() -> None:
    """The step changes exactly at a multiple of the step length; a naive time is refused."""
    edge = dt.datetime.fromtimestamp(60 * 1000, tz=UTC)
    assert totp.time_step(edge, 60) == 1000
    assert totp.time_step(edge - dt.timedelta(microseconds=1), 60) == 999
    with pytest.raises(ValueError):
        totp.time_step(dt.datetime(2026, 1, 1), 60)  # noqa: DTZ001


@pytest.mark.parametrize("step_seconds", [30, 60])
@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_codes_one_step_either_side_are_accepted(step_seconds: int, offset: int) -> None:
    """A device whose clock is one step behind or ahead still works: −1, 0 and +1 match that step."""
    current = totp.time_step(NOW, step_seconds)
    code = totp.code_at_step(SEED, current + offset, step_seconds=step_seconds)
    assert totp.match_step(SEED, code, NOW, step_seconds) == current + offset


@pytest.mark.parametrize("step_seconds", [30, 60])
@pytest.mark.parametrize("offset", [-2, 2])
def test_codes_two_steps_away_are_refused(step_seconds: int, offset: int) -> None:
    """Two steps of drift is too much: the code of step ±2 matches nothing."""
    current = totp.time_step(NOW, step_seconds)
    code = totp.code_at_step(SEED, current + offset, step_seconds=step_seconds)
    near = {totp.code_at_step(SEED, current + d, step_seconds=step_seconds) for d in (-1, 0, 1)}
    if code in near:  # a 1-in-a-million collision of 6-digit codes would make this vector meaningless
        pytest.skip("code collision within the window")
    assert totp.match_step(SEED, code, NOW, step_seconds) is None


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "12a456", None, 123456, "１２３４５６"])
def test_malformed_codes_match_nothing(typed: object) -> None:
    """Only six ASCII digits are a code."""
    assert totp.match_step(SEED, typed, NOW, 60) is None  # type: ignore[arg-type]


def test_the_same_step_or_an_older_one_is_never_accepted_twice() -> None:
    """A used step is spent: the same step again, or an older one after a newer, is not fresh."""
    assert totp.is_fresh(100, None)
    assert totp.is_fresh(101, 100)
    assert not totp.is_fresh(100, 100)
    assert not totp.is_fresh(99, 100)


def test_the_tenth_consecutive_error_locks() -> None:
    """Errors 1 to 9 leave the token usable; the 10th locks it."""
    errors = 0
    for expected in range(1, 10):
        errors, locked = totp.errors_after_failure(errors)
        assert (errors, locked) == (expected, False)
        assert totp.errors_left(errors) == 10 - expected
    assert totp.errors_after_failure(errors) == (10, True)
    assert totp.errors_left(10) == 0


def test_seeds_are_base32_of_at_least_128_bits() -> None:
    """Seeds are normalised (case, spaces, padding); non-base32 is refused; new seeds are 160 bits."""
    assert totp.normalise_seed("jbsw y3dp-ehpk3pxp==") == "JBSWY3DPEHPK3PXP"
    with pytest.raises(ValueError):
        totp.normalise_seed("not base32!")
    with pytest.raises(ValueError):
        totp.normalise_seed("")
    assert totp.seed_bytes("JBSWY3DPEHPK3PXP") == 10
    fresh = totp.new_seed()
    assert totp.seed_bytes(fresh) == 20 >= totp.MIN_SEED_BYTES
    assert fresh != totp.new_seed()


def test_default_steps_are_60_seconds_for_devices_and_30_for_digital() -> None:
    """Hardware and card-type tokens step every 60 s; a digital OTP (authenticator app) every 30 s."""
    assert totp.default_step_seconds("hardware") == 60
    assert totp.default_step_seconds("card_type") == 60
    assert totp.default_step_seconds("digital") == 30


def test_provisioning_uri_is_read_by_a_standard_authenticator() -> None:
    """The otpauth URI carries the secret, issuer, account and period an app needs, and agrees with us."""
    uri = totp.provisioning_uri(SEED, account="김**스", issuer="다솜은행", step_seconds=30)
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.secret == SEED and parsed.issuer == "다솜은행" and parsed.name == "김**스"
    assert parsed.at(NOW) == totp.code_at(SEED, NOW, step_seconds=30)
    assert urllib.parse.urlparse(uri).scheme == "otpauth"


@pytest.mark.parametrize(
    ("serial", "masked"),
    [
        ("OTP1234567890", "OTP******7890"),
        ("AB12345", "A*****5"),
        ("AB", "**"),
        ("D997000000000001", "D99*********0001"),
    ],
)
def test_serials_are_masked_to_their_ends(serial: str, masked: str) -> None:
    """Customers see the first three and last four characters of a serial."""
    assert totp.mask_serial(serial) == masked


@pytest.mark.parametrize(("name", "masked"), [("김앨리스", "김**스"), ("김철", "김*"), ("이", "이"), ("", "")])
def test_names_are_masked_in_the_authenticator_label(name: str, masked: str) -> None:
    """The app shows the customer's masked name, never the full one."""
    assert totp.mask_name(name) == masked
