"""Joint-certificate rules: kinds and fees by customer kind, the renewal window in KST, serials."""

from __future__ import annotations

import datetime as dt

import pytest

from certcenter import ca, rules
from certcenter.ca import KST, CertificateKind

# A certificate issued on 2 March 2026 (KST) expires on 2 March 2027 at 23:59:59 KST.
NOT_AFTER = dt.datetime(2027, 3, 2, 23, 59, 59, tzinfo=KST)
# 60 days before 2 March 2027 is 1 January 2027 (31 days of January + 28 of February + 1).
OPENS = dt.datetime(2027, 1, 1, 0, 0, tzinfo=KST)
SECOND = dt.timedelta(seconds=1)
MICRO = dt.timedelta(microseconds=1)


# --- kinds and fees -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "customer_kind", "fee"),
    [
        ("restricted", "individual", 0),
        ("general", "individual", 4_400),
        ("e_tax", "individual", 4_400),
        ("restricted", "individual_business", 0),
        ("general", "individual_business", 4_400),
        ("e_tax", "individual_business", 4_400),
        ("restricted", "corporation", 0),
        ("corporate", "corporation", 110_000),
        ("e_tax", "corporation", 4_400),
    ],
)
def test_fees_by_kind_and_customer_kind(kind, customer_kind, fee):
    assert rules.kind_allowed(kind, customer_kind)
    assert rules.fee_for(kind, customer_kind) == fee


@pytest.mark.parametrize(
    ("kind", "customer_kind"),
    [
        ("corporate", "individual"),
        ("corporate", "individual_business"),
        ("general", "corporation"),
        ("general", "robot"),
        ("platinum", "individual"),
    ],
)
def test_a_kind_the_customer_may_not_hold_has_no_fee(kind, customer_kind):
    assert not rules.kind_allowed(kind, customer_kind)
    with pytest.raises(rules.KindNotAllowed):
        rules.fee_for(kind, customer_kind)


def test_the_corporate_kind_is_a_corporations_only():
    holders = [customer_kind for customer_kind in rules.KINDS_BY_CUSTOMER_KIND if CertificateKind.CORPORATE in
               rules.kinds_for(customer_kind)]  # fmt: skip
    assert holders == ["corporation"]


def test_every_kind_has_a_fee():
    assert set(rules.FEES) == set(CertificateKind)


# --- renewal window -----------------------------------------------------------------------------------


def test_the_window_opens_at_midnight_kst_60_days_before_the_expiry_day():
    assert rules.renewal_opens_at(NOT_AFTER) == OPENS
    # The same instant given in UTC (14:59:59 UTC) is the same KST day.
    assert rules.renewal_opens_at(NOT_AFTER.astimezone(dt.UTC)) == OPENS
    assert rules.renewal_window_days(NOT_AFTER) == (dt.date(2027, 1, 1), dt.date(2027, 3, 2))


def test_61_days_before_is_refused():
    assert not rules.renewal_open(NOT_AFTER, dt.datetime(2026, 12, 31, 12, 0, tzinfo=KST))
    assert not rules.renewal_open(NOT_AFTER, OPENS - MICRO)


def test_60_days_before_at_midnight_kst_is_accepted():
    assert rules.renewal_open(NOT_AFTER, OPENS)
    # Midnight KST is 15:00 UTC the day before: still accepted.
    assert rules.renewal_open(NOT_AFTER, OPENS.astimezone(dt.UTC))


def test_the_expiry_day_through_23_59_59_is_accepted():
    assert rules.renewal_open(NOT_AFTER, NOT_AFTER)
    # The whole last second, as certificate validity is read to the second.
    assert rules.renewal_open(NOT_AFTER, NOT_AFTER + SECOND - MICRO)


def test_the_next_midnight_is_refused():
    assert not rules.renewal_open(NOT_AFTER, dt.datetime(2027, 3, 3, 0, 0, tzinfo=KST))
    assert not rules.renewal_open(NOT_AFTER, NOT_AFTER + dt.timedelta(days=30))


def test_the_window_matches_the_certificates_own_expiry():
    issued = dt.datetime(2026, 3, 2, 10, 0, tzinfo=KST)
    assert ca.expiry_for(issued) == NOT_AFTER
    assert rules.renewal_opens_at(ca.expiry_for(issued)) == OPENS


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        rules.renewal_opens_at(dt.datetime(2027, 3, 2, 23, 59, 59))  # noqa: DTZ001
    with pytest.raises(ValueError):
        rules.renewal_open(NOT_AFTER, dt.datetime(2027, 3, 1))  # noqa: DTZ001


# --- serials ------------------------------------------------------------------------------------------


def test_serials_are_positive_159_bit_and_random():
    serials = {rules.new_serial() for _ in range(200)}
    assert len(serials) == 200
    assert all(serial > 0 and serial.bit_length() == rules.SERIAL_BITS for serial in serials)
