"""Korean mobile numbers. Pure: no ORM, no Django."""

from __future__ import annotations

import re

# 010 numbers have 8 digits after the prefix; the legacy 011/016-019 ranges have 7 or 8.
_MOBILE_RE = re.compile(r"^(?:010\d{8}|01[16789]\d{7,8})$")


class InvalidPhone(ValueError):
    pass


def normalise_mobile(value: str) -> str:
    """Digits only (``01012345678``) or ``InvalidPhone``; spaces and hyphens are ignored."""
    digits = re.sub(r"[\s-]", "", value or "")
    if not _MOBILE_RE.match(digits):
        raise InvalidPhone(value)
    return digits
