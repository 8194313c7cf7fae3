"""Reads for views, the admin, commands and tasks."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import operator
from dataclasses import dataclass
from functools import reduce

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum, TextChoices, Value, Window
from django.db.models.functions import Coalesce, Lag
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from accounts import accountnumbers
from accounts.identity import rrn_blind_index
from accounts.idnumbers import InvalidNumber, normalise_rrn
from accounts.models import Account, Customer, DepositProduct, Journal, LedgerEntry, Transfer


def customer_search(term: str, queryset: QuerySet[Customer] | None = None) -> QuerySet[Customer]:
    """Find customers by name, account number, business number or full RRN (via the blind index).

    The RRN itself is never compared or stored: only its keyed hash.
    """
    queryset = Customer.objects.all() if queryset is None else queryset
    term = (term or "").strip()
    if not term:
        return queryset
    compact = term.replace("-", "").replace(" ", "")
    condition = Q(name__icontains=term)
    if compact.isdigit():
        if len(compact) == 13:
            with contextlib.suppress(InvalidNumber):
                condition |= Q(rrn_index=rrn_blind_index(normalise_rrn(compact)))
        if len(compact) == 12:
            condition |= Q(accounts__number=compact)
        if len(compact) == 10:
            condition |= Q(brn=compact)
        if len(compact) >= 11 and compact.startswith("01"):
            condition |= Q(phone=compact)
    return queryset.filter(condition).distinct()


def deposit_products_on_sale() -> QuerySet[DepositProduct]:
    return DepositProduct.objects.filter(is_active=True).order_by("display_order", "code")


def customer_accounts(customer_id: int | None) -> QuerySet[Account]:
    """A customer's own deposit accounts, for their banking pages (none for a user without a customer)."""
    return Account.objects.filter(holder_id=customer_id, kind=Account.Kind.CUSTOMER).select_related("product")


def account_entries(account: Account, *, limit: int = 100) -> QuerySet[LedgerEntry]:
    return account.entries.select_related("journal").order_by("-pk")[:limit]


@dataclass(frozen=True)
class LedgerProblem:
    # "balance_mismatch", "internal_balance_mismatch", "balance_after_break", "unbalanced_journal",
    # "ledger_unbalanced", "negative_balance"
    kind: str
    ref: str
    detail: str


def _covered_by_rollup() -> Q:
    """Entries an internal account's rolled-up ``balance`` claims to include (see ``Account.rollup_xid``)."""
    if connection.vendor == "postgresql":
        return Q(entries__txid__lt=F("rollup_xid"))
    return Q(entries__pk__lte=F("rollup_entry_id"))


def internal_balance_live(account: Account) -> int:
    """An internal account's rolled-up balance plus the committed entries the roll-up has not folded in yet."""
    pending = LedgerEntry.objects.filter(account=account)
    if connection.vendor == "postgresql":
        if account.rollup_xid is not None:
            pending = pending.filter(txid__gte=account.rollup_xid)
    else:
        pending = pending.filter(pk__gt=account.rollup_entry_id)
    return account.balance + (pending.aggregate(total=Sum("amount"))["total"] or 0)


