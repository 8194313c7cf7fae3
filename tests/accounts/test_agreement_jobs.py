"""The e-banking agreement jobs: applications lapse from D+5 00:00 KST; an agreement unused for 12
calendar months is suspended with one text, after one advance notice 30 days before. Set-based in
chunks; a re-run, two runs at once, or a run killed half-way and started again change nothing twice
and write every notice once."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connection

from accounts import services
from accounts.agreements import Document
from accounts.models import Account, Agreement, Customer, User
from accounts.services import agreement_jobs as jobs
from accounts.services.agreements import (
    LAPSE_PERMISSION,
    SUSPEND_PERMISSION,
    agreement_apply,
    agreement_record_use,
    agreement_suspend,
    agreement_terminate,
)
from accounts.tasks import agreements_dormancy_task, agreements_lapse_task
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from bankportal.celery import app as celery_app
from bankportal.notifications.models import Notification, OutboxMessage
from bankportal.timeutil import KST
from tests.conftest import ACCOUNT_PASSWORD, rrn_for_age

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]

State = Agreement.State
LAPSE = system_actor("test_agreement_lapse", [LAPSE_PERMISSION])
DORMANCY = system_actor("test_agreement_dormancy", [SUSPEND_PERMISSION])
NOTICE = jobs.PURPOSE_DORMANCY_NOTICE
SUSPENSION = jobs.PURPOSE_DORMANT_SUSPENSION
_serial = itertools.count(1)


def at(*args: int) -> dt.datetime:
    """A KST wall-clock instant: at(2025, 3, 16) is 2025-03-16 00:00 KST."""
    return dt.datetime(*args, tzinfo=KST)  # type: ignore[misc, arg-type]


# Last used 2024-03-15 → notice due 2025-02-14, dormant from 2025-03-16.
LAST_USE = at(2024, 3, 15, 10)
NOTICE_DAY = at(2025, 2, 14)
DORMANCY_DAY = at(2025, 3, 16)
JUST_BEFORE = dt.timedelta(microseconds=1)


def new_customer(teller: User, product: Any) -> tuple[Customer, Account]:
    n = next(_serial)
    customer = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL,
        name=f"고객{n}",
        phone=f"0109{n:07d}",
        rrn=rrn_for_age(40, serial=f"{100000 + n}"),
        actor=teller,
    )
    account = services.account_open(customer=customer, product=product, password=ACCOUNT_PASSWORD, actor=teller)
    return customer, account


def applied_agreement(teller: User, product: Any, *, applied_at: dt.datetime) -> Agreement:
    customer, account = new_customer(teller, product)
    return agreement_apply(
        customer=customer,
        withdrawal_accounts=[account],
        documents=[Document.RESIDENT_CARD],
        actor=teller,
        now=applied_at,
    )


def activate(agreement: Agreement, *, last_used_at: dt.datetime | None, registered_at: dt.datetime) -> Agreement:
    """Online registration, done directly: what the jobs read is an active agreement with a login,
    its registration time and its last use (``agreement_register_online`` is tested elsewhere)."""
    user = User.objects.create_user(username=f"user{agreement.pk}x", customer=agreement.customer)
    Agreement.objects.filter(pk=agreement.pk).update(
        state=State.ACTIVE, user=user, registered_at=registered_at, last_used_at=last_used_at
    )
    return Agreement.objects.get(pk=agreement.pk)


@pytest.fixture
def make_active(teller, demand_product):  # type: ignore[no-untyped-def]
    """An active agreement last used at ``last_used_at`` (None: never used since registration)."""

    def make(last_used_at: dt.datetime | None = LAST_USE, *, registered_at: dt.datetime | None = None) -> Agreement:
        registered_at = registered_at or last_used_at or LAST_USE
        agreement = applied_agreement(teller, demand_product, applied_at=registered_at - dt.timedelta(hours=1))
        return activate(agreement, last_used_at=last_used_at, registered_at=registered_at)

    return make


def sweep(now: dt.datetime, **kwargs: Any) -> jobs.DormancySummary:
    return jobs.agreements_dormancy_sweep(actor=DORMANCY, now=now, **kwargs)


def texts(purpose: str) -> list[tuple[str, str]]:
    return sorted(Notification.objects.filter(purpose=purpose).values_list("to", "body"))


def state_of(agreement: Agreement) -> Agreement:
    return Agreement.objects.get(pk=agreement.pk)


def snapshot() -> tuple[Any, ...]:
    """Everything the jobs write."""
    return (
        sorted(
            Agreement.objects.values_list(
                "pk", "state", "suspension_reason", "suspended_at", "lapsed_at", "dormancy_notice_sent_at"
            )
        ),
        Notification.objects.count(),
        AuditEvent.objects.count(),
    )


# --- Lapse ---------------------------------------------------------------------------------------


def test_an_application_lapses_at_d_plus_5_midnight_kst_not_a_moment_before(teller, demand_product) -> None:  # type: ignore[no-untyped-def]
    """Applied on D (2026-03-02): not lapsed at D+4 23:59:59.999 KST, lapsed at D+5 00:00 KST."""
    agreement = applied_agreement(teller, demand_product, applied_at=at(2026, 3, 2, 10))

    before = jobs.agreements_lapse_due(actor=LAPSE, now=at(2026, 3, 6, 23, 59, 59, 999000))
    assert (before.lapsed, state_of(agreement).state) == (0, State.APPLIED)

    after = jobs.agreements_lapse_due(actor=LAPSE, now=at(2026, 3, 7))
    lapsed = state_of(agreement)
    assert (after.lapsed, after.chunks, lapsed.state, lapsed.lapsed_at) == (1, 1, State.LAPSED, at(2026, 3, 7))
    event = AuditEvent.objects.get(action="agreement.lapse_batch")
    assert event.actor_label == "system:test_agreement_lapse"
    assert (event.details["count"], event.details["agreements"]) == (1, [agreement.pk])


def test_lapsing_again_changes_nothing(teller, demand_product) -> None:  # type: ignore[no-untyped-def]
    applied_agreement(teller, demand_product, applied_at=at(2026, 3, 2, 10))
    jobs.agreements_lapse_due(actor=LAPSE, now=at(2026, 3, 7))
    before = snapshot()
    again = jobs.agreements_lapse_due(actor=LAPSE, now=at(2026, 3, 8))
    assert (again.lapsed, again.chunks) == (0, 0)
    assert snapshot() == before


def test_lapse_runs_in_chunks_with_one_audit_event_each_and_touches_only_applications(  # type: ignore[no-untyped-def]
    teller, demand_product, make_active
) -> None:
    """5 overdue applications in chunks of 2: 3 chunks, 3 events listing every id once; an active
    agreement and an application still in its period are left alone."""
    overdue = [applied_agreement(teller, demand_product, applied_at=at(2026, 3, 1, 9 + i)) for i in range(5)]
    in_period = applied_agreement(teller, demand_product, applied_at=at(2026, 3, 3, 0))
    active = make_active(at(2026, 3, 1))

    summary = jobs.agreements_lapse_due(actor=LAPSE, now=at(2026, 3, 7, 0, 10), chunk_size=2)

    assert (summary.lapsed, summary.chunks) == (5, 3)
    listed = [pk for e in AuditEvent.objects.filter(action="agreement.lapse_batch") for pk in e.details["agreements"]]
    assert sorted(listed) == sorted(a.pk for a in overdue)
    assert {state_of(a).state for a in overdue} == {State.LAPSED}
    assert (state_of(in_period).state, state_of(active).state) == (State.APPLIED, State.ACTIVE)


def test_a_lapse_dry_run_writes_nothing_and_reports_what_would_lapse(teller, demand_product) -> None:  # type: ignore[no-untyped-def]
    for hour in (9, 10, 11):
        applied_agreement(teller, demand_product, applied_at=at(2026, 3, 2, hour))
    before = snapshot()
    summary = jobs.agreements_lapse_due(actor=LAPSE, now=at(2026, 3, 7), dry_run=True, chunk_size=2)
    assert summary == jobs.LapseSummary(lapsed=3, chunks=2, dry_run=True)
    assert snapshot() == before


def test_lapse_needs_the_change_permission(teller) -> None:  # type: ignore[no-untyped-def]
    for actor in (system_actor("nobody"), teller):
        with pytest.raises(PermissionDenied):
            jobs.agreements_lapse_due(actor=actor, now=at(2026, 3, 7))


# --- Dormancy: boundaries --------------------------------------------------------------------------


def test_the_advance_notice_goes_out_on_its_day_not_the_day_before(make_active) -> None:  # type: ignore[no-untyped-def]
    """Last used 2024-03-15: nothing on 2025-02-13 23:59:59.999999; on 2025-02-14 one text naming
    2025-03-16 and the bank."""
    agreement = make_active()
    day_before = sweep(NOTICE_DAY - JUST_BEFORE)
    assert (day_before.notices, texts(NOTICE)) == (0, [])

    on_the_day = sweep(NOTICE_DAY)

    assert (on_the_day.notices, on_the_day.suspended) == (1, 0)
    ((to, body),) = texts(NOTICE)
    assert to == agreement.customer.phone
    assert body == jobs.dormancy_notice_body(dt.date(2025, 3, 16))
    assert settings.BANK_NAME_KO in body and "2025-03-16" in body
    noticed = state_of(agreement)
    assert (noticed.state, noticed.dormancy_notice_sent_at) == (State.ACTIVE, NOTICE_DAY)


def test_a_full_cycle_sends_the_notice_once_and_suspends_on_the_dormancy_day(make_active) -> None:  # type: ignore[no-untyped-def]
    """Notice on 2025-02-14; nightly runs after it send nothing; still active on 2025-03-15
    23:59:59.999999; suspended (dormant) on 2025-03-16 00:00 with one release text."""
    agreement = make_active()
    sweep(NOTICE_DAY)
    for day in (at(2025, 2, 15), at(2025, 3, 1), DORMANCY_DAY - JUST_BEFORE):
        assert sweep(day) == jobs.DormancySummary(notices=0, suspended=0, suspension_notices=0, chunks=0)
    assert state_of(agreement).state == State.ACTIVE

    summary = sweep(DORMANCY_DAY)

    assert (summary.suspended, summary.suspension_notices, summary.notices) == (1, 1, 0)
    suspended = state_of(agreement)
    assert (suspended.state, suspended.suspension_reason, suspended.suspended_at) == (
        State.SUSPENDED,
        Agreement.SuspensionReason.DORMANT,
        DORMANCY_DAY,
    )
    assert texts(SUSPENSION) == [(agreement.customer.phone, jobs.dormant_suspension_body())]
    assert settings.BANK_NAME_KO in jobs.dormant_suspension_body()
    assert len(texts(NOTICE)) == 1
    assert sweep(DORMANCY_DAY + dt.timedelta(days=1)).suspended == 0


@pytest.mark.parametrize(
    ("last_used_on", "still_fine_on", "dormant_on"),
    [
        (dt.date(2024, 2, 29), dt.date(2025, 2, 28), dt.date(2025, 3, 1)),  # 29 Feb: no 2025-02-29
        (dt.date(2024, 2, 28), dt.date(2025, 2, 28), dt.date(2025, 3, 1)),
        (dt.date(2024, 3, 1), dt.date(2025, 3, 1), dt.date(2025, 3, 2)),
        (dt.date(2023, 2, 28), dt.date(2024, 2, 28), dt.date(2024, 2, 29)),  # into a leap year
    ],
)
def test_dormancy_around_29_february(make_active, last_used_on, still_fine_on, dormant_on) -> None:  # type: ignore[no-untyped-def]
    """Last uses around 29 February: the last fine day keeps the agreement, the next suspends it."""
    agreement = make_active(dt.datetime.combine(last_used_on, dt.time(23, 30), tzinfo=KST))
    sweep(dt.datetime.combine(still_fine_on, dt.time.max, tzinfo=KST))
    assert state_of(agreement).state == State.ACTIVE
    assert len(texts(NOTICE)) == 1  # the advance notice went out on the way
    sweep(dt.datetime.combine(dormant_on, dt.time.min, tzinfo=KST))
    assert state_of(agreement).state == State.SUSPENDED


def test_a_notice_for_29_february_names_1_march(make_active) -> None:  # type: ignore[no-untyped-def]
    """Last used 2024-02-29 → dormant from 2025-03-01, notice due 2025-01-30 (not 2025-01-29)."""
    make_active(at(2024, 2, 29, 8))
    assert sweep(at(2025, 1, 29, 23, 59, 59)).notices == 0
    assert sweep(at(2025, 1, 30)).notices == 1
    assert texts(NOTICE)[0][1] == jobs.dormancy_notice_body(dt.date(2025, 3, 1))


def test_a_use_after_the_notice_starts_a_new_cycle_with_a_new_notice(make_active) -> None:  # type: ignore[no-untyped-def]
    """Noticed 2025-02-14, used 2025-02-20: not suspended on 2025-03-16; a second notice on
    2026-01-22 naming 2026-02-21; and only that one."""
    agreement = make_active()
    sweep(NOTICE_DAY)
    agreement_record_use(agreement=agreement, actor=agreement.user, now=at(2025, 2, 20, 9))

    assert sweep(DORMANCY_DAY) == jobs.DormancySummary(notices=0, suspended=0, suspension_notices=0, chunks=0)
    assert sweep(at(2026, 1, 21, 23, 59)).notices == 0
    assert sweep(at(2026, 1, 22)).notices == 1
    assert sweep(at(2026, 1, 23)).notices == 0

    bodies = [body for _to, body in texts(NOTICE)]
    assert sorted(bodies) == sorted(
        [jobs.dormancy_notice_body(dt.date(2025, 3, 16)), jobs.dormancy_notice_body(dt.date(2026, 2, 21))]
    )
    assert state_of(agreement).state == State.ACTIVE


def test_an_active_agreement_without_a_last_use_counts_from_registration(make_active) -> None:  # type: ignore[no-untyped-def]
    """Defensive: registration sets last_used_at; if it is missing, registered_at counts."""
    agreement = make_active(None, registered_at=LAST_USE)
    assert sweep(NOTICE_DAY - JUST_BEFORE).notices == 0
    assert sweep(NOTICE_DAY).notices == 1
    assert sweep(DORMANCY_DAY - JUST_BEFORE).suspended == 0
    assert sweep(DORMANCY_DAY).suspended == 1
    assert state_of(agreement).state == State.SUSPENDED


def test_an_agreement_found_already_dormant_is_suspended_without_a_past_dated_notice(make_active) -> None:  # type: ignore[no-untyped-def]
    """Say the job was down for weeks: a dormant agreement is suspended; no notice of a past date."""
    make_active()
    summary = sweep(DORMANCY_DAY + dt.timedelta(days=20))
    assert (summary.suspended, summary.suspension_notices, summary.notices) == (1, 1, 0)
    assert texts(NOTICE) == []


def test_the_sweep_leaves_other_agreements_alone(teller, demand_product, make_active) -> None:  # type: ignore[no-untyped-def]
    """Suspended for another reason, applied, lapsed, terminated, or used lately: untouched, no text."""
    staff_suspended = make_active(at(2023, 1, 5))
    agreement_suspend(agreement=staff_suspended, reason=Agreement.SuspensionReason.STAFF, actor=teller, now=LAST_USE)
    lapsed = applied_agreement(teller, demand_product, applied_at=at(2023, 1, 6))
    jobs.agreements_lapse_due(actor=LAPSE, now=at(2023, 2, 1))
    applied = applied_agreement(teller, demand_product, applied_at=at(2025, 3, 15))
    terminated = make_active(at(2023, 1, 5))
    agreement_terminate(agreement=terminated, actor=teller, now=at(2023, 2, 1))
    recent = make_active(at(2025, 3, 1))
    before = {a.pk: state_of(a).state for a in (staff_suspended, applied, lapsed, terminated, recent)}

    summary = sweep(DORMANCY_DAY)

    assert (summary.suspended, summary.notices, summary.suspension_notices) == (0, 0, 0)
    assert {pk: Agreement.objects.get(pk=pk).state for pk in before} == before
    assert state_of(staff_suspended).suspension_reason == Agreement.SuspensionReason.STAFF


# --- Dormancy: set-based, idempotent, audited ------------------------------------------------------


def test_a_second_run_changes_nothing_and_sends_nothing(make_active) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        make_active(at(2024, 1, 10))  # dormant
    for _ in range(2):
        make_active(at(2024, 3, 20))  # notice due
    first = sweep(DORMANCY_DAY, chunk_size=2)
    assert (first.suspended, first.suspension_notices, first.notices, first.chunks) == (3, 3, 2, 3)
    before = snapshot()

    again = sweep(DORMANCY_DAY, chunk_size=2)

    assert again == jobs.DormancySummary(notices=0, suspended=0, suspension_notices=0, chunks=0)
    assert snapshot() == before


@pytest.mark.parametrize("walk", ["index", "bulk"])
def test_each_chunk_is_one_audit_event_listing_its_agreements(make_active, monkeypatch, walk) -> None:  # type: ignore[no-untyped-def]
    """Chunks of 2 over agreements sharing one last-use instant (the cursor breaks ties by id),
    walked along the last-use index or, as for a large backlog, along the primary key."""
    if walk == "bulk":
        monkeypatch.setattr(jobs, "BULK_ROWS", 1)
    dormant = [make_active(at(2024, 1, 10)) for _ in range(5)]
    noticed = [make_active(at(2024, 3, 20)) for _ in range(3)]

    summary = sweep(DORMANCY_DAY, chunk_size=2)

    assert summary.chunks == 3 + 2
    suspends = list(AuditEvent.objects.filter(action="agreement.suspend_batch").order_by("pk"))
    notices = list(AuditEvent.objects.filter(action="agreement.dormancy_notice_batch").order_by("pk"))
    assert [e.details["count"] for e in suspends] == [2, 2, 1]
    assert sorted(pk for e in suspends for pk in e.details["agreements"]) == sorted(a.pk for a in dormant)
    assert sorted(pk for e in notices for pk in e.details["agreements"]) == sorted(a.pk for a in noticed)
    assert {e.actor_label for e in suspends + notices} == {"system:test_agreement_dormancy"}
    assert {e.details["reason"] for e in suspends} == {"dormant"}
    assert Counter(to for to, _body in texts(SUSPENSION)) == Counter(a.customer.phone for a in dormant)
    assert Counter(to for to, _body in texts(NOTICE)) == Counter(a.customer.phone for a in noticed)


def test_a_run_that_fails_half_way_keeps_its_committed_chunks_and_the_rerun_finishes(  # type: ignore[no-untyped-def]
    make_active, monkeypatch
) -> None:
    """The second chunk fails at its audit insert: its suspensions and texts roll back together;
    the first chunk's stay; the next run does the rest and no one is texted twice."""
    dormant = [make_active(at(2024, 1, 10)) for _ in range(4)]
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
        sweep(DORMANCY_DAY, chunk_size=2)
    assert Agreement.objects.filter(state=State.SUSPENDED).count() == 2
    assert len(texts(SUSPENSION)) == 2

    monkeypatch.setattr(jobs, "audit_record", real_audit)
    rerun = sweep(DORMANCY_DAY, chunk_size=2)

    assert (rerun.suspended, rerun.suspension_notices) == (2, 2)
    assert {state_of(a).state for a in dormant} == {State.SUSPENDED}
    assert Counter(to for to, _body in texts(SUSPENSION)) == Counter(a.customer.phone for a in dormant)


