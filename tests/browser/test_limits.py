"""Raising the transfer limits with a security card in Chromium (Korean): lower at once, then raise,
answer the card's two numbers (a wrong answer is refused, the right one applies), with no CSP
violation on the way."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import pytest
from django.conf import settings

from accounts.models import TransferLimit, User
from bankportal.session_levels import SESSION_KEY, Level
from otp import securitycard as card_rules
from otp.services import security_card_issue
from tests.browser.conftest import console_problems

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Long-pass-2031!"


def _banking_session(page: Any, username: str) -> None:
    """Log in with the user ID and password, then raise the session to the certificate level on the
    server, as the certificate login does (that login is driven in test_certificate_pages.py)."""
    page.goto("/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="로그인").click()
    page.wait_for_url("**/")
    key = next(c["value"] for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    store[SESSION_KEY] = int(Level.CERTIFICATE)
    store.save()


def _limits(customer: Any) -> tuple[int, int] | None:
    row = TransferLimit.objects.filter(customer=customer).first()
    return (row.per_transfer, row.per_day) if row else None


def test_raise_the_limits_with_the_security_card(page, alice, teller) -> None:  # type: ignore[no-untyped-def]
    card = security_card_issue(customer=alice, actor=teller)
    User.objects.create_user(username="alice01", password=PASSWORD, customer=alice)
    problems = console_problems(page)
    _banking_session(page, "alice01")

    page.goto("/banking/limits/")
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.locator("#limits-tier").get_attribute("data-tier") == "general"
    assert "10,000,000" in page.locator("#maximum-per-transfer").inner_text()

    # Lowering applies at once.
    page.locator("#id_per_transfer").fill("1,000,000")
    page.locator("#id_per_day").fill("5,000,000")
    page.locator("#limits-submit").click()
    page.wait_for_url("**/banking/limits/")
    assert page.locator(".message-success").is_visible()
    assert page.locator("#own-per-transfer").get_attribute("data-won") == "1000000"
    assert _limits(alice) == (1_000_000, 5_000_000)

    # Raising goes on to the security card.
    page.locator("#id_per_transfer").fill("3,000,000")
    page.locator("#id_per_day").fill("10,000,000")
    page.locator("#limits-submit").click()
    page.wait_for_url("**/banking/limits/raise/")
    assert page.locator("#medium-step").get_attribute("data-medium") == "security_card"
    assert page.locator("#anti-phishing").is_visible()
    challenge = page.locator("#card-challenge")
    asked = card_rules.Challenge(
        first=int(challenge.get_attribute("data-first") or 0), second=int(challenge.get_attribute("data-second") or 0)
    )
    right = card_rules.expected_answer(card.codes, asked)
    wrong = f"{(int(right) + 1) % 10000:04d}"
    page.locator("#id_first_half").fill(wrong[:2])
    page.locator("#id_second_half").fill(wrong[2:])
    page.locator("#raise-submit").click()
    page.locator("#form-errors").wait_for()
    assert _limits(alice) == (1_000_000, 5_000_000)

    page.locator("#id_first_half").fill(right[:2])
    page.locator("#id_second_half").fill(right[2:])
    page.locator("#raise-submit").click()
    page.wait_for_url("**/banking/limits/")
    assert page.locator(".message-success").is_visible()
    assert page.locator("#own-per-transfer").get_attribute("data-won") == "3000000"
    assert page.locator("#own-per-day").get_attribute("data-won") == "10000000"
    assert _limits(alice) == (3_000_000, 10_000_000)
    assert problems == []
