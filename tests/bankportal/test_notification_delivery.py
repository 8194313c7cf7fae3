"""Notifications are outbox rows written in the business transaction and delivered after commit,
with retries and backoff, at most once."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone

from bankportal.celery import app
from bankportal.notifications import services
from bankportal.notifications.backends import BaseSmsBackend, DeliveryError, Sms
from bankportal.notifications.backoff import attempts_exhausted, retry_delay_seconds
from bankportal.notifications.models import Notification, OutboxMessage
from bankportal.notifications.services import (
    LOST_HANDOFF_GRACE,
    OUTCOME_UNKNOWN,
    notification_deliver,
    notification_enqueue,
    send_email_on_commit,
    send_sms_on_commit,
)
from bankportal.notifications.tasks import notification_deliver_task, notification_dispatch_pending_task

PHONE = "01012345678"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class ScriptedSmsBackend(BaseSmsBackend):
    """Stands in for the SMS gateway: refuses the first ``failures`` calls, records what it accepts."""

    lock = threading.Lock()
    failures = 0
    calls = 0
    delay = 0.0
    accepted: list[Sms] = []

    @classmethod
    def reset(cls, *, failures: int = 0, delay: float = 0.0) -> None:
        cls.failures, cls.calls, cls.delay, cls.accepted = failures, 0, delay, []

    def send(self, message: Sms) -> None:
        cls = type(self)
        with cls.lock:
            cls.calls += 1
            refuse = cls.calls <= cls.failures
        if cls.delay:
            time.sleep(cls.delay)
        if refuse:
            raise DeliveryError("SMS gateway answered 503")
        with cls.lock:
            cls.accepted.append(message)


SCRIPTED = f"{__name__}.ScriptedSmsBackend"


@pytest.fixture
def eager():
    """Run tasks in-process, as without Redis (the PostgreSQL + Redis run would send them to a broker)."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def gateway(settings, eager):
    settings.SMS_BACKEND = SCRIPTED
    settings.NOTIFICATION_MAX_ATTEMPTS = 5
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 30
    settings.NOTIFICATION_RETRY_MAX_SECONDS = 1800
    settings.NOTIFICATION_SENDING_TIMEOUT_SECONDS = 600
    ScriptedSmsBackend.reset()
    return ScriptedSmsBackend


def _enqueue_committed(capture, **kwargs) -> Notification:
    kwargs = {"channel": "sms", "to": PHONE, "body": "인증번호 123456", "purpose": "otp", **kwargs}
    with capture(execute=True), transaction.atomic():
        notification = notification_enqueue(**kwargs)
    notification.refresh_from_db()
    return notification


def _sweep_at(moment: dt.datetime, traveller) -> dict[str, int]:
    traveller.move_to(moment)
    return notification_dispatch_pending_task.apply().get()


# --- backoff rule --------------------------------------------------------------------------


@pytest.mark.parametrize(("attempt", "delay"), [(1, 30), (2, 60), (3, 120), (4, 240), (6, 960), (7, 1800), (60, 1800)])
def test_retry_delay_doubles_from_the_base_up_to_the_cap(attempt, delay):
    """After attempt n the wait is base × 2^(n-1), never above the cap."""
    assert retry_delay_seconds(attempt=attempt, base_seconds=30, max_seconds=1800) == delay


def test_retry_delay_refuses_attempt_zero():
    with pytest.raises(ValueError, match="start at 1"):
        retry_delay_seconds(attempt=0, base_seconds=30, max_seconds=1800)


def test_attempts_are_exhausted_at_the_maximum_not_before():
    assert attempts_exhausted(attempts=4, max_attempts=5) is False
    assert attempts_exhausted(attempts=5, max_attempts=5) is True


# --- enqueue ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_notification_and_sends_nothing(gateway, django_capture_on_commit_callbacks):
    """The row is written in the business transaction, so a rollback takes it away; nothing is sent."""
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        send_sms_on_commit(to=PHONE, body="never", purpose="otp")
        raise RuntimeError("business rule refused")
    assert callbacks == []
    assert not Notification.objects.exists()
    assert gateway.calls == 0


