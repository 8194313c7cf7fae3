"""Transfer limits (이체한도): what applies to a customer, what is left today, and changing them.

Rules are pure, in ``accounts.limits`` (the tier maxima come from settings). A customer's own
limits are one ``TransferLimit`` row (none: the tier's maxima); what went out in a KST day is one
``DailyTransferTotal`` row per customer and day, which ``accounts.services.transfers`` adds to.

The security tier comes from the security media (``otp.services.verification.security_tier``),
which builds on ``accounts``: callers pass it in as ``tier`` (``accounts`` never imports ``otp``).

Lock order: a limit change locks the customer's day row of today first (the same row every
transfer of the customer locks first), so a lowering and a transfer are serialised: the transfer
either sees the new limit or commits before it exists. See ``accounts.services.ledger``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import limits as rules
from accounts.limits import Limit, Tier
from accounts.models import Customer, DailyTransferTotal, TransferLimit
from accounts.services._common import Actor, is_staff_actor, require_customer_or_perm
from bankportal.audit.services import audit_record
from bankportal.timeutil import kst_today

# Staff never set a customer's limits here; a job or test acts with this permission.
CHANGE_PERMISSION = "accounts.change_transferlimit"

ERR_LIMIT_NEGATIVE = _("Enter limits of 0 won or more.")
ERR_LIMIT_DAY_BELOW_TRANSFER = _("The daily limit must be at least the per-transfer limit.")
ERR_LIMIT_ABOVE_TIER = _(
    "Your security tier allows at most %(per_transfer)s won per transfer and %(per_day)s won a day. "
    "Choose limits within these (an OTP raises the tier's maxima)."
)
ERR_LIMIT_MINOR_CAP = _(
    "Your limits are capped at %(per_transfer)s won per transfer and %(per_day)s won a day because you "
    "signed up alone as a minor. The cap cannot be raised online: from your 19th birthday, visit a branch "
    "with your ID to lift it."
)
ERR_LIMIT_MEDIUM_REQUIRED = _(
    "Raising a limit needs your security medium. Enter the security card numbers or the OTP number asked for."
)
ERR_LIMIT_NOT_INTEGER = _("Enter the limits as whole won.")

_CHANGE_MESSAGES = {
    rules.ChangeRefusal.NEGATIVE: ERR_LIMIT_NEGATIVE,
    rules.ChangeRefusal.DAY_BELOW_TRANSFER: ERR_LIMIT_DAY_BELOW_TRANSFER,
    rules.ChangeRefusal.ABOVE_TIER: ERR_LIMIT_ABOVE_TIER,
    rules.ChangeRefusal.MINOR_CAP: ERR_LIMIT_MINOR_CAP,
}


def won(amount: int) -> str:
    """Whole won with thousands separators, as messages show it."""
    return f"{amount:,}"


def require_customer_actor(actor: Actor, customer: Customer, perm: str) -> None:
    """The customer's own user (or a system actor holding ``perm``); staff never, not even with it."""
    require_customer_or_perm(actor, customer.pk, perm, refusal="only the customer sets their transfer limits")
    if is_staff_actor(actor):
        raise PermissionDenied("staff do not act in a customer's internet banking")


@dataclass(frozen=True)
class CustomerLimits:
    """Everything the limit pages and the transfer check need, read together."""

    tier: Tier
    corporate: bool
    maximum: Limit  # the bank's maxima for this tier, with the minor cap applied
    own: Limit | None  # the customer's setting, None for "the maxima"
    effective: Limit  # what applies now
    minor_cap: Limit | None  # the cap, when the customer carries it


def _fresh_customer(customer: Customer) -> tuple[bool, bool, Limit | None]:
    """(corporate, minor cap, own limits) in one read: a page's customer object may be older than a lift."""
    kind, minor_cap, per_transfer, per_day = Customer.objects.values_list(
        "kind", "solo_minor_cap", "transfer_limit__per_transfer", "transfer_limit__per_day"
    ).get(pk=customer.pk)
    own = Limit(per_transfer=per_transfer, per_day=per_day) if per_transfer is not None else None
    return kind == Customer.Kind.CORPORATION, minor_cap, own


def customer_limits(customer: Customer, *, tier: Tier) -> CustomerLimits:
    """The customer's maxima, own setting and effective limits for ``tier``."""
    table = rules.configured_table()
    corporate, minor_cap, own = _fresh_customer(customer)
    maximum = rules.maximum_limit(corporate=corporate, tier=tier, minor_cap=minor_cap, table=table)
    return CustomerLimits(
        tier=Tier(tier),
        corporate=corporate,
        maximum=maximum,
        own=own,
        effective=rules.effective_limit(own=own, maximum=maximum),
        minor_cap=table.minor_cap if minor_cap else None,
    )


def transfer_limits(customer: Customer, *, tier: Tier) -> Limit:
    """The effective per-transfer and per-day limits: the own setting capped by the tier maxima and minor cap."""
    return customer_limits(customer, tier=tier).effective


def sent_on(customer: Customer, day: dt.date) -> int:
    """What the customer sent in the KST ``day`` (every outgoing transfer counts)."""
    total = DailyTransferTotal.objects.filter(customer_id=customer.pk, day=day).values_list("total", flat=True).first()
    return total or 0


@dataclass(frozen=True)
class Remaining:
    limit: Limit
    sent_today: int
    left_today: int

    @property
    def largest_transfer(self) -> int:
        """The largest single transfer that would pass both limits now."""
        return min(self.limit.per_transfer, self.left_today)


