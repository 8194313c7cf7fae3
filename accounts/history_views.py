"""Account history and statements (거래내역 조회), and a transfer's detail with its signed evidence.

- ``/banking/accounts/<number>/``: one of the customer's own accounts, newest entry first, 20 a page,
  with the running balance (``LedgerEntry.balance_after``). The period is a range of KST dates
  (default: the last month, ending today; at most one year); money in, out or both.
- ``/banking/accounts/<number>/csv/``: the same filter as a CSV statement, streamed row by row
  (a year of entries never sits in memory): UTF-8 with a BOM so Excel reads Korean text, a header
  row in the page's language, whole-won amounts as plain integers in separate withdrawal and
  deposit columns, KST times, and text cells that could start a spreadsheet formula defused.
- ``/banking/accounts/transfers/<reference>/``: the sender sees everything, with the signed evidence
  (signed text, certificate serial, verified time, signature in base64); the recipient, when the
  money arrived in their account here, sees a receipt without the sender's account, the sender's
  own memo and the evidence. Anyone else gets a 404, as for a reference that does not exist.

Every page needs a certificate session (``banking_required``); someone else's account number is a
404, never a hint that it exists. Reads only: nothing here changes state.
"""

from __future__ import annotations

import base64
import calendar
import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts import accountnumbers
from accounts.models import Account, Transfer
from accounts.selectors import (
    Direction,
    Movement,
    MovementKind,
    account_movements,
    customer_account,
    customer_transfer,
    movement,
)
from bankportal.session_levels import banking_required
from bankportal.timeutil import KST, kst_today

PAGE_SIZE = 20
DEFAULT_MONTHS = 1
MAX_MONTHS = 12
CSV_CHUNK = 500
# Dates outside this range are refused as typing mistakes (and keep date arithmetic in range).
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(9999, 12, 30)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUICK_PERIODS = (
    (0, _("Today")),
    (1, _("1 month")),
    (3, _("3 months")),
    (6, _("6 months")),
    (12, _("1 year")),
)

ERR_DATE = _("Enter the date as YYYY-MM-DD, for example 2026-03-10.")
ERR_DATE_RANGE = _("Enter a date between 1900-01-01 and 9999-12-30.")
ERR_PERIOD_ORDER = _("The start date is after the end date. Choose a start date on or before the end date.")
ERR_PERIOD_TOO_LONG = _(
    "A period can be at most one year. Choose a start date on or after %(earliest)s, "
    "or download several shorter periods."
)
ERR_DIRECTION = _("Choose all, money in or money out.")


# --- The period: pure date arithmetic ------------------------------------------------------------------


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months earlier; a day the earlier month lacks becomes its last
    day (31 March → 28 or 29 February)."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def earliest_start(end: dt.date) -> dt.date:
    """The earliest start date a period ending on ``end`` may have: one year (12 months) before it."""
    return months_before(end, MAX_MONTHS)


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    return months_before(today, DEFAULT_MONTHS), today


def kst_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[start 00:00 KST, the day after end 00:00 KST)``: whole KST days, as aware datetimes."""
    return (
        dt.datetime.combine(start, dt.time.min, tzinfo=KST),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=KST),
    )


class HistoryFilterForm(forms.Form):
    """The history filter, read from the query string; every field is optional (defaults: the last
    month, both directions). ``cleaned_data`` always has ``start``, ``end`` and ``direction``."""

    start = forms.DateField(
        label=_("From"),
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": ERR_DATE},
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    end = forms.DateField(
        label=_("To"),
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": ERR_DATE},
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    direction = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=Direction.choices,
        error_messages={"invalid_choice": ERR_DIRECTION},
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def _clean_day(self, name: str) -> dt.date | None:
        day: dt.date | None = self.cleaned_data.get(name)
        if day is not None and not EARLIEST_DATE <= day <= LATEST_DATE:
            raise forms.ValidationError(ERR_DATE_RANGE, code="date_range")
        return day

    def clean_start(self) -> dt.date | None:
        return self._clean_day("start")

    def clean_end(self) -> dt.date | None:
        return self._clean_day("end")

    def clean_direction(self) -> str:
        return self.cleaned_data.get("direction") or Direction.ALL

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        start, end = data.get("start"), data.get("end")
        if end is None:
            end = self.today if start is None or start <= self.today else start
        if start is None:
            start = months_before(end, DEFAULT_MONTHS)
        if start > end:
            raise forms.ValidationError(ERR_PERIOD_ORDER, code="period_order")
        earliest = earliest_start(end)
        if start < earliest:
            raise forms.ValidationError(
                ERR_PERIOD_TOO_LONG, code="period_too_long", params={"earliest": earliest.isoformat()}
            )
        data.update(start=start, end=end)
        return data


# --- Pages -----------------------------------------------------------------------------------------------


def _own_account(request: HttpRequest, number: str) -> Account:
    try:
        digits = accountnumbers.normalise(number)
    except accountnumbers.InvalidAccountNumber:
        raise Http404 from None
    account = customer_account(getattr(request.user, "customer_id", None), digits)
    if account is None:
        raise Http404
    return account


def _query(start: dt.date, end: dt.date, direction: str) -> str:
    return urlencode({"start": start.isoformat(), "end": end.isoformat(), "direction": direction})


def _quick_periods(today: dt.date, direction: str) -> list[tuple[Any, str]]:
    return [(label, _query(months_before(today, months), today, direction)) for months, label in QUICK_PERIODS]


def _totals(entries: Any) -> dict[str, int]:
    """Money in and out over the whole filtered period (one aggregate, not only the page)."""
    figures = entries.order_by().aggregate(
        money_in=Sum("amount", filter=Q(amount__gt=0), default=0),
        money_out=Sum("amount", filter=Q(amount__lt=0), default=0),
        count=Count("id"),
    )
    return {"money_in": figures["money_in"], "money_out": -figures["money_out"], "count": figures["count"]}


@banking_required
@never_cache
@require_safe
def account_history(request: HttpRequest, number: str) -> HttpResponse:
    """거래내역 조회: one of the customer's own accounts over a KST date range, 20 entries a page."""
    account = _own_account(request, number)
    today = kst_today()
    form = HistoryFilterForm(request.GET, today=today)
    context: dict[str, Any] = {
        "account": account,
        "form": form,
        "quick_periods": _quick_periods(today, request.GET.get("direction", Direction.ALL)),
    }
    if form.is_valid():
        start, end, direction = form.cleaned_data["start"], form.cleaned_data["end"], form.cleaned_data["direction"]
        since, until = kst_bounds(start, end)
        entries = account_movements(account, start=since, end=until, direction=direction)
        page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
        context.update(
            # The inputs show the period in use, defaults included.
            form=HistoryFilterForm(initial={"start": start, "end": end, "direction": direction}, today=today),
            start=start,
            end=end,
            direction=direction,
            page_obj=page,
            movements=[movement(entry) for entry in page.object_list],
            totals=_totals(entries),
            filter_query=_query(start, end, direction),
        )
    return render(request, "accounts/history/account_history.html", context)


