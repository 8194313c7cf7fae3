"""Certificate reissue (재발급) in Chromium with the real page scripts, Korean UI: issue a certificate to
this browser, reissue it as "forgotten password" with a new password to this browser (the phone code
read from the notification outbox), then log in with the new certificate."""

from __future__ import annotations

import re

import pytest

from accounts import services as accounts_services
from accounts.models import Account, Customer
from bankportal.notifications.models import Notification
from certcenter import services
from certcenter.models import Certificate
from otp.models import SecurityCard
from otp.securitycard import Challenge, expected_answer
from otp.services import security_card_issue
from otp.services.cards import security_card_codes
from tests.browser.conftest import console_problems
from tests.browser.test_certificate_pages import _issue, _set_passwords
from tests.certcenter.test_pages import register
from tests.certcenter.test_pki_endpoints import CA_ACTOR
from tests.conftest import ACCOUNT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FORGOTTEN_PASSWORD = "Cert-pass-2026!"
NEW_PASSWORD = "New-cert-pass-2027#"


@pytest.fixture
def issuable(teller, alice, alice_account):  # type: ignore[no-untyped-def]
    services.ca_init(actor=CA_ACTOR)
    security_card_issue(customer=alice, actor=teller)
    return register(alice, alice_account, "alice2026", teller)


def _answer_card(page, customer: Customer) -> None:  # type: ignore[no-untyped-def]
    challenge = page.locator("#card-challenge")
    first, second = int(challenge.get_attribute("data-first")), int(challenge.get_attribute("data-second"))
    card = SecurityCard.objects.get(customer=customer, status=SecurityCard.Status.ACTIVE)
    answer = expected_answer(security_card_codes(card), Challenge(first=first, second=second))
    page.locator("#medium-form input[name=first_half]").fill(answer[:2])
    page.locator("#medium-form input[name=second_half]").fill(answer[2:])
    page.locator("#medium-form button[type=submit]").click()


def _identify(page, customer: Customer, account: Account) -> None:  # type: ignore[no-untyped-def]
    form = page.locator("#identify-form")
    form.locator("#id_terms").check()
    form.locator("#id_user_id").fill("alice2026")
    form.locator("#id_id_number").fill(accounts_services.customer_rrn(customer))
    form.locator("#id_account_number").fill(account.number_display)
    form.locator("#id_account_password").fill(ACCOUNT_PASSWORD)
    form.locator("button[type=submit]").click()


def test_reissue_after_a_forgotten_password_then_log_in_with_the_new_certificate(  # type: ignore[no-untyped-def]
    page, issuable, alice, alice_account
):
    problems = console_problems(page)
    # A certificate in this browser, whose password the customer then forgets.
    _issue(page, alice, alice_account, storage="browser", kind="restricted")
    _set_passwords(page, FORGOTTEN_PASSWORD, FORGOTTEN_PASSWORD)
    page.locator("#issue-submit").click()
    page.locator("#issue-receipt").wait_for(state="visible", timeout=60_000)
    old = Certificate.objects.get()

    # 1. Identification, 2. the reason under the warning listing the certificate to be revoked.
    page.goto("/certificates/reissue/")
    assert page.locator("html").get_attribute("lang") == "ko"
    _identify(page, alice, alice_account)
    page.wait_for_url("**/certificates/reissue/reason/")
    assert page.locator("#revoke-warning").is_visible()
    assert page.locator(f"#revoke-list li[data-serial='{old.serial}']").is_visible()
    page.locator("#reason-form input[name=reason][value=forgotten_password]").check()
    page.locator("#reason-form button[type=submit]").click()  # without the confirmation: refused
    assert page.locator("#reissue-confirm .errorlist").is_visible()
    assert page.url.endswith("/certificates/reissue/reason/")
    page.locator("#reason-form input[name=reason][value=forgotten_password]").check()
    page.locator("#id_confirm").check()
    page.locator("#reason-form button[type=submit]").click()

    # 3. The security card, 4. the code sent by text message.
    page.wait_for_url("**/certificates/reissue/medium/")
    _answer_card(page, alice)
    page.wait_for_url("**/certificates/reissue/phone/")
    page.locator("#phone-send button[value=sms]").click()
    page.locator("#phone-verify").wait_for(state="visible")
    body = Notification.objects.filter(purpose="additional_auth", to=alice.phone).latest("pk").body
    code = re.search(r"\d{6}", body)
    assert code is not None
    page.locator("#phone-verify input[name=phone_code]").fill(code.group(0))
    page.locator("#phone-verify button[type=submit]").click()

    # 5. The new certificate with a new password, kept in this browser.
    page.wait_for_url("**/certificates/reissue/certificate/")
    assert page.locator(f"#revoke-list li[data-serial='{old.serial}']").is_visible()
    page.locator("#kind-restricted").check()
    page.locator("#storage-browser").check()
    _set_passwords(page, NEW_PASSWORD, NEW_PASSWORD)
    page.locator("#issue-submit").click()
    page.locator("#issue-receipt").wait_for(state="visible", timeout=60_000)

    old.refresh_from_db()
    assert (old.status, old.revocation_reason) == (Certificate.Status.REVOKED, Certificate.RevocationReason.SUPERSEDED)
    new = Certificate.objects.get(status=Certificate.Status.VALID)
    assert page.locator("#receipt-serial").inner_text() == new.serial
    assert page.locator("#receipt-revoked").inner_text() == old.serial

    # Log in: only the new certificate is left in this browser; its new password opens banking.
    page.locator("#receipt-login").click()
    page.wait_for_url("**/certificates/signin/")
    stored = page.locator("#stored-list input[name=stored]")
    stored.first.wait_for(state="attached")
    assert [stored.nth(i).get_attribute("value") for i in range(stored.count())] == [new.serial]
    stored.first.check()
    page.locator("#certificate-password").fill(NEW_PASSWORD)
    page.locator("#certificate-login-submit").click()
    page.wait_for_url("**/banking/", timeout=30_000)
    assert problems == []
