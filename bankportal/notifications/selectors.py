"""Reads for the notification tasks."""

from __future__ import annotations

import datetime as dt

from bankportal.notifications.models import Notification


def notification_due_ids(*, due_before: dt.datetime, limit: int) -> list[int]:
    """Pending notifications whose next attempt was due before ``due_before``, oldest first."""
    return list(
        Notification.objects.filter(state=Notification.State.PENDING, next_attempt_at__lte=due_before)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
