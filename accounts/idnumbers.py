"""Real-name numbers: resident registration numbers (RRN) and business registration numbers (BRN).

Pure functions, no ORM. An RRN is ``YYMMDD-GNNNNNN``: a birth date and a gender/century digit
G (1,2,5,6 → 1900s; 3,4,7,8 → 2000s; 9,0 → 1800s). Since October 2020 the trailing digits are
random, so no check digit is enforced for RRNs. A BRN is ten digits whose last is a check digit.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_RRN_RE = re.compile(r"^(\d{6})-?(\d{7})$")
_BRN_RE = re.compile(r"^(\d{3})-?(\d{2})-?(\d{5})$")

_CENTURY = {
    "1": 1900,
    "2": 1900,
    "5": 1900,
    "6": 1900,
    "3": 2000,
    "4": 2000,
    "7": 2000,
    "8": 2000,
    "9": 1800,
    "0": 1800,
}
_BRN_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)

# Adulthood under the Korean Civil Act (full years). Sign-up rules by age live in ``accounts.ages``.
ADULT_AGE = 19


class InvalidNumber(ValueError):
    """The number is malformed; ``code`` says why (``format``, ``birth_date``, ``future``, ``check_digit``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Rrn:
    digits: str  # 13 digits, no dash

    @property
    def birth_date(self) -> dt.date:
        return rrn_birth_date(self.digits)


def normalise_rrn(value: str) -> str:
    """Strip spaces; return the 13 digits or raise ``InvalidNumber('format')``."""
    match = _RRN_RE.match((value or "").strip().replace(" ", ""))
    if not match:
        raise InvalidNumber("format")
    return match.group(1) + match.group(2)


def rrn_birth_date(digits: str) -> dt.date:
    century = _CENTURY[digits[6]]
    try:
        return dt.date(century + int(digits[0:2]), int(digits[2:4]), int(digits[4:6]))
    except ValueError:
        raise InvalidNumber("birth_date") from None


def parse_rrn(value: str, *, today: dt.date) -> Rrn:
    """Validate format and a real, non-future birth date."""
    digits = normalise_rrn(value)
    if rrn_birth_date(digits) > today:
        raise InvalidNumber("future")
    return Rrn(digits)


def mask_rrn(digits: str) -> str:
    """``900101-1******``: birth date and gender digit only."""
    return f"{digits[:6]}-{digits[6]}******"


def age_on(birth_date: dt.date, today: dt.date) -> int:
    """Completed years (만 나이) on ``today``; a 29 February birthday falls on 1 March in other years."""
    years = today.year - birth_date.year
    if (today.month, today.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def is_minor(birth_date: dt.date, today: dt.date) -> bool:
    return age_on(birth_date, today) < ADULT_AGE


def brn_check_digit(first_nine: str) -> int:
    total = sum(int(d) * w for d, w in zip(first_nine, _BRN_WEIGHTS, strict=True))
    total += (int(first_nine[8]) * 5) // 10
    return (10 - total % 10) % 10


def parse_brn(value: str) -> str:
    """Return the ten digits of a valid BRN or raise ``InvalidNumber``."""
    match = _BRN_RE.match((value or "").strip().replace(" ", ""))
    if not match:
        raise InvalidNumber("format")
    digits = "".join(match.groups())
    if brn_check_digit(digits[:9]) != int(digits[9]):
        raise InvalidNumber("check_digit")
    return digits


def format_brn(digits: str) -> str:
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"
