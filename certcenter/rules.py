"""Joint-certificate rules (domain.md, "Joint certificate"): kinds and fees, the renewal window, serials.

Pure: no ORM; time is an argument (aware datetimes), every window is computed in KST.

* Kinds by customer kind *(house rule)*: individuals and individual businesses take restricted-use,
  general-purpose and e-tax certificates (the certificate is the owner's own, identified by the RRN); a
  corporation takes restricted-use, corporate general-purpose and e-tax certificates (identified by the
  business registration number). The corporate kind is a corporation's only, and a corporation's
  general-purpose certificate is always the corporate kind.
* Fees (yearly, KRW): restricted-use free; general purpose 4,400; corporate general purpose 110,000;
  e-tax 4,400. The financial certificate (below) is free and is not a joint certificate kind.
* Renewal (갱신): from 00:00 KST of the day 60 days before the expiry day, through the expiry day
  23:59:59 KST (to the second, as ``certcenter.ca.verify_chain`` reads validity: the whole second
  23:59:59 still counts); from the next 00:00:00 KST only a reissue is possible.
"""

from __future__ import annotations

import datetime as dt
import secrets

from certcenter.ca import KST, CertificateKind

# accounts.models.Customer.Kind values (a pure module imports no models).
INDIVIDUAL = "individual"
INDIVIDUAL_BUSINESS = "individual_business"
CORPORATION = "corporation"

FEES: dict[CertificateKind, int] = {
    CertificateKind.RESTRICTED: 0,
    CertificateKind.GENERAL: 4_400,
    CertificateKind.CORPORATE: 110_000,
    CertificateKind.E_TAX: 4_400,
    CertificateKind.FINANCIAL: 0,  # never through fee_for: the financial certificate has its own flow
}

_PERSONAL_KINDS = (CertificateKind.RESTRICTED, CertificateKind.GENERAL, CertificateKind.E_TAX)
_CORPORATE_KINDS = (CertificateKind.RESTRICTED, CertificateKind.CORPORATE, CertificateKind.E_TAX)
KINDS_BY_CUSTOMER_KIND: dict[str, tuple[CertificateKind, ...]] = {
    INDIVIDUAL: _PERSONAL_KINDS,
    INDIVIDUAL_BUSINESS: _PERSONAL_KINDS,
    CORPORATION: _CORPORATE_KINDS,
}

RENEWAL_DAYS_BEFORE = 60
SERIAL_BITS = 159  # RFC 5280 4.1.2.2: a positive integer of at most 20 octets


class KindNotAllowed(ValueError):
    """This certificate kind is not issued to this kind of customer."""


def kinds_for(customer_kind: str) -> tuple[CertificateKind, ...]:
    """The certificate kinds a customer of ``customer_kind`` may hold (none for an unknown kind)."""
    return KINDS_BY_CUSTOMER_KIND.get(customer_kind, ())


def kind_allowed(kind: str, customer_kind: str) -> bool:
    return kind in {allowed.value for allowed in kinds_for(customer_kind)}


def fee_for(kind: str, customer_kind: str) -> int:
    """The fee in won for issuing (or renewing) ``kind`` to a customer of ``customer_kind``.

    Raises ``KindNotAllowed`` when that customer may not hold that kind."""
    if not kind_allowed(kind, customer_kind):
        raise KindNotAllowed(f"{kind!r} is not issued to a {customer_kind!r} customer")
    return FEES[CertificateKind(kind)]


def _kst_day(moment: dt.datetime) -> dt.date:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an aware datetime is required")
    return moment.astimezone(KST).date()


def renewal_opens_at(not_after: dt.datetime) -> dt.datetime:
    """00:00 KST of the day ``RENEWAL_DAYS_BEFORE`` days before the certificate's expiry day (KST)."""
    first_day = _kst_day(not_after) - dt.timedelta(days=RENEWAL_DAYS_BEFORE)
    return dt.datetime.combine(first_day, dt.time.min, tzinfo=KST)


def renewal_closes_at(not_after: dt.datetime) -> dt.datetime:
    """The first instant renewal is refused: the second after ``not_after`` (expiry day 23:59:59 KST)."""
    _kst_day(not_after)  # aware only
    return not_after.replace(microsecond=0) + dt.timedelta(seconds=1)


def renewal_open(not_after: dt.datetime, now: dt.datetime) -> bool:
    """Whether a certificate valid until ``not_after`` may be renewed at ``now``."""
    _kst_day(now)
    return renewal_opens_at(not_after) <= now < renewal_closes_at(not_after)


def renewal_window_days(not_after: dt.datetime) -> tuple[dt.date, dt.date]:
    """The first and the last KST day of the renewal window, for messages."""
    return renewal_opens_at(not_after).date(), _kst_day(not_after)


def new_serial() -> int:
    """A random positive serial of exactly ``SERIAL_BITS`` bits (top bit set): unguessable, never 0."""
    return secrets.randbits(SERIAL_BITS) | (1 << (SERIAL_BITS - 1))


# --- Financial certificates (금융인증서) -------------------------------------------------------------------
#
# Valid 3 years to the expiry day 23:59:59 KST; free. Renewal opens at 00:00 KST of the day one
# calendar month before the expiry day (the 31st of a month after a shorter one: that month's last
# day) and closes, as for joint certificates, with the second after 23:59:59 of the expiry day.

FINANCIAL_VALIDITY_YEARS = 3


def _month_before(day: dt.date) -> dt.date:
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    return dt.date(year, month, min(day.day, _month_length(year, month)))


def _month_length(year: int, month: int) -> int:
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


def financial_renewal_opens_at(not_after: dt.datetime) -> dt.datetime:
    """00:00 KST of the day one calendar month before the financial certificate's expiry day (KST)."""
    return dt.datetime.combine(_month_before(_kst_day(not_after)), dt.time.min, tzinfo=KST)


def financial_renewal_open(not_after: dt.datetime, now: dt.datetime) -> bool:
    """Whether a financial certificate valid until ``not_after`` may be renewed at ``now``."""
    _kst_day(now)
    return financial_renewal_opens_at(not_after) <= now < renewal_closes_at(not_after)


def financial_renewal_window_days(not_after: dt.datetime) -> tuple[dt.date, dt.date]:
    """The first and the last KST day of a financial certificate's renewal window, for messages."""
    return financial_renewal_opens_at(not_after).date(), _kst_day(not_after)


def financial_window_open_through(today: dt.date) -> dt.date:
    """The latest expiry day whose renewal window is open on the KST day ``today``: a set-based job
    selects financial certificates expiring on or before it (and not yet expired).

    The inverse of ``_month_before``: the same day of next month, or, when ``today`` is the last day
    of its month, the last day of next month (its window opened on ``today`` too, by clamping)."""
    year, month = (today.year, today.month + 1) if today.month < 12 else (today.year + 1, 1)
    if today.day == _month_length(today.year, today.month):
        return dt.date(year, month, _month_length(year, month))
    return dt.date(year, month, min(today.day, _month_length(year, month)))