def test_a_dormancy_dry_run_writes_nothing_and_reports_what_the_run_then_does(make_active) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        make_active(at(2024, 1, 10))
    make_active(at(2024, 3, 20))
    before = snapshot()

    dry = sweep(DORMANCY_DAY, dry_run=True, chunk_size=2)

    assert snapshot() == before
    assert dry == jobs.DormancySummary(notices=1, suspended=3, suspension_notices=3, chunks=3, dry_run=True)
    real = sweep(DORMANCY_DAY, chunk_size=2)
    assert (real.notices, real.suspended, real.suspension_notices, real.chunks) == (1, 3, 3, 3)


def test_the_texts_are_delivered_once_after_commit(make_active, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    """After each chunk commits, its texts go to the delivery task (eager here: the outbox inbox)."""
    dormant = make_active(at(2024, 1, 10))
    noticed = make_active(at(2024, 3, 20))
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            sweep(DORMANCY_DAY)
        with django_capture_on_commit_callbacks(execute=True):
            sweep(DORMANCY_DAY)
    finally:
        celery_app.conf.task_always_eager = eager
    delivered = sorted(OutboxMessage.objects.values_list("to", "purpose"))
    assert delivered == sorted([(dormant.customer.phone, SUSPENSION), (noticed.customer.phone, NOTICE)])
    assert set(Notification.objects.values_list("state", flat=True)) == {Notification.State.SENT}


def test_only_a_system_actor_with_the_suspend_permission_sweeps(manager) -> None:  # type: ignore[no-untyped-def]
    """Dormancy is automatic: a branch manager (who may suspend) cannot run it; nor can a job
    without the permission."""
    assert manager.has_perm(SUSPEND_PERMISSION)
    for actor in (manager, system_actor("nobody", [LAPSE_PERMISSION])):
        with pytest.raises(PermissionDenied):
            jobs.agreements_dormancy_sweep(actor=actor, now=DORMANCY_DAY)
    assert not AuditEvent.objects.filter(action__endswith="_batch").exists()


@pytest.mark.parametrize("chunk_size", [0, 10_001])
def test_a_chunk_size_out_of_bounds_is_refused(chunk_size) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="chunk_size"):
        sweep(DORMANCY_DAY, chunk_size=chunk_size)
    with pytest.raises(ValueError, match="chunk_size"):
        jobs.agreements_lapse_due(actor=LAPSE, now=DORMANCY_DAY, chunk_size=chunk_size)


