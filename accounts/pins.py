"""Account password (계좌 비밀번호) rules. Pure: no ORM, no Django.

Four ASCII digits, not four equal digits and not a straight run (1234, 9876); the 5th
consecutive wrong entry locks the password until a branch resets it.
"""

from __future__ import annotations

PIN_LENGTH = 4
MAX_FAILURES = 5


def pin_problem(pin: object) -> str | None:
    """``None`` for an acceptable new password, else ``"format"`` or ``"weak"``."""
    if not (isinstance(pin, str) and len(pin) == PIN_LENGTH and pin.isascii() and pin.isdigit()):
        return "format"
    digits = [int(d) for d in pin]
    steps = {b - a for a, b in zip(digits, digits[1:], strict=False)}
    if steps in ({0}, {1}, {-1}):
        return "weak"
    return None


def locks_after(failures: int) -> bool:
    """Whether this many consecutive failures lock the password."""
    return failures >= MAX_FAILURES
