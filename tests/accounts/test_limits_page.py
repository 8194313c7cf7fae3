"""The transfer-limit page (/banking/limits/): tier, maxima, own limits and what is left today; lowering
applies at once, raising needs the security medium, the tier's maximum and the minor cap refuse with
their message, and without a medium transfers are shown as not possible."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from accounts.limits import Limit, Tier
from accounts.limits_views import (
    ERR_NO_MEDIUM_NO_CHANGE,
    MSG_LIMITS_CHANGED,
    MSG_RAISE_CANCELLED,
    MSG_RAISE_START_AGAIN,
    PENDING_KEY,
)
from accounts.models import Customer, TransferLimit, User
from accounts.services import transfers as transfer_svc
from accounts.services.limits import ERR_LIMIT_ABOVE_TIER, ERR_LIMIT_MINOR_CAP
from bankportal.audit.models import AuditEvent
from bankportal.session_levels import SESSION_KEY, Level
from bankportal.timeutil import KST
from otp import securitycard as card_rules
from otp import totp
from otp.services import (
    IssuedSecurityCard,
    Refusal,
    otp_register_at_branch,
    otp_tokens_import,
    security_card_issue,
)
from otp.services.verification import REFUSAL_MESSAGES
from tests.accounts.transfer_helpers import Banker, ca_ready, new_key, open_banking, signer
from tests.conftest import banking_login, rrn_for_age

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 10, 9, 0, tzinfo=KST)
LIMITS = reverse("transfer_limits")
RAISE = reverse("transfer_limits_raise")
PASSWORD = "Long-pass-2031!"
SERIAL, SEED = "OTP0000000101", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def _signed_in(customer: Customer, username: str) -> Client:
    user = User.objects.create_user(username=username, password=PASSWORD, customer=customer)
    browser = Client()
    banking_login(browser, user)
    return browser


@pytest.fixture
def card(clock, alice, teller) -> IssuedSecurityCard:  # type: ignore[no-untyped-def]
    return security_card_issue(customer=alice, actor=teller)


@pytest.fixture
def browser(clock, alice) -> Client:  # type: ignore[no-untyped-def]
    client = _signed_in(alice, "alice01")
    # Flash messages are rendered in the language of the request that adds them: English throughout.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def html(response: Any) -> str:
    return response.content.decode()


def shown(message: object) -> str:
    return str(escape(str(message)))


def english(message: Any, **params: str) -> str:
    with translation.override("en"):
        return shown(str(message) % params if params else message)


def card_answer(issued: IssuedSecurityCard, response: Any, *, wrong: bool = False) -> dict[str, str]:
    challenge = response.context["challenge"]
    right = card_rules.expected_answer(
        issued.codes, card_rules.Challenge(first=challenge.card_first, second=challenge.card_second)
    )
    answer = f"{(int(right) + 1) % 10000:04d}" if wrong else right
    return {"first_half": answer[:2], "second_half": answer[2:]}


def own(customer: Customer) -> Limit | None:
    row = TransferLimit.objects.filter(customer=customer).first()
    return Limit(row.per_transfer, row.per_day) if row else None


def post_limits(browser: Client, per_transfer: str, per_day: str) -> Any:
    return browser.post(LIMITS, {"per_transfer": per_transfer, "per_day": per_day}, HTTP_ACCEPT_LANGUAGE="en")


# --- the page ------------------------------------------------------------------------------------------


def test_the_page_shows_the_tier_its_reason_the_maxima_and_today_in_both_languages(browser, card) -> None:
    korean = browser.get(LIMITS)
    assert korean.status_code == 200 and 'lang="ko"' in html(korean)
    response = browser.get(LIMITS, HTTP_ACCEPT_LANGUAGE="en")
    page = html(response)
    assert 'data-tier="general"' in page and "General (security card)" in page
    assert "You have an active security card" in page
    assert "10,000,000 KRW" in page and "50,000,000 KRW" in page  # the general tier's maxima
    assert response.context["remaining"].sent_today == 0
    assert 'id="left-today" data-won="50000000"' in page
    assert 'id="minor-cap"' not in page and 'id="limits-form"' in page


def test_lowering_applies_at_once_without_the_medium(browser, card, alice) -> None:
    """ "1,000,000" with separators is read as whole won; nothing is asked, the change is audited."""
    response = post_limits(browser, "1,000,000", "5,000,000원")
    assert response.status_code == 302 and response["Location"] == LIMITS
    assert own(alice) == Limit(1_000_000, 5_000_000)
    assert AuditEvent.objects.filter(action="transfer_limit.change", customer_ref__isnull=False).count() == 1
    assert not AuditEvent.objects.filter(action__startswith="security_medium").exists()
    page = html(browser.get(LIMITS, HTTP_ACCEPT_LANGUAGE="en"))
    assert english(MSG_LIMITS_CHANGED, per_transfer="1,000,000", per_day="5,000,000") in page
    assert 'id="own-per-transfer" data-won="1000000"' in page and 'id="left-today" data-won="5000000"' in page


def test_raising_needs_the_medium_a_wrong_answer_is_refused_and_the_right_one_applies(browser, card, alice) -> None:
    post_limits(browser, "1,000,000", "5,000,000")
    response = post_limits(browser, "2,000,000", "5,000,000")
    assert response.status_code == 302 and response["Location"] == RAISE
    assert own(alice) == Limit(1_000_000, 5_000_000)  # not yet

    step = browser.get(RAISE, HTTP_ACCEPT_LANGUAGE="en")
    assert step.status_code == 200 and step.context["pending"] == Limit(2_000_000, 5_000_000)
    assert "2,000,000 KRW" in html(step) and 'id="anti-phishing"' in html(step)
    wrong = browser.post(RAISE, card_answer(card, step, wrong=True), HTTP_ACCEPT_LANGUAGE="en")
    assert wrong.status_code == 200
    assert english(REFUSAL_MESSAGES[Refusal.WRONG]) in html(wrong) and "4 more wrong entries" in html(wrong)
    assert own(alice) == Limit(1_000_000, 5_000_000)

    right = browser.post(RAISE, card_answer(card, wrong), HTTP_ACCEPT_LANGUAGE="en")
    assert right.status_code == 302 and right["Location"] == LIMITS
    assert own(alice) == Limit(2_000_000, 5_000_000)
    assert PENDING_KEY not in browser.session
    assert AuditEvent.objects.filter(action="security_medium.verified", details__purpose="limit_raise").exists()
    assert AuditEvent.objects.filter(action="transfer_limit.change", details__raised=True).count() == 1
    # Done: posting the answer again asks for the limits again rather than raising twice.
    again = browser.post(RAISE, card_answer(card, step))
    assert again.status_code == 302 and again["Location"] == LIMITS
    assert english(MSG_RAISE_START_AGAIN) in html(browser.get(LIMITS, HTTP_ACCEPT_LANGUAGE="en"))


def test_a_raise_with_an_otp_asks_for_its_number(clock, alice, teller) -> None:
    otp_tokens_import(
        rows=[(2, {"serial": SERIAL, "seed": SEED, "kind": "hardware", "issuer": "088", "warranty": "2036-12-31"})],
        actor=teller_with_import(),
    )
    otp_register_at_branch(customer=alice, serial=SERIAL, actor=teller)
    browser = _signed_in(alice, "alice01")
    assert 'data-tier="safe"' in html(browser.get(LIMITS))
    post_limits(browser, "1,000,000", "1,000,000")
    assert post_limits(browser, "100,000,000", "500,000,000")["Location"] == RAISE
    step = browser.get(RAISE)
    assert step.context["is_otp"] and 'name="code"' in html(step)
    code = totp.code_at_step(SEED, totp.time_step(T0, 60), step_seconds=60)
    assert browser.post(RAISE, {"code": code})["Location"] == LIMITS
    assert own(alice) == Limit(100_000_000, 500_000_000)


def teller_with_import() -> Any:
    from bankportal.actors import system_actor

    return system_actor("test:import", ["otp.add_otptoken"])


def test_above_the_tiers_maximum_is_refused_with_the_maximum_shown(browser, card, alice) -> None:
    response = post_limits(browser, "10,000,001", "50,000,000")
    assert response.status_code == 200
    assert english(ERR_LIMIT_ABOVE_TIER, per_transfer="10,000,000", per_day="50,000,000") in html(response)
    assert own(alice) is None and PENDING_KEY not in browser.session
    assert post_limits(browser, "10,000,000", "50,000,001").status_code == 200
    # Exactly the maximum is what applies already (no own limits): kept at once, no medium needed.
    assert post_limits(browser, "10,000,000", "50,000,000")["Location"] == LIMITS
    assert own(alice) == Limit(10_000_000, 50_000_000)


def test_the_minor_cap_is_shown_and_a_change_above_it_sends_to_a_branch(clock, minnie, teller) -> None:
    security_card_issue(customer=minnie, actor=teller)
    browser = _signed_in(minnie, "minnie01")
    page = html(browser.get(LIMITS, HTTP_ACCEPT_LANGUAGE="en"))
    assert 'id="minor-cap"' in page and "from your 19th birthday, a branch lifts it" in page
    assert 'id="maximum-per-transfer">1,000,000 KRW' in page
    response = post_limits(browser, "1,000,001", "3,000,000")
    assert response.status_code == 200
    assert english(ERR_LIMIT_MINOR_CAP, per_transfer="1,000,000", per_day="3,000,000") in html(response)
    assert post_limits(browser, "1,000,000", "3,000,001").status_code == 200
    assert own(minnie) is None
    assert post_limits(browser, "1,000,000", "3,000,000")["Location"] == LIMITS  # the cap itself: kept at once
    assert own(minnie) == Limit(1_000_000, 3_000_000)


def test_without_a_medium_transfers_are_not_possible_and_nothing_can_be_changed(browser, alice) -> None:
    page = html(browser.get(LIMITS, HTTP_ACCEPT_LANGUAGE="en"))
    assert 'data-tier="none"' in page and 'id="no-transfers"' in page
    assert "Without a security medium you cannot make transfers" in page and 'id="limits-form"' not in page
    assert 'id="left-today" data-won="0"' in page
    response = post_limits(browser, "0", "0")
    assert response.status_code == 200 and english(ERR_NO_MEDIUM_NO_CHANGE) in html(response)
    assert own(alice) is None


@pytest.mark.parametrize(
    ("per_transfer", "per_day"),
    [("abc", "1"), ("-5", "10"), ("1.5", "10"), ("", ""), ("1" * 40, "1"), ("2,000", "1,000")],
)
def test_bad_input_is_refused_on_the_form(browser, card, alice, per_transfer, per_day) -> None:
    response = post_limits(browser, per_transfer, per_day)
    assert response.status_code == 200
    assert "field-invalid" in html(response) or 'id="form-errors"' in html(response)
    assert own(alice) is None and PENDING_KEY not in browser.session


def test_the_raise_step_expires_after_5_minutes_and_can_be_cancelled(browser, card, alice, clock) -> None:
    post_limits(browser, "1,000,000", "5,000,000")
    post_limits(browser, "2,000,000", "5,000,000")
    clock.shift(dt.timedelta(minutes=5))
    assert browser.get(RAISE).status_code == 200  # at exactly 5 minutes still open
    clock.shift(dt.timedelta(seconds=1))
    late = browser.get(RAISE)
    assert late.status_code == 302 and late["Location"] == LIMITS
    assert english(MSG_RAISE_START_AGAIN) in html(browser.get(LIMITS, HTTP_ACCEPT_LANGUAGE="en"))

    post_limits(browser, "2,000,000", "5,000,000")
    cancelled = browser.post(RAISE, {"cancel": "1"})
    assert cancelled["Location"] == LIMITS and PENDING_KEY not in browser.session
    assert english(MSG_RAISE_CANCELLED) in html(browser.get(LIMITS, HTTP_ACCEPT_LANGUAGE="en"))
    assert own(alice) == Limit(1_000_000, 5_000_000)


def test_only_a_certificate_session_opens_the_page(clock, alice) -> None:
    anonymous = Client().get(LIMITS)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    password_only = Client()
    password_only.force_login(User.objects.create_user(username="alice01", password=PASSWORD, customer=alice))
    assert password_only.get(LIMITS).status_code == 403
    session = password_only.session
    session[SESSION_KEY] = int(Level.CERTIFICATE)
    session.save()
    assert password_only.get(LIMITS).status_code == 200


# --- what was sent today (KST) ---------------------------------------------------------------------


@pytest.fixture
def alice_bank(clock, alice, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    ca_ready()
    security_card_issue(customer=alice, actor=teller)
    return open_banking(alice, teller=teller, product=demand_product, username="alice2026", deposits=(5_000_000,))


@pytest.fixture
def bob_bank(clock, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    from accounts import services

    bob = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박보브", phone="010-3333-4444", rrn=rrn_for_age(40), actor=teller
    )
    return open_banking(
        bob, teller=teller, product=demand_product, username="bob2026", deposits=(10,), certificate=False
    )


def test_sent_and_left_today_follow_the_kst_day(alice_bank, bob_bank) -> None:
    last_second = dt.datetime(2026, 3, 10, 23, 59, 59, tzinfo=KST)
    with time_machine.travel(last_second, tick=False):
        transfer_svc.transfer_execute(
            customer=alice_bank.customer,
            from_account=alice_bank.account,
            destination="same_bank",
            to_account_number=bob_bank.account.number,
            amount=1_234_000,
            idempotency_key=new_key(),
            tier=Tier.GENERAL,
            medium_verified=True,
            signature=signer(alice_bank),
            actor=alice_bank.user,
        )
        browser = Client()
        banking_login(browser, alice_bank.user)
        page = html(browser.get(LIMITS, HTTP_ACCEPT_LANGUAGE="en"))
        assert 'id="sent-today" data-won="1234000"' in page and 'id="left-today" data-won="48766000"' in page
        assert "2026-03-10" in page
    with time_machine.travel(last_second + dt.timedelta(seconds=1), tick=False):
        page = html(browser.get(LIMITS, HTTP_ACCEPT_LANGUAGE="en"))
        assert 'id="sent-today" data-won="0"' in page and 'id="left-today" data-won="50000000"' in page