class _Echo:
    """A file-like object whose ``write`` hands the line back, for ``csv.writer`` in a generator."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: str) -> str:
    """Text as a spreadsheet shows it, never as a formula: a leading = + - @ (or tab, CR) gets an apostrophe."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_lines(header: list[str], rows: Iterable[Movement], labels: dict[str, str]) -> Iterator[str]:
    """The statement, line by line: BOM and header first, then one line per movement (CRLF endings)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([csv_cell(name) for name in header])
    for row in rows:
        yield writer.writerow(
            [
                timezone.localtime(row.at, KST).strftime(TIME_FORMAT),
                csv_cell(labels[row.kind]),
                csv_cell(row.counterparty),
                csv_cell(row.memo),
                row.withdrawal,
                row.deposit,
                "" if row.balance_after is None else row.balance_after,
                csv_cell(row.transfer_reference),
            ]
        )


CSV_HEADER = (
    _("Date and time (Korea)"),
    _("Type"),
    _("Description"),
    _("Memo"),
    _("Withdrawal (won)"),
    _("Deposit (won)"),
    _("Balance (won)"),
    _("Reference number"),
)


# banking_required is annotated for HttpResponse; it passes any response through, a streaming one too.
@banking_required  # type: ignore[arg-type]
@never_cache
@require_safe
def account_history_csv(request: HttpRequest, number: str) -> HttpResponseBase:
    """The history's filter as a CSV file (streamed). A bad filter goes back to the page, which says what to fix."""
    account = _own_account(request, number)
    form = HistoryFilterForm(request.GET, today=kst_today())
    if not form.is_valid():
        return redirect(f"{reverse('account_history', args=[account.number])}?{request.GET.urlencode()}")
    start, end, direction = form.cleaned_data["start"], form.cleaned_data["end"], form.cleaned_data["direction"]
    since, until = kst_bounds(start, end)
    entries = account_movements(account, start=since, end=until, direction=direction)
    # Translated now, in the request's language: the body is produced after this view returns.
    header = [str(name) for name in CSV_HEADER]
    labels = {kind.value: str(kind.label) for kind in MovementKind}
    rows = (movement(entry) for entry in entries.iterator(chunk_size=CSV_CHUNK))
    response = StreamingHttpResponse(csv_lines(header, rows, labels), content_type="text/csv; charset=utf-8")
    filename = f"history-{account.number}-{start:%Y%m%d}-{end:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def bank_name(code: str, language: str | None) -> str:
    """This bank's or another institution's name in the page's language."""
    if code == settings.BANK_CODE:
        return settings.BANK_NAME_EN if language == "en" else settings.BANK_NAME_KO
    names = settings.INTERBANK_INSTITUTIONS.get(code)
    if names is None:
        return code
    return names[1] if language == "en" else names[0]


def _evidence(transfer: Transfer) -> dict[str, Any] | None:
    evidence = transfer.signature_evidence
    if evidence is None:
        return None
    return {
        "text": evidence.text,
        "certificate_serial": evidence.certificate_serial,
        "verified_at": evidence.verified_at,
        "signature_base64": base64.b64encode(bytes(evidence.signature)).decode("ascii"),
    }


@banking_required
@never_cache
@require_safe
def transfer_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """A transfer: everything and the signed evidence for its sender, a receipt for its recipient here."""
    customer_id = getattr(request.user, "customer_id", None)
    if not (reference.isascii() and reference.isdigit() and len(reference) <= 20):
        raise Http404
    transfer = customer_transfer(customer_id, reference)
    if transfer is None:
        raise Http404
    is_sender = transfer.customer_id == customer_id
    language = get_language()
    to_number = transfer.to_account_number
    return render(
        request,
        "accounts/history/transfer_detail.html",
        {
            "transfer": transfer,
            "is_sender": is_sender,
            "to_bank": bank_name(transfer.to_bank_code, language),
            "to_number": accountnumbers.display(to_number) if transfer.to_account_id else to_number,
            "from_number": accountnumbers.display(transfer.from_account.number),
            "evidence": _evidence(transfer) if is_sender else None,
            "history_account": transfer.from_account.number if is_sender else transfer.to_account.number,  # type: ignore[union-attr]
        },
    )
