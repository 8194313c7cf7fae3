"""Real concurrency on PostgreSQL: row locks keep balances and account numbers right."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from accounts import services
from accounts.models import Account
from accounts.selectors import ledger_problems
from bankportal.audit.services import audit_chain_verify
from tests.conftest import ACCOUNT_PASSWORD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


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
    # Every refusal and payout was audited, and the chain stayed one unbroken line.
    assert audit_chain_verify().ok


def test_concurrent_wrong_passwords_are_all_counted(requires_postgres, alice_account):
    _run_together(5, lambda _i: services.account_password_check(account=alice_account, password="0000"))
    alice_account.refresh_from_db()
    assert alice_account.password_failures == 5 and alice_account.password_locked


def test_concurrent_account_openings_get_distinct_numbers(requires_postgres, alice, demand_product, teller):
    results = _run_together(
        6,
        lambda _i: services.account_open(customer=alice, product=demand_product, password="3917", actor=teller),
    )
    numbers = {r.number for r in results if isinstance(r, Account)}
    assert len(numbers) == 6, results
    assert audit_chain_verify().ok