def remaining_today(customer: Customer, *, tier: Tier, now: dt.datetime | None = None) -> Remaining:
    """What is left of the daily limit in the KST day of ``now`` (a read for pages; transfers recheck under lock)."""
    limit = transfer_limits(customer, tier=tier)
    sent = sent_on(customer, kst_today(now or timezone.now()))
    return Remaining(limit=limit, sent_today=sent, left_today=rules.day_left(limit, sent))


def lock_day_total(customer_id: int, day: dt.date) -> DailyTransferTotal:
    """Lock order step 0: the customer's ``DailyTransferTotal`` row of ``day``, created on first use.

    One statement: ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` makes the row exist and locks
    it either way (two first transfers of a day both try; one inserts, the other waits for it and
    then locks the row it made), and hands back what the day has used so far.
    """
    table = DailyTransferTotal._meta.db_table
    # Serialises the customer's transfers and limit changes: two transfers from different accounts
    # cannot both pass the daily limit, a replayed form finds the first submission's transfer, and
    # a lowered limit applies to every transfer that locks after it. The no-op update is what
    # takes the row lock on a conflict (PostgreSQL and SQLite both support this form).
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (customer_id, day, total, count) VALUES (%s, %s, 0, 0) "  # noqa: S608
            f"ON CONFLICT (customer_id, day) DO UPDATE SET count = {table}.count "
            "RETURNING id, total, count",
            [customer_id, day],
        )
        pk, total, count = cursor.fetchone()
    return DailyTransferTotal.from_db(
        connection.alias, ["id", "customer_id", "day", "total", "count"], [pk, customer_id, day, total, count]
    )


def _whole_won(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(ERR_LIMIT_NOT_INTEGER, code="limit_not_integer")
    return value


def _audit_refusal(
    *, actor: Actor, customer: Customer, refusal: ValidationError, per_transfer: object, per_day: object, tier: Tier
) -> None:
    # Its own transaction, after the change's was rolled back: the refusal stays on record.
    asked = [v if isinstance(v, int) and not isinstance(v, bool) else None for v in (per_transfer, per_day)]
    with transaction.atomic():
        audit_record(
            action="transfer_limit.refused",
            actor=actor,
            customer_id=customer.pk,
            details={"reason": refusal.code or "refused", "asked": asked, "tier": str(tier)[:16]},
        )


def transfer_limit_change(
    *,
    customer: Customer,
    per_transfer: int,
    per_day: int,
    tier: Tier,
    medium_verified: bool,
    actor: Actor,
    now: dt.datetime | None = None,
) -> TransferLimit:
    """Set the customer's own limits within the maxima of ``tier``.

    Lowering (or keeping) takes effect at once; raising either figure needs ``medium_verified``
    (the page has run ``security_medium_verify`` with purpose ``limit_raise``). Above the tier's
    maxima is refused; above the minor cap is refused with "visit a branch" (never raised online).
    Audited ``transfer_limit.change`` with the old and new figures; a refusal writes nothing but
    its own ``transfer_limit.refused`` event (the reason code, the figures asked for, the tier).

    Raises ``ValidationError`` (limit_not_integer, limit_negative, limit_day_below_transfer,
    limit_above_tier, limit_minor_cap, limit_medium_required); ``PermissionDenied`` for anyone
    but the customer's own user (or a system actor with ``accounts.change_transferlimit``).
    """
    require_customer_actor(actor, customer, CHANGE_PERMISSION)
    try:
        return _change(
            customer=customer,
            per_transfer=per_transfer,
            per_day=per_day,
            tier=tier,
            medium_verified=medium_verified,
            actor=actor,
            now=now,
        )
    except ValidationError as refusal:
        _audit_refusal(
            actor=actor, customer=customer, refusal=refusal, per_transfer=per_transfer, per_day=per_day, tier=tier
        )
        raise


def _change(
    *,
    customer: Customer,
    per_transfer: int,
    per_day: int,
    tier: Tier,
    medium_verified: bool,
    actor: Actor,
    now: dt.datetime | None,
) -> TransferLimit:
    new = Limit(per_transfer=_whole_won(per_transfer), per_day=_whole_won(per_day))
    now = now or timezone.now()
    with transaction.atomic():
        lock_day_total(customer.pk, kst_today(now))
        current = customer_limits(customer, tier=tier)
        table = rules.configured_table()
        tier_maximum = rules.maximum_limit(corporate=current.corporate, tier=tier, minor_cap=False, table=table)
        refusal = rules.change_refusal(new=new, tier_maximum=tier_maximum, minor_cap=current.minor_cap)
        if refusal is not None:
            shown = current.minor_cap if refusal is rules.ChangeRefusal.MINOR_CAP else tier_maximum
            raise ValidationError(
                _CHANGE_MESSAGES[refusal],
                code=refusal.value,
                params={"per_transfer": won(shown.per_transfer), "per_day": won(shown.per_day)}
                if shown is not None
                else None,
            )
        raising = rules.is_raise(current=current.effective, new=new)
        if raising and not medium_verified:
            raise ValidationError(ERR_LIMIT_MEDIUM_REQUIRED, code="limit_medium_required")
        row, _created = TransferLimit.objects.update_or_create(
            customer_id=customer.pk,
            defaults={"per_transfer": new.per_transfer, "per_day": new.per_day, "updated_at": now},
        )
        audit_record(
            action="transfer_limit.change",
            actor=actor,
            customer_id=customer.pk,
            obj=row,
            details={
                "tier": str(tier),
                "from": [current.effective.per_transfer, current.effective.per_day],
                "to": [new.per_transfer, new.per_day],
                "raised": raising,
            },
        )
    return row
