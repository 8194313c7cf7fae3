# ruff: noqa: F811 - the clock and alice_bank fixtures are imported from tests/accounts/test_limits.py
"""A refused limit change writes nothing but its own `transfer_limit.refused` event (the reason, the
figures asked for, the tier), which stays on record although the change was rolled back."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.limits import Tier
from accounts.models import TransferLimit
from accounts.services import limits as limit_svc
from bankportal.audit.models import AuditEvent
from tests.accounts.test_limits import _banker, alice_bank, change, clock  # noqa: F401 - fixtures
from tests.accounts.transfer_helpers import Banker

pytestmark = pytest.mark.django_db


def own_limits(banker: Banker) -> list[tuple[int, int]]:
    return list(TransferLimit.objects.filter(customer=banker.customer).values_list("per_transfer", "per_day"))


def refused_events() -> Any:
    return AuditEvent.objects.filter(action="transfer_limit.refused")


def refuse(banker: Banker, per_transfer: Any, per_day: Any, *, medium: bool = True, tier: Tier = Tier.SAFE) -> Any:
    """Ask for a change that is refused; returns its one refused event, having checked nothing changed."""
    before = own_limits(banker), AuditEvent.objects.filter(action="transfer_limit.change").count()
    refused_before = refused_events().count()
    with pytest.raises(ValidationError) as exc:
        change(banker, per_transfer, per_day, medium=medium, tier=tier)
    assert (own_limits(banker), AuditEvent.objects.filter(action="transfer_limit.change").count()) == before
    assert refused_events().count() == refused_before + 1
    event = refused_events().latest("pk")
    assert event.details["reason"] == exc.value.code
    assert event.actor_id == banker.user.pk and event.customer_ref == banker.customer.pk
    return event


@pytest.mark.parametrize(
    ("figures", "tier", "reason", "asked"),
    [
        ((-1, 5), Tier.SAFE, "limit_negative", [-1, 5]),
        ((6, 5), Tier.SAFE, "limit_day_below_transfer", [6, 5]),
        ((100_000_001, 500_000_000), Tier.SAFE, "limit_above_tier", [100_000_001, 500_000_000]),
        ((10_000_000, 50_000_001), Tier.GENERAL, "limit_above_tier", [10_000_000, 50_000_001]),
        ((1, 1), Tier.NONE, "limit_above_tier", [1, 1]),  # no medium: nothing may be set but zero
        ((1.5, 5), Tier.SAFE, "limit_not_integer", [None, 5]),
        ((True, 5), Tier.SAFE, "limit_not_integer", [None, 5]),
        (("1000", 5), Tier.SAFE, "limit_not_integer", [None, 5]),
    ],
)
def test_each_refusal_leaves_one_refused_event_and_no_change(alice_bank, figures, tier, reason, asked) -> None:
    change(alice_bank, 1, 1)  # an own setting the refusal must leave as it is
    event = refuse(alice_bank, *figures, tier=tier)
    assert event.details == {"reason": reason, "asked": asked, "tier": tier.value}
    assert own_limits(alice_bank) == [(1, 1)]


def test_a_raise_without_the_medium_is_refused_on_record(alice_bank) -> None:
    change(alice_bank, 1_000_000, 2_000_000)
    event = refuse(alice_bank, 1_000_001, 2_000_000, medium=False)
    assert event.details == {"reason": "limit_medium_required", "asked": [1_000_001, 2_000_000], "tier": "safe"}
    assert own_limits(alice_bank) == [(1_000_000, 2_000_000)]


def test_the_minor_cap_refusal_is_on_record(clock, request) -> None:
    minor = _banker("minnie", request, 10_000_000)
    event = refuse(minor, 1_000_001, 3_000_000)
    assert event.details == {"reason": "limit_minor_cap", "asked": [1_000_001, 3_000_000], "tier": "safe"}
    assert own_limits(minor) == []


def test_an_accepted_change_writes_no_refused_event(alice_bank) -> None:
    change(alice_bank, 1_000_000, 2_000_000)  # lowering
    change(alice_bank, 5_000_000, 9_000_000, medium=True)  # raising with the medium
    change(alice_bank, 5_000_000, 9_000_000)  # keeping
    assert own_limits(alice_bank) == [(5_000_000, 9_000_000)]
    assert AuditEvent.objects.filter(action="transfer_limit.change").count() == 3
    assert not refused_events().exists()


def test_someone_elses_attempt_is_refused_as_forbidden_not_as_a_limit_refusal(alice_bank, teller) -> None:
    with pytest.raises(PermissionDenied):
        limit_svc.transfer_limit_change(
            customer=alice_bank.customer, per_transfer=1, per_day=1, tier=Tier.SAFE, medium_verified=True, actor=teller
        )
    assert not refused_events().exists() and own_limits(alice_bank) == []
