"""A Hypothesis state machine over transfers, replays of a submitted form, limit changes and KST
midnight: after every step the service agrees with a plain model of the rules (which refusal, or
the new balance and day total), and a replay never moves money."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from accounts import services
from accounts.limits import Limit, Tier
from accounts.models import Account, Customer, DailyTransferTotal, Transfer
from accounts.selectors import ledger_problems
from accounts.services import limits as limit_svc
from accounts.services import transfers as svc
from bankportal.timeutil import KST, kst_today
from tests.accounts.transfer_helpers import Banker, ca_ready, open_banking, signer
from tests.conftest import rrn_for_age

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=KST)
MAXIMUM = Limit(10_000_000, 50_000_000)  # the general tier (security card)
DEPOSIT = 200_000_000

AMOUNTS = st.one_of(
    st.sampled_from([1, 999_999, 1_000_000, 1_000_001, 5_000_000, 9_999_999, 10_000_000, 10_000_001]),
    st.integers(min_value=1, max_value=12_000_000),
)
FIGURES = st.sampled_from([0, 1, 1_000_000, 3_000_000, 10_000_000, 10_000_001, 20_000_000, 50_000_000, 50_000_001])


def expected_refusal(*, amount: int, limit: Limit, sent: int, balance: int) -> str | None:
    if limit.per_transfer == 0 and limit.per_day == 0:
        return "no_security_medium"
    if amount > limit.per_transfer:
        return "per_transfer_limit"
    if sent + amount > limit.per_day:
        return "daily_limit"
    if amount > balance:
        return "insufficient_funds"
    return None


def expected_change_refusal(new: Limit, current: Limit, medium: bool) -> str | None:
    if new.per_day < new.per_transfer:
        return "limit_day_below_transfer"
    if new.per_transfer > MAXIMUM.per_transfer or new.per_day > MAXIMUM.per_day:
        return "limit_above_tier"
    if (new.per_transfer > current.per_transfer or new.per_day > current.per_day) and not medium:
        return "limit_medium_required"
    return None


def test_transfers_replays_limit_changes_and_midnight_agree_with_the_model(alice, teller, demand_product) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        ca_ready()
        sender = open_banking(alice, teller=teller, product=demand_product, username="alice2026", deposits=(DEPOSIT,))
        bob = services.customer_create(
            kind=Customer.Kind.INDIVIDUAL, name="박보브", phone="010-3333-4444", rrn=rrn_for_age(40), actor=teller
        )
        receiver = open_banking(bob, teller=teller, product=demand_product, username="bob2026", certificate=False)
        sign = signer(sender)
        run_state_machine_as_test(
            lambda: TransferMachine(sender, receiver, sign),  # type: ignore[arg-type]  # a factory works too
            settings=settings(
                max_examples=40,
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )


class TransferMachine(RuleBasedStateMachine):
    def __init__(self, sender: Banker, receiver: Banker, sign: Any) -> None:
        super().__init__()
        self.sender, self.receiver, self.sign = sender, receiver, sign
        # Each example runs in a savepoint rolled back at teardown: every example starts afresh.
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.now = T0
        self.own: Limit | None = None
        self.sent: dict[dt.date, int] = {}
        self.balance = DEPOSIT
        self.submitted: list[tuple[str, int, int]] = []  # (key, amount, transfer pk)

    def teardown(self) -> None:
        assert ledger_problems() == []
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    @property
    def limit(self) -> Limit:
        own = self.own or MAXIMUM
        return Limit(min(own.per_transfer, MAXIMUM.per_transfer), min(own.per_day, MAXIMUM.per_day))

    def _send(self, amount: int, key: str) -> Transfer:
        return svc.transfer_execute(
            customer=self.sender.customer,
            from_account=self.sender.account,
            destination="same_bank",
            to_account_number=self.receiver.account.number,
            amount=amount,
            idempotency_key=key,
            tier=Tier.GENERAL,
            medium_verified=True,
            signature=self.sign,
            actor=self.sender.user,
            now=self.now,
        )

    @rule(data=st.data())
    def transfer(self, data: st.DataObject) -> None:
        """Any amount, often exactly at an edge: the per-transfer limit or what is left today, or 1 won over."""
        day = kst_today(self.now)
        left = self.limit.per_day - self.sent.get(day, 0)
        edges = [self.limit.per_transfer, self.limit.per_transfer + 1, left, left + 1, self.balance + 1]
        amount = data.draw(st.one_of(AMOUNTS, st.sampled_from([e for e in edges if e > 0])), label="amount")
        expected = expected_refusal(amount=amount, limit=self.limit, sent=self.sent.get(day, 0), balance=self.balance)
        key = str(uuid.uuid4())
        if expected is None:
            transfer = self._send(amount, key)
            assert transfer.kst_day == day
            self.sent[day] = self.sent.get(day, 0) + amount
            self.balance -= amount
            self.submitted.append((key, amount, transfer.pk))
        else:
            with pytest.raises(ValidationError) as exc:
                self._send(amount, key)
            assert exc.value.code == expected

    @precondition(lambda self: bool(self.submitted))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """The same form again, maybe after midnight or a limit change: the first receipt, nothing moves."""
        key, amount, pk = data.draw(st.sampled_from(self.submitted))
        assert self._send(amount, key).pk == pk

    @rule(per_transfer=FIGURES, per_day=FIGURES, medium=st.booleans())
    def change_limits(self, per_transfer: int, per_day: int, medium: bool) -> None:
        new = Limit(per_transfer, per_day)
        expected = expected_change_refusal(new, self.limit, medium)
        call: dict[str, Any] = {
            "customer": self.sender.customer,
            "per_transfer": per_transfer,
            "per_day": per_day,
            "tier": Tier.GENERAL,
            "medium_verified": medium,
            "actor": self.sender.user,
            "now": self.now,
        }
        if expected is None:
            limit_svc.transfer_limit_change(**call)
            self.own = new
        else:
            with pytest.raises(ValidationError) as exc:
                limit_svc.transfer_limit_change(**call)
            assert exc.value.code == expected

    @rule(step=st.sampled_from(["second", "hour", "last_second", "midnight"]))
    def tick(self, step: str) -> None:
        local = self.now.astimezone(KST)
        if step == "second":
            self.now += dt.timedelta(seconds=1)
        elif step == "hour":
            self.now += dt.timedelta(hours=1)
        elif step == "last_second":
            self.now = dt.datetime.combine(local.date(), dt.time(23, 59, 59), tzinfo=KST)
        else:
            self.now = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0, 0, 0), tzinfo=KST)

    @invariant()
    def the_database_agrees(self) -> None:
        assert Account.objects.get(pk=self.sender.account.pk).balance == self.balance
        totals = dict(
            DailyTransferTotal.objects.filter(customer=self.sender.customer, total__gt=0).values_list("day", "total")
        )
        assert totals == {day: sent for day, sent in self.sent.items() if sent}
        assert Transfer.objects.count() == len(self.submitted)
        remaining = limit_svc.remaining_today(self.sender.customer, tier=Tier.GENERAL, now=self.now)
        assert remaining.left_today == max(self.limit.per_day - self.sent.get(kst_today(self.now), 0), 0)
