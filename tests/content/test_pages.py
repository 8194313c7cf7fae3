"""Public pages: home, notices, FAQ, deposit products, login, language switch and error pages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import DepositProduct
from bankportal.audit.models import AuditEvent
from bankportal.content.models import FaqEntry, Notice
from bankportal.templatetags.bank_tags import won

pytestmark = pytest.mark.django_db

PAGES = ["home", "products", "notice_list", "faq", "login"]


def _get(client, url, lang="ko"):
    return client.get(url, HTTP_ACCEPT_LANGUAGE=lang)


def _notice(**kwargs) -> Notice:
    fields = {"title_ko": "시스템 점검 안내", "title_en": "System maintenance", "body_ko": "본문", "body_en": "Body"}
    fields.update(kwargs)
    return Notice.objects.create(**fields)


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_in_korean_by_default(client, name):
    """Without an Accept-Language header every public page is served in Korean."""
    response = client.get(reverse(name))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="ko">' in html
    assert "공지사항" in html and "로그인" in html


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_in_english_on_request(client, name):
    """A browser asking for English gets the English labels."""
    response = _get(client, reverse(name), "en-US,en;q=0.9")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "Notices" in html and "Log in" in html and "Dasom Bank" in html


@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_inline_script_or_style(client, name):
    """Pages carry a strict CSP and use no inline scripts, inline styles or event handlers."""
    response = client.get(reverse(name))
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    html = response.content.decode()
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
    assert re.search(r"<style\b|\sstyle=|\son[a-z]+=", html) is None


def test_home_lists_latest_five_published_notices(client):
    """Home shows the five newest published notices and nothing unpublished."""
    now = timezone.now()
    for i in range(7):
        _notice(title_ko=f"공지 {i}", published_at=now - dt.timedelta(days=i))
    _notice(title_ko="숨김 공지", is_published=False)
    html = client.get(reverse("home")).content.decode()
    for i in range(5):
        assert f"공지 {i}" in html
    assert "공지 5" not in html and "숨김 공지" not in html
    assert reverse("products") in html


def test_notice_list_hides_unpublished_and_future_notices(client):
    """Only notices published by now are listed."""
    _notice(title_ko="공개 공지")
    _notice(title_ko="비공개 공지", is_published=False)
    _notice(title_ko="예약 공지", published_at=timezone.now() + dt.timedelta(hours=1))
    html = client.get(reverse("notice_list")).content.decode()
    assert "공개 공지" in html
    assert "비공개 공지" not in html and "예약 공지" not in html


def test_notice_list_is_paginated_by_ten(client):
    """Eleven notices spread over two pages of ten."""
    now = timezone.now()
    for i in range(11):
        _notice(title_ko=f"공지 제목 {i:02d}", published_at=now - dt.timedelta(minutes=i))
    first = client.get(reverse("notice_list")).content.decode()
    second = client.get(reverse("notice_list"), {"page": 2}).content.decode()
    assert "공지 제목 09" in first and "공지 제목 10" not in first
    assert "공지 제목 10" in second and "공지 제목 00" not in second
    assert "2쪽 중 1쪽" in first


def test_notice_detail_shows_english_with_korean_fallback(client):
    """English readers see the English title, or the Korean one when none was written."""
    translated = _notice(title_ko="한글 제목", title_en="English title")
    korean_only = _notice(title_ko="한국어만 있는 공지", title_en="", body_en="")
    assert "English title" in _get(client, reverse("notice_detail", args=[translated.pk]), "en").content.decode()
    assert "한글 제목" in _get(client, reverse("notice_detail", args=[translated.pk]), "ko").content.decode()
    assert "한국어만 있는 공지" in _get(client, reverse("notice_detail", args=[korean_only.pk]), "en").content.decode()


def test_unpublished_notice_is_not_found(client):
    """An unpublished notice answers 404 with the bank's error page."""
    notice = _notice(is_published=False)
    response = client.get(reverse("notice_detail", args=[notice.pk]))
    assert response.status_code == 404
    assert "페이지를 찾을 수 없습니다" in response.content.decode()


def test_future_notice_is_not_found_until_published(client):
    """A notice scheduled for later is hidden until its publication time."""
    notice = _notice(published_at=timezone.now() + dt.timedelta(minutes=5))
    assert client.get(reverse("notice_detail", args=[notice.pk])).status_code == 404


def test_faq_is_grouped_by_category_in_declared_order(client):
    """FAQ entries appear under their category heading, categories in declaration order."""
    FaqEntry.objects.create(category="account", question_ko="계좌 질문", answer_ko="계좌 답변")
    FaqEntry.objects.create(category="certificate", question_ko="인증서 질문 둘", answer_ko="답", display_order=2)
    FaqEntry.objects.create(category="certificate", question_ko="인증서 질문 하나", answer_ko="답", display_order=1)
    FaqEntry.objects.create(category="banking", question_ko="숨김 질문", answer_ko="답", is_published=False)
    html = client.get(reverse("faq")).content.decode()
    assert html.count("<details>") == 3
    assert "숨김 질문" not in html
    cert, account = html.index('id="faq-certificate-title"'), html.index('id="faq-account-title"')
    assert cert < html.index("인증서 질문 하나") < html.index("인증서 질문 둘") < account < html.index("계좌 질문")
    assert 'id="faq-banking"' not in html