# --- Commands and tasks ----------------------------------------------------------------------------


def test_the_dormancy_command_dry_run_prints_a_summary_and_writes_nothing(make_active) -> None:  # type: ignore[no-untyped-def]
    make_active(at(2024, 1, 10))
    make_active(at(2024, 3, 20))
    before = snapshot()
    out = StringIO()
    with time_machine.travel(DORMANCY_DAY + dt.timedelta(minutes=20), tick=False):
        call_command("suspend_dormant_agreements", "--dry-run", stdout=out)
    assert snapshot() == before
    assert "dry run, nothing written" in out.getvalue()
    assert "1 agreement(s) suspended as dormant with 1 suspension text(s); 1 advance notice(s)" in out.getvalue()


def test_the_dormancy_command_runs_as_a_named_system_actor_from_the_command_channel(make_active) -> None:  # type: ignore[no-untyped-def]
    agreement = make_active(at(2024, 1, 10))
    out = StringIO()
    with time_machine.travel(DORMANCY_DAY + dt.timedelta(minutes=20), tick=False):
        call_command("suspend_dormant_agreements", "--chunk-size", "500", stdout=out)
    assert state_of(agreement).state == State.SUSPENDED
    assert "1 agreement(s) suspended as dormant" in out.getvalue()
    event = AuditEvent.objects.get(action="agreement.suspend_batch")
    assert (event.actor_label, event.channel) == ("system:command:suspend_dormant_agreements", "command")


