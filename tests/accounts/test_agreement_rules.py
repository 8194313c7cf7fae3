"""E-banking agreement rules: the registration deadline, dormancy dates, wrong entries, documents."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts import agreements as rules
from accounts.agreements import ID_DOCUMENT, Document
from bankportal.timeutil import KST


def _kst(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=KST)


def test_registration_deadline_is_the_fourth_day_after_the_application_day_at_midnight_kst() -> None:
    """Applied on D (KST) → the deadline is D+4 23:59:59.999999 KST, whatever the hour of application."""
    assert rules.registration_deadline(_kst(2026, 3, 2, 0, 0)) == _kst(2026, 3, 6, 23, 59, 59, 999999)
    assert rules.registration_deadline(_kst(2026, 3, 2, 23, 59)) == _kst(2026, 3, 6, 23, 59, 59, 999999)


def test_registration_deadline_counts_the_kst_day_not_the_utc_day() -> None:
    """An application at 08:00 KST (23:00 UTC the day before) counts from the KST day."""
    applied = dt.datetime(2026, 3, 1, 23, 0, tzinfo=dt.UTC)  # 2026-03-02 08:00 KST
    assert rules.registration_deadline(applied) == _kst(2026, 3, 6, 23, 59, 59, 999999)


def test_registration_is_open_at_d_plus_4_235959_and_closed_at_d_plus_5_midnight() -> None:
    """Both sides of the deadline."""
    applied = _kst(2026, 3, 2, 10, 0)
    assert rules.registration_open(applied, _kst(2026, 3, 6, 23, 59, 59))
    assert not rules.registration_open(applied, _kst(2026, 3, 7, 0, 0, 0))


def test_registration_deadline_needs_an_aware_datetime() -> None:
    """A naive time is a programming error, not a guess."""
    with pytest.raises(ValueError):
        rules.registration_deadline(dt.datetime(2026, 3, 2, 10, 0))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("last_used", "dormant_from"),
    [
        (dt.date(2024, 3, 15), dt.date(2025, 3, 16)),
        (dt.date(2024, 2, 29), dt.date(2025, 3, 1)),
        (dt.date(2024, 2, 28), dt.date(2025, 3, 1)),
        (dt.date(2023, 2, 28), dt.date(2024, 2, 29)),
        (dt.date(2024, 1, 31), dt.date(2025, 2, 1)),
        (dt.date(2024, 12, 31), dt.date(2026, 1, 1)),
    ],
)
def test_dormancy_starts_the_day_after_twelve_full_calendar_months(last_used: dt.date, dormant_from: dt.date) -> None:
    """Dormant on the returned day, not on the day before."""
    assert rules.dormancy_date(last_used) == dormant_from
    assert rules.is_dormant(last_used, dormant_from)
    assert not rules.is_dormant(last_used, dormant_from - dt.timedelta(days=1))


def test_a_last_use_on_29_february_is_dormant_on_1_march_and_not_on_28_february() -> None:
    """The 29 February case stated in the rule's docstring, both sides."""
    assert not rules.is_dormant(dt.date(2024, 2, 29), dt.date(2025, 2, 28))
    assert rules.is_dormant(dt.date(2024, 2, 29), dt.date(2025, 3, 1))


def test_the_dormancy_notice_is_due_30_days_before() -> None:
    """One notice, 30 days before the dormancy day."""
    assert rules.dormancy_notice_date(dt.date(2024, 3, 15)) == dt.date(2025, 2, 14)
    assert rules.dormancy_notice_date(dt.date(2024, 2, 29)) == dt.date(2025, 1, 30)


def test_dormancy_cutoff_agrees_with_dormancy_date_on_every_day_of_two_years() -> None:
    """``last_used_on <= dormancy_cutoff(today)`` is exactly ``is_dormant`` (leap days included)."""
    start = dt.date(2023, 1, 1)
    for offset in range(0, 800, 1):
        today = start + dt.timedelta(days=offset + 360)
        cutoff = rules.dormancy_cutoff(today)
        for delta in (-2, -1, 0, 1, 2):
            last_used = cutoff + dt.timedelta(days=delta)
            assert rules.is_dormant(last_used, today) == (last_used <= cutoff), (today, last_used)
    assert rules.dormancy_cutoff(dt.date(2025, 3, 1)) == dt.date(2024, 2, 29)
    assert rules.dormancy_notice_cutoff(dt.date(2025, 1, 30)) == dt.date(2024, 2, 29)


def test_the_fifth_consecutive_wrong_entry_suspends_and_the_fourth_does_not() -> None:
    """The limit is 5."""
    assert rules.WRONG_ENTRY_LIMIT == 5
    assert not rules.suspends_after(4)
    assert rules.suspends_after(5)


def test_an_adult_individual_needs_only_an_id_document() -> None:
    """Any one of 주민등록증, 운전면허증, 여권."""
    required = rules.required_documents(kind="individual")
    assert required == [ID_DOCUMENT]
    for document in (Document.RESIDENT_CARD, Document.DRIVER_LICENCE, Document.PASSPORT):
        assert rules.missing_documents(required, [document]) == []
    assert rules.missing_documents(required, []) == [ID_DOCUMENT]


def test_an_individual_business_adds_registration_certificate_representative_id_bankbook_and_seal() -> None:
    """The business documents, in a stable order."""
    required = rules.required_documents(kind="individual_business")
    assert required == [
        ID_DOCUMENT,
        Document.BUSINESS_REGISTRATION,
        Document.REPRESENTATIVE_ID,
        Document.BANKBOOK,
        Document.BANKBOOK_SEAL,
    ]
    assert rules.missing_documents(required, [Document.PASSPORT, Document.BANKBOOK]) == [
        Document.BUSINESS_REGISTRATION,
        Document.REPRESENTATIVE_ID,
        Document.BANKBOOK_SEAL,
    ]


def test_a_represented_minor_needs_the_minor_documents_and_the_consent_form_when_one_parent_applies() -> None:
    """Basic and family-relation certificates; the consent form only when one parent applies for both."""
    two = rules.required_documents(kind="individual", represented_minor=True)
    one = rules.required_documents(kind="individual", represented_minor=True, one_parent_applies=True)
    assert two == [ID_DOCUMENT, Document.BASIC_CERTIFICATE, Document.FAMILY_RELATION_CERTIFICATE]
    assert one == [*two, Document.MINOR_CONSENT_FORM]


@pytest.mark.parametrize(
    ("value", "valid"),
    [("kim2026", True), ("abcdef", True), ("abcde", False), ("a" * 21, False), ("9001011234567", False)],
)
def test_user_ids_are_6_to_20_lowercase_letters_and_digits_starting_with_a_letter(value: str, valid: bool) -> None:
    """So an RRN can never be a user ID."""
    assert rules.user_id_valid(value) is valid
