"""RRN and BRN validation vectors; age from the RRN."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.idnumbers import (
    InvalidNumber,
    age_on,
    brn_check_digit,
    is_minor,
    mask_rrn,
    parse_brn,
    parse_rrn,
    rrn_birth_date,
)

TODAY = dt.date(2026, 11, 22)


@pytest.mark.parametrize(
    ("rrn", "birth"),
    [
        ("900101-1234567", dt.date(1990, 1, 1)),
        ("9001011234567", dt.date(1990, 1, 1)),
        ("851231-2000000", dt.date(1985, 12, 31)),
        ("000229-3123456", dt.date(2000, 2, 29)),  # leap day, 2000s
        ("101010-4123456", dt.date(2010, 10, 10)),
        ("750505-5123456", dt.date(1975, 5, 5)),  # foreign resident, 1900s
        ("050505-7123456", dt.date(2005, 5, 5)),  # foreign resident, 2000s
        ("991231-9123456", dt.date(1899, 12, 31)),  # 1800s
        ("991231-0123456", dt.date(1899, 12, 31)),
        (" 900101 - 1234567 ".replace(" - ", "-"), dt.date(1990, 1, 1)),
    ],
)
def test_valid_rrns_give_their_birth_date(rrn, birth):
    assert parse_rrn(rrn, today=TODAY).birth_date == birth


@pytest.mark.parametrize(
    ("rrn", "code"),
    [
        ("90010-11234567", "format"),
        ("900101-123456", "format"),
        ("900101-12345678", "format"),
        ("9O0101-1234567", "format"),
        ("", "format"),
        ("900230-1234567", "birth_date"),  # 30 February
        ("010229-3123456", "birth_date"),  # 2001 is not a leap year
        ("901301-1234567", "birth_date"),
        ("900100-1234567", "birth_date"),
        ("261123-3123456", "future"),  # tomorrow
    ],
)
def test_invalid_rrns_are_refused_with_a_reason(rrn, code):
    with pytest.raises(InvalidNumber) as exc:
        parse_rrn(rrn, today=TODAY)
    assert exc.value.code == code


def test_birth_today_is_accepted_and_tomorrow_is_not():
    assert parse_rrn("261122-3123456", today=TODAY).birth_date == TODAY
    with pytest.raises(InvalidNumber):
        parse_rrn("261123-3123456", today=TODAY)


def test_mask_shows_birth_date_and_gender_digit_only():
    assert mask_rrn("9001011234567") == "900101-1******"


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (dt.date(2008, 11, 22), TODAY, 18),  # 18th birthday today
        (dt.date(2008, 11, 23), TODAY, 17),  # tomorrow
        (dt.date(2000, 2, 29), dt.date(2026, 2, 28), 25),
        (dt.date(2000, 2, 29), dt.date(2026, 3, 1), 26),
    ],
)
def test_age_in_completed_years(birth, today, age):
    assert age_on(birth, today) == age


def test_minor_boundary_is_the_nineteenth_birthday():
    """Adulthood is 19 full years (Korean Civil Act): minor the day before, adult on the birthday."""
    assert is_minor(dt.date(2007, 11, 23), TODAY) is True
    assert is_minor(dt.date(2007, 11, 22), TODAY) is False


@pytest.mark.parametrize("brn", ["220-81-12341", "2208112341", "124-81-00998", "123-45-67891"])
def test_valid_brns(brn):
    """124-81-00998 is a published real-world number; the others are computed vectors."""
    assert parse_brn(brn) == brn.replace("-", "")


@pytest.mark.parametrize(
    ("brn", "code"), [("220-81-12342", "check_digit"), ("220-81-1234", "format"), ("abc", "format")]
)
def test_invalid_brns(brn, code):
    with pytest.raises(InvalidNumber) as exc:
        parse_brn(brn)
    assert exc.value.code == code


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_exactly_one_check_digit_is_valid(first_nine):
    valid = [d for d in range(10) if _accepts(first_nine + str(d))]
    assert valid == [brn_check_digit(first_nine)]


def _accepts(digits: str) -> bool:
    try:
        parse_brn(digits)
    except InvalidNumber:
        return False
    return True


@given(st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(2099, 12, 31)))
def test_any_real_birth_date_round_trips_through_an_rrn(birth):
    digit = {18: "9", 19: "1", 20: "3"}[birth.year // 100]
    assert rrn_birth_date(f"{birth:%y%m%d}{digit}000000") == birth
