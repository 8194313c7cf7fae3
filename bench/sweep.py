"""The dormancy sweep over a million e-banking agreements, half of them dormant.

Usage (PostgreSQL only; run by hand, prints figures, asserts nothing):

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/sweep.py \
        [--agreements 1000000] [--chunk-size 5000] [--keep]

It creates the scratch database ``bp_bench_sweep`` (our migrations) and drops it at the end
(``--keep`` leaves it for EXPLAIN). The data is made with bulk SQL (``generate_series``), not the
services: one staff user, N customers, N internet-banking users and N active agreements; every
second agreement was last used 400–699 days before the sweep day (dormant), the others 0–364 days
before (about 30 days' worth of them are due their advance notice). Then
``agreements_dormancy_sweep`` runs as the nightly job would, and once more. Printed: seconds, rows
changed, notices written and chunks of each run, the process's peak RSS (``ru_maxrss``) before and
after, and the tracemalloc peak during the first run.

The after-commit hand-off of the notices to Celery is replaced by a counter: in production it is one
broker message per notice, sent after each chunk has committed, outside the timed transaction work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "bp_bench_sweep"
SWEEP_DAY = dt.date(2026, 6, 1)


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankportal.settings")
    import django
    from django.conf import settings

    django.setup()
    # As in production: no per-query debug log (DEBUG=1 only lets settings load without secrets).
    settings.DEBUG = False


def _admin_sql(sql: str) -> None:
    from django.conf import settings

    db = settings.DATABASES["default"]
    args = ["-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432), "-U", db.get("USER") or "postgres"]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    subprocess.run(["psql", *args, "-d", "postgres", "-qAtc", sql], check=True, env=env)  # noqa: S603, S607


def _insert_select(model: Any, source: str, exprs: Mapping[str, str]) -> int:
    """``INSERT INTO model (...) SELECT ... FROM source``: the given SQL expressions (literal SQL, no
    placeholders), and for every other column its model default, now(), NULL or '', so a field
    added later does not break the bench."""
    from django.db import connection

    qn = connection.ops.quote_name
    columns, values, args = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(qn(field.column))
        if field.name in exprs:
            values.append(exprs[field.name])
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            values.append("now()")
        elif field.has_default():
            values.append("%s")
            args.append(field.get_db_prep_save(field.get_default(), connection))
        elif field.null:
            values.append("NULL")
        elif field.blank:
            values.append("''")
        else:
            raise SystemExit(f"bench/sweep.py: say what {model.__name__}.{field.name} is")
    sql = f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {source}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.rowcount


def _build(n: int) -> dict[str, int]:
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Agreement, Customer, User
    from bankportal.timeutil import KST

    call_command("migrate", verbosity=0)
    staff = User.objects.create_user(username="benchteller", password="bench-teller-pass", is_staff=True)  # noqa: S106
    staff.groups.add(Group.objects.get(name="Teller"))
    sweep_midnight = dt.datetime.combine(SWEEP_DAY, dt.time.min, tzinfo=KST)
    started = time.perf_counter()
    customers = _insert_select(
        Customer,
        f"generate_series(1, {int(n)}) AS g(i)",
        {
            "kind": "'individual'",
            "name": "'고객' || g.i",
            "phone": "'010' || lpad(g.i::text, 8, '0')",
            "rrn_index": "'bench' || g.i",
            "rrn_masked": "'800101-1******'",
            "birth_date": "DATE '1980-01-01'",
        },
    )
    users = _insert_select(
        User,
        f"{Customer._meta.db_table} AS c",
        {"username": "'bench' || c.id", "password": "'!'", "customer": "c.id", "date_joined": "now()"},
    )
    # Even ids: last used 400-699 days ago (dormant). Odd: 0-364 days ago (some due their notice).
    last_use = (
        f"TIMESTAMPTZ '{sweep_midnight.isoformat()}' - make_interval(days => ("
        "CASE WHEN mod(u.id, 2) = 0 THEN 400 + mod(u.id, 300) ELSE mod(u.id, 365) END)::int) + interval '10 hours'"
    )
    agreements = _insert_select(
        Agreement,
        f"{User._meta.db_table} AS u WHERE u.customer_id IS NOT NULL",
        {
            "customer": "u.customer_id",
            "state": "'active'",
            "applied_at": f"({last_use}) - interval '800 days'",
            "applied_by": str(int(staff.pk)),
            "registration_deadline": f"({last_use}) - interval '796 days'",
            "registered_at": f"({last_use}) - interval '799 days'",
            "user": "u.id",
            "last_used_at": last_use,
        },
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"built {customers:,} customers, {users:,} users, {agreements:,} agreements "
        f"in {time.perf_counter() - started:.1f} s (then VACUUM ANALYZE)",
        flush=True,
    )
    return {"customers": customers, "users": users, "agreements": agreements}


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _sweep(chunk_size: int, *, day: dt.date = SWEEP_DAY, trace: bool = False) -> tuple[Any, float, int, int]:
    """Run the sweep as the nightly job does (00:20 KST of ``day``): summary, seconds, notices
    handed off, tracemalloc peak (0 without ``trace``)."""
    from accounts.services import agreement_jobs
    from accounts.services.agreements import SUSPEND_PERMISSION
    from bankportal.actors import system_actor
    from bankportal.timeutil import KST

    handed_off = 0

    def count_hand_off(notification_ids: Sequence[int]) -> None:
        nonlocal handed_off
        handed_off += len(notification_ids)

    # Counted when each chunk schedules its hand-off (the chunk then commits) instead of queueing Celery tasks.
    agreement_jobs.notifications_dispatch_on_commit = count_hand_off  # type: ignore[assignment]
    actor = system_actor("agreement_dormancy", [SUSPEND_PERMISSION])
    now = dt.datetime.combine(day, dt.time(0, 20), tzinfo=KST)
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    summary = agreement_jobs.agreements_dormancy_sweep(actor=actor, now=now, chunk_size=chunk_size)
    seconds = time.perf_counter() - started
    peak = 0
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return summary, seconds, handed_off, peak


def _copy(chunk_size: int, start_at: float, queue: Any) -> None:  # type: ignore[no-untyped-def]
    """One of several sweeps started at the same instant in its own process."""
    _django()
    from django.conf import settings
    from django.db import connection

    settings.DATABASES["default"]["NAME"] = BENCH_DB
    time.sleep(max(0.0, start_at - time.time()))
    summary, seconds, handed_off, _peak = _sweep(chunk_size)
    connection.close()
    queue.put((summary.as_dict(), seconds, handed_off))


def _copies(count: int, chunk_size: int) -> tuple[Any, float, int]:
    """``count`` sweeps at once in separate processes; (summed summary, wall seconds, handed off)."""
    from accounts.services.agreement_jobs import DormancySummary

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start_at = time.time() + 6  # time for every process to start Django
    processes = [context.Process(target=_copy, args=(chunk_size, start_at, queue)) for _ in range(count)]
    for process in processes:
        process.start()
    results = [queue.get(timeout=900) for _ in processes]
    finished = time.time()
    for process in processes:
        process.join(timeout=30)
    for summary, seconds, _handed in results:
        print(f"  copy: {seconds:6.2f} s  {summary}")
    keys = ("notices", "suspended", "suspension_notices", "chunks")
    total = DormancySummary(**{key: sum(r[0][key] for r in results) for key in keys})
    return total, finished - start_at, sum(r[2] for r in results)


def _texts_per_customer() -> list[tuple[str, int, int]]:
    """Per purpose: texts written, distinct recipients (every bench customer has its own phone)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute('SELECT purpose, count(*), count(DISTINCT "to") FROM notifications_notification GROUP BY 1')
        return sorted(cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agreements", type=int, default=1_000_000)
    parser.add_argument("--chunk-size", type=int, default=5_000)
    parser.add_argument("--copies", type=int, default=1, help="run this many sweeps at once, in separate processes")
    parser.add_argument("--nights", type=int, default=7, help="then run this many following nights")
    parser.add_argument("--no-tracemalloc", action="store_true", help="time the first run without tracemalloc")
    parser.add_argument("--keep", action="store_true", help=f"leave {BENCH_DB} for EXPLAIN")
    args = parser.parse_args()

    _django()
    from django.conf import settings
    from django.db import connection

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise SystemExit("set DATABASE_URL to a PostgreSQL server")
    connection.close()
    _admin_sql(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    _admin_sql(f"CREATE DATABASE {BENCH_DB}")
    settings.DATABASES["default"]["NAME"] = BENCH_DB
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            version = cursor.fetchone()[0].split(" on ")[0]
        print(f"{version}; {os.cpu_count()} cores; chunk size {args.chunk_size}; sweep day {SWEEP_DAY}", flush=True)
        _build(args.agreements)
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")  # start the timed run without the build's dirty pages
            cursor.execute("SELECT pg_current_wal_lsn()")
            wal_before = cursor.fetchone()[0]
        connection.close()
        rss_before = _maxrss_mib()
        peak = 0
        if args.copies > 1:
            print(f"{args.copies} copies at once:")
            first, seconds, handed_off = _copies(args.copies, args.chunk_size)
        else:
            first, seconds, handed_off, peak = _sweep(args.chunk_size, trace=not args.no_tracemalloc)
        rss_after_first = _maxrss_mib()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [wal_before])
            wal_mib = float(cursor.fetchone()[0]) / 2**20
        again, again_seconds, _again_handed_off, _ = _sweep(args.chunk_size)
        changed = first.suspended + first.notices
        print(
            f"sweep:  {seconds:6.2f} s  suspended {first.suspended:,}  suspension texts "
            f"{first.suspension_notices:,}  advance notices {first.notices:,}  rows changed {changed:,}  "
            f"notices written {first.suspension_notices + first.notices:,}  chunks {first.chunks}  "
            f"handed off after commit {handed_off:,}  WAL {wal_mib:,.0f} MiB"
        )
        print(
            f"re-run: {again_seconds:6.2f} s  rows changed {again.suspended + again.notices}  "
            f"notices written {again.suspension_notices + again.notices}  chunks {again.chunks}"
        )
        for purpose, texts, recipients in _texts_per_customer():
            print(f"texts:  {purpose}: {texts:,} written to {recipients:,} distinct customers")
        if args.copies == 1:
            trace = f"tracemalloc peak during the sweep {peak / 2**20:.2f} MiB" if peak else "tracemalloc off"
            print(
                f"memory: ru_maxrss {rss_before:.1f} MiB before the sweep, {rss_after_first:.1f} MiB after it, "
                f"{_maxrss_mib():.1f} MiB after the re-run; {trace}"
            )
        for night in range(1, args.nights + 1):
            summary, night_seconds, _handed, _ = _sweep(args.chunk_size, day=SWEEP_DAY + dt.timedelta(days=night))
            print(
                f"night +{night}: {night_seconds:5.2f} s  suspended {summary.suspended:,}  "
                f"advance notices {summary.notices:,}  chunks {summary.chunks}"
            )
    finally:
        connection.close()
        if not args.keep:
            _admin_sql(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
