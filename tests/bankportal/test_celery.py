"""Celery: the beat schedule names real tasks; with Redis, tasks travel through the broker."""

import pytest
from celery.contrib.testing.worker import start_worker

from accounts.tasks import ledger_verify_task
from bankportal.audit.tasks import audit_verify_task
from bankportal.celery import app


def test_beat_schedule_points_at_registered_tasks(settings):
    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name
    assert app.conf.timezone == "Asia/Seoul"


@pytest.mark.django_db
def test_tasks_run_eagerly_without_redis(alice_account):
    assert ledger_verify_task.apply().get() == {"ok": True, "problems": 0}
    assert audit_verify_task.apply().get()["ok"] is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
def test_task_round_trip_through_redis_broker(requires_redis, settings, alice_account):
    """A worker consumes the task from Redis and reports through the Redis result backend."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1, loglevel="WARNING"):
            result = ledger_verify_task.delay()
            assert result.get(timeout=30) == {"ok": True, "problems": 0}
    finally:
        app.conf.task_always_eager = previous
