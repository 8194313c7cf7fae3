"""Transfer limits: each tier's maxima on both sides of every boundary, the daily limit across KST
midnight, the minor who signed up alone, and the customer's own limits (lower at once, raise with
the security medium, never above the tier or the minor cap)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from accounts import limits as rules
from accounts import services
from accounts.limits import Limit, Tier
from accounts.models import Customer, DailyTransferTotal, Transfer, TransferLimit
from accounts.services import limits as limit_svc
from accounts.services import transfers as svc
from bankportal.audit.models import AuditEvent
from bankportal.timeutil import KST
from tests.accounts.transfer_helpers import Banker, ca_ready, new_key, open_banking, signer
from tests.conftest import rrn_for_age

T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=KST)
LAST_SECOND = dt.datetime(2026, 3, 10, 23, 59, 59, tzinfo=KST)
MIDNIGHT = dt.datetime(2026, 3, 11, 0, 0, 0, tzinfo=KST)
ONE = {"per_transfer": 1, "per_day": 1}


# --- the pure rules ----------------------------------------------------------------------------------


def test_the_table_comes_from_settings_and_a_changed_regulation_is_a_settings_change(settings) -> None:
    assert rules.maximum_limit(corporate=False, tier=Tier.SAFE, minor_cap=False) == Limit(100_000_000, 500_000_000)
    settings.TRANSFER_LIMIT_MAXIMA = {
        **settings.TRANSFER_LIMIT_MAXIMA,
        "individual": {"safe": {"per_transfer": 50_000_000, "per_day": 250_000_000}},
    }
    assert rules.maximum_limit(corporate=False, tier=Tier.SAFE, minor_cap=False) == Limit(50_000_000, 250_000_000)
    # A tier left out of the table allows nothing.
    assert rules.maximum_limit(corporate=False, tier=Tier.GENERAL, minor_cap=False) == Limit(0, 0)


@pytest.mark.parametrize(
    "raw",
    [
        {"individual": {}, "corporate": {}},
        {"individual": {"gold": {"per_transfer": 1, "per_day": 1}}, "corporate": {}, "minor_cap": ONE},
        {"individual": {"safe": {"per_transfer": 2, "per_day": 1}}, "corporate": {}, "minor_cap": ONE},
        {"individual": {"safe": {"per_transfer": 1.5, "per_day": 2}}, "corporate": {}, "minor_cap": ONE},
        {"individual": {}, "corporate": {}, "minor_cap": {"per_transfer": -1, "per_day": 1}},
        {"individual": {}, "corporate": {}, "minor_cap": {"per_transfer": 1}},
    ],
)  # fmt: skip
def test_a_malformed_table_is_refused_loudly(raw) -> None:
    with pytest.raises(ValueError):
        rules.parse_limit_table(raw)


def test_no_medium_always_means_no_transfers_whatever_the_table_says() -> None:
    table = rules.parse_limit_table(
        {
            "individual": {"none": {"per_transfer": 5, "per_day": 5}},
            "corporate": {},
            "minor_cap": {"per_transfer": 1, "per_day": 1},
        }
    )
    assert rules.maximum_limit(corporate=False, tier=Tier.NONE, minor_cap=False, table=table) == Limit(0, 0)


@pytest.mark.parametrize(
    ("amount", "sent", "expected"),
    [
        (10, 0, None),
        (11, 0, rules.LimitRefusal.PER_TRANSFER),
        (10, 40, None),  # 50: exactly the daily limit
        (10, 41, rules.LimitRefusal.PER_DAY),
        (1, 50, rules.LimitRefusal.PER_DAY),
    ],
)
def test_transfer_refusal_boundaries(amount, sent, expected) -> None:
    assert rules.transfer_refusal(amount=amount, limit=Limit(10, 50), sent_today=sent) is expected
    assert rules.day_left(Limit(10, 50), sent) == max(50 - sent, 0)


def test_own_limits_are_capped_by_a_lower_maximum() -> None:
    assert rules.effective_limit(own=Limit(50, 200), maximum=Limit(10, 100)) == Limit(10, 100)
    assert rules.effective_limit(own=Limit(5, 20), maximum=Limit(10, 100)) == Limit(5, 20)
    assert rules.effective_limit(own=None, maximum=Limit(10, 100)) == Limit(10, 100)


@pytest.mark.parametrize(
    ("current", "new", "raising"),
    [((10, 50), (10, 50), False), ((10, 50), (9, 50), False), ((10, 50), (11, 50), True), ((10, 50), (1, 51), True)],
)
def test_raising_either_figure_is_a_raise(current, new, raising) -> None:
    assert rules.is_raise(current=Limit(*current), new=Limit(*new)) is raising


# --- personas ------------------------------------------------------------------------------------------


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def receiver(clock, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    bob = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박보브", phone="010-3333-4444", rrn=rrn_for_age(40), actor=teller
    )
    return open_banking(
        bob, teller=teller, product=demand_product, username="bob2026", deposits=(10,), certificate=False
    )


def _banker(persona: str, request: pytest.FixtureRequest, deposit: int) -> Banker:
    customer = request.getfixturevalue(persona)
    ca_ready()
    return open_banking(
        customer,
        teller=request.getfixturevalue("teller"),
        product=request.getfixturevalue("demand_product"),
        username=f"{persona}2026",
        deposits=(deposit,),
    )


def send(banker: Banker, receiver: Banker, amount: int, *, tier: Tier, now: dt.datetime | None = None) -> Transfer:
    return svc.transfer_execute(
        customer=banker.customer,
        from_account=banker.account,
        destination="same_bank",
        to_account_number=receiver.account.number,
        amount=amount,
        idempotency_key=new_key(),
        tier=tier,
        medium_verified=True,
        signature=signer(banker),
        actor=banker.user,
        now=now,
    )


def refusal(banker: Banker, receiver: Banker, amount: int, *, tier: Tier, now: dt.datetime | None = None) -> Any:
    before = (Transfer.objects.count(), list(DailyTransferTotal.objects.values_list("total", flat=True)))
    with pytest.raises(ValidationError) as exc:
        send(banker, receiver, amount, tier=tier, now=now)
    assert (Transfer.objects.count(), list(DailyTransferTotal.objects.values_list("total", flat=True))) == before
    return exc.value


def english(error: ValidationError) -> str:
    with translation.override("en"):
        return " ".join(error.messages)


# persona, tier, per transfer, per day (domain.md, "Transfer limits by security tier")
TIERS = [
    pytest.param("alice", Tier.SAFE, 100_000_000, 500_000_000, id="individual-safe-otp"),
    pytest.param("alice", Tier.GENERAL, 10_000_000, 50_000_000, id="individual-general-card"),
    pytest.param("acme", Tier.SAFE, 1_000_000_000, 5_000_000_000, id="corporate-safe-otp-card"),
    pytest.param("minnie", Tier.SAFE, 1_000_000, 3_000_000, id="minor-alone-safe"),
    pytest.param("minnie", Tier.GENERAL, 1_000_000, 3_000_000, id="minor-alone-general"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("persona", "tier", "per_transfer", "per_day"), TIERS)
def test_exactly_the_per_transfer_limit_goes_and_one_won_more_is_refused(
    clock, receiver, request, persona, tier, per_transfer, per_day
) -> None:
    banker = _banker(persona, request, per_transfer * 3)
    assert limit_svc.transfer_limits(banker.customer, tier=tier) == Limit(per_transfer, per_day)
    error = refusal(banker, receiver, per_transfer + 1, tier=tier)
    assert error.code == "per_transfer_limit"
    assert f"per-transfer limit of {per_transfer:,} won" in english(error)
    assert send(banker, receiver, per_transfer, tier=tier).amount == per_transfer


@pytest.mark.django_db
@pytest.mark.parametrize(("persona", "tier", "per_transfer", "per_day"), TIERS)
def test_the_daily_limit_adds_up_the_kst_day_and_starts_again_at_midnight(
    clock, receiver, request, persona, tier, per_transfer, per_day
) -> None:
    """Up to the daily limit in several transfers; 1 won more refused at 23:59:59 KST, and at
    00:00:00 KST the next day a full transfer goes again."""
    banker = _banker(persona, request, per_day + per_transfer)
    for _ in range(per_day // per_transfer - 1):
        send(banker, receiver, per_transfer, tier=tier, now=T0)
    send(banker, receiver, per_transfer - 1, tier=tier, now=T0)
    error = refusal(banker, receiver, 2, tier=tier, now=LAST_SECOND)  # 1 won is left
    assert error.code == "daily_limit"
    assert f"daily limit of {per_day:,} won: 1 won is left today" in english(error)
    send(banker, receiver, 1, tier=tier, now=LAST_SECOND)
    remaining = limit_svc.remaining_today(banker.customer, tier=tier, now=LAST_SECOND)
    assert (remaining.sent_today, remaining.left_today, remaining.largest_transfer) == (per_day, 0, 0)
    assert refusal(banker, receiver, 1, tier=tier, now=LAST_SECOND).code == "daily_limit"
    assert send(banker, receiver, per_transfer, tier=tier, now=MIDNIGHT).kst_day == dt.date(2026, 3, 11)
    assert limit_svc.remaining_today(banker.customer, tier=tier, now=MIDNIGHT).left_today == per_day - per_transfer
    totals = dict(DailyTransferTotal.objects.filter(customer=banker.customer).values_list("day", "total"))
    assert totals == {dt.date(2026, 3, 10): per_day, dt.date(2026, 3, 11): per_transfer}


@pytest.mark.django_db
def test_the_daily_limit_counts_every_account_of_the_customer(clock, receiver, alice, teller, demand_product) -> None:
    ca_ready()
    banker = open_banking(
        alice, teller=teller, product=demand_product, username="alice2026", deposits=(30_000_000,) * 2
    )
    for account in banker.accounts * 2:
        banker.accounts = [account] + [a for a in banker.accounts if a != account]
        send(banker, receiver, 10_000_000, tier=Tier.GENERAL)
    send(banker, receiver, 10_000_000, tier=Tier.GENERAL)  # 50,000,000 from two accounts
    assert refusal(banker, receiver, 1, tier=Tier.GENERAL).code == "daily_limit"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "tier"), [("alice", Tier.NONE), ("acme", Tier.GENERAL), ("acme", Tier.NONE), ("minnie", Tier.NONE)]
)
def test_without_the_tiers_medium_nothing_goes(clock, receiver, request, persona, tier) -> None:
    """No medium: no transfers; corporate banking needs an OTP card, a security card is not enough."""
    banker = _banker(persona, request, 1_000_000)
    error = refusal(banker, receiver, 1, tier=tier)
    assert error.code == "no_security_medium" and "security medium" in english(error)


# --- the customer's own limits --------------------------------------------------------------------------


@pytest.fixture
def alice_bank(clock, request) -> Banker:  # type: ignore[no-untyped-def]
    return _banker("alice", request, 200_000_000)


def change(banker: Banker, per_transfer: int, per_day: int, *, medium: bool = False, tier: Tier = Tier.SAFE) -> Any:
    return limit_svc.transfer_limit_change(
        customer=banker.customer,
        per_transfer=per_transfer,
        per_day=per_day,
        tier=tier,
        medium_verified=medium,
        actor=banker.user,
    )


@pytest.mark.django_db
def test_lowering_takes_effect_at_once_without_the_medium(alice_bank, receiver) -> None:
    change(alice_bank, 1_000_000, 2_000_000)
    assert limit_svc.transfer_limits(alice_bank.customer, tier=Tier.SAFE) == Limit(1_000_000, 2_000_000)
    assert refusal(alice_bank, receiver, 1_000_001, tier=Tier.SAFE).code == "per_transfer_limit"
    send(alice_bank, receiver, 1_000_000, tier=Tier.SAFE)
    send(alice_bank, receiver, 1_000_000, tier=Tier.SAFE)
    assert refusal(alice_bank, receiver, 1, tier=Tier.SAFE).code == "daily_limit"
    event = AuditEvent.objects.get(action="transfer_limit.change")
    assert event.details == {
        "tier": "safe",
        "from": [100_000_000, 500_000_000],
        "to": [1_000_000, 2_000_000],
        "raised": False,
    }


@pytest.mark.django_db
def test_raising_needs_the_security_medium(alice_bank) -> None:
    change(alice_bank, 1_000_000, 2_000_000)
    for figures in [(1_000_001, 2_000_000), (1_000_000, 2_000_001), (1, 2_000_001)]:
        with pytest.raises(ValidationError) as exc:
            change(alice_bank, *figures)
        assert exc.value.code == "limit_medium_required"
    assert TransferLimit.objects.get(customer=alice_bank.customer).per_transfer == 1_000_000
    change(alice_bank, 5_000_000, 9_000_000, medium=True)
    assert limit_svc.transfer_limits(alice_bank.customer, tier=Tier.SAFE) == Limit(5_000_000, 9_000_000)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tier", "per_transfer", "per_day"), [(Tier.SAFE, 100_000_000, 500_000_000), (Tier.GENERAL, 10_000_000, 50_000_000)]
)
def test_own_limits_stay_within_the_tier(alice_bank, tier, per_transfer, per_day) -> None:
    change(alice_bank, 1, 1)
    for figures in [(per_transfer + 1, per_day), (per_transfer, per_day + 1)]:
        with pytest.raises(ValidationError) as exc:
            change(alice_bank, *figures, medium=True, tier=tier)
        assert exc.value.code == "limit_above_tier"
        assert f"at most {per_transfer:,} won per transfer and {per_day:,} won a day" in english(exc.value)
    change(alice_bank, per_transfer, per_day, medium=True, tier=tier)


@pytest.mark.django_db
def test_an_own_limit_above_a_lower_tier_is_capped_by_it(alice_bank, receiver) -> None:
    """Set under an OTP; the OTP is lost (general tier): the card's maxima apply until it is back."""
    change(alice_bank, 50_000_000, 100_000_000)
    assert limit_svc.transfer_limits(alice_bank.customer, tier=Tier.GENERAL) == Limit(10_000_000, 50_000_000)
    assert refusal(alice_bank, receiver, 10_000_001, tier=Tier.GENERAL).code == "per_transfer_limit"
    assert limit_svc.transfer_limits(alice_bank.customer, tier=Tier.SAFE) == Limit(50_000_000, 100_000_000)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("figures", "code"),
    [((-1, 5), "limit_negative"), ((6, 5), "limit_day_below_transfer"), ((1.5, 5), "limit_not_integer"),
     ((True, 5), "limit_not_integer")],
)  # fmt: skip
def test_malformed_limits_are_refused(alice_bank, figures, code) -> None:
    with pytest.raises(ValidationError) as exc:
        change(alice_bank, *figures, medium=True)
    assert exc.value.code == code
    assert not TransferLimit.objects.exists() and not AuditEvent.objects.filter(action="transfer_limit.change").exists()