def test_the_lapse_command_lapses_and_a_bad_chunk_size_is_an_error(teller, demand_product) -> None:  # type: ignore[no-untyped-def]
    agreement = applied_agreement(teller, demand_product, applied_at=at(2026, 3, 2, 10))
    with pytest.raises(CommandError):
        call_command("lapse_unregistered_agreements", "--chunk-size", "0", stdout=StringIO())
    out = StringIO()
    with time_machine.travel(at(2026, 3, 7, 0, 10), tick=False):
        call_command("lapse_unregistered_agreements", "--dry-run", stdout=out)
        assert "1 application(s) would lapse" in out.getvalue()
        assert state_of(agreement).state == State.APPLIED
        call_command("lapse_unregistered_agreements", stdout=out)
    assert "lapsed 1 application(s) in 1 chunk(s)" in out.getvalue()
    assert state_of(agreement).state == State.LAPSED


def test_the_nightly_tasks_run_the_jobs_as_named_system_actors(teller, demand_product, make_active) -> None:  # type: ignore[no-untyped-def]
    applied_agreement(teller, demand_product, applied_at=at(2025, 3, 10, 10))
    make_active(at(2024, 1, 10))
    with time_machine.travel(DORMANCY_DAY + dt.timedelta(minutes=10), tick=False):
        assert agreements_lapse_task() == {"lapsed": 1, "chunks": 1, "dry_run": False}
        assert agreements_dormancy_task() == {
            "notices": 0,
            "suspended": 1,
            "suspension_notices": 1,
            "chunks": 1,
            "dry_run": False,
        }
    labels = dict(AuditEvent.objects.filter(action__endswith="_batch").values_list("action", "actor_label"))
    assert labels == {
        "agreement.lapse_batch": "system:agreement_lapse",
        "agreement.suspend_batch": "system:agreement_dormancy",
    }
    assert set(AuditEvent.objects.filter(action__endswith="_batch").values_list("channel", flat=True)) == {"task"}


