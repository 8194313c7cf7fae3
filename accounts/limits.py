"""Transfer limits: the tier maxima, the minor cap, a customer's own limits and the checks. Pure: no ORM.

The numbers are the domain rules' table ("Transfer limits by security tier"). They live in
settings (``TRANSFER_LIMIT_MAXIMA``, a plain dict: the regulation has changed before) and reach
these functions as a ``LimitTable`` parsed from that dict; ``maximum_limit`` without a table reads
the configured one. Customers set their own limits within the maxima; ``accounts.services.limits``
stores them and ``accounts.services.transfers`` checks every transfer against them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Tier(enum.StrEnum):
    SAFE = "safe"  # 안전등급: OTP (or OTP card for corporations)
    GENERAL = "general"  # 일반등급: security card
    NONE = "none"  # no security medium: no transfers


@dataclass(frozen=True)
class Limit:
    per_transfer: int
    per_day: int


NO_TRANSFERS = Limit(per_transfer=0, per_day=0)


@dataclass(frozen=True)
class LimitTable:
    """The bank's maxima by customer kind and tier, and the cap of a minor who signed up alone.

    A tier missing from a kind's row allows no transfers (corporate banking needs an OTP card)."""

    individual: Mapping[Tier, Limit]
    corporate: Mapping[Tier, Limit]
    minor_cap: Limit


def _limit(raw: Any, where: str) -> Limit:
    if not isinstance(raw, Mapping) or set(raw) != {"per_transfer", "per_day"}:
        raise ValueError(f"{where}: give exactly per_transfer and per_day")
    values = raw["per_transfer"], raw["per_day"]
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values):
        raise ValueError(f"{where}: limits are whole won, zero or more")
    if values[1] < values[0]:
        raise ValueError(f"{where}: the daily limit must cover one transfer")
    return Limit(per_transfer=values[0], per_day=values[1])


def parse_limit_table(raw: Mapping[str, Any]) -> LimitTable:
    """The table from its settings form; raises ``ValueError`` naming the bad entry.

    ``{"individual": {"safe": {"per_transfer": ..., "per_day": ...}, ...}, "corporate": {...},
    "minor_cap": {"per_transfer": ..., "per_day": ...}}`` with tiers from ``Tier`` (``none`` may be
    left out: it always allows nothing).
    """
    if not isinstance(raw, Mapping) or set(raw) != {"individual", "corporate", "minor_cap"}:
        raise ValueError("TRANSFER_LIMIT_MAXIMA needs exactly individual, corporate and minor_cap")
    rows: dict[str, dict[Tier, Limit]] = {}
    for kind in ("individual", "corporate"):
        row = raw[kind]
        if not isinstance(row, Mapping):
            raise ValueError(f"TRANSFER_LIMIT_MAXIMA[{kind!r}] must map tiers to limits")
        parsed: dict[Tier, Limit] = {}
        for tier_name, value in row.items():
            try:
                tier = Tier(tier_name)
            except ValueError:
                raise ValueError(f"TRANSFER_LIMIT_MAXIMA[{kind!r}]: unknown tier {tier_name!r}") from None
            parsed[tier] = _limit(value, f"TRANSFER_LIMIT_MAXIMA[{kind!r}][{tier_name!r}]")
        parsed[Tier.NONE] = NO_TRANSFERS  # no security medium, no transfers, whatever the table says
        rows[kind] = parsed
    return LimitTable(
        individual=rows["individual"],
        corporate=rows["corporate"],
        minor_cap=_limit(raw["minor_cap"], "TRANSFER_LIMIT_MAXIMA['minor_cap']"),
    )


def configured_table() -> LimitTable:
    """The table in settings (``TRANSFER_LIMIT_MAXIMA``); parsed on each call, it is a few entries."""
    from django.conf import settings  # configuration only: this module stays free of the ORM

    return parse_limit_table(settings.TRANSFER_LIMIT_MAXIMA)


def maximum_limit(*, corporate: bool, tier: Tier, minor_cap: bool, table: LimitTable | None = None) -> Limit:
    """The highest limit the bank allows; a minor who signed up alone is capped whatever the tier."""
    table = table or configured_table()
    limit = (table.corporate if corporate else table.individual).get(Tier(tier), NO_TRANSFERS)
    if minor_cap:
        return capped(limit, table.minor_cap)
    return limit


def capped(limit: Limit, cap: Limit) -> Limit:
    return Limit(min(limit.per_transfer, cap.per_transfer), min(limit.per_day, cap.per_day))


def effective_limit(*, own: Limit | None, maximum: Limit) -> Limit:
    """What applies now: the customer's own setting (none set: the maximum), never above the maximum.

    The maximum can fall below an older setting (an OTP reported lost drops the tier to the card's).
    """
    return maximum if own is None else capped(own, maximum)


class LimitRefusal(enum.StrEnum):
    NO_MEDIUM = "no_security_medium"  # the tier allows nothing
    PER_TRANSFER = "per_transfer_limit"
    PER_DAY = "daily_limit"


def day_left(limit: Limit, sent_today: int) -> int:
    """How much more may go out today (never below zero)."""
    return max(limit.per_day - sent_today, 0)


def transfer_refusal(*, amount: int, limit: Limit, sent_today: int) -> LimitRefusal | None:
    """Why ``amount`` may not go out now, or ``None``: exactly the limit is allowed, one won more is not."""
    if limit.per_transfer == 0 and limit.per_day == 0:
        return LimitRefusal.NO_MEDIUM
    if amount > limit.per_transfer:
        return LimitRefusal.PER_TRANSFER
    if sent_today + amount > limit.per_day:
        return LimitRefusal.PER_DAY
    return None


class ChangeRefusal(enum.StrEnum):
    NEGATIVE = "limit_negative"
    DAY_BELOW_TRANSFER = "limit_day_below_transfer"
    ABOVE_TIER = "limit_above_tier"
    MINOR_CAP = "limit_minor_cap"


def change_refusal(*, new: Limit, tier_maximum: Limit, minor_cap: Limit | None) -> ChangeRefusal | None:
    """Why a customer may not set ``new`` (``minor_cap``: the cap, when it applies), or ``None``.

    The minor cap is named before the tier maximum: above it the answer is "visit a branch".
    """
    if new.per_transfer < 0 or new.per_day < 0:
        return ChangeRefusal.NEGATIVE
    if new.per_day < new.per_transfer:
        return ChangeRefusal.DAY_BELOW_TRANSFER
    if minor_cap is not None and (new.per_transfer > minor_cap.per_transfer or new.per_day > minor_cap.per_day):
        return ChangeRefusal.MINOR_CAP
    if new.per_transfer > tier_maximum.per_transfer or new.per_day > tier_maximum.per_day:
        return ChangeRefusal.ABOVE_TIER
    return None


def is_raise(*, current: Limit, new: Limit) -> bool:
    """Raising either figure needs the security medium; lowering (or keeping) takes effect at once."""
    return new.per_transfer > current.per_transfer or new.per_day > current.per_day
