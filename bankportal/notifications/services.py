"""Customer messages (SMS and email) through a transactional outbox. Every feature sends through here.

``notification_enqueue`` writes a ``Notification`` row **inside** the caller's transaction and asks,
on commit, for ``notification_deliver_task`` to deliver it. A rolled-back change leaves no row and
sends nothing; the web request never talks to a gateway (in eager mode, without Redis, the task
runs in-process after commit and never raises for a gateway failure).

States::

    pending ──claim──▶ sending ──gateway accepted──▶ sent
       ▲                  │
       └── failed attempt, attempts left (next_attempt_at = now + backoff)
                          │
                          └── failed attempt, none left ──▶ failed
    sending for longer than NOTIFICATION_SENDING_TIMEOUT_SECONDS ──sweeper──▶ failed (outcome unknown)

Delivery guarantee: **at most once** per notification on our side, with an idempotency key towards
the gateway.

* An attempt starts by *claiming* the row: one conditional UPDATE ``pending → sending`` (attempts + 1,
  ``claimed_at`` = now). Only one of any number of concurrent workers, retries or sweeper
  re-dispatches can win it; the others do nothing. A ``sent`` or ``failed`` row is never claimed again.
* The gateway is called outside any transaction (no row lock held across the network), then the
  outcome is written with another conditional UPDATE on our claim (``claimed_at``).
* A failure the gateway *reports* (non-2xx answer, connection refused, timeout) puts the row back to
  ``pending`` with exponential backoff, until ``NOTIFICATION_MAX_ATTEMPTS``; then ``failed``. Each
  attempt carries the same idempotency key (``Idempotency-Key`` header / Message-ID), so a gateway
  that dedupes on it absorbs the one ambiguous case here: a timeout after it had accepted.
* A worker that dies between the gateway's 200 and our UPDATE leaves the row in ``sending``. We do
  **not** resend it: the sweeper marks it ``failed`` ("outcome unknown") for staff review once
  ``claimed_at`` is older than the sending timeout. Why: the messages this bank sends are one-time
  codes that expire within minutes (a late copy is useless; the customer asks for a new code) and
  transaction or contact-change alerts (a duplicate alarms the customer and the call centre more
  than a rare missing one, which staff see in the failed list). We prefer a visible gap to a silent
  duplicate, and we cannot assume every aggregator honours the idempotency key.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bankportal.notifications.backends import DeliveryError, Sms, deliver_email, deliver_sms, deliver_voice
from bankportal.notifications.backoff import attempts_exhausted, retry_delay_seconds
from bankportal.notifications.models import Notification
from bankportal.notifications.selectors import notification_due_ids

logger = logging.getLogger(__name__)

UNKNOWN_CHANNEL = _("Unknown notification channel.")
RECIPIENT_REQUIRED = _("A notification needs a recipient.")
RECIPIENT_TOO_LONG = _("The recipient is too long.")
BODY_REQUIRED = _("A notification needs a body.")
SUBJECT_REQUIRED = _("An email needs a subject.")
SUBJECT_INVALID = _("An email subject must be one line of at most 200 characters.")

OUTCOME_UNKNOWN = "outcome unknown: the worker stopped after claiming it; not resent (check with the gateway)"
# A pending row is re-dispatched by the sweeper only once it is this overdue, so the sweeper does not
# race every fresh hand-off and every scheduled retry (it would be harmless, only wasteful).
LOST_HANDOFF_GRACE = dt.timedelta(seconds=30)
SWEEP_BATCH = 500


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one delivery call did. ``retry_in`` is set when a further attempt is scheduled."""

    notification_id: int
    state: str  # after this call; "" when there is no such notification
    attempts: int
    claimed: bool  # this call won the row (False: someone else has it, or it is not due / done)
    delivered: bool  # this call handed the message to the gateway
    retry_in: int | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class SweepSummary:
    dispatched: int
    marked_failed: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def notification_enqueue(*, channel: str, to: str, body: str, subject: str = "", purpose: str = "") -> Notification:
    """Write a notification in the current transaction; it is delivered by a worker after commit.

    Call it inside the business transaction whose outcome it reports. Raises ``ValidationError``
    (``UNKNOWN_CHANNEL``, ``RECIPIENT_REQUIRED``, ``RECIPIENT_TOO_LONG``, ``BODY_REQUIRED``,
    ``SUBJECT_REQUIRED``, ``SUBJECT_INVALID``).
    """
    if channel not in Notification.Channel.values:
        raise ValidationError(UNKNOWN_CHANNEL, code="unknown_channel")
    to = to.strip()
    if not to:
        raise ValidationError(RECIPIENT_REQUIRED, code="recipient_required")
    if len(to) > 254:
        raise ValidationError(RECIPIENT_TOO_LONG, code="recipient_too_long")
    if not body.strip():
        raise ValidationError(BODY_REQUIRED, code="body_required")
    if channel == Notification.Channel.EMAIL:
        if not subject.strip():
            raise ValidationError(SUBJECT_REQUIRED, code="subject_required")
        if len(subject) > 200 or "\n" in subject or "\r" in subject:
            raise ValidationError(SUBJECT_INVALID, code="subject_invalid")
    now = timezone.now()
    notification = Notification.objects.create(
        channel=channel,
        to=to,
        subject=subject,
        body=body,
        purpose=purpose[:64],
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    # robust: a broker outage at commit must not turn the committed change into an error page; the
    # row stays pending and the sweeper hands it off.
    transaction.on_commit(lambda: _dispatch(notification.pk), robust=True)
    return notification


def send_sms_on_commit(*, to: str, body: str, purpose: str = "") -> Notification:
    """Queue an SMS in the current transaction (``notification_enqueue`` for the SMS channel)."""
    return notification_enqueue(channel=Notification.Channel.SMS, to=to, body=body, purpose=purpose)


def send_ars_on_commit(*, to: str, body: str, purpose: str = "") -> Notification:
    """Queue an ARS call that reads ``body`` out (the voice channel). Callers check
    ``ars_available()`` first and offer SMS when it is not."""
    return notification_enqueue(channel=Notification.Channel.VOICE, to=to, body=body, purpose=purpose)


def send_email_on_commit(*, to: str, subject: str, body: str, purpose: str = "") -> Notification:
    """Queue an email in the current transaction (``notification_enqueue`` for the email channel)."""
    return notification_enqueue(channel=Notification.Channel.EMAIL, to=to, subject=subject, body=body, purpose=purpose)


def notification_bulk_row(*, now: dt.datetime) -> dict[str, object]:
    """The column values of a pending SMS outbox row, for set-based sweeps that insert many rows in
    one statement (``INSERT … SELECT``) instead of calling ``notification_enqueue`` per row. The
    outbox's own clock, as ``notification_enqueue`` uses: the worker compares it with real time."""
    return {
        "channel": Notification.Channel.SMS,
        "subject": "",
        "state": Notification.State.PENDING,
        "attempts": 0,
        "last_error": "",
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def notifications_dispatch_on_commit(notification_ids: Sequence[int]) -> None:
    """Hand rows inserted in bulk to the delivery worker after the current transaction commits.

    ``robust``: a broker outage must not undo the committed change; the sweeper hands the rows
    off later. Each row is claimed once, so a later hand-off never sends twice.
    """
    ids = list(notification_ids)

    def hand_off() -> None:
        for notification_id in ids:
            _dispatch(notification_id)

    if ids:
        transaction.on_commit(hand_off, robust=True)


def _dispatch(notification_id: int) -> None:
    # Imported here because tasks (the interface) import this module, not the other way round.
    from bankportal.notifications.tasks import notification_deliver_task

    notification_deliver_task.delay(notification_id)


def notification_deliver(*, notification_id: int) -> DeliveryOutcome:
    """Make one delivery attempt if the notification is pending and due; otherwise do nothing.

    Never raises for a gateway failure: it is recorded on the row (attempts, last error, next
    attempt or ``failed``) and reported in the outcome.
    """
    claimed_at = timezone.now()
    # The claim is what stops a second delivery: one conditional UPDATE, so of two workers (or a
    # retry racing the sweeper's re-dispatch) exactly one turns the row from pending to sending. On
    # PostgreSQL the loser's UPDATE waits for the winner's commit, re-reads the row and matches nothing.
    with transaction.atomic():
        claimed = Notification.objects.filter(
            pk=notification_id, state=Notification.State.PENDING, next_attempt_at__lte=claimed_at
        ).update(
            state=Notification.State.SENDING,
            attempts=F("attempts") + 1,
            claimed_at=claimed_at,
            next_attempt_at=None,
            updated_at=claimed_at,
        )
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None:
        return DeliveryOutcome(notification_id, state="", attempts=0, claimed=False, delivered=False)
    if not claimed:
        return DeliveryOutcome(
            notification_id, state=notification.state, attempts=notification.attempts, claimed=False, delivered=False
        )

    error = _hand_to_gateway(notification)  # outside any transaction: no lock held across the network
    finished = timezone.now()
    ours = Notification.objects.filter(pk=notification_id, claimed_at=claimed_at)
    attempts = notification.attempts
    if error is None:
        # Also over a row the sweeper gave up on meanwhile: the gateway accepted it, so it was sent.
        with transaction.atomic():
            ours.update(state=Notification.State.SENT, sent_at=finished, last_error="", updated_at=finished)
        return DeliveryOutcome(notification_id, state="sent", attempts=attempts, claimed=True, delivered=True)

    error = error[:500]
    if attempts_exhausted(attempts=attempts, max_attempts=settings.NOTIFICATION_MAX_ATTEMPTS):
        with transaction.atomic():
            ours.filter(state=Notification.State.SENDING).update(
                state=Notification.State.FAILED, last_error=error, updated_at=finished
            )
        logger.error("notification %s failed after %s attempts: %s", notification_id, attempts, error)
        return DeliveryOutcome(notification_id, state="failed", attempts=attempts, claimed=True, delivered=False)

    delay = retry_delay_seconds(
        attempt=attempts,
        base_seconds=settings.NOTIFICATION_RETRY_BASE_SECONDS,
        max_seconds=settings.NOTIFICATION_RETRY_MAX_SECONDS,
    )
    with transaction.atomic():
        ours.filter(state=Notification.State.SENDING).update(
            state=Notification.State.PENDING,
            next_attempt_at=finished + dt.timedelta(seconds=delay),
            last_error=error,
            updated_at=finished,
        )
    logger.warning("notification %s attempt %s failed, next in %ss: %s", notification_id, attempts, delay, error)
    return DeliveryOutcome(
        notification_id, state="pending", attempts=attempts, claimed=True, delivered=False, retry_in=delay
    )


def _hand_to_gateway(notification: Notification) -> str | None:
    """Send through the configured backend; the error text, or None when it was accepted."""
    try:
        if notification.channel in (Notification.Channel.SMS, Notification.Channel.VOICE):
            deliver = deliver_sms if notification.channel == Notification.Channel.SMS else deliver_voice
            deliver(
                Sms(to=notification.to, body=notification.body, purpose=notification.purpose, key=str(notification.key))
            )
        else:
            deliver_email(
                to=notification.to,
                subject=notification.subject,
                body=notification.body,
                purpose=notification.purpose,
                key=str(notification.key),
            )
    except DeliveryError as exc:
        return str(exc) or "delivery refused"
    except Exception as exc:
        # A backend bug must not leave the row stuck in "sending"; the text may carry the body, so
        # only the type goes on the row and the traceback to the (RRN-masked) log.
        logger.exception("notification %s: unexpected backend error", notification.pk)
        return f"unexpected error: {type(exc).__name__}"
    return None


def notification_dispatch_pending(*, now: dt.datetime | None = None, limit: int = SWEEP_BATCH) -> SweepSummary:
    """Sweeper: hand off again pending notifications that are overdue (their after-commit hand-off
    or scheduled retry was lost), and mark ``failed`` those stuck in ``sending`` past the timeout
    (a worker died mid-delivery; not resent, see the module docstring)."""
    now = now or timezone.now()
    stuck_before = now - dt.timedelta(seconds=settings.NOTIFICATION_SENDING_TIMEOUT_SECONDS)
    with transaction.atomic():
        marked_failed = Notification.objects.filter(
            state=Notification.State.SENDING, claimed_at__lt=stuck_before
        ).update(state=Notification.State.FAILED, last_error=OUTCOME_UNKNOWN, updated_at=now)
    if marked_failed:
        logger.error("%s notifications stuck in sending marked failed for review", marked_failed)
    due = notification_due_ids(due_before=now - LOST_HANDOFF_GRACE, limit=limit)
    for notification_id in due:
        _dispatch(notification_id)
    return SweepSummary(dispatched=len(due), marked_failed=marked_failed)
