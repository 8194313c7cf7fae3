"""The certificate centre's daily job: a valid joint certificate is marked expired from the 00:00
KST after its expiry day; one SMS when its renewal window opens (00:00 KST, 60 days before the
expiry day) and one reminder 7 days before the expiry day, each once per certificate; a revoked
(renewed or reissued) certificate gets nothing more. Set-based in chunks; a rerun, two runs at once
or a run that fails half-way write every SMS once.

Certificate rows are created directly (as in ``test_login``) under a stand-in issuing CA row: the
job reads only status, expiry, the stage columns and the customer's phone, never the DER.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import subprocess
import sys
import time
from collections import Counter
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from celery.schedules import crontab
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connection

from accounts import services as accounts_services
from accounts.models import Customer, User
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from bankportal.celery import app as celery_app
from bankportal.notifications.models import Notification, OutboxMessage
from bankportal.timeutil import KST
from certcenter import rules, services
from certcenter.models import Certificate, CertificateAuthority, serial_text
from certcenter.services import notices as jobs
from certcenter.tasks import certificates_daily_task
from tests.conftest import rrn_for_age

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]

Status = Certificate.Status
JOB = system_actor("test_certificates_daily", [services.NOTICES_PERMISSION])
RENEWAL = services.PURPOSE_RENEWAL_NOTICE
REMINDER = services.PURPOSE_EXPIRY_REMINDER
_serial = itertools.count(1)


def at(*args: int) -> dt.datetime:
    """A KST wall-clock instant: at(2027, 1, 9) is 2027-01-09 00:00 KST."""
    return dt.datetime(*args, tzinfo=KST)  # type: ignore[misc, arg-type]


# Issued 2026-03-10, expires on 2027-03-10 (valid through 23:59:59 KST).
EXPIRY_DAY = dt.date(2027, 3, 10)
NOT_AFTER = at(2027, 3, 10, 23, 59, 59)
OPENS = at(2027, 1, 9)  # 60 days before the expiry day
REMINDER_DAY = at(2027, 3, 3)  # 7 days before
EXPIRED_FROM = at(2027, 3, 11)
ONE_SECOND = dt.timedelta(seconds=1)
JUST_BEFORE = dt.timedelta(microseconds=1)


def stand_in_issuer() -> CertificateAuthority:
    authority, _created = CertificateAuthority.objects.get_or_create(
        role=CertificateAuthority.Role.ISSUING,
        is_active=True,
        defaults={
            "name": "Test Issuing CA",
            "certificate_pem": "-",
            "key_pem": "-",
            "serial": "1",
            "fingerprint_sha256": "0" * 64,
            "not_before": at(2026, 1, 1),
            "not_after": at(2031, 1, 1),
            "created_at": at(2026, 1, 1),
        },
    )
    return authority


def new_customer(teller: User, *, phone: str | None = None) -> Customer:
    n = next(_serial)
    return accounts_services.customer_create(
        kind=Customer.Kind.INDIVIDUAL,
        name=f"고객{n}",
        phone=phone or f"0107{n:07d}",
        rrn=rrn_for_age(40, serial=f"{200000 + n}"),
        actor=teller,
    )


def certificate(customer: Customer, *, expiry_day: dt.date = EXPIRY_DAY, **fields: Any) -> Certificate:
    """A valid one-year certificate expiring on ``expiry_day`` 23:59:59 KST."""
    not_after = dt.datetime.combine(expiry_day, dt.time(23, 59, 59), tzinfo=KST)
    return Certificate.objects.create(
        customer=customer,
        issuer=stand_in_issuer(),
        serial=serial_text(0x5E7_0000 + next(_serial)),
        kind=Certificate.Kind.RESTRICTED,
        storage=Certificate.Storage.BROWSER,
        subject_cn=customer.name,
        not_before=not_after - dt.timedelta(days=365),
        not_after=not_after,
        certificate_der=b"\x30\x00",
        created_at=not_after - dt.timedelta(days=365),
        **fields,
    )


@pytest.fixture
def make_cert(teller):  # type: ignore[no-untyped-def]
    def make(expiry_day: dt.date = EXPIRY_DAY, **fields: Any) -> Certificate:
        return certificate(new_customer(teller), expiry_day=expiry_day, **fields)

    return make


def run(now: dt.datetime, **kwargs: Any) -> jobs.CertificateJobSummary:
    return jobs.certificates_daily(actor=JOB, now=now, **kwargs)


NOTHING = jobs.CertificateJobSummary(expired=0, renewal_notices=0, expiry_reminders=0, chunks=0)


def texts(purpose: str) -> list[tuple[str, str]]:
    return sorted(Notification.objects.filter(purpose=purpose).values_list("to", "body"))


def fresh(cert: Certificate) -> Certificate:
    return Certificate.objects.get(pk=cert.pk)


def snapshot() -> tuple[Any, ...]:
    """Everything the job writes."""
    return (
        sorted(Certificate.objects.values_list("pk", "status", "renewal_notice_sent_at", "expiry_reminder_sent_at")),
        Notification.objects.count(),
        AuditEvent.objects.count(),
    )


# --- Boundaries ------------------------------------------------------------------------------------


def test_the_window_opens_at_0000_kst_60_days_before_the_expiry_day() -> None:
    assert rules.renewal_opens_at(NOT_AFTER) == OPENS


def test_the_renewal_notice_goes_out_on_the_windows_first_day_not_at_235959_the_day_before(make_cert) -> None:  # type: ignore[no-untyped-def]
    cert = make_cert()
    assert run(OPENS - ONE_SECOND) == NOTHING
    assert run(OPENS - JUST_BEFORE) == NOTHING

    summary = run(OPENS)

    assert (summary.renewal_notices, summary.expiry_reminders, summary.expired) == (1, 0, 0)
    assert texts(RENEWAL) == [(cert.customer.phone, jobs.renewal_notice_body(EXPIRY_DAY))]
    body = jobs.renewal_notice_body(EXPIRY_DAY)
    assert settings.BANK_NAME_KO in body and "2027-03-10" in body
    noticed = fresh(cert)
    assert (noticed.status, noticed.renewal_notice_sent_at, noticed.expiry_reminder_sent_at) == (
        Status.VALID,
        OPENS,
        None,
    )
    event = AuditEvent.objects.get(action="certificate.renewal_notice_batch")
    assert event.actor_label == "system:test_certificates_daily"
    assert (event.details["count"], event.details["certificates"]) == (1, [cert.pk])


def test_the_reminder_goes_out_7_days_before_the_expiry_day_not_8(make_cert) -> None:  # type: ignore[no-untyped-def]
    cert = make_cert()
    run(OPENS)
    assert run(REMINDER_DAY - dt.timedelta(days=1)) == NOTHING  # expiry - 8, 00:00
    assert run(REMINDER_DAY - ONE_SECOND) == NOTHING  # expiry - 8, 23:59:59

    summary = run(REMINDER_DAY)

    assert (summary.expiry_reminders, summary.renewal_notices) == (1, 0)
    assert texts(REMINDER) == [(cert.customer.phone, jobs.expiry_reminder_body(EXPIRY_DAY))]
    assert "2027-03-10" in jobs.expiry_reminder_body(EXPIRY_DAY)
    assert fresh(cert).expiry_reminder_sent_at == REMINDER_DAY


def test_a_certificate_is_valid_through_its_expiry_day_235959_and_expired_from_the_next_0000(make_cert) -> None:  # type: ignore[no-untyped-def]
    cert = make_cert()
    run(REMINDER_DAY)
    sms = Notification.objects.count()
    assert run(NOT_AFTER).expired == 0
    assert run(EXPIRED_FROM - JUST_BEFORE).expired == 0  # 23:59:59.999999: still inside the second
    assert fresh(cert).status == Status.VALID

    summary = run(EXPIRED_FROM)

    assert summary == jobs.CertificateJobSummary(expired=1, renewal_notices=0, expiry_reminders=0, chunks=1)
    assert fresh(cert).status == Status.EXPIRED
    assert Notification.objects.count() == sms  # expiry itself sends nothing
    event = AuditEvent.objects.get(action="certificate.expire_batch")
    assert event.details["certificates"] == [cert.pk]


def test_a_daily_run_over_the_whole_window_sends_one_text_of_each_stage(make_cert) -> None:  # type: ignore[no-untyped-def]
    """Every day at 00:40 KST from the day before the window to the day after expiry."""
    cert = make_cert()
    day = OPENS - dt.timedelta(days=1)
    while day <= EXPIRED_FROM + dt.timedelta(days=1):
        run(day + dt.timedelta(minutes=40))
        day += dt.timedelta(days=1)
    assert texts(RENEWAL) == [(cert.customer.phone, jobs.renewal_notice_body(EXPIRY_DAY))]
    assert texts(REMINDER) == [(cert.customer.phone, jobs.expiry_reminder_body(EXPIRY_DAY))]
    assert fresh(cert).status == Status.EXPIRED


def test_a_certificate_first_seen_inside_the_last_7_days_gets_only_the_reminder(make_cert) -> None:  # type: ignore[no-untyped-def]
    """Say the job was down for weeks: no stale "the window has opened", just the reminder."""
    make_cert()
    summary = run(REMINDER_DAY + dt.timedelta(days=2))
    assert (summary.renewal_notices, summary.expiry_reminders) == (0, 1)
    assert texts(RENEWAL) == []


def test_a_certificate_found_already_expired_is_marked_without_any_text(make_cert) -> None:  # type: ignore[no-untyped-def]
    cert = make_cert()
    summary = run(EXPIRED_FROM + dt.timedelta(days=20))
    assert (summary.expired, summary.renewal_notices, summary.expiry_reminders) == (1, 0, 0)
    assert (fresh(cert).status, Notification.objects.count()) == (Status.EXPIRED, 0)


def test_a_renewed_or_revoked_certificate_gets_nothing_more(make_cert, teller) -> None:  # type: ignore[no-untyped-def]
    """The old certificate, renewed (revoked as superseded) after its notice, gets no reminder and is
    not marked expired; its successor (expiring a year later) is not due; a revoked one gets nothing."""
    old = make_cert()
    run(OPENS)
    Certificate.objects.filter(pk=old.pk).update(
        status=Status.REVOKED, revoked_at=OPENS + dt.timedelta(days=3),
        revocation_reason=Certificate.RevocationReason.SUPERSEDED,
    )  # fmt: skip
    successor = certificate(old.customer, expiry_day=dt.date(2028, 1, 12))
    compromised = make_cert(
        status=Status.REVOKED, revoked_at=at(2026, 5, 1), revocation_reason=Certificate.RevocationReason.KEY_COMPROMISE
    )
    before = snapshot()

    for now in (REMINDER_DAY, EXPIRED_FROM):
        assert run(now) == NOTHING

    assert snapshot() == before
    assert (fresh(old).status, fresh(compromised).status, fresh(successor).status) == (
        Status.REVOKED,
        Status.REVOKED,
        Status.VALID,
    )
    assert len(texts(RENEWAL)) == 1 and texts(REMINDER) == []


def test_a_customer_without_a_phone_is_marked_but_gets_no_text(teller) -> None:  # type: ignore[no-untyped-def]
    cert = certificate(new_customer(teller))
    Customer.objects.filter(pk=cert.customer_id).update(phone="")
    summary = run(OPENS)
    assert summary.renewal_notices == 0
    assert fresh(cert).renewal_notice_sent_at == OPENS  # not retried every night
    assert Notification.objects.count() == 0


# --- Set-based, idempotent, audited ----------------------------------------------------------------


def test_a_second_run_changes_nothing_and_sends_nothing(make_cert) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        make_cert(dt.date(2027, 1, 20))  # expired on the run day
    for _ in range(2):
        make_cert(dt.date(2027, 3, 15))  # window open
    make_cert(dt.date(2027, 1, 25))  # reminder due (the notice is skipped: inside the last 7 days)
    now = at(2027, 1, 21, 0, 40)
    first = run(now, chunk_size=2)
    assert first == jobs.CertificateJobSummary(expired=3, renewal_notices=2, expiry_reminders=1, chunks=4)
    before = snapshot()

    assert run(now, chunk_size=2) == NOTHING
    assert run(now + dt.timedelta(hours=5)) == NOTHING
    assert snapshot() == before


def test_each_chunk_is_one_audit_event_listing_its_certificates(make_cert) -> None:  # type: ignore[no-untyped-def]
    """Chunks of 2 over certificates sharing one expiry instant (the cursor breaks ties by id)."""
    noticed = [make_cert() for _ in range(5)]
    summary = run(OPENS, chunk_size=2)
    assert (summary.renewal_notices, summary.chunks) == (5, 3)
    events = list(AuditEvent.objects.filter(action="certificate.renewal_notice_batch").order_by("pk"))
    assert [e.details["count"] for e in events] == [2, 2, 1]
    assert sorted(pk for e in events for pk in e.details["certificates"]) == sorted(c.pk for c in noticed)
    assert Counter(to for to, _body in texts(RENEWAL)) == Counter(c.customer.phone for c in noticed)


def test_a_run_that_fails_half_way_keeps_its_committed_chunks_and_the_rerun_finishes(  # type: ignore[no-untyped-def]
    make_cert, monkeypatch
) -> None:
    certs = [make_cert() for _ in range(4)]
    real_audit = jobs.audit_record
    calls = 0

    def failing_audit(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("killed")
        return real_audit(**kwargs)

    monkeypatch.setattr(jobs, "audit_record", failing_audit)
    with pytest.raises(RuntimeError):
        run(OPENS, chunk_size=2)
    assert Certificate.objects.filter(renewal_notice_sent_at__isnull=False).count() == 2
    assert len(texts(RENEWAL)) == 2

    monkeypatch.setattr(jobs, "audit_record", real_audit)
    assert run(OPENS, chunk_size=2).renewal_notices == 2
    assert Counter(to for to, _body in texts(RENEWAL)) == Counter(c.customer.phone for c in certs)


def test_a_dry_run_writes_nothing_and_reports_what_the_run_then_does(make_cert) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        make_cert(dt.date(2027, 1, 20))
    make_cert(dt.date(2027, 3, 15))
    make_cert(dt.date(2027, 1, 25))
    now = at(2027, 1, 21, 0, 40)
    before = snapshot()

    dry = run(now, dry_run=True, chunk_size=2)

    assert snapshot() == before
    assert dry == jobs.CertificateJobSummary(expired=3, renewal_notices=1, expiry_reminders=1, chunks=4, dry_run=True)
    real = run(now, chunk_size=2)
    assert (real.expired, real.renewal_notices, real.expiry_reminders, real.chunks) == (3, 1, 1, 4)


def test_the_texts_are_delivered_once_after_commit(make_cert, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    noticed = make_cert()
    reminded = make_cert(dt.date(2027, 1, 12))
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                run(OPENS)
    finally:
        celery_app.conf.task_always_eager = eager
    delivered = sorted(OutboxMessage.objects.values_list("to", "purpose"))
    assert delivered == sorted([(noticed.customer.phone, RENEWAL), (reminded.customer.phone, REMINDER)])
    assert set(Notification.objects.values_list("state", flat=True)) == {Notification.State.SENT}


def test_only_a_system_actor_with_the_change_permission_runs_the_job(make_cert, manager, teller) -> None:  # type: ignore[no-untyped-def]
    make_cert()
    staff_with_perm = User.objects.create_user(username="certadmin", is_staff=True)
    staff_with_perm.user_permissions.add(
        Permission.objects.get(codename="change_certificate", content_type__app_label="certcenter")
    )
    staff_with_perm = User.objects.get(pk=staff_with_perm.pk)
    assert staff_with_perm.has_perm(services.NOTICES_PERMISSION)
    before = snapshot()
    for actor in (staff_with_perm, manager, teller, system_actor("nobody", ["certcenter.view_certificate"])):
        with pytest.raises(PermissionDenied):
            jobs.certificates_daily(actor=actor, now=OPENS)
    assert snapshot() == before
    assert not AuditEvent.objects.filter(action__startswith="certificate.").exists()


@pytest.mark.parametrize("chunk_size", [0, 10_001])
def test_a_chunk_size_out_of_bounds_is_refused(chunk_size) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="chunk_size"):
        run(OPENS, chunk_size=chunk_size)


# --- Command, task, schedule -------------------------------------------------------------------------


def test_the_command_dry_run_prints_the_summary_and_writes_nothing(make_cert) -> None:  # type: ignore[no-untyped-def]
    make_cert()
    make_cert(dt.date(2027, 1, 5))
    before = snapshot()
    out = StringIO()
    with time_machine.travel(OPENS + dt.timedelta(minutes=40), tick=False):
        call_command("certificate_notices", "--dry-run", stdout=out)
    assert snapshot() == before
    assert out.getvalue().strip() == (
        "dry run, nothing written: would be 1 certificate(s) marked expired; 1 renewal notice(s); 0 expiry reminder(s)"
    )


def test_the_command_runs_as_a_named_system_actor_and_prints_the_summary(make_cert) -> None:  # type: ignore[no-untyped-def]
    cert = make_cert()
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("certificate_notices", "--chunk-size", "0", stdout=StringIO())
    with time_machine.travel(OPENS + dt.timedelta(minutes=40), tick=False):
        call_command("certificate_notices", "--chunk-size", "500", stdout=out)
    assert "0 certificate(s) marked expired; 1 renewal notice(s); 0 expiry reminder(s); 1 chunk(s)" in out.getvalue()
    assert fresh(cert).renewal_notice_sent_at is not None
    event = AuditEvent.objects.get(action="certificate.renewal_notice_batch")
    assert (event.actor_label, event.channel) == ("system:command:certificate_notices", "command")


def test_the_daily_task_runs_as_a_named_system_actor_and_is_scheduled_at_0040_kst(make_cert) -> None:  # type: ignore[no-untyped-def]
    make_cert()
    with time_machine.travel(OPENS + dt.timedelta(minutes=40), tick=False):
        assert certificates_daily_task() == {
            "expired": 0,
            "renewal_notices": 1,
            "expiry_reminders": 0,
            "chunks": 1,
            "dry_run": False,
        }
    event = AuditEvent.objects.get(action="certificate.renewal_notice_batch")
    assert (event.actor_label, event.channel) == ("system:certificates_daily", "task")
    entry = settings.CELERY_BEAT_SCHEDULE["certificates-daily"]
    assert entry["task"] == "certcenter.tasks.certificates_daily_task"
    assert entry["schedule"] == crontab(hour=0, minute=40)
    assert settings.CELERY_TIMEZONE == "Asia/Seoul"


# --- PostgreSQL: separate processes ---------------------------------------------------------------


def _worker(orders: dict[str, Any]) -> subprocess.Popen[str]:
    """Start ``tests.certcenter.certificate_job_worker`` in its own process on this test database."""
    env = dict(
        os.environ, CERTIFICATE_JOB_DB=connection.settings_dict["NAME"], CERTIFICATE_JOB_ORDERS=json.dumps(orders)
    )
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.certcenter.certificate_job_worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(process: subprocess.Popen[str], timeout: float = 90) -> dict[str, Any]:
    out, err = process.communicate(timeout=timeout)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    results = [line for line in lines if "chunk" not in line]
    assert results, f"worker printed no result; stderr:\n{err[-3000:]}"
    return results[-1]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_two_runs_in_separate_processes_at_once_send_each_text_once(requires_postgres, make_cert) -> None:  # type: ignore[no-untyped-def]
    """Two processes run the job on 20 expired, 30 notice-due and 20 reminder-due certificates at
    the same instant in chunks of 4 (pausing after each commit so they interleave): both do part of
    the work, every certificate is changed once and every customer gets exactly one text."""
    expired = [make_cert(dt.date(2027, 1, 20)) for _ in range(20)]
    noticed = [make_cert(dt.date(2027, 3, 15)) for _ in range(30)]
    reminded = [make_cert(dt.date(2027, 1, 25)) for _ in range(20)]
    now = at(2027, 1, 21, 0, 40)
    start_at = time.time() + 4
    orders = {"now": now.isoformat(), "chunk_size": 4, "pause_after_chunk": 0.05}
    workers = [_worker({**orders, "start_at": start_at, "name": f"w{i}"}) for i in range(2)]
    results = [_result(w) for w in workers]

    assert all("error" not in r for r in results), results
    summaries = [r["summary"] for r in results]
    assert sum(s["expired"] for s in summaries) == 20
    assert sum(s["renewal_notices"] for s in summaries) == 30
    assert sum(s["expiry_reminders"] for s in summaries) == 20
    assert all(s["chunks"] > 0 for s in summaries), summaries  # both really worked
    assert Counter(to for to, _body in texts(RENEWAL)) == Counter(c.customer.phone for c in noticed)
    assert Counter(to for to, _body in texts(REMINDER)) == Counter(c.customer.phone for c in reminded)
    assert {fresh(c).status for c in expired} == {Status.EXPIRED}
    listed = [
        pk for e in AuditEvent.objects.filter(action="certificate.expire_batch") for pk in e.details["certificates"]
    ]
    assert sorted(listed) == sorted(c.pk for c in expired)
    assert run(now) == NOTHING
