"""Account numbers carry a Luhn check digit that catches single-digit typos."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts import accountnumbers
from accounts.accountnumbers import InvalidAccountNumber


def test_known_vector():
    number = accountnumbers.build("101", "01", 1)
    assert number == "101010000012"
    assert accountnumbers.display(number) == "101-01-000001-2"
    assert accountnumbers.normalise("101-01-000001-2") == number


@pytest.mark.parametrize("value", ["101-01-000001-3", "101-01-000001-0"])
def test_wrong_check_digit_is_refused(value):
    with pytest.raises(InvalidAccountNumber) as exc:
        accountnumbers.normalise(value)
    assert exc.value.code == "check_digit"


@pytest.mark.parametrize("value", ["", "101-01-00001-2", "10101000001", "abc-01-000001-2", "101-01-000001-22"])
def test_malformed_numbers_are_refused(value):
    with pytest.raises(InvalidAccountNumber) as exc:
        accountnumbers.normalise(value)
    assert exc.value.code == "format"


@pytest.mark.parametrize(("serial", "ok"), [(0, False), (1, True), (999_999, True), (1_000_000, False)])
def test_serial_range_edges(serial, ok):
    if ok:
        assert len(accountnumbers.build("101", "01", serial)) == 12
    else:
        with pytest.raises(ValueError, match="serial"):
            accountnumbers.build("101", "01", serial)


@given(
    branch=st.integers(0, 999),
    product=st.integers(0, 99),
    serial=st.integers(1, 999_999),
    position=st.integers(0, 11),
    delta=st.integers(1, 9),
)
def test_every_single_digit_error_is_caught(branch, product, serial, position, delta):
    number = accountnumbers.build(f"{branch:03d}", f"{product:02d}", serial)
    assert accountnumbers.normalise(number) == number
    digits = list(number)
    digits[position] = str((int(digits[position]) + delta) % 10)
    with pytest.raises(InvalidAccountNumber):
        accountnumbers.normalise("".join(digits))


def test_masked_keeps_branch_product_and_last_digits_only():
    number = accountnumbers.build("101", "01", 123456)
    shown = accountnumbers.masked(number)
    assert shown == f"101-01-***{number[8:11]}-{number[11]}"
    assert number[5:8] not in shown.replace("101-01-", "")
