"""Real concurrency on PostgreSQL: one lock order, no bank-wide hot row, right balances.

Threads share one process (and the GIL); the mixed-service test runs separate processes, as
gunicorn workers do, each posting through the services against the same test database.
"""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection

from accounts import services
from accounts.models import Account, LedgerEntry, User
from accounts.selectors import ledger_problems
from bankportal.audit.verification import audit_verify
from tests.accounts.ledger_worker import roll_up_everything
from tests.conftest import ACCOUNT_PASSWORD, STAFF_PASSWORD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]


def _run_together(count: int, work) -> list[object]:
    """Run ``work(i)`` in ``count`` threads released at the same instant; collect results or errors."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def runner(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _worker(orders: dict) -> subprocess.Popen:
    """Start ``tests.accounts.ledger_worker`` in its own process on this test database."""
    env = dict(os.environ, LEDGER_WORKER_DB=connection.settings_dict["NAME"], LEDGER_WORKER_ORDERS=json.dumps(orders))
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.accounts.ledger_worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(process: subprocess.Popen, timeout: float = 60) -> dict:
    out, err = process.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, f"worker printed no result; stderr:\n{err[-3000:]}"
    return json.loads(lines[-1])


def test_concurrent_withdrawals_never_overdraw(requires_postgres, alice_account, teller):
    """Four tellers each pay out 400,000 won from 1,000,000 at once: exactly two succeed."""
    results = _run_together(
        4,
        lambda _i: services.cash_withdrawal(
            account=alice_account, amount=400_000, password=ACCOUNT_PASSWORD, actor=teller
        ),
    )
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(refused) == 2 and all(r.code == "insufficient_funds" for r in refused)
    assert Account.objects.get(pk=alice_account.pk).balance == 200_000
    assert ledger_problems() == []
    assert audit_verify().problems == []


def test_concurrent_wrong_passwords_are_all_counted(requires_postgres, alice_account, teller):
    _run_together(5, lambda _i: services.account_password_check(account=alice_account, password="0000", actor=teller))
    alice_account.refresh_from_db()
    assert alice_account.password_failures == 5 and alice_account.password_locked


def test_concurrent_account_openings_get_distinct_numbers(requires_postgres, alice, demand_product, teller):
    results = _run_together(
        6,
        lambda _i: services.account_open(customer=alice, product=demand_product, password="3917", actor=teller),
    )
    numbers = {r.number for r in results if isinstance(r, Account)}
    assert len(numbers) == 6, results


def test_every_money_service_mixed_across_processes_never_deadlocks(
    requires_postgres, alice, alice_account, demand_product, teller, manager
):
    """4 processes x 15 rounds of open-with-deposit, deposit, withdrawal and reversal over three
    shared accounts and three branches (first use of two of them races): no deadlock, no error
    but business refusals, and a ledger that proves out, running balances included."""
    approver = User.objects.create_user(username="manager2", password=STAFF_PASSWORD, is_staff=True)
    approver.groups.add(Group.objects.get(name="Branch manager"))
    shared = [alice_account] + [
        services.account_open(
            customer=alice, product=demand_product, password=ACCOUNT_PASSWORD, opening_deposit=1_000_000, actor=teller
        )
        for _ in range(2)
    ]
    common = {
        "teller": teller.pk,
        "manager": manager.pk,
        "approver": approver.pk,
        "customer": alice.pk,
        "product": demand_product.pk,
        "accounts": [a.pk for a in shared],
        "branches": ["101", "202", "303"],
        "password": ACCOUNT_PASSWORD,
        "rounds": 15,
    }
    workers = [_worker({**common, "seed": seed}) for seed in range(4)]
    results = [_result(w, timeout=90) for w in workers]
    errors = [e for r in results for e in r["errors"]]
    assert errors == [], errors
    assert not any("deadlock" in e for e in errors)
    assert sum(r["posted"] for r in results) >= 40, results
    roll_up_everything()
    assert ledger_problems() == []
    cash = Account.objects.filter(internal_code=Account.Internal.BRANCH_CASH, branch__in=common["branches"])
    assert cash.count() == 3  # one per branch, however many processes raced to create it
    customer_total = sum(Account.objects.filter(kind=Account.Kind.CUSTOMER).values_list("balance", flat=True))
    assert customer_total == -sum(a.balance for a in Account.objects.filter(kind=Account.Kind.INTERNAL))
    assert (
        LedgerEntry.objects.filter(account__kind="internal", balance_after__isnull=False, txid__isnull=False).count()
        == 0
    )


def _held_deposit(account: Account, teller: User, branch: str) -> subprocess.Popen:
    """A process that deposits and then keeps its transaction open for 4 s; returns once it has posted."""
    holder = _worker({"hold": 4, "teller": teller.pk, "account": account.pk, "amount": 1_000, "branch": branch})
    first = holder.stdout.readline()
    assert json.loads(first)["outcome"] == "posted", (first, holder.stderr.read() if not first else "")
    return holder


def _deposit_beside(account: Account, teller: User, branch: str) -> dict:
    """A second process deposits under a 2 s lock_timeout: what happened, and how long it waited."""
    other = _worker({"hold": 0.01, "teller": teller.pk, "account": account.pk, "amount": 2_000, "branch": branch})
    first = json.loads(other.stdout.readline())
    other.communicate(timeout=30)
    return first


@pytest.mark.parametrize("other_branch", ["202", "101"], ids=["other-branch", "same-branch"])
def test_deposits_for_different_customers_never_wait_on_each_other(
    requires_postgres, alice, alice_account, demand_product, teller, other_branch
):
    """While one deposit at branch 101 holds its transaction open, another customer's deposit at
    another branch, or at the same branch (its cash leg is only appended), goes straight through."""
    bob_account = services.account_open(
        customer=alice, product=demand_product, password=ACCOUNT_PASSWORD, opening_deposit=10, actor=teller
    )
    services.cash_deposit(account=alice_account, amount=1, actor=teller, branch="202")  # the branch exists
    holder = _held_deposit(alice_account, teller, "101")
    try:
        outcome = _deposit_beside(bob_account, teller, other_branch)
    finally:
        holder.communicate(timeout=30)
    assert outcome["outcome"] == "posted" and outcome["waited"] < 1.0, outcome


def test_deposits_to_the_same_account_do_wait_for_each_other(requires_postgres, alice_account, teller):
    """The other side of the rule: the customer account row is locked, so a second deposit to the
    same account waits for the first transaction (and here gives up at its 2 s lock_timeout)."""
    holder = _held_deposit(alice_account, teller, "101")
    try:
        outcome = _deposit_beside(alice_account, teller, "202")
    finally:
        holder.communicate(timeout=30)
    assert "lock timeout" in outcome["outcome"] and outcome["waited"] >= 1.9, outcome