def ledger_problems(*, chunk_size: int = 2000) -> list[LedgerProblem]:
    """Prove the ledger: every balance equals its entries, ``balance_after`` runs on, everything nets to zero.

    - customer accounts: stored ``balance`` == sum of entries;
    - internal accounts: rolled-up ``balance`` == sum of the entries it covers;
    - customer entries: each ``balance_after`` == the previous one + ``amount`` (the first == ``amount``);
    - every journal has two legs or more and sums to zero, and so does the whole ledger;
    - no customer balance below zero.

    Each check is one statement (one consistent snapshot, safe beside live postings) that returns
    only the offending rows, read in chunks, so memory stays flat however large the ledger grows.
    """
    problems: list[LedgerProblem] = []
    customers = (
        Account.objects.filter(kind=Account.Kind.CUSTOMER)
        .annotate(computed=Coalesce(Sum("entries__amount"), Value(0)))
        .exclude(balance=F("computed"))
        .values_list("number", "balance", "computed")
    )
    for number, balance, computed in customers.iterator(chunk_size=chunk_size):
        problems.append(
            LedgerProblem("balance_mismatch", number, f"stored balance {balance:,} but entries sum to {computed:,}")
        )
    internals = (
        Account.objects.filter(kind=Account.Kind.INTERNAL)
        .annotate(covered=Coalesce(Sum("entries__amount", filter=_covered_by_rollup()), Value(0)))
        .exclude(balance=F("covered"))
        .values_list("number", "balance", "covered")
    )
    for number, balance, covered in internals.iterator(chunk_size=chunk_size):
        problems.append(
            LedgerProblem(
                "internal_balance_mismatch",
                number,
                f"rolled-up balance {balance:,} but the entries it covers sum to {covered:,}",
            )
        )
    # Window over each customer account's entries in id order (the ledger_account_id_idx order);
    # a NULL balance_after counts as -1, which no customer balance can be.
    after = Coalesce("balance_after", Value(-1))
    breaks = (
        LedgerEntry.objects.filter(account__kind=Account.Kind.CUSTOMER)
        .annotate(
            run_on=after
            # django-stubs type Lag's expression as a field name only; Django takes any expression.
            - Window(Lag(after, default=0), partition_by=[F("account_id")], order_by=F("id").asc())  # type: ignore[arg-type]
            - F("amount")
        )
        .exclude(run_on=0)
        .order_by("account_id", "pk")
        .values_list("pk", "account__number", "amount", "balance_after", "run_on")
    )
    for pk, number, amount, balance_after, gap in breaks.iterator(chunk_size=chunk_size):
        problems.append(
            LedgerProblem(
                "balance_after_break",
                number,
                f"entry {pk} ({amount:+,}): balance after {balance_after} is off the previous one by {gap:+,}",
            )
        )
    journals = (
        Journal.objects.annotate(total=Coalesce(Sum("entries__amount"), Value(0)), legs=Count("entries"))
        .filter(Q(total__lt=0) | Q(total__gt=0) | Q(legs__lt=2))
        .values_list("pk", "total")
    )
    for pk, total in journals.iterator(chunk_size=chunk_size):
        problems.append(
            LedgerProblem("unbalanced_journal", f"#{pk}", f"entries sum to {total:,} or it has fewer than two legs")
        )
    whole = LedgerEntry.objects.aggregate(total=Sum("amount"))["total"] or 0
    if whole:
        problems.append(LedgerProblem("ledger_unbalanced", "ledger", f"all entries sum to {whole:,}, not zero"))
    negatives = Account.objects.filter(balance__lt=0, allow_negative=False).values_list("number", "balance")
    for number, balance in negatives.iterator(chunk_size=chunk_size):
        problems.append(LedgerProblem("negative_balance", number, f"balance {balance:,} below zero"))
    return problems


# --- Banking pages: the accounts overview, an account's history, a transfer (issue 9) ---------------

RECENT_MOVEMENTS = 3


class MovementKind(TextChoices):
    """What one ledger entry of a customer account was, as the banking pages name it."""

    TRANSFER_OUT = "transfer_out", _("Transfer sent")
    TRANSFER_IN = "transfer_in", _("Transfer received")
    TRANSFER_RETURNED = "transfer_returned", _("Transfer returned")
    CASH_DEPOSIT = "cash_deposit", _("Cash deposit")
    CASH_WITHDRAWAL = "cash_withdrawal", _("Cash withdrawal")
    FEE = "fee", _("Fee")
    REVERSAL = "reversal", _("Reversal")
    OTHER = "other", _("Other")


class Direction(TextChoices):
    ALL = "all", _("All")
    IN = "in", _("Money in")
    OUT = "out", _("Money out")


@dataclass(frozen=True)
class Movement:
    """One entry of a customer account with what the customer needs to recognise it.

    ``counterparty`` is the other side's name for a transfer (the recipient of one sent, the
    sender of one received); ``memo`` is the sender's own memo on a sent transfer, the memo meant
    for the recipient on a received one, and the journal's memo otherwise.
    """

    entry_id: int
    at: dt.datetime
    amount: int  # signed: positive money in, negative money out
    balance_after: int | None
    kind: MovementKind
    counterparty: str
    memo: str
    transfer_reference: str  # "" unless the entry belongs to a transfer or its return

    @property
    def label(self) -> str:
        return str(self.kind.label)  # in the language active where it is shown

    @property
    def deposit(self) -> int:
        return self.amount if self.amount > 0 else 0

    @property
    def withdrawal(self) -> int:
        return -self.amount if self.amount < 0 else 0


_JOURNAL_KINDS: dict[str, MovementKind] = {
    Journal.Kind.CASH_DEPOSIT: MovementKind.CASH_DEPOSIT,
    Journal.Kind.CASH_WITHDRAWAL: MovementKind.CASH_WITHDRAWAL,
    Journal.Kind.FEE: MovementKind.FEE,
    Journal.Kind.REVERSAL: MovementKind.REVERSAL,
}


def _with_movement_details(queryset: QuerySet[LedgerEntry]) -> QuerySet[LedgerEntry]:
    """The joins ``movement`` reads (a transfer and its sender are one-to-one from the journal)."""
    return queryset.select_related(
        "journal", "journal__transfer", "journal__transfer__customer", "journal__returned_transfer"
    )


