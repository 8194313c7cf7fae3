"""Celery interface to the notification services: ids in, one service call, a summary out."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from bankportal.notifications.services import notification_deliver, notification_dispatch_pending


@shared_task(bind=True, acks_late=True)
def notification_deliver_task(self: Any, notification_id: int) -> dict[str, object]:
    """Deliver one notification (a no-op unless it is pending and due); schedule the next attempt
    through the broker with the backoff the service recorded on the row.

    In eager mode (no Redis) a retry would run at once, inline, inside the web request's commit
    hook: there the failed attempt is only recorded and the sweeper (or nobody, in a demo) retries.
    """
    outcome = notification_deliver(notification_id=notification_id)
    if outcome.retry_in is not None and not self.request.is_eager:
        # The row already holds next_attempt_at, so a lost retry message is picked up by the sweeper;
        # a duplicate finds the row not yet due (or claimed) and does nothing.
        raise self.retry(countdown=outcome.retry_in, max_retries=settings.NOTIFICATION_MAX_ATTEMPTS)
    # Which worker and queue ran it: operators (and the Redis test) can see it went through the broker.
    delivery_info = self.request.delivery_info or {}
    return {**outcome.as_dict(), "worker": self.request.hostname or "", "queue": delivery_info.get("routing_key", "")}


@shared_task
def notification_dispatch_pending_task() -> dict[str, int]:
    """Every minute: re-dispatch overdue pending notifications, fail those stuck in sending."""
    return notification_dispatch_pending().as_dict()
