"""Reads for views, the admin, commands and tasks."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from django.db.models import Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from accounts.idnumbers import InvalidNumber, normalise_rrn
from accounts.models import Account, Customer, DepositProduct, Journal, LedgerEntry
from accounts.identity import rrn_blind_index


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


def account_entries(account: Account, *, limit: int = 100) -> QuerySet[LedgerEntry]:
    return account.entries.select_related("journal").order_by("-pk")[:limit]


@dataclass(frozen=True)
class LedgerProblem:
    kind: str  # "balance_mismatch", "unbalanced_journal", "negative_balance"
    ref: str
    detail: str


def ledger_problems() -> list[LedgerProblem]:
    """Recompute every balance from its entries and check every journal sums to zero."""
    problems: list[LedgerProblem] = []
    accounts = (
        Account.objects.annotate(computed=Coalesce(Sum("entries__amount"), Value(0)))
        .exclude(balance=F("computed"))
        .values_list("number", "balance", "computed")
    )
    for number, balance, computed in accounts:
        problems.append(
            LedgerProblem("balance_mismatch", number, f"stored balance {balance:,} but entries sum to {computed:,}")
        )
    journals = (
        Journal.objects.annotate(total=Coalesce(Sum("entries__amount"), Value(0)), legs=Count("entries"))
        .filter(Q(total__lt=0) | Q(total__gt=0) | Q(legs__lt=2))
        .values_list("pk", "total")
    )
    for pk, total in journals:
        problems.append(
            LedgerProblem("unbalanced_journal", f"#{pk}", f"entries sum to {total:,} or it has fewer than two legs")
        )
    for number, balance in Account.objects.filter(balance__lt=0, allow_negative=False).values_list("number", "balance"):
        problems.append(LedgerProblem("negative_balance", number, f"balance {balance:,} below zero"))
    return problems