@pytest.mark.django_db
def test_a_committed_notification_is_written_once_and_delivered_once(gateway, django_capture_on_commit_callbacks):
    """Commit → one pending row, handed to the task after commit, delivered once and marked sent."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        queued = send_sms_on_commit(to=PHONE, body="인증번호 123456", purpose="otp")
        # Nothing leaves the process before commit.
        assert gateway.calls == 0
    assert Notification.objects.get().state == "pending"
    assert len(callbacks) == 1

    callbacks[0]()
    notification = Notification.objects.get()
    assert (notification.pk, notification.state, notification.attempts) == (queued.pk, "sent", 1)
    assert notification.sent_at is not None
    assert [(m.to, m.body, m.key) for m in gateway.accepted] == [(PHONE, "인증번호 123456", str(notification.key))]

    # A duplicate hand-off (a redelivered broker message) finds the row sent and sends nothing.
    outcome = notification_deliver_task.apply(args=[notification.pk]).get()
    assert (outcome["claimed"], outcome["state"]) == (False, "sent")
    assert gateway.calls == 1


@pytest.mark.django_db
def test_the_development_inbox_still_shows_the_code(settings, eager, django_capture_on_commit_callbacks):
    """With the outbox backends (make run, tests) a delivered message lands in OutboxMessage, once."""
    settings.SMS_BACKEND = "bankportal.notifications.backends.OutboxSmsBackend"
    settings.EMAIL_BACKEND = "bankportal.notifications.backends.OutboxEmailBackend"
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        send_sms_on_commit(to=PHONE, body="인증번호 654321", purpose="otp")
        send_email_on_commit(to="alice@example.com", subject="공지", body="Hello", purpose="notice")
    inbox = sorted(OutboxMessage.objects.values_list("channel", "to", "body", "purpose"))
    assert inbox == [
        ("email", "alice@example.com", "Hello", "notice"),
        ("sms", PHONE, "인증번호 654321", "otp"),
    ]
    assert set(Notification.objects.values_list("state", flat=True)) == {"sent"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"channel": "fax"}, "unknown_channel"),
        ({"to": "  "}, "recipient_required"),
        ({"to": "0" * 255}, "recipient_too_long"),
        ({"body": " "}, "body_required"),
        ({"channel": "email", "to": "a@example.com", "subject": ""}, "subject_required"),
        ({"channel": "email", "to": "a@example.com", "subject": "a\nBcc: x@example.com"}, "subject_invalid"),
    ],
)
def test_a_malformed_notification_is_refused_and_nothing_is_written(gateway, kwargs, code):
    """Bad input is a ValidationError with a code, never a half-written row."""
    arguments = {"channel": "sms", "to": PHONE, "body": "hello", **kwargs}
    with pytest.raises(ValidationError) as excinfo:
        notification_enqueue(**arguments)
    assert excinfo.value.code == code
    assert not Notification.objects.exists()


# --- retries and failure -----------------------------------------------------------------


@pytest.mark.django_db
def test_a_flaky_gateway_ends_with_one_delivery_after_three_attempts(gateway, django_capture_on_commit_callbacks):
    """Fails twice, then succeeds: retried after 30 s and 60 s, delivered exactly once, attempts=3."""
    gateway.reset(failures=2)
    with time_machine.travel(T0, tick=False) as traveller:
        notification = _enqueue_committed(django_capture_on_commit_callbacks)
        assert (notification.state, notification.attempts, notification.last_error) == (
            "pending",
            1,
            "SMS gateway answered 503",
        )
        assert notification.next_attempt_at == T0 + dt.timedelta(seconds=30)

        # Not yet overdue: the sweeper leaves it to the scheduled retry.
        first_retry = notification.next_attempt_at
        assert _sweep_at(first_retry + LOST_HANDOFF_GRACE - dt.timedelta(seconds=1), traveller)["dispatched"] == 0
        assert _sweep_at(first_retry + LOST_HANDOFF_GRACE, traveller)["dispatched"] == 1
        notification.refresh_from_db()
        assert (notification.state, notification.attempts) == ("pending", 2)
        assert notification.next_attempt_at == first_retry + LOST_HANDOFF_GRACE + dt.timedelta(seconds=60)

        _sweep_at(notification.next_attempt_at + LOST_HANDOFF_GRACE, traveller)
        notification.refresh_from_db()
        assert (notification.state, notification.attempts, notification.last_error) == ("sent", 3, "")
        assert len(gateway.accepted) == 1

        _sweep_at(notification.sent_at + dt.timedelta(hours=1), traveller)
    assert gateway.calls == 3


@pytest.mark.django_db
def test_a_gateway_that_always_fails_ends_failed_after_the_last_attempt(gateway, django_capture_on_commit_callbacks):
    """Five refused attempts → failed with the last error; later sweeps and hand-offs send nothing."""
    gateway.reset(failures=1000)
    with time_machine.travel(T0, tick=False) as traveller:
        notification = _enqueue_committed(django_capture_on_commit_callbacks)
        for attempt in range(2, 6):
            _sweep_at(notification.next_attempt_at + LOST_HANDOFF_GRACE, traveller)
            notification.refresh_from_db()
            assert notification.attempts == attempt
        assert (notification.state, notification.next_attempt_at) == ("failed", None)
        assert notification.last_error == "SMS gateway answered 503"

        assert _sweep_at(T0 + dt.timedelta(days=1), traveller)["dispatched"] == 0
        assert notification_deliver(notification_id=notification.pk).claimed is False
    assert gateway.calls == 5
    assert gateway.accepted == []


@pytest.mark.django_db
def test_a_retry_that_arrives_early_does_nothing(gateway, django_capture_on_commit_callbacks):
    """A pending row is claimed only once its next attempt time has come, not a microsecond before."""
    gateway.reset(failures=1)
    with time_machine.travel(T0, tick=False) as traveller:
        notification = _enqueue_committed(django_capture_on_commit_callbacks)
        traveller.move_to(notification.next_attempt_at - dt.timedelta(microseconds=1))
        assert notification_deliver(notification_id=notification.pk).claimed is False
        traveller.move_to(notification.next_attempt_at)
        assert notification_deliver(notification_id=notification.pk).delivered is True
    assert gateway.calls == 2


@pytest.mark.django_db
def test_an_unexpected_backend_error_is_recorded_without_the_message_text(
    settings, eager, django_capture_on_commit_callbacks
):
    """A backend bug is one failed attempt (type name only, the body may be in the message)."""
    settings.SMS_BACKEND = f"{__name__}.BrokenSmsBackend"
    notification = _enqueue_committed(django_capture_on_commit_callbacks)
    assert (notification.state, notification.attempts) == ("pending", 1)
    assert notification.last_error == "unexpected error: KeyError"


class BrokenSmsBackend(BaseSmsBackend):
    def send(self, message: Sms) -> None:
        raise KeyError(message.body)


# --- the web request never fails because of the gateway ---------------------------------------


def _request_that_sends(request: HttpRequest) -> HttpResponse:
    with transaction.atomic():
        send_sms_on_commit(to=PHONE, body="인증번호 111111", purpose="otp")
    return HttpResponse("ok")


urlpatterns = [path("send/", _request_that_sends)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls(__name__)
def test_a_failing_gateway_does_not_fail_the_web_request_in_eager_mode(client, settings, eager):
    """Eager mode, gateway down: the request still answers 200; the attempt is recorded for a retry."""
    settings.SMS_BACKEND = "bankportal.notifications.backends.HttpGatewaySmsBackend"
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:9/send"
    response = client.get("/send/")
    assert response.status_code == 200
    notification = Notification.objects.get()
    assert (notification.state, notification.attempts) == ("pending", 1)
    assert "unreachable" in notification.last_error
    assert notification.next_attempt_at > timezone.now()


# --- the sweeper ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sweeper_delivers_a_row_whose_hand_off_was_lost(gateway, django_capture_on_commit_callbacks):
    """Committed, but the after-commit hand-off never happened (broker down, process killed): the
    sweeper dispatches it once it is overdue, and it is delivered once."""
    with time_machine.travel(T0, tick=False) as traveller:
        with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
            notification = send_sms_on_commit(to=PHONE, body="안녕하세요")
        assert _sweep_at(T0 + LOST_HANDOFF_GRACE - dt.timedelta(seconds=1), traveller)["dispatched"] == 0
        assert gateway.calls == 0
        assert _sweep_at(T0 + LOST_HANDOFF_GRACE, traveller) == {"dispatched": 1, "marked_failed": 0}
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == ("sent", 1)
    assert len(gateway.accepted) == 1


@pytest.mark.django_db
def test_a_row_stuck_in_sending_is_marked_failed_and_not_resent(gateway, django_capture_on_commit_callbacks):
    """A worker that died after claiming (maybe after the gateway's 200) leaves 'sending': once the
    timeout has passed the sweeper marks it failed for review and never sends it again."""
    with time_machine.travel(T0, tick=False) as traveller:
        with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
            notification = send_sms_on_commit(to=PHONE, body="이체 알림")
        Notification.objects.filter(pk=notification.pk).update(state="sending", claimed_at=T0, attempts=1)

        assert _sweep_at(T0 + dt.timedelta(seconds=600), traveller)["marked_failed"] == 0
        assert _sweep_at(T0 + dt.timedelta(seconds=600, microseconds=1), traveller)["marked_failed"] == 1
        notification.refresh_from_db()
        assert (notification.state, notification.last_error) == ("failed", OUTCOME_UNKNOWN)
        _sweep_at(T0 + dt.timedelta(days=1), traveller)
    assert gateway.calls == 0


# --- concurrency ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_two_concurrent_deliveries_of_one_row_send_it_once(requires_postgres, gateway):
    """Two workers on two database connections race for the same row: exactly one claims and sends."""
    with transaction.atomic():
        notification = services.Notification.objects.create(
            channel="sms", to=PHONE, body="인증번호 222222", next_attempt_at=timezone.now()
        )
    gateway.reset(delay=0.3)  # the winner is still at the gateway while the loser tries to claim
    start = threading.Barrier(4)
    outcomes: list[services.DeliveryOutcome] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait(timeout=10)
            outcomes.append(notification_deliver(notification_id=notification.pk))
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(outcome.claimed for outcome in outcomes) == [False, False, False, True]
    assert gateway.calls == 1
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == ("sent", 1)
