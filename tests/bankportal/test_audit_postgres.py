"""The sealer on PostgreSQL with real concurrency: late commits, a second sealer, many writer processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection, transaction

from bankportal.audit.models import AuditEvent, AuditSeal
from bankportal.audit.services import SEAL_LOCK_KEY, audit_record, audit_seal
from bankportal.audit.verification import audit_verify
from tests.bankportal.test_audit_seal import seal_all, unsealed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]


def _sealed_ids() -> set[int]:
    ids: set[int] = set()
    for seal in AuditSeal.objects.all():
        members = AuditEvent.objects.filter(txid__gte=seal.first_txid, txid__lte=seal.last_txid)
        ids |= {
            pk
            for txid, pk in members.values_list("txid", "id")
            if (seal.first_txid, seal.first_id) <= (txid, pk) <= (seal.last_txid, seal.last_id)
        }
    return ids


class _OpenTransaction(threading.Thread):
    """Another connection that runs ``work`` in a transaction and holds it open until released."""

    def __init__(self, work) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.ready = threading.Event()
        self.release = threading.Event()
        self.result = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                self.result = self.work()
                self.ready.set()
                assert self.release.wait(timeout=60)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
            self.ready.set()
        finally:
            connection.close()

    def finish(self) -> None:
        self.release.set()
        self.join(timeout=60)
        assert self.error is None, self.error


def test_a_late_commit_is_sealed_after_it_commits_with_no_gap(requires_postgres):
    """A writer inserts (lower id, older transaction) and holds its transaction open while another
    event commits: the sealer seals what came before, but neither of the two, since a row with a
    lower id may still appear. Once the first commits, both are sealed, in order, and verify passes."""
    before = audit_record(action="test.before")
    seal_all()
    late = _OpenTransaction(lambda: audit_record(action="test.late"))
    late.start()
    assert late.ready.wait(timeout=30) and late.error is None
    early = audit_record(action="test.committed-first")
    assert late.result.pk < early.pk and late.result.txid < early.txid

    audit_seal()
    assert before.pk in _sealed_ids()
    assert early.pk not in _sealed_ids(), "sealed past a transaction that was still running"
    assert unsealed() == 1  # only the committed one is visible; it must wait

    late.finish()
    seal_all()
    assert {before.pk, late.result.pk, early.pk} <= _sealed_ids()
    report = audit_verify()
    assert report.ok, report.problems
    assert (report.sealed_events, report.unsealed_events) == (3, 0)


def test_a_rolled_back_event_leaves_an_id_gap_that_sealing_and_verify_accept(requires_postgres):
    audit_record(action="test.kept")
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(action="test.rolled-back")
        raise RuntimeError("abort")
    audit_record(action="test.kept-too")
    seal_all()
    (seal,) = AuditSeal.objects.all()
    assert seal.count == 2 and seal.last_id - seal.first_id == 2
    assert audit_verify().ok


def test_a_second_sealer_at_the_same_time_does_nothing(requires_postgres):
    """Single flight: while one sealer holds the advisory lock, another run is a no-op."""
    audit_record(action="test.one")

    def hold_lock():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
            return cursor.fetchone()[0]

    holder = _OpenTransaction(hold_lock)
    holder.start()
    assert holder.ready.wait(timeout=30) and holder.result is True
    run = audit_seal()
    assert run.busy and run.seals == 0
    assert not AuditSeal.objects.exists()
    holder.finish()
    seal_all()
    assert AuditSeal.objects.count() == 1


def test_sealers_racing_each_other_seal_every_event_exactly_once(requires_postgres):
    for i in range(40):
        audit_record(action="test.race", details={"i": i})
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def sealer() -> None:
        try:
            barrier.wait(timeout=10)
            for _ in range(5):
                audit_seal(batch_size=3)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sealer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    seal_all(batch_size=3)
    report = audit_verify()
    assert report.ok, report.problems
    assert report.sealed_events == 40 and sum(AuditSeal.objects.values_list("count", flat=True)) == 40


WRITER = """
import random, sys, time
import django
django.setup()
from django.db import transaction
from bankportal.audit.services import audit_record

worker, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(worker)
for i in range(count):
    try:
        with transaction.atomic():
            audit_record(action="test.concurrent", details={"worker": worker, "i": i})
            time.sleep(rng.random() * 0.004)  # commits land out of id order
            if i % 9 == 4:
                raise ValueError("roll back: leaves an id gap")
    except ValueError:
        pass
print("done", worker)
"""


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def test_many_writer_processes_append_while_the_sealer_runs_and_everything_verifies(requires_postgres):
    """Four processes append events concurrently (some rolled back) while this process keeps sealing;
    at the end every committed event is sealed exactly once and the whole trail verifies."""
    per_worker, workers = 60, 4
    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "bankportal.settings"}
    env.pop("DATABASE_URL_FILE", None)
    procs = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", WRITER, str(n), str(per_worker)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(workers)
    ]
    sealed_while_running = 0
    while any(proc.poll() is None for proc in procs):
        sealed_while_running += audit_seal(batch_size=7).events
        time.sleep(0.01)
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), outputs
    seal_all(batch_size=7)

    committed = per_worker - len([i for i in range(per_worker) if i % 9 == 4])
    assert AuditEvent.objects.count() == workers * committed
    report = audit_verify()
    assert report.ok, report.problems
    assert (report.sealed_events, report.unsealed_events) == (workers * committed, 0)
    assert sealed_while_running > 0, "the sealer should make progress while writers run"
