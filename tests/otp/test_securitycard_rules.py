"""Security card rules (otp.securitycard): answer vectors, challenges, lifetime and lock, both sides."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from otp import securitycard as rules

# Code n is the two-digit number n followed by n + 50: code 1 = "0151", code 30 = "3080".
CODES = tuple(f"{n:02d}{n + 50:02d}" for n in range(1, 31))
T0 = dt.datetime(2031, 5, 20, 10, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("first", "second", "answer"),
    [
        (1, 2, "0152"),  # "01"51 + 01"52"
        (2, 1, "0251"),
        (7, 23, "0773"),
        (30, 1, "3051"),
        (1, 30, "0180"),
        (15, 16, "1566"),
    ],
)
def test_answer_is_first_two_digits_of_first_code_and_last_two_of_second(first, second, answer):
    """The answer: the first code's first two digits, then the second code's last two digits."""
    assert rules.expected_answer(CODES, rules.Challenge(first=first, second=second)) == answer


def test_answer_vector_with_leading_zeros():
    """Zeros are digits like any other: codes 0007 and 9000 give 00 + 00."""
    codes = ("0007", "9000", *CODES[2:])
    assert rules.expected_answer(codes, rules.Challenge(first=1, second=2)) == "0000"
    assert rules.expected_answer(codes, rules.Challenge(first=2, second=1)) == "9007"


@pytest.mark.parametrize("typed", ["0773", "07 73", "07-73", " 0773 "])
def test_right_answer_matches_with_or_without_separator(typed):
    """A space or hyphen between the halves is ignored."""
    assert rules.answer_matches(CODES, rules.Challenge(first=7, second=23), typed)


@pytest.mark.parametrize("typed", ["0772", "7307", "073", "07733", "", "abcd", "０７７３", "0773\n1"])
def test_wrong_or_malformed_answer_never_matches(typed):
    """Any other digits, a wrong length, letters or full-width digits are refused."""
    assert not rules.answer_matches(CODES, rules.Challenge(first=7, second=23), typed)


def test_whole_code_is_never_the_answer():
    """Typing the whole first code (what a phishing page asks for) is wrong."""
    assert not rules.answer_matches(CODES, rules.Challenge(first=7, second=23), CODES[6])


@pytest.mark.parametrize(("first", "second"), [(1, 1), (0, 5), (5, 31), (31, 1), (-1, 2)])
def test_challenge_needs_two_distinct_numbers_from_1_to_30(first, second):
    with pytest.raises(ValueError):
        rules.Challenge(first=first, second=second)


def test_challenge_accepts_the_edges():
    assert rules.Challenge(first=1, second=30) == rules.Challenge(first=1, second=30)


def test_new_challenges_are_distinct_pairs_in_range():
    """Drawn at random: always two different numbers between 1 and 30, and not always the same."""
    drawn = [rules.new_challenge() for _ in range(400)]
    assert all(1 <= c.first <= 30 and 1 <= c.second <= 30 and c.first != c.second for c in drawn)
    assert len({(c.first, c.second) for c in drawn}) > 100
    assert {c.first for c in drawn} == set(range(1, 31))
    assert {c.second for c in drawn} == set(range(1, 31))


def test_new_codes_are_30_four_digit_codes():
    codes = rules.new_codes()
    assert len(codes) == 30
    assert all(len(code) == 4 and code.isdigit() for code in codes)
    assert rules.new_codes() != codes  # 10**-120 chance of a false failure


def test_serial_is_12_digits_without_leading_zero():
    serials = {rules.new_serial() for _ in range(200)}
    assert len(serials) == 200
    assert all(len(s) == 12 and s.isdigit() and s[0] != "0" for s in serials)
    assert rules.format_serial("123456789012") == "1234-5678-9012"


def test_codes_pack_and_unpack_round_trip():
    packed = rules.pack_codes(CODES)
    assert len(packed) == 120
    assert rules.unpack_codes(packed) == CODES


@pytest.mark.parametrize("packed", ["", "1" * 119, "1" * 121, "a" * 120])
def test_unpack_refuses_anything_but_120_digits(packed):
    with pytest.raises(rules.MalformedCodes):
        rules.unpack_codes(packed)


def test_pack_refuses_wrong_card_shape():
    with pytest.raises(rules.MalformedCodes):
        rules.pack_codes(CODES[:29])
    with pytest.raises(rules.MalformedCodes):
        rules.pack_codes(("123", *CODES[1:]))


def test_challenge_lives_five_minutes_valid_at_4_59_expired_at_5_00():
    """Both sides of the lifetime: alive one second before 5 minutes, expired at exactly 5."""
    expires = rules.challenge_expires_at(T0)
    assert expires == T0 + dt.timedelta(minutes=5)
    assert rules.challenge_is_live(expires, T0 + dt.timedelta(minutes=4, seconds=59))
    assert not rules.challenge_is_live(expires, T0 + dt.timedelta(minutes=5))
    assert not rules.challenge_is_live(expires, T0 + dt.timedelta(minutes=5, seconds=1))


def test_the_fifth_failure_locks_not_the_fourth():
    assert not rules.locks_after(4)
    assert rules.locks_after(5)
    assert rules.attempts_left(4) == 1
    assert rules.attempts_left(5) == 0
    assert rules.attempts_left(0) == 5


def test_rule_module_imports_no_orm():
    """Pure: no Django database or contrib imports."""
    tree = ast.parse(Path(rules.__file__).read_text(encoding="utf-8"))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not [n for n in names if n.startswith("django") or ".models" in n]
