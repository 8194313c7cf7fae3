# ruff: noqa: F811 - the issuable fixture is imported from tests/browser/test_certificate_pages.py
"""Copy a certificate to another device in Chromium, with two browser contexts (two devices):
A issues a certificate into its browser storage; B opens "Receive a certificate" and shows a code;
A sends the certificate under that code (a mistyped password sends nothing); B picks it up, keeps it
in its own browser storage, and logs in with it on the certificate login page."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from certcenter import copying as copy_views
from certcenter.models import Certificate, CertificateCopy
from certcenter.services import copying
from tests.browser.conftest import console_problems
from tests.browser.test_certificate_pages import CERT_PASSWORD, _issue, _set_passwords, issuable  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE_PATTERN = re.compile(r"^\d{4}-\d{4}-\d{4}$")


def _stored_serials(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.evaluate("() => window.BankPki.store.list().then((records) => records.map((r) => r.serial))")


def test_a_certificate_copied_to_another_browser_logs_in_there(  # type: ignore[no-untyped-def]
    page, browser, live_server, issuable, alice, alice_account
):
    # Device A: issue into this browser's storage.
    problems_a = console_problems(page)
    _issue(page, alice, alice_account, storage="browser")
    _set_passwords(page, CERT_PASSWORD, CERT_PASSWORD)
    page.locator("#issue-submit").click()
    page.locator("#issue-receipt").wait_for(state="visible", timeout=60_000)
    row = Certificate.objects.get()

    # Device B: a fresh browser with no certificate shows a one-time code.
    context_b = browser.new_context(base_url=live_server.url, locale="ko-KR", viewport={"width": 1280, "height": 900})
    context_b.set_default_timeout(10_000)
    try:
        device_b = context_b.new_page()
        problems_b = console_problems(device_b)
        device_b.goto("/certificates/copy/receive/")
        code_box = device_b.locator("#copy-code")
        device_b.wait_for_function(
            "() => /^\\d{4}-\\d{4}-\\d{4}$/.test(document.getElementById('copy-code').textContent)"
        )
        code = code_box.inner_text()
        assert CODE_PATTERN.match(code)
        assert re.match(r"^[45]:\d\d$", device_b.locator("#copy-countdown").inner_text())
        assert _stored_serials(device_b) == []

        # Device A: a mistyped password is caught here and nothing is sent.
        page.goto("/certificates/copy/send/")
        page.locator("#stored-list input[name=stored]").first.check()
        page.locator("#certificate-password").fill("Wrong-pass-2026!")
        page.locator("#copy-code-input").fill(code)
        page.locator("#copy-send-submit").click()
        with translation.override("ko"):
            wrong = str(copy_views.MSG_WRONG_PASSWORD)
            sent = str(copy_views.MSG_SENT)
        page.wait_for_function(
            "(text) => document.getElementById('send-status').textContent === text", arg=wrong, timeout=30_000
        )
        assert CertificateCopy.objects.get().uploaded_at is None

        # Device A: the right password sends the certificate and its still-encrypted key.
        page.locator("#certificate-password").fill(CERT_PASSWORD)
        page.locator("#copy-send-submit").click()
        page.wait_for_function(
            "(text) => document.getElementById('send-status').textContent === text", arg=sent, timeout=30_000
        )
        assert page.locator("#certificate-password").input_value() == ""

        # Device B: picks it up by itself, keeps it, and the bank no longer holds it.
        device_b.locator("#copy-done").wait_for(state="visible", timeout=30_000)
        assert _stored_serials(device_b) == [row.serial]
        assert row.subject_cn in device_b.locator("#copy-status").inner_text()
        copy = CertificateCopy.objects.get()
        assert copy.picked_up_at is not None and copy.payload is None

        # Device B: log in with the copied certificate.
        device_b.locator("#copy-signin").click()
        device_b.wait_for_url("**/certificates/signin/")
        device_b.locator("#stored-list input[name=stored]").first.check()
        device_b.locator("#certificate-password").fill(CERT_PASSWORD)
        device_b.locator("#certificate-login-submit").click()
        device_b.wait_for_url("**/banking/", timeout=30_000)
        assert problems_b == []
    finally:
        context_b.close()
    assert problems_a == []


def test_a_new_code_replaces_the_old_one_and_an_unknown_code_is_refused(page, issuable, alice, alice_account):  # type: ignore[no-untyped-def]
    _issue(page, alice, alice_account, storage="browser")
    _set_passwords(page, CERT_PASSWORD, CERT_PASSWORD)
    page.locator("#issue-submit").click()
    page.locator("#issue-receipt").wait_for(state="visible", timeout=60_000)

    page.goto("/certificates/copy/receive/")
    page.wait_for_function("() => /^\\d{4}-/.test(document.getElementById('copy-code').textContent)")
    first = page.locator("#copy-code").inner_text()
    page.locator("#copy-new-code").click()
    page.wait_for_function(
        "(old) => { const t = document.getElementById('copy-code').textContent;"
        " return /^\\d{4}-/.test(t) && t !== old; }",
        arg=first,
    )
    assert CertificateCopy.objects.count() == 2

    page.goto("/certificates/copy/send/")
    page.locator("#stored-list input[name=stored]").first.check()
    page.locator("#certificate-password").fill(CERT_PASSWORD)
    page.locator("#copy-code-input").fill(first)  # the replaced code
    page.locator("#copy-send-submit").click()
    with translation.override("ko"):
        expired = str(copying.ERR_CODE_EXPIRED)
    page.wait_for_function(
        "(text) => document.getElementById('send-status').textContent === text", arg=expired, timeout=30_000
    )
    assert not CertificateCopy.objects.filter(uploaded_at__isnull=False).exists()
