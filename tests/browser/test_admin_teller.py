"""A teller's counter work in the real staff admin, in Korean: find by RRN, take cash, refuse bad input."""

from __future__ import annotations

import time

import pytest

from accounts import services
from accounts.models import Account, Journal, StaffRequest, User
from bankportal.audit.models import AuditEvent
from tests.browser.conftest import console_problems
from tests.conftest import ACCOUNT_PASSWORD, STAFF_PASSWORD, staff_totp_code

# The live server needs committed data; tests/conftest.py puts the data-migration rows back.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fill_sign_in(page, username: str, code: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("사용자 이름").fill(username)
    page.get_by_label("비밀번호").fill(STAFF_PASSWORD)
    # The authenticator code field (its Korean label comes with the lead's `make messages`).
    page.locator("#id_otp_token").fill(code)
    page.get_by_role("button", name="로그인").click()


def _login(page, username: str) -> None:  # type: ignore[no-untyped-def]
    """Sign in as the staff member does: password, and the code their authenticator app shows now
    (computed from their TOTP device's key)."""
    page.goto("/admin/")
    _fill_sign_in(page, username, staff_totp_code(User.objects.get(username=username)))
    page.wait_for_url("**/admin/")


def test_the_admin_sign_in_needs_the_authenticator_code(page, teller):
    """In Korean: the right password with a wrong code stays on the sign-in page with an error; the current
    code from the authenticator opens the admin."""
    problems = console_problems(page)
    now = time.time()
    valid = {staff_totp_code(teller, at=now + offset) for offset in (-30, 0, 30, 60)}
    wrong = next(code for code in ("000000", "111111", "222222", "333333", "444444") if code not in valid)
    page.goto("/admin/")
    assert page.locator("html").get_attribute("lang") == "ko"
    _fill_sign_in(page, "teller", wrong)
    page.wait_for_load_state()
    assert "/admin/login/" in page.url
    assert page.locator("p.errornote").first.is_visible()
    assert page.locator("#id_otp_token").is_visible()
    assert not AuditEvent.objects.filter(action="auth.login").exists()

    page.wait_for_timeout(1_100)  # django-otp's back-off: after a wrong code the device accepts none for 1 s
    _login(page, "teller")
    assert page.get_by_role("heading", name="영업점 업무").is_visible()
    assert AuditEvent.objects.filter(action="auth.login", actor=teller, channel="admin").exists()
    assert problems == []


def test_teller_finds_customer_by_rrn_and_takes_a_cash_deposit(page, teller, alice, alice_account):
    problems = console_problems(page)
    rrn = services.customer_rrn(alice)
    _login(page, "teller")
    assert page.get_by_role("heading", name="영업점 업무").is_visible()

    page.goto("/admin/accounts/customer/")
    page.locator("#rrn-lookup").fill(f"{rrn[:6]}-{rrn[6:]}")
    page.locator("#rrn-lookup-form").get_by_role("button").click()
    page.wait_for_load_state()
    # Found, shown masked; the full number is nowhere on the page or in the address bar.
    assert page.locator("#result_list").get_by_text(alice.rrn_masked).is_visible()
    assert rrn not in page.content() and rrn[6:] not in page.url and f"{rrn[:6]}-{rrn[6:]}" not in page.content()

    page.goto(f"/admin/accounts/account/{alice_account.pk}/change/")
    page.get_by_role("link", name="현금 입금", exact=True).click()
    page.get_by_label("금액").fill("50,000")
    page.get_by_role("button", name="입금").click()
    page.wait_for_url(f"**/admin/accounts/account/{alice_account.pk}/change/")
    assert page.locator(".messagelist").is_visible()
    assert Account.objects.get(pk=alice_account.pk).balance == 1_050_000
    assert AuditEvent.objects.filter(action="ledger.cash_deposit", actor=teller, channel="admin").exists()
    assert problems == []


def test_wrong_account_password_is_refused_in_korean_and_counted(page, teller, alice_account):
    _login(page, "teller")
    page.goto(f"/admin/accounts/account/{alice_account.pk}/withdraw/")
    page.get_by_label("금액").fill("10000")
    page.get_by_label("계좌 비밀번호").fill("0000" if ACCOUNT_PASSWORD != "0000" else "1111")
    page.get_by_role("button", name="출금").click()
    page.wait_for_load_state()
    assert page.get_by_text("계좌 비밀번호가 틀렸습니다").first.is_visible()
    alice_account.refresh_from_db()
    assert alice_account.balance == 1_000_000 and alice_account.password_failures == 1
    assert not Journal.objects.filter(kind=Journal.Kind.CASH_WITHDRAWAL).exists()


def test_teller_requests_a_reversal_and_only_a_managers_approval_posts_it(page, teller, manager, alice_account):
    """The teller records the reversal with a reason (nothing moves); the manager approves it from the queue."""
    journal = Journal.objects.filter(entries__account=alice_account).first()
    problems = console_problems(page)
    _login(page, "teller")
    page.goto(f"/admin/accounts/journal/{journal.pk}/reverse/")
    page.locator("#id_reason").fill("금액 이중 입력")
    page.locator("input[name=_save]").click()
    page.wait_for_url(f"**/admin/accounts/journal/{journal.pk}/change/")
    assert page.locator(".messagelist .success").is_visible()
    request = StaffRequest.objects.get(journal=journal)
    assert request.state == StaffRequest.State.PENDING
    assert not Journal.objects.filter(kind=Journal.Kind.REVERSAL).exists()
    # The teller cannot approve it.
    response = page.goto(f"/admin/accounts/staffrequest/{request.pk}/approve/")
    assert response is not None and response.status == 403
    problems.clear()  # the browser logs that 403 as a console error, as it should

    page.context.clear_cookies()
    _login(page, "manager")
    page.goto("/admin/accounts/staffrequest/")
    page.locator("#result_list").get_by_role("link", name=str(request)).click()
    page.locator(f"a[href$='/staffrequest/{request.pk}/approve/']").click()
    page.locator("input[name=_save]").click()
    page.wait_for_url(f"**/admin/accounts/staffrequest/{request.pk}/change/")
    assert page.locator(".messagelist .success").is_visible()
    reversal = Journal.objects.get(kind=Journal.Kind.REVERSAL)
    assert reversal.reverses == journal
    assert AuditEvent.objects.filter(action="ledger.reverse", actor=manager, channel="admin").exists()
    assert Account.objects.get(pk=alice_account.pk).balance == 0
    assert problems == []
