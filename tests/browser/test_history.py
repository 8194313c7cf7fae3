"""Account history in Chromium (Korean): from the accounts overview to an account's history, the
money-in filter, and the CSV download (BOM, header, plain integers, no formulas), with no CSP
violation on the way."""

from __future__ import annotations

import csv
import io
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.utils import translation

from accounts import services
from accounts.history_views import CSV_HEADER
from accounts.limits import Tier
from accounts.models import Customer
from accounts.services import transfers as svc
from bankportal.session_levels import SESSION_KEY, Level
from tests.accounts.transfer_helpers import LOGIN_PASSWORD, ca_ready, new_key, open_banking, signer
from tests.browser.conftest import console_problems
from tests.conftest import rrn_for_age

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def bankers(alice, teller, demand_product):  # type: ignore[no-untyped-def]
    ca_ready()
    alice_bank = open_banking(alice, teller=teller, product=demand_product, username="alice2026", deposits=(500_000,))
    bob = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박보브", phone="010-3333-4444", rrn=rrn_for_age(40), actor=teller
    )
    bob_bank = open_banking(bob, teller=teller, product=demand_product, username="bob2026", certificate=False)
    services.cash_deposit(account=alice_bank.account, amount=12_345, actor=teller)
    svc.transfer_execute(
        customer=alice_bank.customer,
        from_account=alice_bank.account,
        destination="same_bank",
        to_account_number=bob_bank.account.number,
        amount=70_000,
        memo_sender="=HYPERLINK(1)",
        idempotency_key=new_key(),
        tier=Tier.GENERAL,
        medium_verified=True,
        signature=signer(alice_bank),
        actor=alice_bank.user,
    )
    return alice_bank, bob_bank


def _banking_session(page: Any, username: str) -> None:
    """Log in with the user ID and password, then raise the session to the certificate level on the
    server, as the certificate login does (that login is driven in test_certificate_pages.py)."""
    page.goto("/login/")
    page.get_by_label("아이디").fill(username)
    page.get_by_label("비밀번호").fill(LOGIN_PASSWORD)
    page.locator("main").get_by_role("button", name="로그인").click()
    page.wait_for_url("**/")
    key = next(c["value"] for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    store[SESSION_KEY] = int(Level.CERTIFICATE)
    store.save()


def test_filter_the_history_and_download_it_as_csv(page, bankers, tmp_path) -> None:  # type: ignore[no-untyped-def]
    alice_bank, _bob_bank = bankers
    account = alice_bank.account
    problems = console_problems(page)
    _banking_session(page, "alice2026")

    page.goto("/banking/")
    card = page.locator(f"#account-{account.number}")
    assert card.locator("[data-balance]").get_attribute("data-balance") == str(500_000 + 12_345 - 70_000)
    assert account.number_display not in card.inner_text()  # masked on the overview
    card.locator(f"a[href='/banking/accounts/{account.number}/']").click()
    page.wait_for_url(f"**/banking/accounts/{account.number}/")

    rows = page.locator("#history-table tbody tr")
    assert rows.count() == 3
    assert [rows.nth(i).get_attribute("data-kind") for i in range(3)] == [
        "transfer_out",
        "cash_deposit",
        "cash_deposit",
    ]
    assert "박보브" in rows.nth(0).inner_text() and "=HYPERLINK(1)" in rows.nth(0).inner_text()

    page.locator("input[name=direction][value=in]").check()
    page.locator("#history-search").click()
    page.wait_for_url("**direction=in**")
    assert rows.count() == 2
    assert {rows.nth(i).get_attribute("data-kind") for i in range(2)} == {"cash_deposit"}
    assert page.locator("input[name=direction][value=in]").is_checked()

    with page.expect_download() as download_info:
        page.locator("#history-csv").click()
    download = download_info.value
    assert download.suggested_filename.startswith(f"history-{account.number}-")
    target = tmp_path / "history.csv"
    download.save_as(target)
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    with translation.override("ko"):
        assert lines[0] == [str(name) for name in CSV_HEADER]
    assert sorted(line[5] for line in lines[1:]) == ["12345", "500000"]  # money in only, plain integers
    assert all(line[4] == "0" for line in lines[1:])

    # All kinds again: the sender's memo that looks like a formula is defused in the file.
    page.locator("input[name=direction][value=all]").check()
    page.locator("#history-search").click()
    page.wait_for_url("**direction=all**")
    with page.expect_download() as download_info:
        page.locator("#history-csv").click()
    download_info.value.save_as(target)
    lines = list(csv.reader(io.StringIO(target.read_bytes().decode("utf-8-sig"), newline="")))
    [sent] = [line for line in lines[1:] if line[4] == "70000"]
    assert sent[3] == "'=HYPERLINK(1)" and sent[2] == "박보브"

    # A period over a year is explained on the page, in Korean, without results.
    page.locator("#id_start").fill("2020-01-01")
    page.locator("#history-search").click()
    assert page.locator("#history-filter-errors").is_visible()
    assert page.locator("#history-table").count() == 0
    assert problems == []
