"""Throughput of the foundation's write paths, on a throwaway test database.

Usage:  DEBUG=1 .venv/bin/python bench/ledger_bench.py [--customers N] [--deposits N] [--threads N]
With DATABASE_URL set it measures PostgreSQL (and concurrent deposits); otherwise SQLite.
Prints figures; asserts nothing. The audit chain head serialises every audited write, so
the concurrent figure is the one to watch as the bank grows.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankportal.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


def _rate(label: str, count: int, seconds: float) -> None:
    print(f"{label:<44} {count:>7} ops {seconds:>8.2f} s {count / seconds:>10.1f} ops/s")


def _timed(label: str, started: float, note: str) -> str:
    return f"{label:<44} {time.perf_counter() - started:>16.2f} s  {note}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--deposits", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    setup_test_environment()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # measure the ledger, not Argon2
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        _run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _run(args: argparse.Namespace) -> None:
    from accounts import services
    from accounts.models import Customer, DepositProduct, LedgerEntry
    from accounts.selectors import customer_search, ledger_problems
    from bankportal.audit.services import audit_chain_verify

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"database: {engine}   python: {sys.version.split()[0]}")
    product = DepositProduct.objects.create(code="01", kind="demand", name_ko="벤치", name_en="Bench")

    started = time.perf_counter()
    customers = []
    for i in range(args.customers):
        birth = f"{70 + i % 30:02d}{1 + i % 12:02d}{1 + i % 28:02d}"
        customers.append(
            services.customer_create(
                kind=Customer.Kind.INDIVIDUAL, name=f"고객{i}", phone="01012345678", rrn=f"{birth}-1{i:06d}", actor=None
            )
        )
    _rate("customer_create (encrypt + blind index)", args.customers, time.perf_counter() - started)

    started = time.perf_counter()
    password = "3917"  # noqa: S105 - a throwaway test database
    accounts = [services.account_open(customer=c, product=product, password=password, actor=None) for c in customers]
    _rate("account_open", len(accounts), time.perf_counter() - started)

    started = time.perf_counter()
    for i in range(args.deposits):
        services.cash_deposit(account=accounts[i % len(accounts)], amount=10_000 + i, actor=None)
    _rate("cash_deposit (journal + 2 entries + audit)", args.deposits, time.perf_counter() - started)

    started = time.perf_counter()
    rrn = services.customer_rrn(customers[-1])
    found = sum(customer_search(rrn).count() for _ in range(200))
    _rate(f"customer_search by full RRN (found {found})", 200, time.perf_counter() - started)

    started = time.perf_counter()
    problems = ledger_problems()
    print(_timed(f"ledger_problems over {LedgerEntry.objects.count()} entries", started, f"problems={len(problems)}"))
    started = time.perf_counter()
    report = audit_chain_verify()
    print(_timed(f"audit_chain_verify over {report.checked} events", started, f"ok={report.ok}"))

    if engine != "postgresql":
        print("concurrent deposits: skipped (SQLite serialises writers; set DATABASE_URL for PostgreSQL)")
        return
    per_thread = max(1, args.deposits // args.threads)
    barrier = threading.Barrier(args.threads)

    def worker(offset: int) -> None:
        barrier.wait()
        try:
            for i in range(per_thread):
                services.cash_deposit(account=accounts[(offset + i) % len(accounts)], amount=1_000, actor=None)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n * 7,)) for n in range(args.threads)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _rate(
        f"cash_deposit, {args.threads} threads concurrently", per_thread * args.threads, time.perf_counter() - started
    )
    print(f"ledger still balanced: {ledger_problems() == []}")


if __name__ == "__main__":
    main()
