"""The banking landing page (계좌 조회): every account with its product, masked number, balance and
last three movements; the previous sign-in; the security tier and what is left of today's limit; a
fixed number of queries however many accounts and entries there are."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from accounts import accountnumbers, services
from accounts.limits import Tier
from accounts.models import Customer, Transfer, User
from accounts.selectors import MovementKind, customer_accounts_overview
from accounts.services import transfers as svc
from accounts.services.limits import remaining_today
from accounts.views import ERR_NOT_A_CUSTOMER
from bankportal.audit.services import audit_record
from bankportal.timeutil import KST
from otp.services.cards import security_card_issue
from otp.views import TIER_LABELS
from tests.accounts.transfer_helpers import Banker, ca_ready, new_key, open_banking, signer
from tests.conftest import banking_login, rrn_for_age

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 10, 12, 0, tzinfo=KST)
HOME = "/banking/"


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice_bank(clock, alice, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    ca_ready()
    return open_banking(alice, teller=teller, product=demand_product, username="alice2026", deposits=(5_000_000, 10))


@pytest.fixture
def bob_bank(clock, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    bob = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박보브", phone="010-3333-4444", rrn=rrn_for_age(40), actor=teller
    )
    return open_banking(bob, teller=teller, product=demand_product, username="bob2026", deposits=(10,))


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


def html(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def account_card(page: str, number: str) -> str:
    match = re.search(rf'<article[^>]*id="account-{number}".*?</article>', page, re.S)
    assert match, f"no card for {number}"
    return match.group(0)


def test_every_account_shows_product_masked_number_balance_and_links(client, alice_bank) -> None:
    """Both accounts, in opening order, with the product name, the masked number (never the full
    one), the balance, and links to the history and the transfer page."""
    banking_login(client, alice_bank.user)
    with translation.override("en"):
        page = html(client.get(HOME, HTTP_ACCEPT_LANGUAGE="en"))
    first, second = alice_bank.accounts
    assert page.index(f'id="account-{first.number}"') < page.index(f'id="account-{second.number}"')
    card = account_card(page, first.number)
    assert "Dasom Free Savings" in card
    assert accountnumbers.masked(first.number) in card
    assert first.number_display not in page and second.number_display not in page
    assert 'data-balance="5000000"' in card and "5,000,000" in card
    assert f'href="{reverse("account_history", args=[first.number])}"' in card
    assert f'href="{reverse("transfer_limits")}"' in page
    assert f'href="{reverse("transfer")}?from={first.number}"' in card
    assert 'data-balance="10"' in account_card(page, second.number)


def test_a_frozen_account_is_marked_and_offers_no_transfer(client, alice_bank) -> None:
    second = alice_bank.accounts[1]
    type(second).objects.filter(pk=second.pk).update(status="frozen")
    banking_login(client, alice_bank.user)
    card = account_card(html(client.get(HOME)), second.number)
    assert "badge-important" in card
    assert reverse("transfer") not in card
    assert reverse("account_history", args=[second.number]) in card


def test_only_the_last_three_movements_show_newest_first(client, alice_bank, teller, clock) -> None:
    for amount in (1_001, 1_002, 1_003, 1_004):
        clock.shift(dt.timedelta(minutes=1))
        services.cash_deposit(account=alice_bank.account, amount=amount, actor=teller)
    banking_login(client, alice_bank.user)
    card = account_card(html(client.get(HOME)), alice_bank.account.number)
    assert card.index("+1,004") < card.index("+1,003") < card.index("+1,002")
    assert "+1,001" not in card and "+5,000,000" not in card
    overview = customer_accounts_overview(alice_bank.customer.pk)
    assert [m.amount for m in overview[0].recent] == [1_004, 1_003, 1_002]
    # The second account has one entry (its opening deposit): fewer than three is all of them.
    assert [m.amount for m in overview[1].recent] == [10]


def test_a_transfer_shows_the_recipient_and_my_memo_to_the_sender_and_the_sender_and_their_memo_to_the_recipient(
    client, alice_bank, bob_bank
) -> None:
    send(alice_bank, amount=70_000, to=bob_bank.account.number, memo_sender="월세 3월", memo_recipient="앨리스 월세")
    banking_login(client, alice_bank.user)
    card = account_card(html(client.get(HOME)), alice_bank.account.number)
    assert "-70,000" in card and "박보브" in card and "월세 3월" in card and "앨리스 월세" not in card
    client.logout()
    banking_login(client, bob_bank.user)
    card = account_card(html(client.get(HOME)), bob_bank.account.number)
    assert "+70,000" in card and "김앨리스" in card and "앨리스 월세" in card and "월세 3월" not in card
    [recent, _opening] = customer_accounts_overview(bob_bank.customer.pk)[0].recent
    assert recent.kind == MovementKind.TRANSFER_IN and recent.transfer_reference


def test_the_previous_sign_in_is_the_one_before_this_session(client, alice_bank, clock) -> None:
    """The page shows the sign-in before the current one (time in KST and IP), on the session's
    first request and on later ones alike; the current sign-in is never shown as 'previous'."""
    clock.move_to(dt.datetime(2026, 3, 8, 9, 15, 30, tzinfo=KST))
    audit_record(action="auth.login", actor=alice_bank.user, ip="198.51.100.20")
    clock.move_to(dt.datetime(2026, 3, 9, 21, 5, 0, tzinfo=KST))
    audit_record(action="auth.login", actor=alice_bank.user, ip="203.0.113.7")
    clock.move_to(T0)
    banking_login(client, alice_bank.user)  # the current sign-in: the newest auth.login event
    for _request in range(2):
        page = html(client.get(HOME))
        assert "2026-03-09 21:05:00" in page and "203.0.113.7" in page
        assert "198.51.100.20" not in page


def test_a_first_sign_in_says_so(client, alice_bank) -> None:
    banking_login(client, alice_bank.user)
    with translation.override("en"):
        page = html(client.get(HOME, HTTP_ACCEPT_LANGUAGE="en"))
    assert "This is your first sign-in." in page


def test_the_tier_and_what_is_left_today(client, alice_bank, bob_bank, teller) -> None:
    """Without a medium: tier none and nothing left; with a security card: the general tier's day
    limit less what went out today."""
    banking_login(client, alice_bank.user)
    page = html(client.get(HOME))
    assert 'data-tier="none"' in page and 'data-left-today="0"' in page
    security_card_issue(customer=alice_bank.customer, actor=teller)
    send(alice_bank, amount=1_500_000, to=bob_bank.account.number)
    left = remaining_today(alice_bank.customer, tier=Tier.GENERAL).left_today
    assert left == 50_000_000 - 1_500_000
    with translation.override("en"):
        page = html(client.get(HOME, HTTP_ACCEPT_LANGUAGE="en"))
        assert 'data-tier="general"' in page and str(TIER_LABELS[Tier.GENERAL]) in page
    assert f'data-left-today="{left}"' in page and "48,500,000" in page and "1,500,000" in page


def _count_queries(client: Any) -> int:
    """The page's own queries: without the session's (the database session backend of this test
    run reads and saves it; production keeps sessions in Redis) and the user's, which every page has."""
    client.get(HOME)  # the session's first request also reads the previous sign-in; count a later one
    with CaptureQueriesContext(connection) as queries:
        assert client.get(HOME).status_code == 200
    own = [
        q["sql"]
        for q in queries.captured_queries
        if "django_session" not in q["sql"] and "SAVEPOINT" not in q["sql"] and 'FROM "accounts_user"' not in q["sql"]
    ]
    return len(own)


