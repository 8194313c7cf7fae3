"""Pure rules: the transfer maxima table, the minor cap, mobile numbers."""

import pytest

from accounts.limits import Limit, Tier, configured_table, maximum_limit
from accounts.phones import InvalidPhone, normalise_mobile


@pytest.mark.parametrize(
    ("corporate", "tier", "expected"),
    [
        (False, Tier.SAFE, Limit(100_000_000, 500_000_000)),
        (False, Tier.GENERAL, Limit(10_000_000, 50_000_000)),
        (False, Tier.NONE, Limit(0, 0)),
        (True, Tier.SAFE, Limit(1_000_000_000, 5_000_000_000)),
    ],
)
def test_maxima_follow_the_tier_table(corporate, tier, expected):
    assert maximum_limit(corporate=corporate, tier=tier, minor_cap=False) == expected


@pytest.mark.parametrize("tier", [Tier.SAFE, Tier.GENERAL])
def test_a_capped_minor_gets_at_most_the_minor_cap_whatever_the_tier(tier):
    minor_cap = configured_table().minor_cap
    assert maximum_limit(corporate=False, tier=tier, minor_cap=True) == minor_cap == Limit(1_000_000, 3_000_000)


def test_the_minor_cap_never_raises_a_lower_limit():
    assert maximum_limit(corporate=False, tier=Tier.NONE, minor_cap=True) == Limit(0, 0)


@pytest.mark.parametrize(
    ("raw", "digits"),
    [("010-1234-5678", "01012345678"), ("011 234 5678", "0112345678"), ("01098765432", "01098765432")],
)
def test_mobile_numbers_are_normalised_to_digits(raw, digits):
    assert normalise_mobile(raw) == digits


@pytest.mark.parametrize("raw", ["", "02-123-4567", "010-1234-567", "010-1234-56789", "012-1234-5678", "abc"])
def test_non_mobile_numbers_are_refused(raw):
    with pytest.raises(InvalidPhone):
        normalise_mobile(raw)