@pytest.mark.django_db
def test_zero_stops_transfers_until_raised_again(alice_bank, receiver) -> None:
    change(alice_bank, 0, 0)
    assert refusal(alice_bank, receiver, 1, tier=Tier.SAFE).code == "no_security_medium"


@pytest.mark.django_db
def test_the_minor_cap_is_never_raised_online(clock, receiver, request) -> None:
    """A minor who signed up alone may lower and raise back within the cap; above it: visit a branch."""
    minor = _banker("minnie", request, 10_000_000)
    assert minor.customer.solo_minor_cap
    for figures in [(1_000_001, 3_000_000), (1_000_000, 3_000_001)]:
        with pytest.raises(ValidationError) as exc:
            change(minor, *figures, medium=True)
        assert exc.value.code == "limit_minor_cap"
        assert "visit a branch" in english(exc.value)
        assert "1,000,000 won per transfer and 3,000,000 won a day" in english(exc.value)
    change(minor, 500_000, 1_000_000)
    change(minor, 1_000_000, 3_000_000, medium=True)
    assert limit_svc.transfer_limits(minor.customer, tier=Tier.SAFE) == Limit(1_000_000, 3_000_000)


@pytest.mark.django_db
def test_only_the_customer_changes_their_limits(alice_bank, receiver, teller) -> None:
    for actor in (teller, receiver.user):
        with pytest.raises(PermissionDenied):
            limit_svc.transfer_limit_change(
                customer=alice_bank.customer,
                per_transfer=1,
                per_day=1,
                tier=Tier.SAFE,
                medium_verified=True,
                actor=actor,
            )
    assert not TransferLimit.objects.exists()
