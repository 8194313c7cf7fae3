"""Helpers shared by the staff admin modules."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, cast

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import LedgerEntry, User
from accounts.money import format_won
from bankportal.audit.services import audit_record

RECENT_ENTRIES = 20
# Lookup that stands in for an RRN search term in the changelist URL (customer ids, never the number).
RRN_HITS_PARAM = "id__in"


def staff_user(request: HttpRequest) -> User:
    """The signed-in staff member: every view here sits behind ``admin_site.admin_view``."""
    return cast(User, request.user)


def won(amount: int | None) -> str:
    return "" if amount is None else _("%(amount)s won") % {"amount": format_won(amount)}


def signed_won(amount: int | None) -> str:
    return "" if amount is None else _("%(amount)s won") % {"amount": f"{amount:+,}"}


def entry_holder(entry: LedgerEntry) -> str:
    account = entry.account
    return str(account.holder) if account.holder else account.get_internal_code_display() or ""


def entry_rows(entries: Iterable[LedgerEntry], *, admin_site_name: str) -> list[dict[str, Any]]:
    """Ledger entries as display rows (amounts formatted in the active language)."""
    return [
        {
            "posted_at": entry.created_at,
            "journal": str(entry.journal),
            "journal_url": reverse(
                "admin:accounts_journal_change", args=[entry.journal_id], current_app=admin_site_name
            ),
            "memo": entry.journal.memo,
            "account": str(entry.account),
            "holder": entry_holder(entry),
            "amount": signed_won(entry.amount),
            "balance_after": won(entry.balance_after),
        }
        for entry in entries
    ]


def digits_only(term: str) -> str:
    return re.sub(r"[\s-]", "", term or "")


def record_personal_data_view(request: HttpRequest, *, action: str, obj: Any, customer_id: int | None) -> None:
    """Access record (개인정보 접속기록): which staff member opened whose data, when and from where.

    Only a page actually shown counts, so call it after the permission check and for GET only.
    """
    if request.method == "GET":
        audit_record(action=action, actor=staff_user(request), customer_id=customer_id, obj=obj)
