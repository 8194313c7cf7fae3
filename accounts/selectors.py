"""Reads for views, the admin, commands and tasks."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum, Value, Window
from django.db.models.functions import Coalesce, Lag

from accounts.identity import rrn_blind_index
from accounts.idnumbers import InvalidNumber, normalise_rrn
from accounts.models import Account, Customer, DepositProduct, Journal, LedgerEntry


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
