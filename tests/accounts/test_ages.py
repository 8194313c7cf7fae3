"""Sign-up and minor-cap rules by age: both sides of every birthday that matters."""

import datetime as dt

import pytest

from accounts import ages

TODAY = dt.date(2026, 11, 23)


def born_years_ago(years: int, *, days_after: int = 0) -> dt.date:
    """Someone whose ``years``-th birthday is ``days_after`` days from TODAY (0: today)."""
    return (TODAY + dt.timedelta(days=days_after)).replace(year=TODAY.year - years)


@pytest.mark.parametrize(
    ("birth", "needs"),
    [
        (born_years_ago(18, days_after=1), True),  # 18th birthday is tomorrow: still 17
        (born_years_ago(18), False),  # turns 18 today: may apply alone
        (born_years_ago(10), True),
    ],
)
def test_under_18_needs_a_legal_representative(birth, needs):
    assert ages.needs_legal_representative(birth, TODAY) is needs


@pytest.mark.parametrize(
    ("birth", "capped"),
    [
        (born_years_ago(18), True),  # 18 alone: capped
        (born_years_ago(19, days_after=1), True),  # one day short of 19: still a minor
        (born_years_ago(19), False),  # adult from the 19th birthday
    ],
)
def test_a_solo_signup_is_capped_until_19(birth, capped):
    assert ages.solo_signup_carries_minor_cap(birth, TODAY) is capped


@pytest.mark.parametrize(
    ("birth", "liftable"),
    [(born_years_ago(19, days_after=1), False), (born_years_ago(19), True), (born_years_ago(25), True)],
)
def test_the_cap_is_liftable_from_the_19th_birthday(birth, liftable):
    assert ages.minor_cap_liftable(birth, TODAY) is liftable


def test_a_29_february_birthday_counts_from_1_march():
    leap = dt.date(2008, 2, 29)
    assert ages.minor_cap_liftable(leap, dt.date(2027, 2, 28)) is False
    assert ages.minor_cap_liftable(leap, dt.date(2027, 3, 1)) is True
