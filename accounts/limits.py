"""Transfer maxima by customer kind and security tier, and the minor cap. Pure: no ORM.

The numbers are the domain rules' table ("Transfer limits by security tier"). Customers set
their own limits within these maxima; the transfer service checks them (a later issue).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Tier(enum.StrEnum):
    SAFE = "safe"  # 안전등급: OTP (or OTP card for corporations)
    GENERAL = "general"  # 일반등급: security card
    NONE = "none"  # no security medium: no transfers


@dataclass(frozen=True)
class Limit:
    per_transfer: int
    per_day: int


MINOR_CAP = Limit(per_transfer=1_000_000, per_day=3_000_000)

INDIVIDUAL_MAXIMA = {
    Tier.SAFE: Limit(per_transfer=100_000_000, per_day=500_000_000),
    Tier.GENERAL: Limit(per_transfer=10_000_000, per_day=50_000_000),
    Tier.NONE: Limit(per_transfer=0, per_day=0),
}
CORPORATE_MAXIMA = {
    Tier.SAFE: Limit(per_transfer=1_000_000_000, per_day=5_000_000_000),
    Tier.GENERAL: Limit(per_transfer=0, per_day=0),  # corporate banking needs an OTP card
    Tier.NONE: Limit(per_transfer=0, per_day=0),
}


def maximum_limit(*, corporate: bool, tier: Tier, minor_cap: bool) -> Limit:
    """The highest limit the bank allows; a minor who signed up alone is capped whatever the tier."""
    limit = (CORPORATE_MAXIMA if corporate else INDIVIDUAL_MAXIMA)[tier]
    if minor_cap:
        return Limit(min(limit.per_transfer, MINOR_CAP.per_transfer), min(limit.per_day, MINOR_CAP.per_day))
    return limit
