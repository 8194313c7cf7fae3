"""ledger_verify proves every balance and every running balance, and reports each kind of breakage."""

import io
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from accounts import services
from accounts.models import Account, LedgerEntry
from accounts.selectors import ledger_problems
from accounts.services.ledger import branch_cash_account
from accounts.tasks import ledger_verify_task
from tests.accounts.ledger_worker import reverse_journal, roll_up_everything
from tests.conftest import ACCOUNT_PASSWORD

# Transactional: on PostgreSQL the roll-up folds in only committed transactions.
pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def _raw_sql():
    """A cursor that may rewrite posted history, as someone with direct database access could.

    On PostgreSQL the append-only triggers of accounts/0003 refuse UPDATE and DELETE, so the
    session skips triggers (superuser only) for the rest of the test's transaction.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        yield cursor


@pytest.fixture
def busy_ledger(alice_account, teller, manager):
    """Deposits, a withdrawal and a reversal at two branches, with part of it rolled up."""
    services.cash_deposit(account=alice_account, amount=20_000, actor=teller)
    journal = services.cash_deposit(account=alice_account, amount=7_000, actor=teller, branch="202")
    roll_up_everything()
    services.cash_withdrawal(account=alice_account, amount=5_000, password=ACCOUNT_PASSWORD, actor=teller)
    reverse_journal(journal, requester=teller, approver=manager, reason="wrong branch")
    return alice_account


def _kinds() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for problem in ledger_problems():
        found.setdefault(problem.kind, set()).add(problem.ref)
    return found


def test_a_clean_ledger_has_no_problems_before_and_after_the_roll_up(busy_ledger):
    """Unrolled internal legs are not a problem: the rolled-up figure covers what it says it covers."""
    assert ledger_problems() == []
    roll_up_everything()
    assert ledger_problems() == []
    out = io.StringIO()
    call_command("ledger_verify", stdout=out)
    assert "ledger balanced" in out.getvalue()
    assert ledger_verify_task.apply().get() == {"ok": True, "problems": 0}


def test_a_tampered_customer_balance_is_reported(busy_ledger):
    with _raw_sql() as cursor:
        cursor.execute("UPDATE accounts_account SET balance = balance + 1 WHERE id = %s", [busy_ledger.pk])
    assert _kinds() == {"balance_mismatch": {busy_ledger.number}}
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("ledger_verify", stderr=err)
    assert f"balance_mismatch: {busy_ledger.number}" in err.getvalue()


def test_a_tampered_rolled_up_internal_balance_is_reported(busy_ledger):
    cash = branch_cash_account("101")
    with _raw_sql() as cursor:
        cursor.execute("UPDATE accounts_account SET balance = balance - 1 WHERE id = %s", [cash.pk])
    assert _kinds() == {"internal_balance_mismatch": {cash.number}}
    assert ledger_verify_task.apply().get() == {"ok": False, "problems": 1}


def test_an_internal_entry_edited_after_its_roll_up_is_reported(busy_ledger):
    """Editing a covered internal leg breaks its journal, the whole ledger and the rolled-up figure."""
    cash = branch_cash_account("101")
    entry = LedgerEntry.objects.filter(account=cash).order_by("pk").first()
    with _raw_sql() as cursor:
        cursor.execute("UPDATE accounts_ledgerentry SET amount = amount - 1 WHERE id = %s", [entry.pk])
    assert _kinds() == {
        "internal_balance_mismatch": {cash.number},
        "unbalanced_journal": {f"#{entry.journal_id}"},
        "ledger_unbalanced": {"ledger"},
    }


def test_a_balance_after_that_does_not_run_on_is_reported(busy_ledger):
    """Entry n's balance_after must be entry n-1's plus its amount, even when the sum still agrees."""
    entries = list(LedgerEntry.objects.filter(account=busy_ledger).order_by("pk"))
    assert len(entries) == 5
    middle = entries[2]
    with _raw_sql() as cursor:
        cursor.execute("UPDATE accounts_ledgerentry SET balance_after = balance_after + 3 WHERE id = %s", [middle.pk])
    problems = [p for p in ledger_problems() if p.kind == "balance_after_break"]
    # The edited entry is off its predecessor by +3 and its successor is off it by -3.
    assert [p.detail.split(":")[0] for p in problems] == [
        f"entry {middle.pk} ({middle.amount:+,})",
        f"entry {entries[3].pk} ({entries[3].amount:+,})",
    ]
    assert {p.ref for p in ledger_problems()} == {busy_ledger.number}


def test_a_first_entry_must_equal_its_amount(busy_ledger):
    first = LedgerEntry.objects.filter(account=busy_ledger).order_by("pk").first()
    with _raw_sql() as cursor:
        cursor.execute("UPDATE accounts_ledgerentry SET balance_after = NULL WHERE id = %s", [first.pk])
    breaks = [p.detail for p in ledger_problems() if p.kind == "balance_after_break"]
    assert breaks[0].startswith(f"entry {first.pk} ") and len(breaks) == 2


def test_a_journal_missing_a_leg_is_reported(busy_ledger):
    entry = LedgerEntry.objects.filter(account=busy_ledger).order_by("pk").last()
    with _raw_sql() as cursor:
        cursor.execute("DELETE FROM accounts_ledgerentry WHERE id = %s", [entry.pk])
    assert _kinds() == {
        "balance_mismatch": {busy_ledger.number},
        "unbalanced_journal": {f"#{entry.journal_id}"},
        "ledger_unbalanced": {"ledger"},
    }


def test_problems_are_read_in_chunks_and_none_is_lost(alice, demand_product, teller):
    """The check streams its rows: with a chunk of 2, all seven tampered accounts are still reported."""
    numbers = []
    for _ in range(7):
        account = services.account_open(
            customer=alice, product=demand_product, password=ACCOUNT_PASSWORD, opening_deposit=10, actor=teller
        )
        numbers.append(account.number)
    with _raw_sql() as cursor:
        cursor.execute("UPDATE accounts_account SET balance = balance + 5 WHERE kind = 'customer'")
    problems = ledger_problems(chunk_size=2)
    assert sorted(p.ref for p in problems if p.kind == "balance_mismatch") == sorted(numbers)
    assert Account.objects.filter(kind=Account.Kind.CUSTOMER).count() == 7
