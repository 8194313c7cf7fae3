"""The public pages in a real browser: language, content, CSP and phone layout."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from accounts.models import DepositProduct
from bankportal.content.models import Notice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _collect_problems(page) -> list[str]:  # type: ignore[no-untyped-def]
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return problems


def test_home_is_korean_by_default(page):
    """A Korean browser gets the Korean site: html lang, navigation and the bank's Korean name."""
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "ko"
    nav = page.get_by_role("navigation", name="주 메뉴")
    assert nav.get_by_role("link", name="공지사항").is_visible()
    assert page.get_by_role("heading", level=1).inner_text() == "다솜은행"


@pytest.mark.parametrize("javascript_enabled", [False])
def test_language_form_switches_to_english_and_back(page):
    """The language buttons work without JavaScript and keep the user on the same page."""
    page.goto("/faq/")
    page.get_by_role("button", name="English").click()
    page.wait_for_url("**/faq/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Frequently asked questions"
    assert page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Deposit products").is_visible()
    page.get_by_role("button", name="한국어").click()
    page.wait_for_url("**/faq/")
    assert page.locator("html").get_attribute("lang") == "ko"


@pytest.mark.parametrize("browser_locale", ["en-US"])
def test_english_browser_gets_english(page):
    """A browser whose language is en-US gets English without choosing it."""
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("link", name="Log in").first.is_visible()
    assert page.get_by_role("heading", level=1).inner_text() == "Dasom Bank"


def test_products_page_lists_an_active_product(page):
    """A product on sale appears with its rate and minimum amount; one withdrawn from sale does not."""
    DepositProduct.objects.create(
        code="31",
        kind=DepositProduct.Kind.INSTALLMENT,
        name_ko="다솜 꿈나무 적금",
        name_en="Dasom Dream Savings",
        summary_ko="매달 모으는 적금",
        interest_rate_bp=410,
        min_opening_amount=10_000,
    )
    DepositProduct.objects.create(
        code="32", kind=DepositProduct.Kind.DEMAND, name_ko="판매중지 예금", name_en="Old", is_active=False
    )
    page.goto("/products/")
    card = page.locator("article", has=page.get_by_role("heading", name="다솜 꿈나무 적금"))
    assert card.is_visible()
    text = card.inner_text()
    assert "4.10%" in text and "10,000원" in text and "적금" in text
    assert page.get_by_text("판매중지 예금").count() == 0


def test_notices_show_published_but_not_unpublished(page):
    """The notice board lists published notices and opens them; unpublished ones never appear."""
    Notice.objects.create(title_ko="전자금융 약정 안내", body_ko="영업점에서 약정하세요.", published_at=timezone.now())
    Notice.objects.create(title_ko="비공개 초안", body_ko="초안", is_published=False)
    page.goto("/notices/")
    assert page.get_by_role("link", name="전자금융 약정 안내").is_visible()
    assert page.get_by_text("비공개 초안").count() == 0
    page.get_by_role("link", name="전자금융 약정 안내").click()
    assert page.get_by_role("heading", level=1).inner_text() == "전자금융 약정 안내"
    assert page.get_by_text("영업점에서 약정하세요.").is_visible()


def test_home_has_csp_and_no_console_errors(page):
    """The home page is served with a CSP and loads its CSS and JS without errors or violations."""
    problems = _collect_problems(page)
    response = page.goto("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    # The stylesheet really applied (a CSP block would leave the default white header bar).
    nav_colour = page.locator("nav.main-nav").evaluate("el => getComputedStyle(el).backgroundColor")
    assert nav_colour == "rgb(10, 92, 85)"
    page.wait_for_load_state("networkidle")
    assert problems == []


def test_phone_width_has_no_horizontal_scrolling(page):
    """At a 390 px phone width no page scrolls sideways."""
    Notice.objects.create(title_ko="아주 긴 제목의 공지사항입니다 " * 4, body_ko="본문")
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/", "/products/", "/notices/", "/faq/", "/login/"):
        page.goto(path)
        widths = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{path} scrolls sideways: {widths}"


def test_skip_link_moves_focus_to_content(page):
    """The first Tab stop is the skip link, and following it lands in the main content."""
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="본문 바로가기")
    assert skip.evaluate("el => el === document.activeElement")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "content"


def test_web_member_logs_in_sees_session_timer_and_logs_out(page, django_user_model):
    """A web member logs in with the form, sees their name and the idle countdown, and logs out."""
    django_user_model.objects.create_user(username="webmember", password="Correct-horse-42")
    page.goto("/login/")
    page.get_by_label("아이디").fill("webmember")
    page.get_by_label("비밀번호").fill("Correct-horse-42")
    page.locator("main").get_by_role("button", name="로그인").click()
    page.wait_for_url("**/")
    assert page.get_by_text("webmember님").is_visible()
    timer = page.locator("[data-session-timer]")
    assert timer.is_visible()
    assert re.search(r"\b(09:5\d|10:00)\b", timer.inner_text())
    page.get_by_role("button", name="로그아웃").click()
    assert page.get_by_role("link", name="로그인").first.is_visible()
    assert page.get_by_text("webmember님").count() == 0


def test_wrong_password_is_announced(page, django_user_model):
    """A failed login shows an alert that the inputs point to."""
    django_user_model.objects.create_user(username="webmember", password="Correct-horse-42")
    page.goto("/login/")
    page.get_by_label("아이디").fill("webmember")
    page.get_by_label("비밀번호").fill("wrong-password")
    page.locator("main").get_by_role("button", name="로그인").click()
    alert = page.get_by_role("alert")
    assert alert.is_visible()
    assert page.get_by_label("비밀번호").get_attribute("aria-describedby") == "login-errors"