def test_products_lists_only_active_products_with_formatted_amounts(client):
    """Products on sale show name, kind, rate and minimum amount; withdrawn ones are hidden."""
    DepositProduct.objects.create(
        code="21",
        kind=DepositProduct.Kind.TIME,
        name_ko="다솜 정기예금",
        name_en="Dasom Time Deposit",
        summary_ko="1년 만기 정기예금",
        summary_en="A one-year time deposit",
        interest_rate_bp=325,
        min_opening_amount=1_000_000,
    )
    DepositProduct.objects.create(
        code="99", kind=DepositProduct.Kind.DEMAND, name_ko="판매중지 통장", name_en="Withdrawn", is_active=False
    )
    ko = client.get(reverse("products")).content.decode()
    assert "다솜 정기예금" in ko and "정기예금" in ko and "3.25%" in ko and "1,000,000원" in ko
    assert "판매중지 통장" not in ko
    en = _get(client, reverse("products"), "en").content.decode()
    assert "Dasom Time Deposit" in en and "Time deposit" in en and "1,000,000 KRW" in en
    assert "Withdrawn" not in en


def test_login_form_labels_and_autocomplete(client):
    """Login inputs have labels tied by id and the autocomplete hints password managers need."""
    html = client.get(reverse("login")).content.decode()
    assert '<label for="id_username">아이디</label>' in html
    assert '<label for="id_password">비밀번호</label>' in html
    assert re.search(r'<input[^>]*autocomplete="username"[^>]*id="id_username"', html)
    assert re.search(r'<input[^>]*autocomplete="current-password"[^>]*id="id_password"', html)
    assert "인증서 로그인" in html


def test_failed_login_error_is_announced_and_tied_to_inputs(client, django_user_model):
    """A wrong password shows an alert that both inputs reference and marks them invalid."""
    django_user_model.objects.create_user(username="webmember", password="Correct-horse-42")
    response = client.post(reverse("login"), {"username": "webmember", "password": "wrong"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="login-errors" class="form-errors" role="alert"' in html
    for field in ("id_username", "id_password"):
        tag = re.search(rf'<input[^>]*id="{field}"[^>]*>', html).group(0)
        assert 'aria-describedby="login-errors"' in tag and 'aria-invalid="true"' in tag


def test_login_then_logout_by_post(client, django_user_model, settings):
    """A web member logs in, sees their name and a log-out button, and logs out with POST."""
    django_user_model.objects.create_user(username="webmember", password="Correct-horse-42")
    response = client.post(reverse("login"), {"username": "webmember", "password": "Correct-horse-42"}, follow=True)
    html = response.content.decode()
    assert "webmember님" in html and f'action="{reverse("logout")}"' in html
    assert f'data-session-timer data-seconds="{settings.SESSION_IDLE_SECONDS}"' in html
    assert client.get(reverse("logout")).status_code == 405
    client.post(reverse("logout"))
    assert "webmember님" not in client.get(reverse("home")).content.decode()


def test_language_switch_sets_language(client):
    """Posting the language form stores English and returns to the page the user was on."""
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("faq")})
    assert response.status_code == 302 and response["Location"] == reverse("faq")
    html = client.get(reverse("faq")).content.decode()
    assert '<html lang="en">' in html and "Frequently asked questions" in html
    assert 'value="en" lang="en" aria-current="true"' in html


def test_language_form_posts_current_path(client):
    """The language form sends the current path back as ``next`` so the user stays on the page."""
    html = client.get(reverse("notice_list"), {"page": 1}).content.decode()
    assert f'action="{reverse("set_language")}" method="post"' in html
    assert 'name="next" value="/notices/?page=1"' in html
    assert "csrfmiddlewaretoken" in html


def test_server_error_page_renders_without_request_or_database(django_assert_num_queries):
    """The 500 page needs no context processors and no database."""
    with translation.override("ko"), django_assert_num_queries(0):
        html = render_to_string("500.html")
    assert "다솜은행" in html and "1599-0000" in html and '<html lang="ko">' in html


@pytest.mark.parametrize("template", ["400.html", "403.html", "403_csrf.html", "404.html"])
def test_error_pages_render_without_request(template, django_assert_num_queries):
    with translation.override("en"), django_assert_num_queries(0):
        html = render_to_string(template)
    assert "Dasom Bank" in html and "Go to the home page" in html


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0"), (999, "999"), (1000, "1,000"), (1234567, "1,234,567"), (-50000, "-50,000"), (None, ""), (1.5, "1.5")],
)
def test_won_filter_groups_thousands_and_never_rounds(value, shown):
    assert won(value) == shown


def test_staff_edit_of_notice_is_audited(admin_client):
    """Saving a notice in the admin writes an audit event naming the staff member."""
    response = admin_client.post(
        reverse("admin:content_notice_add"),
        {
            "title_ko": "새 공지",
            "title_en": "",
            "body_ko": "내용",
            "body_en": "",
            "is_published": "on",
            "published_at_0": "2026-01-02",
            "published_at_1": "09:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    notice = Notice.objects.get(title_ko="새 공지")
    event = AuditEvent.objects.get(action="content_notice_create")
    assert event.object_id == str(notice.pk) and event.actor_label == "admin"
    assert admin_client.get(reverse("admin:content_notice_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:content_faqentry_changelist")).status_code == 200


def test_csrf_failure_uses_the_bank_page():
    """A form posted without a valid CSRF token gets the bank's 'form expired' page, not Django's."""
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(reverse("set_language"), {"language": "en"})
    assert response.status_code == 403
    assert "입력 화면의 유효 시간이 지났습니다" in response.content.decode()