# --- PostgreSQL: separate processes ---------------------------------------------------------------


def _worker(orders: dict[str, Any]) -> subprocess.Popen[str]:
    """Start ``tests.accounts.agreement_job_worker`` in its own process on this test database."""
    env = dict(os.environ, AGREEMENT_JOB_DB=connection.settings_dict["NAME"], AGREEMENT_JOB_ORDERS=json.dumps(orders))
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.accounts.agreement_job_worker"],
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


def _many(make_active, count: int, last_used_at: dt.datetime) -> list[Agreement]:  # type: ignore[no-untyped-def]
    return [make_active(last_used_at + dt.timedelta(minutes=i)) for i in range(count)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_two_sweeps_in_separate_processes_at_once_send_each_text_once(requires_postgres, make_active) -> None:  # type: ignore[no-untyped-def]
    """Two processes sweep the same 40 dormant and 30 notice-due agreements at the same instant in
    chunks of 4 (pausing after each commit so they interleave): both do part of the work, every
    agreement is changed once and every customer gets exactly one text of each kind due."""
    dormant = _many(make_active, 40, at(2024, 1, 10))
    noticed = _many(make_active, 30, at(2024, 3, 20))
    start_at = time.time() + 4
    orders = {"job": "dormancy", "now": DORMANCY_DAY.isoformat(), "chunk_size": 4, "pause_after_chunk": 0.05}
    workers = [_worker({**orders, "start_at": start_at, "name": f"w{i}"}) for i in range(2)]
    results = [_result(w) for w in workers]

    assert all("error" not in r for r in results), results
    summaries = [r["summary"] for r in results]
    assert sum(s["suspended"] for s in summaries) == 40
    assert sum(s["suspension_notices"] for s in summaries) == 40
    assert sum(s["notices"] for s in summaries) == 30
    assert all(s["suspended"] + s["notices"] > 0 for s in summaries), summaries  # both really worked
    assert Counter(to for to, _body in texts(SUSPENSION)) == Counter(a.customer.phone for a in dormant)
    assert Counter(to for to, _body in texts(NOTICE)) == Counter(a.customer.phone for a in noticed)
    assert {state_of(a).state for a in dormant} == {State.SUSPENDED}
    listed = [pk for e in AuditEvent.objects.filter(action="agreement.suspend_batch") for pk in e.details["agreements"]]
    assert sorted(listed) == sorted(a.pk for a in dormant)
    assert sweep(DORMANCY_DAY) == jobs.DormancySummary(notices=0, suspended=0, suspension_notices=0, chunks=0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_a_sweep_killed_half_way_is_finished_by_the_next_run_without_duplicates(  # type: ignore[no-untyped-def]
    requires_postgres, make_active
) -> None:
    """A process is killed (SIGKILL) after its first chunk of 5 committed: 5 suspended with their
    5 texts, nothing of the rest; the next run suspends the other 7 and texts only them."""
    dormant = _many(make_active, 12, at(2024, 1, 10))
    process = _worker(
        {"job": "dormancy", "now": DORMANCY_DAY.isoformat(), "chunk_size": 5, "hang_after_chunks": 1, "name": "k"}
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert json.loads(line) == {"chunk": 1, "agreements": 5}, line
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)

    assert Agreement.objects.filter(state=State.SUSPENDED).count() == 5
    assert len(texts(SUSPENSION)) == 5

    rerun = sweep(DORMANCY_DAY, chunk_size=5)

    assert (rerun.suspended, rerun.suspension_notices) == (7, 7)
    assert {state_of(a).state for a in dormant} == {State.SUSPENDED}
    assert Counter(to for to, _body in texts(SUSPENSION)) == Counter(a.customer.phone for a in dormant)


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_two_lapse_runs_in_separate_processes_lapse_each_application_once(  # type: ignore[no-untyped-def]
    requires_postgres, teller, demand_product
) -> None:
    overdue = [applied_agreement(teller, demand_product, applied_at=at(2026, 3, 1, 9, i)) for i in range(20)]
    start_at = time.time() + 4
    orders = {"job": "lapse", "now": at(2026, 3, 7).isoformat(), "chunk_size": 3, "pause_after_chunk": 0.05}
    workers = [_worker({**orders, "start_at": start_at, "name": f"l{i}"}) for i in range(2)]
    results = [_result(w) for w in workers]
    assert all("error" not in r for r in results), results
    assert sum(r["summary"]["lapsed"] for r in results) == 20
    listed = [pk for e in AuditEvent.objects.filter(action="agreement.lapse_batch") for pk in e.details["agreements"]]
    assert sorted(listed) == sorted(a.pk for a in overdue)
