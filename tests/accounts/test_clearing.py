"""Interbank clearing: queued transfers to other banks are sent, or returned with the money and a text."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from accounts.limits import Tier
from accounts.models import Account, Journal, Transfer
from accounts.selectors import internal_balance_live, ledger_problems
from accounts.services import transfers as svc
from accounts.services.clearing import (
    CLEARING_PERMISSION,
    GatewayAnswer,
    OutboundTransfer,
    SimulatedGateway,
    interbank_clearing_run,
)
from accounts.services.ledger import clearing_account
from accounts.services.limits import remaining_today
from accounts.tasks import interbank_clearing_task
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from bankportal.timeutil import KST
from tests.accounts.transfer_helpers import Banker, ca_ready, new_key, open_banking, signer

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 10, 12, 0, tzinfo=KST)
JOB = system_actor("test_clearing", [CLEARING_PERMISSION])


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice_bank(clock, alice, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    ca_ready()
    return open_banking(alice, teller=teller, product=demand_product, username="alice2026", deposits=(1_000_000,))


def out(banker: Banker, amount: int, number: str, bank: str = "088") -> Transfer:
    return svc.transfer_execute(
        customer=banker.customer,
        from_account=banker.account,
        destination="other_bank",
        to_account_number=number,
        to_bank_code=bank,
        amount=amount,
        idempotency_key=new_key(),
        tier=Tier.GENERAL,
        medium_verified=True,
        signature=signer(banker),
        actor=banker.user,
    )


class CountingGateway(SimulatedGateway):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def send(self, transfer: OutboundTransfer) -> GatewayAnswer:
        self.sent.append(transfer.reference)
        return super().send(transfer)


def test_accepted_transfers_are_marked_sent_once(alice_bank) -> None:
    first, second = out(alice_bank, 10_000, "110123456789"), out(alice_bank, 20_000, "3333012345678", "090")
    gateway = CountingGateway()
    result = interbank_clearing_run(actor=JOB, gateway=gateway, chunk_size=1)
    assert (result.sent, result.returned, result.chunks) == (2, 0, 2)
    assert gateway.sent == [first.reference, second.reference]
    for transfer in (first, second):
        transfer.refresh_from_db()
        assert transfer.status == Transfer.Status.SENT and transfer.sent_at == T0
    assert interbank_clearing_run(actor=JOB, gateway=gateway).sent == 0
    assert gateway.sent == [first.reference, second.reference]  # never handed over twice
    assert AuditEvent.objects.filter(action="transfer.clearing").count() == 2


def test_a_refused_transfer_comes_back_with_a_text_and_a_reversing_journal(alice_bank) -> None:
    transfer = out(alice_bank, 40_000, "110123450000")  # the simulator refuses numbers ending 0000
    assert Account.objects.get(pk=alice_bank.account.pk).balance == 960_000
    result = interbank_clearing_run(actor=JOB)
    assert (result.sent, result.returned) == (0, 1)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.RETURNED and transfer.returned_at == T0
    assert transfer.return_reason == "account_closed"
    back = transfer.return_journal
    assert back is not None and back.kind == Journal.Kind.REVERSAL and back.reverses_id == transfer.journal_id
    assert dict(back.entries.values_list("account_id", "amount")) == {
        clearing_account("088").pk: -40_000,
        alice_bank.account.pk: 40_000,
    }
    assert Account.objects.get(pk=alice_bank.account.pk).balance == 1_000_000
    assert internal_balance_live(clearing_account("088")) == 0
    sms = Notification.objects.get(purpose="transfer_returned")
    assert sms.to == alice_bank.customer.phone and transfer.reference in sms.body and "40,000" in sms.body
    assert ledger_problems() == []
    # The day's total still counts it: it went out.
    assert remaining_today(alice_bank.customer, tier=Tier.GENERAL).sent_today == 40_000


def test_a_dry_run_only_counts(alice_bank) -> None:
    transfer = out(alice_bank, 10_000, "110123456789")
    result = interbank_clearing_run(actor=JOB, dry_run=True, gateway=CountingGateway())
    assert (result.queued, result.sent) == (1, 0)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.QUEUED


def test_the_command_and_the_task(alice_bank) -> None:
    out(alice_bank, 10_000, "110123456789")
    out(alice_bank, 10_000, "110123450000")
    stdout = StringIO()
    call_command("interbank_clearing", "--dry-run", stdout=stdout)
    assert "2 transfer(s) queued" in stdout.getvalue()
    call_command("interbank_clearing", stdout=stdout)
    assert "1 transfer(s) sent, 1 returned" in stdout.getvalue()
    out(alice_bank, 5_000, "110123456789")
    assert interbank_clearing_task.apply().get()["sent"] == 1


def test_the_job_needs_its_permission(alice_bank) -> None:
    with pytest.raises(PermissionDenied):
        interbank_clearing_run(actor=system_actor("nobody"))
    with pytest.raises(PermissionDenied):
        interbank_clearing_run(actor=alice_bank.user)


def test_the_recipient_inquiry_asks_the_other_bank(alice_bank) -> None:
    recipient = svc.transfer_recipient(
        customer=alice_bank.customer, destination="other_bank", to_account_number="110-12-3456", to_bank_code="004"
    )
    assert (recipient.bank_code, recipient.account_number, recipient.name) == ("004", "110123456", "예금주3456")
