"""The ledger: balanced journals, no negative balances, account passwords, reversals, verification."""

import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import services
from accounts.models import Account, Journal, LedgerEntry, StaffRequest
from accounts.selectors import internal_balance_live, ledger_problems
from accounts.services.ledger import branch_cash_account
from accounts.services.staff_requests import staff_request_approve, staff_request_create
from bankportal.audit.models import AuditEvent
from tests.accounts.ledger_worker import reverse_journal
from tests.conftest import ACCOUNT_PASSWORD

pytestmark = pytest.mark.django_db


def _balance(account: Account) -> int:
    return Account.objects.get(pk=account.pk).balance


def test_cash_deposit_posts_a_balanced_journal(alice_account, teller):
    """A deposit moves the customer account up and its branch's cash down, in one balanced journal."""
    journal = services.cash_deposit(account=alice_account, amount=50_000, actor=teller)
    entries = list(journal.entries.select_related("account"))
    assert sum(e.amount for e in entries) == 0
    assert {(e.account.internal_code, e.account.branch) for e in entries} == {(None, "101"), ("branch_cash", "101")}
    assert alice_account.balance == 1_050_000  # the caller's object follows the posting
    assert _balance(alice_account) == 1_050_000
    assert AuditEvent.objects.filter(action="ledger.cash_deposit", actor=teller).count() == 2  # opening + this


def test_withdrawal_up_to_the_balance_and_not_one_won_more(alice_account, teller):
    with pytest.raises(ValidationError) as exc:
        services.cash_withdrawal(account=alice_account, amount=1_000_001, password=ACCOUNT_PASSWORD, actor=teller)
    assert exc.value.code == "insufficient_funds"
    assert _balance(alice_account) == 1_000_000
    assert not Journal.objects.filter(kind=Journal.Kind.CASH_WITHDRAWAL).exists()
    services.cash_withdrawal(account=alice_account, amount=1_000_000, password=ACCOUNT_PASSWORD, actor=teller)
    assert _balance(alice_account) == 0


@pytest.mark.parametrize("amount", [0, -1, 1.5, "100", True])
def test_amounts_must_be_positive_whole_won(alice_account, teller, amount):
    with pytest.raises(ValidationError) as exc:
        services.cash_deposit(account=alice_account, amount=amount, actor=teller)
    assert exc.value.code == "amount_positive"


def test_database_refuses_a_negative_customer_balance(alice_account):
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=alice_account.pk).update(balance=-1)


def test_internal_account_may_go_negative_but_customer_may_not(alice_account):
    """Branch cash is the contra leg of deposits, so its balance goes below zero; the roll-up shows it."""
    cash = branch_cash_account("101")
    assert internal_balance_live(cash) == -1_000_000 and cash.allow_negative


def test_legs_must_sum_to_zero(alice_account, teller):
    cash = branch_cash_account("101")
    with pytest.raises(ValueError, match="sum to zero"):
        services.ledger_post(kind=Journal.Kind.FEE, legs=[(alice_account, 10), (cash, -9)], actor=teller)


def test_frozen_account_takes_deposits_but_pays_nothing(alice_account, teller):
    Account.objects.filter(pk=alice_account.pk).update(status=Account.Status.FROZEN)
    services.cash_deposit(account=alice_account, amount=1, actor=teller)
    with pytest.raises(ValidationError) as exc:
        services.cash_withdrawal(account=alice_account, amount=1, password=ACCOUNT_PASSWORD, actor=teller)
    assert exc.value.code == "account_frozen"


@pytest.mark.parametrize(("wrong_tries", "locked"), [(4, False), (5, True)])
def test_account_password_locks_on_the_fifth_consecutive_failure(alice_account, teller, wrong_tries, locked):
    for _ in range(wrong_tries):
        with pytest.raises(ValidationError):
            services.cash_withdrawal(account=alice_account, amount=1, password="0000", actor=teller)
    alice_account.refresh_from_db()
    assert alice_account.password_failures == wrong_tries
    assert alice_account.password_locked is locked
    if locked:
        # Even the right password is refused until a branch resets it.
        with pytest.raises(ValidationError) as exc:
            services.cash_withdrawal(account=alice_account, amount=1, password=ACCOUNT_PASSWORD, actor=teller)
        assert exc.value.code == "account_password_locked"
        assert AuditEvent.objects.filter(action="account.password_locked", actor=teller).count() == 1
        assert AuditEvent.objects.filter(action="account.password_failed", actor=teller).count() == 4
    else:
        services.cash_withdrawal(account=alice_account, amount=1, password=ACCOUNT_PASSWORD, actor=teller)
        alice_account.refresh_from_db()
        assert alice_account.password_failures == 0


