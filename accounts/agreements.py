"""E-banking agreement rules (전자금융 약정). Pure: time and facts in, decisions out; no ORM.

- Online registration: within 5 days counting the application day. Applied on KST day D, the
  customer may register until D+4 23:59:59.999999 KST; from D+5 00:00:00 KST it is refused.
- Dormancy: 12 calendar months with no internet or mobile banking use (see ``dormancy_date``),
  with one notice 30 days before.
- Wrong entries: the 5th consecutive wrong entry of a password or identifying data suspends.
- The documents a branch checks, by customer kind and minor situation (``required_documents``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
import re
from collections.abc import Collection

from bankportal.timeutil import KST

REGISTRATION_DAYS = 5  # counting the application day
DORMANCY_MONTHS = 12
DORMANCY_NOTICE_DAYS = 30
WRONG_ENTRY_LIMIT = 5

# --- Registration deadline ---------------------------------------------------------------------


def registration_deadline(applied_at: dt.datetime) -> dt.datetime:
    """The last instant of online registration: the application's KST day + 4, 23:59:59.999999 KST."""
    if applied_at.tzinfo is None:
        raise ValueError("applied_at must be an aware datetime")
    last_day = applied_at.astimezone(KST).date() + dt.timedelta(days=REGISTRATION_DAYS - 1)
    return dt.datetime.combine(last_day, dt.time.max, tzinfo=KST)


def registration_open(applied_at: dt.datetime, now: dt.datetime) -> bool:
    """Whether an application made at ``applied_at`` may still be registered online at ``now``."""
    return now <= registration_deadline(applied_at)


# --- Dormancy ----------------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later; a day the target month lacks becomes its last day (29 Feb → 28 Feb)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def dormancy_date(last_used_on: dt.date) -> dt.date:
    """The first KST day on which an agreement last used on ``last_used_on`` is dormant.

    Rule: the days without use start the day after the last use; once 12 full calendar months of
    them have passed, the agreement is dormant. That is the day after the same date 12 months
    later, where a date the later month lacks becomes that month's last day. So a last use on
    2024-03-15 → dormant from 2025-03-16 (2025-03-15 is still fine), and a last use on 2024-02-29
    → the months without use run 2024-03-01 … 2025-02-28 → dormant from 2025-03-01 (2025-02-28 is
    still fine). A last use on 2024-02-28 gives the same day, 2025-03-01.
    """
    return add_months(last_used_on, DORMANCY_MONTHS) + dt.timedelta(days=1)


def dormancy_notice_date(last_used_on: dt.date) -> dt.date:
    """The KST day the advance dormancy notice is due: 30 days before ``dormancy_date``."""
    return dormancy_date(last_used_on) - dt.timedelta(days=DORMANCY_NOTICE_DAYS)


def is_dormant(last_used_on: dt.date, today: dt.date) -> bool:
    return today >= dormancy_date(last_used_on)


def dormancy_cutoff(today: dt.date) -> dt.date:
    """The latest last-use day that is dormant on ``today``: dormant ⇔ ``last_used_on <= cutoff``.

    For set-based queries (``last_used_on <= dormancy_cutoff(today)``); ``dormancy_date`` is
    monotonic, so this is exact, 29 February included. For the notice, use
    ``dormancy_cutoff(today + 30 days)``.
    """
    # dormancy_date(d) <= today  ⇔  add_months(d, 12) <= today - 1 day.
    limit = today - dt.timedelta(days=1)
    cutoff = add_months(limit, -DORMANCY_MONTHS)
    while add_months(cutoff + dt.timedelta(days=1), DORMANCY_MONTHS) <= limit:
        cutoff += dt.timedelta(days=1)  # e.g. limit 2025-02-28 also covers a last use on 2024-02-29
    return cutoff


def dormancy_notice_cutoff(today: dt.date) -> dt.date:
    """The latest last-use day whose dormancy notice is due on or before ``today``."""
    return dormancy_cutoff(today + dt.timedelta(days=DORMANCY_NOTICE_DAYS))


# --- Wrong entries ------------------------------------------------------------------------------


def suspends_after(consecutive_wrong_entries: int) -> bool:
    """The 5th consecutive wrong entry (and any after) suspends the agreement."""
    return consecutive_wrong_entries >= WRONG_ENTRY_LIMIT


# --- Documents ----------------------------------------------------------------------------------


class Document(enum.StrEnum):
    """Documents a branch checks for an agreement; the values are stored on the agreement."""

    # One of the three ID documents of the person at the counter (for a minor represented by a
    # parent or guardian, the representative's ID).
    RESIDENT_CARD = "resident_card"  # 주민등록증
    DRIVER_LICENCE = "driver_licence"  # 운전면허증
    PASSPORT = "passport"  # 여권
    # Businesses (개인사업자, and as a house rule 법인 too).
    BUSINESS_REGISTRATION = "business_registration"  # 사업자등록증 사본
    REPRESENTATIVE_ID = "representative_id"  # 대표자 신분증
    BANKBOOK = "bankbook"  # 통장
    BANKBOOK_SEAL = "bankbook_seal"  # 통장 인감
    # A minor represented by a legal representative.
    BASIC_CERTIFICATE = "basic_certificate"  # 기본증명서
    FAMILY_RELATION_CERTIFICATE = "family_relation_certificate"  # 가족관계증명서 (or guardianship proof)
    MINOR_CONSENT_FORM = "minor_consent_form"  # 미성년자 전자금융 동의서 (one parent applies for both)


ID_DOCUMENTS = frozenset({Document.RESIDENT_CARD, Document.DRIVER_LICENCE, Document.PASSPORT})
# The requirement "one ID document", satisfied by any of ``ID_DOCUMENTS``.
ID_DOCUMENT = "id_document"

_BUSINESS_DOCUMENTS = [
    Document.BUSINESS_REGISTRATION,
    Document.REPRESENTATIVE_ID,
    Document.BANKBOOK,
    Document.BANKBOOK_SEAL,
]


def required_documents(*, kind: str, represented_minor: bool = False, one_parent_applies: bool = False) -> list[str]:
    """The requirements for an agreement: ``ID_DOCUMENT`` first, then ``Document`` values.

    ``kind`` is the customer kind (``individual``, ``individual_business``, ``corporation``);
    ``represented_minor`` when a legal representative applies for a minor; ``one_parent_applies``
    when one parent applies for both parents (the minor e-finance consent form is then needed).
    """
    required: list[str] = [ID_DOCUMENT]
    if kind in ("individual_business", "corporation"):
        required += _BUSINESS_DOCUMENTS
    if represented_minor:
        required += [Document.BASIC_CERTIFICATE, Document.FAMILY_RELATION_CERTIFICATE]
        if one_parent_applies:
            required.append(Document.MINOR_CONSENT_FORM)
    return required


def missing_documents(required: Collection[str], checked: Collection[str]) -> list[str]:
    """The requirements ``checked`` leaves unmet, in the order of ``required``."""
    given = set(checked)
    return [
        requirement
        for requirement in required
        if not (given & ID_DOCUMENTS if requirement == ID_DOCUMENT else requirement in given)
    ]


# --- Internet-banking user IDs -----------------------------------------------------------------

USER_ID_RULE = "6 to 20 lowercase letters and digits, starting with a letter"
_USER_ID_RE = re.compile(r"^[a-z][a-z0-9]{5,19}$")


def user_id_valid(value: str) -> bool:
    """A user ID of 6–20 lowercase letters and digits starting with a letter (so never an RRN)."""
    return bool(_USER_ID_RE.match(value))