@functools.cache
def _default_memos() -> dict[str, frozenset[str]]:
    """The memo a posting writes when the teller types none: the kind's name in the language of the
    moment (``accounts.services.ledger``). Shown again beside that very name it says nothing."""
    memos: dict[str, set[str]] = {}
    for kind in (MovementKind.CASH_DEPOSIT, MovementKind.CASH_WITHDRAWAL):
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                memos.setdefault(kind.value, set()).add(str(kind.label))
    return {kind: frozenset(names) for kind, names in memos.items()}


def _related(journal: Journal, name: str) -> Transfer | None:
    # A reverse one-to-one raises when absent; select_related has already cached the answer.
    try:
        return getattr(journal, name)  # type: ignore[no-any-return]
    except ObjectDoesNotExist:
        return None


def movement(entry: LedgerEntry) -> Movement:
    """``entry`` (loaded through ``_with_movement_details``) as the history and overview show it."""
    journal = entry.journal
    transfer = _related(journal, "transfer")
    returned = _related(journal, "returned_transfer")
    kind, counterparty, memo, reference = _JOURNAL_KINDS.get(journal.kind, MovementKind.OTHER), "", journal.memo, ""
    if transfer is not None:
        reference = transfer.reference
        if entry.amount < 0 and entry.account_id == transfer.from_account_id:
            kind, counterparty, memo = MovementKind.TRANSFER_OUT, transfer.recipient_name, transfer.memo_sender
        else:
            kind, counterparty, memo = MovementKind.TRANSFER_IN, transfer.customer.name, transfer.memo_recipient
    elif returned is not None:
        kind, counterparty, memo, reference = (
            MovementKind.TRANSFER_RETURNED,
            returned.recipient_name,
            "",
            returned.reference,
        )
    elif memo in _default_memos().get(kind, ()):
        memo = ""
    return Movement(
        entry_id=entry.pk,
        at=entry.created_at,
        amount=entry.amount,
        balance_after=entry.balance_after,
        kind=kind,
        counterparty=counterparty,
        memo=memo,
        transfer_reference=reference,
    )


@dataclass(frozen=True)
class AccountOverview:
    account: Account
    recent: list[Movement]

    @property
    def masked_number(self) -> str:
        return accountnumbers.masked(self.account.number)


def customer_accounts_overview(customer_id: int, *, recent: int = RECENT_MOVEMENTS) -> list[AccountOverview]:
    """The customer's deposit accounts with product and their last ``recent`` movements: two queries
    whatever the number of accounts or entries.

    The accounts query carries, per account, the id of its ``recent``-th newest entry (a backward
    walk of ``ledger_account_id_idx`` that stops there); the entries query then takes every account's
    entries from that id on, each an index range scan, so an account with a year of entries costs
    the same as one with three.
    """
    nth_newest = LedgerEntry.objects.filter(account_id=OuterRef("pk")).order_by("-id").values("id")[recent - 1 : recent]
    accounts = list(
        customer_accounts(customer_id).annotate(recent_from=Subquery(nth_newest)).order_by("opened_at", "number")
    )
    by_account: dict[int, list[Movement]] = {account.pk: [] for account in accounts}
    if accounts and recent > 0:
        # NULL (fewer entries than ``recent``): all of the account's entries.
        wanted = reduce(
            operator.or_,
            (Q(account_id=account.pk, id__gte=account.recent_from or 0) for account in accounts),  # type: ignore[attr-defined]
        )
        for entry in _with_movement_details(LedgerEntry.objects.filter(wanted)).order_by("-id"):
            by_account[entry.account_id].append(movement(entry))
    return [AccountOverview(account=account, recent=by_account[account.pk][:recent]) for account in accounts]


def customer_account(customer_id: int | None, number: str) -> Account | None:
    """The customer's own deposit account with this 12-digit number, or ``None`` (someone else's too)."""
    if customer_id is None:
        return None
    return customer_accounts(customer_id).filter(number=number).first()


def account_movements(
    account: Account, *, start: dt.datetime, end: dt.datetime, direction: str = Direction.ALL
) -> QuerySet[LedgerEntry]:
    """The account's entries in ``[start, end)``, newest first, money in, out or both; feed them to ``movement``."""
    entries = LedgerEntry.objects.filter(account_id=account.pk, created_at__gte=start, created_at__lt=end)
    if direction == Direction.IN:
        entries = entries.filter(amount__gt=0)
    elif direction == Direction.OUT:
        entries = entries.filter(amount__lt=0)
    return _with_movement_details(entries).order_by("-id")


def customer_transfer(customer_id: int | None, reference: str) -> Transfer | None:
    """A transfer the customer sent, or one that arrived in one of their accounts here; else ``None``."""
    if customer_id is None:
        return None
    return (
        Transfer.objects.select_related("from_account", "to_account", "customer", "signature_evidence")
        .filter(Q(customer_id=customer_id) | Q(to_account__holder_id=customer_id), reference=reference)
        .first()
    )