def test_the_page_costs_the_same_queries_for_one_account_or_many(client, alice_bank, bob_bank, teller, clock) -> None:
    """No N+1: three accounts with many entries and transfers cost exactly what one account with a
    single entry does, and that is a small fixed number: the customer, the two security-medium reads
    of the tier, the accounts, their latest entries, and the three reads of the remaining limit."""
    banking_login(client, bob_bank.user)
    baseline = _count_queries(client)
    assert baseline <= 8
    services.account_open(
        customer=alice_bank.customer,
        product=alice_bank.account.product,
        password="4825",
        opening_deposit=7,
        actor=teller,
    )
    for amount in range(1, 11):
        clock.shift(dt.timedelta(seconds=10))
        services.cash_deposit(account=alice_bank.accounts[1], amount=amount, actor=teller)
        send(alice_bank, amount=amount, to=bob_bank.account.number, memo_sender=f"m{amount}")
    client.logout()
    banking_login(client, alice_bank.user)
    assert _count_queries(client) == baseline
    client.logout()
    banking_login(client, bob_bank.user)  # bob now has ten incoming transfers from alice
    assert _count_queries(client) == baseline


def test_anonymous_visitors_go_to_login_and_web_members_are_refused(client, alice_bank) -> None:
    assert client.get(HOME)["Location"].startswith(reverse("login"))
    client.force_login(alice_bank.user)  # a password (web-member level) session
    assert client.get(HOME).status_code == 403


def test_a_login_without_a_customer_is_told_why(client) -> None:
    user = User.objects.create_user(username="nocustomer", password="x-Long-pass-2026!")
    banking_login(client, user)
    response = client.get(HOME, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    with translation.override("en"):
        assert str(ERR_NOT_A_CUSTOMER) in response.content.decode().replace("&#x27;", "'")


def test_the_page_is_korean_by_default_and_never_cached(client, alice_bank) -> None:
    banking_login(client, alice_bank.user)
    response = client.get(HOME)
    assert '<html lang="ko">' in html(response)
    assert "no-store" in response["Cache-Control"]