def test_branch_reset_unlocks_the_password(alice_account, teller, manager):
    """After five wrong entries only an approved branch reset lets the right password work again."""
    for _ in range(5):
        services.account_password_check(account=alice_account, password="9999", actor=teller)
    request = staff_request_create(
        kind=StaffRequest.Kind.ACCOUNT_PASSWORD_RESET, reason="ID checked", account=alice_account, actor=teller
    )
    staff_request_approve(request=request, actor=manager)
    services.account_password_reset(request=request, new_password="3917", actor=teller)
    alice_account.refresh_from_db()
    assert not alice_account.password_locked and alice_account.password_failures == 0
    result = services.account_password_check(account=alice_account, password="3917", actor=teller)
    assert result is services.PasswordCheck.OK


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("123", "account_password_format"),
        ("12345", "account_password_format"),
        ("12a4", "account_password_format"),
        ("١٢٣٤", "account_password_format"),
        ("1111", "account_password_weak"),
        ("1234", "account_password_weak"),
        ("9876", "account_password_weak"),
    ],
)
def test_account_password_rules(password, code):
    with pytest.raises(ValidationError) as exc:
        services.validate_account_password(password)
    assert exc.value.code == code


def test_reversal_needs_a_managers_approval_and_happens_once(alice_account, teller, manager):
    """A reversal posts the mirror image once; a reversal itself cannot be reversed."""
    journal = services.cash_deposit(account=alice_account, amount=30_000, actor=teller)
    request = staff_request_create(
        kind=StaffRequest.Kind.JOURNAL_REVERSE, reason="keyed twice", journal=journal, actor=teller
    )
    with pytest.raises(PermissionDenied):
        staff_request_approve(request=request, actor=teller)
    assert not Journal.objects.filter(kind=Journal.Kind.REVERSAL).exists()
    staff_request_approve(request=request, actor=manager)
    reversal = Journal.objects.get(reverses=journal)
    assert _balance(alice_account) == 1_000_000
    cash_legs = {
        e.account.branch: (e.amount, e.balance_after) for e in reversal.entries.filter(account__kind="internal")
    }
    assert cash_legs == {"101": (30_000, None)}  # internal legs carry no running balance
    with pytest.raises(ValidationError) as exc:
        reverse_journal(journal, requester=teller, approver=manager)
    assert exc.value.code == "already_reversed"
    with pytest.raises(ValidationError) as exc:
        reverse_journal(reversal, requester=teller, approver=manager)
    assert exc.value.code == "cannot_reverse_reversal"


def test_reversal_refused_when_the_money_is_gone(alice_account, teller, manager):
    journal = services.cash_deposit(account=alice_account, amount=30_000, actor=teller)
    services.cash_withdrawal(account=alice_account, amount=1_030_000, password=ACCOUNT_PASSWORD, actor=teller)
    with pytest.raises(ValidationError) as exc:
        reverse_journal(journal, requester=teller, approver=manager)
    assert exc.value.code == "insufficient_funds"


def test_ledger_verify_passes_on_a_clean_ledger(alice_account):
    out = io.StringIO()
    call_command("ledger_verify", stdout=out)
    assert "ledger balanced" in out.getvalue()


def test_ledger_verify_catches_a_tampered_balance(alice_account):
    # Someone edits the balance column directly, bypassing the ledger.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_account SET balance = balance + 1 WHERE id = %s", [alice_account.pk])
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("ledger_verify", stderr=err)
    assert f"balance_mismatch: {alice_account.number}" in err.getvalue()


def test_ledger_verify_catches_an_unbalanced_journal(alice_account):
    entry = LedgerEntry.objects.filter(account=alice_account).first()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A superuser session skipping triggers: the append-only trigger would refuse otherwise.
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("DELETE FROM accounts_ledgerentry WHERE id = %s", [entry.pk])
    kinds = {p.kind for p in ledger_problems()}
    assert kinds == {"balance_mismatch", "unbalanced_journal", "ledger_unbalanced"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["deposit", "withdraw"]), st.integers(1, 3_000_000)), max_size=12))
def test_any_sequence_of_cash_operations_keeps_the_ledger_balanced(alice_account, teller, operations):
    """Whatever tellers do, balances equal their entries, journals sum to zero, nothing goes negative."""
    expected = _balance(alice_account)
    for op, amount in operations:
        if op == "deposit":
            services.cash_deposit(account=alice_account, amount=amount, actor=teller)
            expected += amount
        else:
            try:
                services.cash_withdrawal(account=alice_account, amount=amount, password=ACCOUNT_PASSWORD, actor=teller)
                expected -= amount
            except ValidationError as exc:
                assert exc.code == "insufficient_funds" and amount > expected
        assert _balance(alice_account) == expected >= 0
    assert ledger_problems() == []


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE accounts_ledgerentry SET amount = amount + 1",
        "DELETE FROM accounts_ledgerentry",
        "UPDATE accounts_journal SET memo = 'edited'",
        "DELETE FROM accounts_journal",
    ],
)
def test_postgresql_refuses_edits_to_posted_history(requires_postgres, alice_account, sql):
    """History is corrected by reversal journals; raw SQL cannot rewrite or remove postings."""
    from django.db import DatabaseError

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert ledger_problems() == []
