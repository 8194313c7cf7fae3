"""Retry timing for notification delivery: a pure rule, no ORM."""

from __future__ import annotations


def retry_delay_seconds(*, attempt: int, base_seconds: int, max_seconds: int) -> int:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): base, 2×base, 4×base ...,
    never more than ``max_seconds``.

    Raises ``ValueError`` for an attempt below 1.
    """
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    # Cap the exponent too, so a misconfigured huge attempt count cannot build a giant integer.
    return min(max_seconds, base_seconds * 2 ** min(attempt - 1, 32))


def attempts_exhausted(*, attempts: int, max_attempts: int) -> bool:
    """True once ``attempts`` deliveries have been tried and no further one is allowed."""
    return attempts >= max_attempts
