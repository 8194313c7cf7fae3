"""The certificate centre's daily housekeeping: expired copies lose their payload at once; copies and
login challenges go one day after expiry (exactly one day is kept, a second more is not); chunked,
idempotent, audited per chunk; a dry run writes nothing; scheduled at 00:50 KST."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from bankportal.timeutil import KST
from certcenter import tasks
from certcenter.models import CertificateCopy, LoginChallenge
from certcenter.services import copying
from certcenter.services.housekeeping import HOUSEKEEPING_PERMISSIONS, KEEP_AFTER_EXPIRY, certcenter_housekeeping

pytestmark = pytest.mark.django_db

JOB = system_actor("test:certcenter_housekeeping", HOUSEKEEPING_PERMISSIONS)
NOW = dt.datetime(2026, 6, 2, 0, 50, tzinfo=KST)
SECOND = dt.timedelta(seconds=1)
_serial = iter(range(1, 10_000))


def challenge(expires_at: dt.datetime, *, used: bool = False) -> LoginChallenge:
    n = next(_serial)
    return LoginChallenge.objects.create(
        nonce_sha256=f"{n:064x}",
        session_sha256="a" * 64,
        created_at=expires_at - dt.timedelta(minutes=2),
        expires_at=expires_at,
        used_at=expires_at - dt.timedelta(minutes=1) if used else None,
    )


def copy(expires_at: dt.datetime, *, payload: bytes | None = b"ciphertext", picked_up: bool = False) -> CertificateCopy:
    n = next(_serial)
    return CertificateCopy.objects.create(
        code_hmac=f"{n:064x}",
        receiver_session_sha256="b" * 64,
        created_at=expires_at - copying.COPY_LIFETIME,
        expires_at=expires_at,
        uploaded_at=expires_at - dt.timedelta(minutes=1) if payload or picked_up else None,
        picked_up_at=expires_at - SECOND if picked_up else None,
        payload=None if picked_up else payload,
    )


def test_a_copy_loses_its_payload_after_its_last_second_and_not_before() -> None:
    on_time = copy(NOW)
    past = copy(NOW - SECOND)
    summary = certcenter_housekeeping(actor=JOB, now=NOW)
    assert summary.copies_emptied == 1 and summary.copies_deleted == 0
    on_time.refresh_from_db()
    past.refresh_from_db()
    assert on_time.payload is not None and past.payload is None
    assert AuditEvent.objects.get(action="certificate.copy_purge").details == {"count": 1}


def test_copies_are_deleted_a_day_after_expiry_and_not_a_second_sooner() -> None:
    kept = copy(NOW - KEEP_AFTER_EXPIRY, payload=None)
    picked = copy(NOW - KEEP_AFTER_EXPIRY - SECOND, picked_up=True)
    never_uploaded = copy(NOW - KEEP_AFTER_EXPIRY - SECOND, payload=None)
    summary = certcenter_housekeeping(actor=JOB, now=NOW)
    assert summary.copies_deleted == 2
    assert list(CertificateCopy.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not CertificateCopy.objects.filter(pk__in=[picked.pk, never_uploaded.pk]).exists()
    assert AuditEvent.objects.get(action="certificate.copy_delete_batch").details == {"count": 2}


def test_login_challenges_are_deleted_a_day_after_expiry_used_or_not() -> None:
    kept = challenge(NOW - KEEP_AFTER_EXPIRY)
    recent = challenge(NOW + dt.timedelta(minutes=1))
    challenge(NOW - KEEP_AFTER_EXPIRY - SECOND)
    challenge(NOW - dt.timedelta(days=30), used=True)
    summary = certcenter_housekeeping(actor=JOB, now=NOW)
    assert summary.challenges_deleted == 2
    assert set(LoginChallenge.objects.values_list("pk", flat=True)) == {kept.pk, recent.pk}
    assert AuditEvent.objects.get(action="certificate.challenge_delete_batch").details == {"count": 2}


def test_the_job_works_in_chunks_and_a_rerun_does_nothing() -> None:
    for _n in range(5):
        challenge(NOW - dt.timedelta(days=3))
        copy(NOW - dt.timedelta(days=3), payload=None)
    for _n in range(3):
        copy(NOW - dt.timedelta(minutes=10))
    summary = certcenter_housekeeping(actor=JOB, now=NOW, chunk_size=2)
    assert (summary.copies_emptied, summary.copies_deleted, summary.challenges_deleted) == (3, 5, 5)
    assert summary.chunks == 2 + 3 + 3
    assert AuditEvent.objects.filter(action="certificate.challenge_delete_batch").count() == 3
    assert LoginChallenge.objects.count() == 0 and CertificateCopy.objects.count() == 3
    events = AuditEvent.objects.count()
    again = certcenter_housekeeping(actor=JOB, now=NOW, chunk_size=2)
    assert (again.copies_emptied, again.copies_deleted, again.challenges_deleted, again.chunks) == (0, 0, 0, 0)
    assert AuditEvent.objects.count() == events


def test_a_dry_run_counts_and_writes_nothing() -> None:
    challenge(NOW - dt.timedelta(days=2))
    copy(NOW - dt.timedelta(days=2))
    copy(NOW - SECOND)
    summary = certcenter_housekeeping(actor=JOB, now=NOW, dry_run=True)
    assert (summary.copies_emptied, summary.copies_deleted, summary.challenges_deleted) == (2, 1, 1)
    assert summary.dry_run and LoginChallenge.objects.count() == 1
    assert CertificateCopy.objects.filter(payload__isnull=False).count() == 2
    assert not AuditEvent.objects.filter(action__startswith="certificate.").exists()


def test_only_a_system_actor_with_the_permissions_runs_it(teller) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        certcenter_housekeeping(actor=system_actor("test:nobody"), now=NOW)
    with pytest.raises(PermissionDenied):
        certcenter_housekeeping(actor=teller, now=NOW)
    with pytest.raises(ValueError):
        certcenter_housekeeping(actor=JOB, now=NOW, chunk_size=0)


def test_the_command_reports_and_honours_dry_run() -> None:
    challenge(dt.datetime(2020, 1, 1, tzinfo=KST))
    out = StringIO()
    call_command("certcenter_housekeeping", "--dry-run", stdout=out)
    assert "dry run, nothing written" in out.getvalue() and "1 old login challenge(s)" in out.getvalue()
    assert LoginChallenge.objects.count() == 1
    out = StringIO()
    call_command("certcenter_housekeeping", stdout=out)
    assert "1 old login challenge(s) deleted" in out.getvalue()
    assert LoginChallenge.objects.count() == 0


def test_the_task_runs_the_job_and_is_scheduled_at_00_50_kst() -> None:
    challenge(dt.datetime(2020, 1, 1, tzinfo=KST))
    result = tasks.certcenter_housekeeping_task()
    assert result["challenges_deleted"] == 1 and result["dry_run"] is False
    entry = settings.CELERY_BEAT_SCHEDULE["certcenter-housekeeping-nightly"]
    assert entry["task"] == "certcenter.tasks.certcenter_housekeeping_task"
    assert entry["schedule"] == crontab(hour=0, minute=50)
    assert entry["schedule"] != crontab(hour=0, minute=40)
    assert settings.CELERY_TIMEZONE == "Asia/Seoul"


def test_every_minute_a_task_empties_the_copies_that_just_expired_and_no_others() -> None:
    expired = copy(dt.datetime(2020, 1, 1, tzinfo=KST))
    waiting = copy(dt.datetime(2999, 1, 1, tzinfo=KST))
    assert tasks.certificate_copies_purge_task() == {"emptied": 1}
    expired.refresh_from_db()
    waiting.refresh_from_db()
    assert expired.payload is None and waiting.payload is not None
    assert tasks.certificate_copies_purge_task() == {"emptied": 0}
    entry = settings.CELERY_BEAT_SCHEDULE["certificate-copies-purge"]
    assert entry["task"] == "certcenter.tasks.certificate_copies_purge_task"
    assert entry["schedule"] == 60.0
