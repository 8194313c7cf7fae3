"""Renewing a certificate kept in this browser, in Chromium with the real page scripts: issue to the
browser's storage, log in with it inside the renewal window, see it marked on My certificates, renew
with a new password; the new certificate replaces the old one in the browser, the old one is revoked;
then delete (revoke) the new one, and its browser copy goes too."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from accounts.models import Journal
from certcenter import rules
from certcenter.models import Certificate
from tests.browser.conftest import console_problems
from tests.browser.test_certificate_pages import CERT_PASSWORD, _issue, _set_passwords, issuable  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "Renew-pass-2027#"


def _stored_serials(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.evaluate("() => window.BankPki.store.list().then((rows) => rows.map((row) => String(row.serial)))")


def test_renew_a_browser_stored_certificate_inside_the_window(page, issuable, alice, alice_account):  # type: ignore[no-untyped-def]  # noqa: F811
    problems = console_problems(page)
    _issue(page, alice, alice_account, storage="browser", kind="general")
    _set_passwords(page, CERT_PASSWORD, CERT_PASSWORD)
    page.locator("#issue-submit").click()
    page.locator("#issue-receipt").wait_for(state="visible", timeout=60_000)
    old = Certificate.objects.get()

    # Inside the window: an hour after it opens (00:00 KST, 60 days before the expiry day).
    with time_machine.travel(rules.renewal_opens_at(old.not_after) + dt.timedelta(hours=1), tick=True):
        page.goto("/certificates/signin/")
        page.locator("#stored-list input[name=stored]").first.check()
        page.locator("#certificate-password").fill(CERT_PASSWORD)
        page.locator("#certificate-login-submit").click()
        page.wait_for_url("**/banking/", timeout=30_000)

        page.goto("/certificates/mine/")
        row = page.locator(f"#mine-table tr[data-serial='{old.serial}']")
        row.and_(page.locator("[data-in-browser=yes]")).wait_for(timeout=10_000)
        row.locator(".mine-renew-link").click()
        page.wait_for_url(f"**/certificates/mine/{old.serial}/renew/")

        _set_passwords(page, NEW_PASSWORD, NEW_PASSWORD)
        page.locator("#renew-submit").click()
        page.locator("#renew-receipt").wait_for(state="visible", timeout=60_000)

        new = Certificate.objects.exclude(pk=old.pk).get()
        assert page.locator("#receipt-serial").inner_text() == new.serial
        assert page.locator("#receipt-old-serial").inner_text() == old.serial
        assert "4,400" in page.locator("#receipt-fee").inner_text()
        assert (new.storage, new.kind, new.status) == ("browser", "general", "valid")
        old.refresh_from_db()
        assert (old.status, old.revocation_reason) == ("revoked", "superseded")
        assert Journal.objects.filter(kind=Journal.Kind.FEE).count() == 2
        assert _stored_serials(page) == [new.serial]

        # Deleting (revoking) the new one after the warning also deletes its browser copy.
        page.locator("#receipt-mine").click()
        page.locator(f"#mine-table tr[data-serial='{new.serial}'] .mine-revoke-link").click()
        page.locator("#revoke-warning").wait_for()
        page.locator("#revoke-submit").click()
        page.locator("#mine-revoked[data-browser-copy=removed]").wait_for(timeout=10_000)
        new.refresh_from_db()
        assert (new.status, new.revocation_reason) == ("revoked", "cessation_of_operation")
        assert _stored_serials(page) == []
    assert problems == []
