"""Security cards (보안카드): the rules as functions. Pure: no ORM, time passed in.

A card carries 30 numbered codes of 4 random digits and a 12-digit serial. A challenge names two
distinct code numbers; the answer is the first two digits of the first code followed by the last
two digits of the second (so one answer reveals half of two codes, never a whole code). A
challenge lives 5 minutes; 5 consecutive wrong answers lock the card.

The codes are checked digit by digit, so they are kept encrypted (a hash of a code cannot check
half of it); ``pack_codes`` / ``unpack_codes`` give the one string that is encrypted.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

CODE_COUNT = 30
CODE_DIGITS = 4
SERIAL_DIGITS = 12
CHALLENGE_LIFETIME = dt.timedelta(minutes=5)
MAX_FAILURES = 5
ANSWER_DIGITS = 4


class MalformedCodes(ValueError):
    """The decrypted code string is not 30 codes of 4 digits (corrupt or foreign data)."""


def new_codes() -> tuple[str, ...]:
    """30 independent, uniformly random 4-digit codes (repeats allowed, as on a printed card)."""
    return tuple(f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}" for _ in range(CODE_COUNT))


def new_serial() -> str:
    """A random 12-digit serial that does not start with 0 (it is printed and read out)."""
    return str(10 ** (SERIAL_DIGITS - 1) + secrets.randbelow(9 * 10 ** (SERIAL_DIGITS - 1)))


def format_serial(serial: str) -> str:
    """``123456789012`` → ``1234-5678-9012`` (how it is printed and shown)."""
    return "-".join(serial[i : i + 4] for i in range(0, len(serial), 4))


def _valid_codes(codes: Sequence[str]) -> bool:
    return len(codes) == CODE_COUNT and all(
        len(code) == CODE_DIGITS and code.isascii() and code.isdigit() for code in codes
    )


def pack_codes(codes: Sequence[str]) -> str:
    """The 30 codes as one 120-digit string (what is encrypted)."""
    if not _valid_codes(codes):
        raise MalformedCodes("a security card holds exactly 30 codes of 4 digits")
    return "".join(codes)


def unpack_codes(packed: str) -> tuple[str, ...]:
    codes = tuple(packed[i : i + CODE_DIGITS] for i in range(0, len(packed), CODE_DIGITS))
    if len(packed) != CODE_COUNT * CODE_DIGITS or not _valid_codes(codes):
        raise MalformedCodes("a security card holds exactly 30 codes of 4 digits")
    return codes


@dataclass(frozen=True)
class Challenge:
    """Two distinct code numbers, 1..30: ``first``'s first two digits, then ``second``'s last two."""

    first: int
    second: int

    def __post_init__(self) -> None:
        if not (1 <= self.first <= CODE_COUNT and 1 <= self.second <= CODE_COUNT) or self.first == self.second:
            raise ValueError("a challenge names two distinct code numbers from 1 to 30")


def new_challenge() -> Challenge:
    first = secrets.randbelow(CODE_COUNT) + 1
    # Draw the second from the 29 others, so the pair is uniform over distinct pairs.
    second = secrets.randbelow(CODE_COUNT - 1) + 1
    if second >= first:
        second += 1
    return Challenge(first=first, second=second)


def expected_answer(codes: Sequence[str], challenge: Challenge) -> str:
    """First two digits of code ``first`` + last two digits of code ``second``."""
    if not _valid_codes(codes):
        raise MalformedCodes("a security card holds exactly 30 codes of 4 digits")
    return codes[challenge.first - 1][:2] + codes[challenge.second - 1][2:]


def normalise_answer(answer: str) -> str:
    """Drop the spaces and hyphens people type between the two halves."""
    return "".join(ch for ch in (answer or "") if ch not in " -\t")


def answer_is_well_formed(answer: str) -> bool:
    text = normalise_answer(answer)
    return len(text) == ANSWER_DIGITS and text.isascii() and text.isdigit()


def answer_matches(codes: Sequence[str], challenge: Challenge, answer: str) -> bool:
    """Constant-time comparison with the expected answer; a malformed answer never matches."""
    given = normalise_answer(answer)
    expected = expected_answer(codes, challenge)
    # compare_digest on equal-length ASCII bytes; a malformed answer is compared against itself
    # only to spend the same time, and then refused.
    well_formed = answer_is_well_formed(given)
    candidate = given if well_formed else expected
    same = hmac.compare_digest(candidate.encode("ascii"), expected.encode("ascii"))
    return well_formed and same


def challenge_expires_at(issued_at: dt.datetime) -> dt.datetime:
    return issued_at + CHALLENGE_LIFETIME


def challenge_is_live(expires_at: dt.datetime, now: dt.datetime) -> bool:
    """Valid strictly before its expiry: alive at 4:59 after issue, expired at 5:00."""
    return now < expires_at


def locks_after(failures: int) -> bool:
    """Whether ``failures`` consecutive wrong answers lock the card (the 5th does)."""
    return failures >= MAX_FAILURES


def attempts_left(failures: int) -> int:
    return max(MAX_FAILURES - failures, 0)
