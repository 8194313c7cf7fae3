"""The idle countdown in a real browser (Korean): visible after sign-in, warns in the last minute,
and "extend" keeps the session on the server without a page load or a CSP violation."""

from __future__ import annotations

import re
import time
from importlib import import_module

import pytest
from django.conf import settings

from accounts.models import User
from bankportal.sessions import ACTIVITY_KEY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Correct-horse-42"


def _activity(page) -> float:  # type: ignore[no-untyped-def]
    """The last activity the server recorded for the browser's session (any session engine)."""
    key = next(c["value"] for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    return float(store[ACTIVITY_KEY])


def test_countdown_is_visible_and_extend_keeps_the_session(page):
    """Sign in in Korean; the countdown runs from the idle limit; "extend" refreshes activity on the
    server (the script posts it, the countdown restarts) and the member is still signed in."""
    User.objects.create_user(username="webmember", password=PASSWORD, first_name="웹회원")
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    page.goto("/login/")
    assert page.locator("html").get_attribute("lang") == "ko"
    page.get_by_label("아이디").fill("webmember")
    page.get_by_label("비밀번호").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="로그인").click()
    page.wait_for_url("**/")

    timer = page.locator("[data-session-timer]")
    assert timer.is_visible()
    assert re.search(r"\b(09:5\d|10:00)\b", timer.inner_text())
    before = _activity(page)
    time.sleep(1.2)
    with page.expect_response(lambda r: "/session/extend/" in r.url) as answer:
        timer.locator("[data-session-extend] button").click()
    assert answer.value.status == 200 and answer.value.json()["seconds"] == settings.SESSION_IDLE_SECONDS
    assert _activity(page) > before
    page.wait_for_function("() => /10:00|09:59/.test(document.querySelector('[data-remaining]').textContent)")
    assert page.url.endswith("/")  # no page load: the script handled it
    page.goto("/inquiries/")
    assert page.get_by_text("웹회원님").is_visible() and "/inquiries/" in page.url
    assert problems == []


def test_the_countdown_warns_in_the_last_minute(page):
    """With 61 seconds limit left the warning appears within a couple of seconds."""
    User.objects.create_user(username="webmember", password=PASSWORD)
    page.goto("/login/")
    page.get_by_label("아이디").fill("webmember")
    page.get_by_label("비밀번호").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="로그인").click()
    page.wait_for_url("**/")
    # Pretend the page was rendered with 61 seconds left, then restart the script's timer.
    page.evaluate(
        """() => {
          const box = document.querySelector('[data-session-timer]');
          const fresh = box.cloneNode(true);
          fresh.setAttribute('data-left', '61');
          box.replaceWith(fresh);
          document.dispatchEvent(new Event('DOMContentLoaded'));
        }"""
    )
    warning = page.locator("[data-session-warning]")
    warning.wait_for(state="visible", timeout=5000)
    assert warning.inner_text().strip() != ""
