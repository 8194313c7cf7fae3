"""Browser harness: Playwright (sync API) driving Debian's chromium against pytest-django's live server.

Set ``CHROMIUM_PATH`` to use another binary. Screenshots of failed tests go to ``test-artifacts/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django would then refuse the ORM calls
# the tests themselves make (SynchronousOnlyOperation). The calls really are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not os.access(CHROMIUM_PATH, os.X_OK):
        pytest.skip(f"chromium not found at {CHROMIUM_PATH}: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_locale() -> str:
    """Override in a test module (or with ``@pytest.mark.parametrize``) to change the browser language."""
    return "ko-KR"


@pytest.fixture
def javascript_enabled() -> bool:
    """Parametrize to ``False`` to prove a page works without JavaScript."""
    return True


@pytest.fixture
def page(request: pytest.FixtureRequest, browser, browser_locale: str, javascript_enabled: bool, live_server):  # type: ignore[no-untyped-def]
    """A page in a fresh browser context (own cookies); relative URLs go to the live server."""
    context = browser.new_context(
        base_url=live_server.url,
        locale=browser_locale,
        java_script_enabled=javascript_enabled,
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
            try:
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hide the test failure
                print(f"could not save screenshot for {request.node.nodeid}: {exc}")
        context.close()


def console_problems(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Collects console errors (a CSP violation is one) and uncaught page errors from now on."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


def staff_admin_login(page, username: str) -> None:  # type: ignore[no-untyped-def]
    """Sign a staff member into the Korean admin as they do: user name, password and the code their
    authenticator app shows now (computed from their TOTP device's key)."""
    from accounts.models import User
    from tests.conftest import STAFF_PASSWORD, staff_totp_code

    page.goto("/admin/")
    page.get_by_label("사용자 이름").fill(username)
    page.get_by_label("비밀번호").fill(STAFF_PASSWORD)
    page.locator("#id_otp_token").fill(staff_totp_code(User.objects.get(username=username)))
    page.get_by_role("button", name="로그인").click()
    page.wait_for_url("**/admin/")
