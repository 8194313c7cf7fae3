"""Transfers under real concurrency on PostgreSQL, in separate processes (as gunicorn workers run).

Eight processes fire random transfers (own accounts, other customers, one hot account everyone
pays into, other banks) for customers whose daily limit they keep running into; afterwards the
checker proves money was conserved, every balance equals its ledger, no limit was exceeded, and
PostgreSQL counted no deadlock. Twenty processes submitting one form key make one transfer. A
deliberately naive control (daily limit checked on an unlocked read) shows the checker catches the
race it exists to catch, and the real service under the same load does not have it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from accounts import services
from accounts.limits import Limit, Tier
from accounts.models import Account, Customer, Transfer
from accounts.services.limits import transfer_limit_change
from tests.accounts.transfer_helpers import Banker, ca_ready, key_pem, open_banking, transfer_problems
from tests.conftest import rrn_for_age

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]
LIMIT = Limit(per_transfer=300_000, per_day=1_000_000)


def _deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def _spec(banker: Banker) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "customer": banker.customer.pk,
        "user": banker.user.pk,
        "accounts": [a.pk for a in banker.accounts],
    }
    if banker.cert is not None:
        spec["cert_der"] = base64.b64encode(banker.cert.der).decode("ascii")
        spec["key_pem"] = key_pem(banker.cert.key)
    return spec


def _fire(count: int, orders: dict[str, Any], timeout: float = 240) -> list[dict[str, Any]]:
    """Start ``count`` worker processes, wait until each is ready, release them together, collect."""
    with tempfile.TemporaryDirectory() as folder:
        go = os.path.join(folder, "go")
        env_base = dict(os.environ, TRANSFER_WORKER_DB=connection.settings_dict["NAME"])
        workers = [
            subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "tests.accounts.transfer_worker"],
                cwd=ROOT,
                env={**env_base, "TRANSFER_WORKER_ORDERS": json.dumps({**orders, "seed": seed, "go": go})},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for seed in range(count)
        ]
        for worker in workers:
            line = worker.stdout.readline() if worker.stdout else ""
            assert line.strip() == "ready", (line, worker.stderr.read() if worker.stderr else "")
        Path(go).touch()
        results = []
        for worker in workers:
            out, err = worker.communicate(timeout=timeout)
            lines = [line for line in out.splitlines() if line.startswith("{")]
            assert lines, f"worker printed no result; stderr:\n{err[-3000:]}"
            results.append(json.loads(lines[-1]))
    return results


def _customers(teller: Any, product: Any, count: int, *, deposits: tuple[int, ...]) -> list[Banker]:
    ca_ready()
    bankers = []
    for index in range(count):
        customer = services.customer_create(
            kind=Customer.Kind.INDIVIDUAL,
            name=f"고객{index}",
            phone=f"010-5000-{index:04d}",
            rrn=rrn_for_age(30 + index, serial=f"1{index:05d}"),
            actor=teller,
        )
        banker = open_banking(customer, teller=teller, product=product, username=f"user{index}x2026", deposits=deposits)
        transfer_limit_change(
            customer=customer,
            per_transfer=LIMIT.per_transfer,
            per_day=LIMIT.per_day,
            tier=Tier.GENERAL,
            medium_verified=False,  # lowering: at once, no medium
            actor=banker.user,
        )
        bankers.append(banker)
    return bankers


def _customer_money() -> int:
    return Account.objects.filter(kind=Account.Kind.CUSTOMER).aggregate(s=Sum("balance"))["s"] or 0


@pytest.fixture
def hot(teller, demand_product) -> Account:  # type: ignore[no-untyped-def]
    shop = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="핫가게", phone="010-7000-0000", rrn=rrn_for_age(50), actor=teller
    )
    return services.account_open(customer=shop, product=demand_product, password="4825", actor=teller)


def test_eight_processes_of_random_transfers_keep_every_rule(requires_postgres, teller, demand_product, hot) -> None:
    bankers = _customers(teller, demand_product, 6, deposits=(1_500_000, 1_500_000))
    money_before = _customer_money()
    deadlocks_before = _deadlocks()
    results = _fire(
        8,
        {
            "mode": "service",
            "random": True,
            "customers": [_spec(b) for b in bankers],
            "hot": hot.pk,
            "rounds": 25,
            "max_amount": 350_000,  # some over the per-transfer limit
            "tier": "general",
        },
    )
    errors = [e for r in results for e in r["errors"]]
    assert errors == [], errors
    refusals: dict[str, int] = {}
    for result in results:
        for code, count in result["refusals"].items():
            refusals[code] = refusals.get(code, 0) + count
    made = sum(len(r["made"]) for r in results)
    assert made == Transfer.objects.count() and made >= 30, (made, refusals)
    # The run reached the limits it proves were kept.
    assert refusals.get("daily_limit", 0) > 0 and refusals.get("per_transfer_limit", 0) > 0, refusals
    assert set(refusals) <= {"daily_limit", "per_transfer_limit", "insufficient_funds"}, refusals
    assert Account.objects.get(pk=hot.pk).balance > 0
    problems = transfer_problems(limits={b.customer.pk: LIMIT for b in bankers}, money_before=money_before)
    assert problems == []
    assert _deadlocks() == deadlocks_before


def test_twenty_submissions_of_one_form_key_make_one_transfer(requires_postgres, teller, demand_product, hot) -> None:
    (alice,) = _customers(teller, demand_product, 1, deposits=(1_000_000,))
    key = str(uuid.uuid4())
    results = _fire(
        20,
        {
            "mode": "service",
            "customers": [_spec(alice)],
            "hot": hot.pk,
            "fixed_key": key,
            "to_hot": True,
            "amount": 10_000,
            "rounds": 1,
            "tier": "general",
        },
    )
    assert [e for r in results for e in r["errors"]] == []
    made = {pk for r in results for pk in r["made"]}
    assert len(made) == 1 and sum(len(r["made"]) for r in results) == 20  # everyone got the same receipt
    assert Transfer.objects.count() == 1
    assert Account.objects.get(pk=alice.account.pk).balance == 990_000
    assert Account.objects.get(pk=hot.pk).balance == 10_000


def _one_sender_race(mode: str, teller: Any, product: Any, hot: Account) -> tuple[list[str], int]:
    """Eight processes each try to send one customer's full per-transfer amount twice, at once."""
    (alice,) = _customers(teller, product, 1, deposits=(5_000_000,))
    money_before = _customer_money()
    results = _fire(
        8,
        {
            "mode": mode,
            "customers": [_spec(alice)],
            "hot": hot.pk,
            "amount": 250_000,
            "to_hot": True,
            "rounds": 2,
            "tier": "general",
            "per_transfer": LIMIT.per_transfer,
            "per_day": LIMIT.per_day,
        },
    )
    assert [e for r in results for e in r["errors"]] == []
    return transfer_problems(limits={alice.customer.pk: LIMIT}, money_before=money_before), Transfer.objects.count()


def test_the_checker_catches_a_naive_daily_limit_check(requires_postgres, teller, demand_product, hot) -> None:
    """The control implementation reads the day's total without the lock: several processes pass
    the same check and the customer sends more than the daily limit, which the checker reports."""
    problems, made = _one_sender_race("naive", teller, demand_product, hot)
    assert made > 4
    assert any("over the daily limit" in p for p in problems), problems


def test_the_service_under_the_same_race_sends_exactly_the_daily_limit(
    requires_postgres, teller, demand_product, hot
) -> None:
    problems, made = _one_sender_race("service", teller, demand_product, hot)
    assert problems == [] and made == 4  # 4 x 250,000 = the 1,000,000 daily limit
