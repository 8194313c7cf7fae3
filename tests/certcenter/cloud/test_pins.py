"""The financial certificate's PIN rule: each trivial kind refused, its near neighbour accepted."""

from __future__ import annotations

import datetime as dt

import pytest

from certcenter.cloud.pins import MAX_WRONG_PINS, locks_after, pin_problem, tries_left

BIRTH = dt.date(1990, 1, 23)


@pytest.mark.parametrize("pin", ["48291", "4829150", "48291a", "", "４８２９１５", " 482915", None, 482915])
def test_a_pin_is_exactly_six_ascii_digits(pin):
    assert pin_problem(pin, BIRTH) == "format"


@pytest.mark.parametrize(("trivial", "neighbour"), [("000000", "000001"), ("777777", "777778"), ("999999", "999990")])
def test_one_digit_six_times_is_refused(trivial, neighbour):
    assert pin_problem(trivial, BIRTH) == "same_digits"
    assert pin_problem(neighbour, BIRTH) is None


@pytest.mark.parametrize(
    ("trivial", "neighbour"),
    [
        ("012345", "012346"),
        ("123456", "123457"),
        ("456789", "456780"),
        ("987654", "987655"),
        ("543210", "543211"),
        ("210987", "210986"),  # wrapping down past 0
        ("890123", "890124"),  # wrapping up past 9
        ("901234", "901235"),
        ("789012", "789013"),
    ],
)
def test_straight_runs_up_or_down_are_refused_also_wrapping(trivial, neighbour):
    assert pin_problem(trivial, BIRTH) == "sequence"
    assert pin_problem(neighbour, BIRTH) is None


def test_a_run_with_a_step_of_two_is_not_a_sequence():
    assert pin_problem("135791", BIRTH) is None
    assert pin_problem("246802", BIRTH) is None


@pytest.mark.parametrize(
    ("trivial", "neighbour"),
    [("121212", "121213"), ("101010", "101011"), ("123123", "123124"), ("159159", "159158"), ("909090", "909091")],
)
def test_a_pair_three_times_or_a_triple_twice_is_refused(trivial, neighbour):
    assert pin_problem(trivial, BIRTH) == "repeated"
    assert pin_problem(neighbour, BIRTH) is None


@pytest.mark.parametrize(("trivial", "neighbour"), [("900123", "900124"), ("012390", "012391")])
def test_the_birth_date_as_yymmdd_or_mmddyy_is_refused(trivial, neighbour):
    assert pin_problem(trivial, BIRTH) == "birth_date"
    assert pin_problem(neighbour, BIRTH) is None


def test_the_birth_date_rule_is_the_holders_own():
    assert pin_problem("900123", dt.date(1991, 1, 23)) is None
    assert pin_problem("900123", None) is None


def test_the_fifth_wrong_pin_locks_and_tries_count_down():
    assert MAX_WRONG_PINS == 5
    assert [tries_left(n) for n in range(7)] == [5, 4, 3, 2, 1, 0, 0]
    assert not locks_after(4)
    assert locks_after(5)
