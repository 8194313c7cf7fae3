"""Audited cash deposits against pgbench's tpcb-like script, back to back, at 1 and 4 client processes.

Usage (PostgreSQL only; run by hand, prints figures, asserts nothing):

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/ledger_bench.py \
        [--seconds 15] [--clients 1 4] [--accounts 400] [--branches 101 202 303 404]

It creates two scratch databases and drops them at the end: ``bp_bench_pgbench`` (``pgbench -i -s 1``)
and ``bp_bench`` (our migrations). For each client count it runs ``pgbench -c N -j N -T S`` and then
N processes that each act as their own teller and post ``cash_deposit`` (journal, two entries, the
customer row lock, the audit insert) for random customers at random branches for S seconds.
Printed per run: rate (tx/s), p95 latency, ratio to pgbench, deadlocks and other errors.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass

from pgharness import ROOT, admin_sql, django_setup, pg_args, pgbench_run

BENCH_DB = "bp_bench"
PGBENCH_DB = "bp_bench_pgbench"
ACCOUNT_PASSWORD = "3917"  # noqa: S105 - a scratch database


@dataclass
class Run:
    label: str
    clients: int
    transactions: int
    seconds: float
    p95_ms: float
    deadlocks: int = 0
    errors: int = 0

    @property
    def rate(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0


def _p95(latencies_ms: list[float]) -> float:
    if len(latencies_ms) < 20:
        return max(latencies_ms, default=0.0)
    return statistics.quantiles(latencies_ms, n=20)[18]


def pgbench(clients: int, seconds: int) -> Run:
    tps, latencies = pgbench_run(PGBENCH_DB, clients, seconds)
    return Run("pgbench tpcb-like", clients, round(tps * seconds), float(seconds), _p95(latencies))


# --- our deposits ---------------------------------------------------------------------------------


def _deposit_worker(
    teller_pk: int, account_pks: list[int], branches: list[str], start_at: float, seconds: float, queue
):  # type: ignore[no-untyped-def]
    django_setup(BENCH_DB)
    from django.db import connection

    from accounts.models import Account, User
    from accounts.services.ledger import cash_deposit

    teller = User.objects.get(pk=teller_pk)
    accounts = list(Account.objects.filter(pk__in=account_pks))
    rng = random.Random(teller_pk)
    # Warm up: permission cache, internal-account cache, prepared connection.
    for branch in branches:
        cash_deposit(account=rng.choice(accounts), amount=1, actor=teller, branch=branch)
    time.sleep(max(0.0, start_at - time.time()))
    latencies: list[float] = []
    deadlocks = errors = 0
    stop = start_at + seconds
    while True:
        started = time.perf_counter()
        if time.time() >= stop:
            break
        try:
            cash_deposit(
                account=rng.choice(accounts),
                amount=rng.randint(1, 500) * 1_000,
                actor=teller,
                branch=rng.choice(branches),
            )
            latencies.append((time.perf_counter() - started) * 1000)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            if "deadlock detected" in str(exc):
                deadlocks += 1
            else:
                errors += 1
    connection.close()
    queue.put((len(latencies), latencies, deadlocks, errors))


def deposits(clients: int, seconds: int, tellers: list[int], accounts: list[int], branches: list[str]) -> Run:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start_at = time.time() + 6  # time for every process to start Django and warm up
    processes = [
        context.Process(
            target=_deposit_worker, args=(tellers[i], accounts, branches, start_at, seconds, queue), daemon=True
        )
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=seconds + 120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    latencies = [ms for _count, lat, _d, _e in results for ms in lat]
    return Run(
        "audited cash_deposit",
        clients,
        sum(r[0] for r in results),
        float(seconds),
        _p95(latencies),
        deadlocks=sum(r[2] for r in results),
        errors=sum(r[3] for r in results),
    )


def _prepare(n_accounts: int, clients: int) -> tuple[list[int], list[int]]:
    """Migrate the scratch database and make tellers, customers and accounts through the services."""
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from accounts import services
    from accounts.models import Customer, DepositProduct, User

    call_command("migrate", verbosity=0)
    product = DepositProduct.objects.create(code="01", kind="demand", name_ko="벤치", name_en="Bench")
    tellers = []
    for i in range(max(clients, 1)):
        teller = User.objects.create_user(username=f"teller{i}", password="bench-teller-pass", is_staff=True)  # noqa: S106
        teller.groups.add(Group.objects.get(name="Teller"))
        tellers.append(teller)
    accounts = []
    for i in range(n_accounts):
        birth = f"{70 + i % 30:02d}{1 + i % 12:02d}{1 + i % 28:02d}"
        customer = services.customer_create(
            kind=Customer.Kind.INDIVIDUAL,
            name=f"고객{i}",
            phone="01012345678",
            rrn=f"{birth}-1{i:06d}",
            actor=tellers[0],
        )
        accounts.append(
            services.account_open(
                customer=customer, product=product, password=ACCOUNT_PASSWORD, actor=tellers[i % len(tellers)]
            )
        )
    return [t.pk for t in tellers], [a.pk for a in accounts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--accounts", type=int, default=400)
    parser.add_argument("--branches", nargs="+", default=["101", "202", "303", "404"])
    args = parser.parse_args()

    django_setup()
    from django.conf import settings
    from django.db import connection

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise SystemExit("set DATABASE_URL to a PostgreSQL server: this compares against pgbench")
    connection.close()
    connect_args, env = pg_args()
    for db in (BENCH_DB, PGBENCH_DB):
        admin_sql(f"DROP DATABASE IF EXISTS {db}")
        admin_sql(f"CREATE DATABASE {db}")
    settings.DATABASES["default"]["NAME"] = BENCH_DB
    try:
        pgbench_init = [shutil.which("pgbench") or "pgbench", *connect_args, "-i", "-s", "1", "-q", PGBENCH_DB]
        subprocess.run(pgbench_init, check=True, env=env, capture_output=True)  # noqa: S603
        tellers, accounts = _prepare(args.accounts, max(args.clients))
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            version = cursor.fetchone()[0].split(" on ")[0]
        audit_lock = (
            "takes a lock"
            if "select_for_update" in (ROOT / "bankportal/audit/services.py").read_text()
            else "insert only"
        )
        print(f"{version}; {os.cpu_count()} cores; {len(accounts)} accounts; branches {' '.join(args.branches)}")
        print(f"audit_record: {audit_lock}; {args.seconds} s per run\n")
        header = f"{'clients':>7}  {'pgbench tx/s':>12} {'p95 ms':>7}  {'deposits tx/s':>13} {'p95 ms':>7}"
        print(header + f"  {'ratio':>6}  {'deadlocks':>9} {'errors':>6}")
        rows = []
        for clients in args.clients:
            base = pgbench(clients, args.seconds)
            ours = deposits(clients, args.seconds, tellers, accounts, args.branches)
            rows.append((base, ours))
            print(
                f"{clients:>7}  {base.rate:>12.1f} {base.p95_ms:>7.2f}  {ours.rate:>13.1f} {ours.p95_ms:>7.2f}"
                f"  {ours.rate / base.rate:>6.3f}  {ours.deadlocks:>9} {ours.errors:>6}",
                flush=True,
            )
        from accounts.selectors import ledger_problems
        from accounts.services.ledger import internal_balances_roll_up
        from bankportal.actors import system_actor

        internal_balances_roll_up(actor=system_actor("bench", ["accounts.change_account"]))
        problems = ledger_problems()
        print(f"\nledger_verify after the runs: {'balanced' if not problems else f'{len(problems)} problem(s)'}")
        if len(rows) > 1:
            print(f"audited throughput rising with clients: {rows[-1][1].rate > rows[0][1].rate}")
    finally:
        connection.close()
        for db in (BENCH_DB, PGBENCH_DB):
            admin_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


if __name__ == "__main__":
    main()
