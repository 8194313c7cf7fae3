"""Internal accounts: per branch and per counterparty bank, appended without locks, rolled up by a job."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts import accountnumbers, services
from accounts.models import Account, Journal, LedgerEntry
from accounts.selectors import internal_balance_live, ledger_problems
from accounts.services.ledger import (
    branch_cash_account,
    clearing_account,
    fee_income_account,
    internal_account,
    internal_balances_roll_up,
)
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from tests.accounts.ledger_worker import roll_up_everything
from tests.conftest import ACCOUNT_PASSWORD

pytestmark = pytest.mark.django_db
ROLL_UP = system_actor("test_roll_up", ["accounts.change_account"])


def test_cash_goes_to_the_till_of_the_branch_that_takes_it(alice_account, teller):
    """Each branch has its own cash account; head office's bank-wide one from 0002 is left alone."""
    services.cash_deposit(account=alice_account, amount=7_000, actor=teller, branch="202")
    services.cash_withdrawal(account=alice_account, amount=2_000, password=ACCOUNT_PASSWORD, actor=teller)
    assert internal_balance_live(branch_cash_account("101")) == -1_000_000 + 2_000
    assert internal_balance_live(branch_cash_account("202")) == -7_000
    legacy = Account.objects.get(internal_code=Account.Internal.BRANCH_CASH, branch="000")
    assert not legacy.entries.exists()
    assert branch_cash_account("202").number == accountnumbers.build("202", "99", 1)


def test_an_internal_account_is_made_once_per_purpose_branch_and_bank():
    assert branch_cash_account("303").pk == branch_cash_account("303").pk
    assert fee_income_account("303").pk != branch_cash_account("303").pk
    kb, shinhan = clearing_account("004"), clearing_account("088")
    assert kb.pk != shinhan.pk and (kb.counterparty_bank, kb.branch) == ("004", "000")
    assert Account.objects.filter(kind=Account.Kind.INTERNAL, branch="303").count() == 2


@pytest.mark.parametrize(
    ("code", "kwargs"),
    [
        (Account.Internal.BRANCH_CASH, {"branch": "1O1"}),
        (Account.Internal.INTERBANK_CLEARING, {"counterparty_bank": "88"}),
        (Account.Internal.FEE_INCOME, {"branch": "101", "counterparty_bank": "004"}),
        ("vault", {"branch": "101"}),
    ],
)
def test_a_malformed_internal_account_is_a_bug_not_a_new_row(code, kwargs):
    before = Account.objects.count()
    with pytest.raises(ValueError):
        internal_account(code, **kwargs)
    assert Account.objects.count() == before


def test_a_rolled_back_creation_is_not_remembered(alice_account, teller):
    """The per-process cache only keeps accounts a committed transaction saw."""
    with pytest.raises(RuntimeError), transaction.atomic():
        branch_cash_account("404")
        raise RuntimeError("teller cancels")
    assert not Account.objects.filter(branch="404").exists()
    services.cash_deposit(account=alice_account, amount=1_000, actor=teller, branch="404")
    assert internal_balance_live(branch_cash_account("404")) == -1_000


def test_a_posting_never_writes_the_internal_row(alice_account, teller):
    """Internal legs are appended with no running balance; the row keeps its rolled-up figure."""
    journal = services.cash_deposit(account=alice_account, amount=3_000, actor=teller)
    cash_leg = journal.entries.get(account__kind=Account.Kind.INTERNAL)
    assert cash_leg.balance_after is None
    cash = Account.objects.get(pk=cash_leg.account_id)
    assert cash.balance == 0 and internal_balance_live(cash) == -1_003_000
    assert ledger_problems() == []


def test_only_a_job_with_the_right_may_roll_up(alice_account, teller, manager):
    for actor in (teller, manager, system_actor("other_job")):
        with pytest.raises(PermissionDenied):
            internal_balances_roll_up(actor=actor)


def test_ledger_post_rejects_a_journal_that_does_not_balance_or_repeats_an_account(alice_account, teller):
    cash = branch_cash_account("101")
    with pytest.raises(ValueError):
        services.ledger_post(kind=Journal.Kind.FEE, legs=[(alice_account, 5), (alice_account, -5)], actor=teller)
    with pytest.raises(ValueError):
        services.ledger_post(kind=Journal.Kind.FEE, legs=[(cash, 5)], actor=teller)


@pytest.mark.django_db(transaction=True)
def test_the_roll_up_folds_in_finished_transactions_once(alice_account, teller):
    """Rolling up twice adds nothing the second time; the figures equal the entries and are audited."""
    services.cash_deposit(account=alice_account, amount=5_000, actor=teller, branch="202")
    fee = fee_income_account("101")
    services.ledger_post(kind=Journal.Kind.FEE, legs=[(alice_account, -500), (fee, 500)], actor=teller)
    roll_up_everything()
    assert Account.objects.get(pk=branch_cash_account("202").pk).balance == -5_000
    assert Account.objects.get(pk=fee.pk).balance == 500
    assert Account.objects.get(pk=branch_cash_account("101").pk).balance == -1_000_000
    assert internal_balances_roll_up(actor=ROLL_UP) == 0
    assert Account.objects.get(pk=fee.pk).balance == 500
    assert AuditEvent.objects.filter(action="ledger.internal_roll_up").exists()
    assert ledger_problems() == []
    rolled = Account.objects.get(pk=fee.pk)
    assert rolled.rolled_up_at is not None
    assert LedgerEntry.objects.filter(account=fee).count() == 1
