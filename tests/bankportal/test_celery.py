"""Celery: the beat schedule names real tasks at fixed KST times; with Redis, notifications really
travel through the broker to a worker."""

from __future__ import annotations

import copy
import datetime as dt
import json
import socket
from zoneinfo import ZoneInfo

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.result import AsyncResult
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.db import transaction

from bankportal.celery import app
from bankportal.notifications.services import send_sms_on_commit
from tests.bankportal.test_notification_delivery import SCRIPTED, ScriptedSmsBackend

KST = ZoneInfo("Asia/Seoul")
DELIVER_TASK = "bankportal.notifications.tasks.notification_deliver_task"
NIGHTLY = sorted(name for name in django_settings.CELERY_BEAT_SCHEDULE if name.endswith("-nightly"))


@pytest.mark.parametrize("name", sorted(django_settings.CELERY_BEAT_SCHEDULE))
def test_every_beat_entry_names_a_registered_task(name):
    """Beat would otherwise send a task name no worker knows, every time, silently."""
    app.loader.import_default_modules()
    assert django_settings.CELERY_BEAT_SCHEDULE[name]["task"] in app.tasks
    assert app.conf.beat_schedule[name]["task"] == django_settings.CELERY_BEAT_SCHEDULE[name]["task"]


def test_beat_runs_in_korean_time():
    assert app.conf.timezone == "Asia/Seoul"
    assert NIGHTLY, "the nightly jobs are named '*-nightly'"


@pytest.mark.parametrize("name", NIGHTLY)
def test_nightly_jobs_run_at_a_fixed_kst_time_not_every_24_hours_from_start(name):
    """A nightly job is a crontab at one KST wall-clock time: not due a second before it the next
    night (a UTC reading would already be due), due at it, whatever time beat was started."""
    schedule = django_settings.CELERY_BEAT_SCHEDULE[name]["schedule"]
    assert isinstance(schedule, crontab), f"{name} must be a crontab, not a plain interval"
    assert len(schedule.hour) == 1 and len(schedule.minute) == 1, "one run a night"
    (hour,), (minute,) = schedule.hour, schedule.minute
    last_run = dt.datetime(2026, 3, 1, hour, minute, tzinfo=KST)
    next_run = last_run + dt.timedelta(days=1)

    def due_at(moment: dt.datetime) -> bool:
        probe = copy.copy(schedule)
        probe.nowfun = lambda: moment  # type: ignore[attr-defined]
        return bool(probe.is_due(last_run)[0])

    assert due_at(next_run - dt.timedelta(seconds=1)) is False
    assert due_at(next_run) is True
    assert due_at(next_run.astimezone(dt.UTC)) is True  # the same instant, read from a UTC clock


# --- a real worker on Redis -----------------------------------------------------------------


@pytest.fixture
def broker(requires_redis, settings):
    """The app set up as in production: tasks go to Redis, not run in-process; the queue empty."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    settings.SMS_BACKEND = SCRIPTED
    ScriptedSmsBackend.reset()
    app.control.purge()
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    yield client
    client.close()
    app.conf.task_always_eager = previous


def _queued_delivery_ids(client: redis.Redis, notification_id: int) -> list[str]:
    """Ids of deliver-task messages for this notification waiting in the Redis queue."""
    ids = []
    for raw in client.lrange(app.conf.task_default_queue, 0, -1):
        headers = json.loads(raw)["headers"]
        if headers["task"] == DELIVER_TASK and headers["argsrepr"] == f"({notification_id},)":
            ids.append(headers["id"])
    return ids


def _worker(hostname: str):  # type: ignore[no-untyped-def]
    return start_worker(
        app, perform_ping_check=False, pool="solo", concurrency=1, loglevel="WARNING", hostname=hostname
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
def test_a_committed_notification_is_delivered_by_a_worker_through_redis(broker):
    """Commit puts one deliver message on the Redis queue and nothing is sent in-process; a worker
    consumes it, delivers once, marks the row sent and reports through the Redis result backend."""
    with transaction.atomic():
        notification = send_sms_on_commit(to="01012345678", body="인증번호 123456", purpose="otp")

    (task_id,) = _queued_delivery_ids(broker, notification.pk)
    notification.refresh_from_db()
    assert (notification.state, ScriptedSmsBackend.calls) == ("pending", 0)

    hostname = f"notify-test-{notification.pk}@{socket.gethostname()}"
    with _worker(hostname):
        outcome = AsyncResult(task_id, app=app).get(timeout=30)

    assert outcome["queue"] == app.conf.task_default_queue  # taken off the Redis queue, not run in-process
    assert _queued_delivery_ids(broker, notification.pk) == []
    stored = json.loads(broker.get(f"celery-task-meta-{task_id}"))  # the Redis result backend's record
    assert (stored["status"], stored["result"]) == ("SUCCESS", outcome)
    assert (outcome["state"], outcome["attempts"], outcome["delivered"]) == ("sent", 1, True)
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == ("sent", 1)
    assert [message.key for message in ScriptedSmsBackend.accepted] == [str(notification.key)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
def test_a_worker_retries_a_flaky_gateway_with_backoff_and_delivers_once(broker, settings):
    """Through the worker, two refusals are retried via the broker (1 s, then 2 s later): attempts=3,
    one delivery."""
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 1
    ScriptedSmsBackend.reset(failures=2)
    with transaction.atomic():
        notification = send_sms_on_commit(to="01012345678", body="이체 완료")
    (task_id,) = _queued_delivery_ids(broker, notification.pk)

    with _worker(f"notify-retry-{notification.pk}@{socket.gethostname()}"):
        outcome = AsyncResult(task_id, app=app).get(timeout=60)

    assert (outcome["state"], outcome["attempts"]) == ("sent", 3)
    notification.refresh_from_db()
    assert (notification.state, notification.attempts, notification.last_error) == ("sent", 3, "")
    assert ScriptedSmsBackend.calls == 3
    assert len(ScriptedSmsBackend.accepted) == 1
