"""The financial certificate's PIN rule (6 digits) and its lockout count. Pure: no ORM.

A new PIN is exactly 6 ASCII digits and none of these (each is among the first a thief tries,
and together they are only a few hundred of the million PINs):

- ``same_digits``: one digit six times (000000, 777777).
- ``sequence``: a straight run up or down by one, also wrapping round past 9 or 0 (012345,
  123456, 456789, 890123, 901234; 987654, 543210, 109876). Wrapping runs are refused too: they
  are as easy to type and to guess, and refusing them costs only ten more PINs each way.
- ``repeated``: a pair three times or a triple twice (121212, 101010, 123123, 159159).
- ``birth_date``: the holder's birth date as YYMMDD or MMDDYY (900101 or 010190 for 1 January
  1990), the first thing anyone who knows the holder tries.

Near neighbours (000001, 123457, 121213, 123124, the birth date with one digit changed) are
fine. ``format`` means the value is not 6 ASCII digits at all.

The 5th consecutive wrong PIN locks the certificate for good (it is reissued, never unlocked);
a correct PIN before that resets the count.
"""

from __future__ import annotations

import datetime as dt

PIN_LENGTH = 6
MAX_WRONG_PINS = 5


def is_well_formed(pin: object) -> bool:
    return isinstance(pin, str) and len(pin) == PIN_LENGTH and pin.isascii() and pin.isdigit()


def pin_problem(pin: object, birth_date: dt.date | None) -> str | None:
    """``None`` for an acceptable new PIN, else the rule it breaks: ``format``, ``same_digits``,
    ``sequence``, ``repeated`` or ``birth_date`` (see the module docstring)."""
    if not (isinstance(pin, str) and is_well_formed(pin)):
        return "format"
    if len(set(pin)) == 1:
        return "same_digits"
    digits = [int(d) for d in pin]
    steps = {(b - a) % 10 for a, b in zip(digits, digits[1:], strict=False)}
    if steps in ({1}, {9}):  # +1 or -1, modulo 10
        return "sequence"
    if pin == pin[:2] * 3 or pin == pin[:3] * 2:
        return "repeated"
    if birth_date is not None and pin in (f"{birth_date:%y%m%d}", f"{birth_date:%m%d%y}"):
        return "birth_date"
    return None


def tries_left(wrong_pins: int) -> int:
    """How many wrong PINs are still allowed before the lock."""
    return max(0, MAX_WRONG_PINS - wrong_pins)


def locks_after(wrong_pins: int) -> bool:
    """Whether this many consecutive wrong PINs lock the certificate."""
    return wrong_pins >= MAX_WRONG_PINS
