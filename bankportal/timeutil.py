"""Business time is Asia/Seoul. Store UTC, compute days and windows in KST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone

KST = ZoneInfo("Asia/Seoul")


def kst_now(now: dt.datetime | None = None) -> dt.datetime:
    return timezone.localtime(now or timezone.now(), KST)


def kst_today(now: dt.datetime | None = None) -> dt.date:
    return kst_now(now).date()
