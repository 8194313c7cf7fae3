"""Account history (거래내역): KST date ranges (default the last month, at most a year), money in or
out, 20 a page with the running balance, the CSV statement (BOM, header in the page's language,
plain integers, KST times, no formulas, streamed), and a transfer's detail with its signed evidence
for the sender only."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from accounts import services
from accounts.history_views import (
    CSV_HEADER,
    ERR_DATE,
    ERR_PERIOD_ORDER,
    ERR_PERIOD_TOO_LONG,
    PAGE_SIZE,
    csv_cell,
    earliest_start,
    kst_bounds,
    months_before,
)
from accounts.limits import Tier
from accounts.models import Customer, Transfer
from accounts.services import transfers as svc
from accounts.services.clearing import CLEARING_PERMISSION, interbank_clearing_run
from bankportal.actors import system_actor
from bankportal.timeutil import KST
from certcenter.models import SignatureEvidence
from tests.accounts.transfer_helpers import Banker, ca_ready, new_key, open_banking, signer
from tests.conftest import banking_login, rrn_for_age

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 10, 12, 0, tzinfo=KST)


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice_bank(clock, alice, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    clock.move_to(dt.datetime(2026, 1, 29, 10, 0, tzinfo=KST))  # accounts opened before the default month
    ca_ready()
    banker = open_banking(alice, teller=teller, product=demand_product, username="alice2026", deposits=(5_000_000, 10))
    clock.move_to(T0)
    return banker


@pytest.fixture
def bob_bank(clock, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    bob = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박보브", phone="010-3333-4444", rrn=rrn_for_age(40), actor=teller
    )
    return open_banking(bob, teller=teller, product=demand_product, username="bob2026", deposits=(10,))


@pytest.fixture
def alice_client(client, alice_bank):  # type: ignore[no-untyped-def]
    banking_login(client, alice_bank.user)
    return client


def send(banker: Banker, *, amount: int, to: str, destination: str = "same_bank", **extra: Any) -> Transfer:
    return svc.transfer_execute(
        customer=banker.customer,
        from_account=banker.account,
        destination=destination,
        to_account_number=to,
        amount=amount,
        idempotency_key=new_key(),
        tier=Tier.GENERAL,
        medium_verified=True,
        signature=signer(banker),
        actor=banker.user,
        **extra,
    )


def deposit_at(clock: Any, when: dt.datetime, banker: Banker, amount: int, teller: Any) -> None:
    clock.move_to(when)
    services.cash_deposit(account=banker.account, amount=amount, actor=teller)
    clock.move_to(T0)


def history(client: Any, banker: Banker, **params: Any) -> Any:
    return client.get(reverse("account_history", args=[banker.account.number]), params, HTTP_ACCEPT_LANGUAGE="en")


def amounts(response: Any) -> list[int]:
    """The deposits (+) and withdrawals (-) the page lists, top to bottom."""
    assert response.status_code == 200
    return [m.amount for m in response.context["movements"]]


def csv_rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200 and response.streaming
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


# --- The period rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 3, 10), 1, dt.date(2026, 2, 10)),
        (dt.date(2026, 3, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2024, 3, 31), 1, dt.date(2024, 2, 29)),
        (dt.date(2026, 1, 15), 1, dt.date(2025, 12, 15)),
        (dt.date(2024, 2, 29), 12, dt.date(2023, 2, 28)),
        (dt.date(2026, 3, 10), 0, dt.date(2026, 3, 10)),
    ],
)
def test_months_before_keeps_the_day_or_takes_the_month_end(day, months, expected) -> None:
    assert months_before(day, months) == expected


def test_kst_bounds_are_whole_korean_days() -> None:
    since, until = kst_bounds(dt.date(2026, 3, 1), dt.date(2026, 3, 10))
    assert since == dt.datetime(2026, 2, 28, 15, 0, tzinfo=dt.UTC)
    assert until == dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)


# --- The page -----------------------------------------------------------------------------------


def test_the_default_is_the_last_month_in_kst_days(alice_client, alice_bank, teller, clock) -> None:
    """Default period: 10 Feb to 10 Mar (today). 10 Feb 00:00 KST is in, 9 Feb 23:59:59 KST is out."""
    deposit_at(clock, dt.datetime(2026, 2, 9, 23, 59, 59, tzinfo=KST), alice_bank, 1, teller)
    deposit_at(clock, dt.datetime(2026, 2, 10, 0, 0, 0, tzinfo=KST), alice_bank, 2, teller)
    deposit_at(clock, dt.datetime(2026, 3, 10, 11, 0, tzinfo=KST), alice_bank, 3, teller)
    response = history(alice_client, alice_bank)
    assert amounts(response) == [3, 2]
    assert (response.context["start"], response.context["end"]) == (dt.date(2026, 2, 10), dt.date(2026, 3, 10))


def test_the_end_date_includes_its_whole_kst_day(alice_client, alice_bank, teller, clock) -> None:
    deposit_at(clock, dt.datetime(2026, 3, 5, 23, 59, 59, 999999, tzinfo=KST), alice_bank, 5, teller)
    deposit_at(clock, dt.datetime(2026, 3, 6, 0, 0, 0, tzinfo=KST), alice_bank, 6, teller)
    assert amounts(history(alice_client, alice_bank, start="2026-03-01", end="2026-03-05")) == [5]
    assert amounts(history(alice_client, alice_bank, start="2026-03-06", end="2026-03-06")) == [6]


def test_money_in_money_out_or_both(alice_client, alice_bank, bob_bank, teller) -> None:
    services.cash_deposit(account=alice_bank.account, amount=300, actor=teller)
    send(alice_bank, amount=200, to=bob_bank.account.number)
    assert amounts(history(alice_client, alice_bank, direction="in")) == [300]
    assert amounts(history(alice_client, alice_bank, direction="out")) == [-200]
    assert amounts(history(alice_client, alice_bank, direction="all")) == [-200, 300]
    assert amounts(history(alice_client, alice_bank)) == [-200, 300]


def test_twenty_a_page_with_the_running_balance(alice_client, alice_bank, teller, clock) -> None:
    clock.shift(-dt.timedelta(minutes=25))  # the last deposit lands at T0: the session stays fresh
    for amount in range(1, 26):
        clock.shift(dt.timedelta(minutes=1))
        services.cash_deposit(account=alice_bank.account, amount=amount, actor=teller)
    first = history(alice_client, alice_bank)
    assert amounts(first) == list(range(25, 5, -1)) and PAGE_SIZE == 20
    balances = [m.balance_after for m in first.context["movements"]]
    assert balances[0] == 5_000_000 + sum(range(1, 26)) and balances[1] == balances[0] - 25
    assert "page=2" in first.content.decode()
    second = history(alice_client, alice_bank, page=2)
    assert amounts(second) == [5, 4, 3, 2, 1]
    assert second.context["movements"][-1].balance_after == 5_000_001
    # A page number that is not one is the nearest page, never an error.
    assert amounts(history(alice_client, alice_bank, page="abc")) == amounts(first)
    assert amounts(history(alice_client, alice_bank, page="99")) == [5, 4, 3, 2, 1]
    assert first.context["totals"] == {"money_in": sum(range(1, 26)), "money_out": 0, "count": 25}


def test_a_period_of_one_year_is_allowed_and_a_day_more_is_refused(alice_client, alice_bank) -> None:
    assert earliest_start(dt.date(2026, 3, 10)) == dt.date(2025, 3, 10)
    ok = history(alice_client, alice_bank, start="2025-03-10", end="2026-03-10")
    assert ok.status_code == 200 and "movements" in ok.context
    refused = history(alice_client, alice_bank, start="2025-03-09", end="2026-03-10")
    assert refused.status_code == 200 and "movements" not in refused.context
    with translation.override("en"):
        assert str(ERR_PERIOD_TOO_LONG) % {"earliest": "2025-03-10"} in refused.content.decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-03-10", "end": "2026-03-09"}, ERR_PERIOD_ORDER),
        ({"start": "10/03/2026"}, ERR_DATE),
        ({"end": "2026-02-30"}, ERR_DATE),
        ({"start": "0001-01-01", "end": "0001-01-02"}, None),
        ({"end": "9999-12-31"}, None),
        ({"direction": "sideways"}, None),
        ({"start": "x" * 5000}, ERR_DATE),
    ],
)
def test_bad_filters_are_explained_never_a_500(alice_client, alice_bank, params, message) -> None:
    response = history(alice_client, alice_bank, **params)
    assert response.status_code == 200
    assert response.context["form"].errors and "movements" not in response.context
    if message is not None:
        with translation.override("en"):
            assert str(message) in response.content.decode()


def test_only_start_given_runs_to_today_and_a_future_start_ends_on_itself(alice_client, alice_bank) -> None:
    response = history(alice_client, alice_bank, start="2026-03-01")
    assert (response.context["start"], response.context["end"]) == (dt.date(2026, 3, 1), dt.date(2026, 3, 10))
    response = history(alice_client, alice_bank, start="2026-04-01")
    assert (response.context["start"], response.context["end"]) == (dt.date(2026, 4, 1), dt.date(2026, 4, 1))
    response = history(alice_client, alice_bank, end="2026-01-31")
    assert (response.context["start"], response.context["end"]) == (dt.date(2025, 12, 31), dt.date(2026, 1, 31))


def test_someone_elses_account_or_a_bad_number_is_a_404(alice_client, bob_bank) -> None:
    for number in (bob_bank.account.number, "101010000019", "not-a-number", "1" * 40):
        assert alice_client.get(f"/banking/accounts/{number}/").status_code == 404
        assert alice_client.get(f"/banking/accounts/{number}/csv/").status_code == 404


def test_the_account_number_may_carry_dashes(alice_client, alice_bank) -> None:
    assert alice_client.get(f"/banking/accounts/{alice_bank.account.number_display}/").status_code == 200


def test_a_web_member_session_is_refused(client, alice_bank) -> None:
    client.force_login(alice_bank.user)
    url = reverse("account_history", args=[alice_bank.account.number])
    assert client.get(url).status_code == 403
    assert client.get(reverse("account_history_csv", args=[alice_bank.account.number])).status_code == 403


def test_descriptions_name_the_other_side_and_the_right_memo(alice_client, alice_bank, bob_bank) -> None:
    send(alice_bank, amount=70_000, to=bob_bank.account.number, memo_sender="월세 3월", memo_recipient="앨리스 월세")
    [sent] = history(alice_client, alice_bank, direction="out").context["movements"]
    assert (sent.counterparty, sent.memo, sent.kind) == ("박보브", "월세 3월", "transfer_out")
    alice_client.logout()
    banking_login(alice_client, bob_bank.user)
    [received] = history(alice_client, bob_bank, direction="in").context["movements"][:1]
    assert (received.counterparty, received.memo, received.kind) == ("김앨리스", "앨리스 월세", "transfer_in")


def test_a_returned_transfer_shows_as_returned(alice_client, alice_bank) -> None:
    send(alice_bank, amount=40_000, to="110123450000", destination="other_bank", to_bank_code="088")
    interbank_clearing_run(actor=system_actor("test_history", [CLEARING_PERMISSION]))  # the simulator refuses it
    [back, out] = history(alice_client, alice_bank).context["movements"][:2]
    assert (back.kind, back.amount, out.amount) == ("transfer_returned", 40_000, -40_000)
    assert back.transfer_reference == out.transfer_reference


# --- The CSV statement ---------------------------------------------------------------------------


def test_the_csv_has_a_bom_a_translated_header_integers_and_kst_times(alice_client, alice_bank, bob_bank) -> None:
    send(alice_bank, amount=1_234_567, to=bob_bank.account.number, memo_sender="3월분")
    url = reverse("account_history_csv", args=[alice_bank.account.number])
    response = alice_client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        'filename="history-' in response["Content-Disposition"]
        and "20260210-20260310" in response["Content-Disposition"]
    )
    assert "no-store" in response["Cache-Control"]
    rows = csv_rows(response)
    with translation.override("en"):
        assert rows[0] == [str(name) for name in CSV_HEADER]
    reference = Transfer.objects.get().reference
    assert rows[1] == ["2026-03-10 12:00:00", "Transfer sent", "박보브", "3월분", "1234567", "0", "3765433", reference]
    assert len(rows) == 2  # the opening deposit of 29 January is outside the default month
    korean = csv_rows(alice_client.get(url))
    with translation.override("ko"):
        assert korean[0] == [str(name) for name in CSV_HEADER]


def test_the_csv_follows_the_filter(alice_client, alice_bank, bob_bank, teller) -> None:
    services.cash_deposit(account=alice_bank.account, amount=300, actor=teller)
    send(alice_bank, amount=200, to=bob_bank.account.number)
    url = reverse("account_history_csv", args=[alice_bank.account.number])
    rows = csv_rows(alice_client.get(url, {"direction": "in", "start": "2026-01-01", "end": "2026-01-31"}))
    assert [row[5] for row in rows[1:]] == ["5000000"]  # the opening deposit, 29 January
    rows = csv_rows(alice_client.get(url, {"direction": "out"}))
    assert [row[4] for row in rows[1:]] == ["200"]


def test_a_csv_with_a_bad_filter_goes_back_to_the_page(alice_client, alice_bank) -> None:
    url = reverse("account_history_csv", args=[alice_bank.account.number])
    response = alice_client.get(url, {"start": "2024-01-01", "end": "2026-03-10"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_history", args=[alice_bank.account.number]) + "?")


@pytest.mark.parametrize("text", ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_starts_get_an_apostrophe(text) -> None:
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["", "월세", "1-2", "a=b", "'=x"])
def test_other_text_is_unchanged(text) -> None:
    assert csv_cell(text) == text


def test_formulas_in_names_and_memos_never_reach_the_spreadsheet(alice_client, alice_bank, teller, clock) -> None:
    mallory = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL,
        name="=cmd|' /C calc'!A0",
        phone="010-7777-8888",
        rrn=rrn_for_age(30),
        actor=teller,
    )
    mallory_bank = open_banking(mallory, teller=teller, product=alice_bank.account.product, username="mallory1")
    send(mallory_bank, amount=5, to=alice_bank.account.number, memo_recipient="@SUM(1+1)")
    send(alice_bank, amount=3, to=mallory_bank.account.number, memo_sender="-1+2")
    rows = csv_rows(alice_client.get(reverse("account_history_csv", args=[alice_bank.account.number])))
    cells = [cell for row in rows[1:] for cell in row]
    assert "'=cmd|' /C calc'!A0" in cells and "'@SUM(1+1)" in cells and "'-1+2" in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]


def test_a_year_of_entries_streams_in_chunks(alice_client, alice_bank, teller, clock) -> None:
    """The CSV is a generator over a chunked iterator: 1,200 entries arrive complete, newest first."""
    for step in range(1200, 0, -1):
        clock.move_to(T0 - dt.timedelta(hours=step * 7))
        services.cash_deposit(account=alice_bank.account, amount=step, actor=teller)
    clock.move_to(T0)
    url = reverse("account_history_csv", args=[alice_bank.account.number])
    response = alice_client.get(url, {"start": "2025-03-10", "end": "2026-03-10", "direction": "in"})
    assert response.streaming
    rows = csv_rows(response)
    assert [int(row[5]) for row in rows[1:]] == [*range(1, 1201), 5_000_000]


# --- Transfer detail ----------------------------------------------------------------------------


def test_the_sender_sees_the_transfer_and_its_signed_evidence(alice_client, alice_bank, bob_bank) -> None:
    transfer = send(alice_bank, amount=70_000, to=bob_bank.account.number, memo_sender="내메모", memo_recipient="받음")
    response = alice_client.get(reverse("history_transfer_detail", args=[transfer.reference]))
    page = response.content.decode()
    evidence = SignatureEvidence.objects.get(transfer=transfer)
    assert response.status_code == 200 and 'data-role="sender"' in page
    assert evidence.certificate_serial in page
    assert base64.b64encode(bytes(evidence.signature)).decode() in page
    assert "amount=70000" in page and "memo_sender=내메모" in page
    assert "내메모" in page and "받음" in page and alice_bank.account.number_display in page
    assert "no-store" in response["Cache-Control"]


def test_the_recipient_sees_a_receipt_without_evidence_or_the_senders_memo(client, alice_bank, bob_bank) -> None:
    transfer = send(alice_bank, amount=70_000, to=bob_bank.account.number, memo_sender="내메모", memo_recipient="받음")
    banking_login(client, bob_bank.user)
    response = client.get(reverse("history_transfer_detail", args=[transfer.reference]))
    page = response.content.decode()
    assert response.status_code == 200 and 'data-role="recipient"' in page
    assert "받음" in page and "김앨리스" in page and "70,000" in page
    assert "내메모" not in page and 'id="transfer-evidence"' not in page
    assert alice_bank.account.number_display not in page and alice_bank.account.number not in page
    evidence = SignatureEvidence.objects.get(transfer=transfer)
    assert evidence.certificate_serial not in page


def test_anyone_else_or_a_made_up_reference_gets_a_404(client, alice_bank, bob_bank, teller) -> None:
    transfer = send(alice_bank, amount=70_000, to=bob_bank.account.number)
    carol = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="최캐롤", phone="010-9999-0000", rrn=rrn_for_age(50), actor=teller
    )
    carol_bank = open_banking(carol, teller=teller, product=alice_bank.account.product, username="carol1")
    banking_login(client, carol_bank.user)
    for reference in (transfer.reference, "20260310999999999999", "abc", "1" * 30):
        assert client.get(f"/banking/accounts/transfers/{reference}/").status_code == 404


def test_the_history_links_each_transfer_to_its_detail(alice_client, alice_bank, bob_bank) -> None:
    transfer = send(alice_bank, amount=70_000, to=bob_bank.account.number)
    page = history(alice_client, alice_bank).content.decode()
    assert reverse("history_transfer_detail", args=[transfer.reference]) in page
    assert re.search(r'data-kind="transfer_out"', page)


def test_a_cash_memo_shows_unless_it_only_repeats_the_kind(alice_client, alice_bank, teller, clock) -> None:
    services.cash_deposit(account=alice_bank.account, amount=1, actor=teller)
    clock.shift(dt.timedelta(seconds=1))
    with translation.override("en"):  # the default memo is written in the language of the moment
        services.cash_deposit(account=alice_bank.account, amount=2, actor=teller)
    clock.shift(dt.timedelta(seconds=1))
    services.cash_deposit(account=alice_bank.account, amount=3, actor=teller, memo="급여 3월")
    movements = history(alice_client, alice_bank).context["movements"]
    assert [(m.amount, m.kind, m.memo) for m in movements] == [
        (3, "cash_deposit", "급여 3월"),
        (2, "cash_deposit", ""),
        (1, "cash_deposit", ""),
    ]
