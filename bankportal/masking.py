"""Masking of resident registration numbers in free text (logs, audit details, admin search terms)."""

from __future__ import annotations

import re

# Six digits (birth date), an optional dash or spaces (staff type both), then seven digits whose
# first is the gender/century digit. Digits on either side mean it is part of a longer number.
RRN_PATTERN = re.compile(r"(?<!\d)(\d{6})[\s-]*(\d)\d{6}(?!\d)")


def contains_rrn(text: str) -> bool:
    return bool(RRN_PATTERN.search(text or ""))


def mask_rrns(text: str) -> str:
    """``'900101-1234567'`` → ``'900101-1******'``; other text is left as it is."""
    return RRN_PATTERN.sub(lambda m: f"{m.group(1)}-{m.group(2)}******", text or "")
