"""Joint certificates in Chromium with the real page scripts (static/js/pki.js and certcenter-*.js):
issue to file storage (signCert.der + signPri.key downloaded), then log in with those two files and
land in banking; issue to this browser's storage, then log in by picking it from the list."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import translation

from accounts import services as accounts_services
from accounts.models import Account, Customer, Journal
from certcenter import pages, services
from certcenter.models import Certificate
from otp.models import SecurityCard
from otp.securitycard import Challenge, expected_answer
from otp.services import security_card_issue
from otp.services.cards import security_card_codes
from tests.browser.conftest import console_problems
from tests.certcenter.test_pages import register
from tests.certcenter.test_pki_endpoints import CA_ACTOR
from tests.conftest import ACCOUNT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CERT_PASSWORD = "Cert-pass-2026!"


@pytest.fixture
def issuable(teller, alice, alice_account):  # type: ignore[no-untyped-def]
    services.ca_init(actor=CA_ACTOR)
    security_card_issue(customer=alice, actor=teller)
    return register(alice, alice_account, "alice2026", teller)


def _issue(page, customer: Customer, account: Account, *, storage: str, kind: str = "general") -> None:  # type: ignore[no-untyped-def]
    page.goto("/certificates/issue/")
    form = page.locator("#identify-form")
    form.locator("#id_terms").check()
    form.locator("#id_user_id").fill("alice2026")
    form.locator("#id_id_number").fill(accounts_services.customer_rrn(customer))
    form.locator("#id_account_number").fill(account.number_display)
    form.locator("#id_account_password").fill(ACCOUNT_PASSWORD)
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/certificates/issue/medium/")
    challenge = page.locator("#card-challenge")
    first, second = int(challenge.get_attribute("data-first")), int(challenge.get_attribute("data-second"))
    card = SecurityCard.objects.get(customer=customer, status=SecurityCard.Status.ACTIVE)
    answer = expected_answer(security_card_codes(card), Challenge(first=first, second=second))
    page.locator("#medium-form input[name=first_half]").fill(answer[:2])
    page.locator("#medium-form input[name=second_half]").fill(answer[2:])
    page.locator("#medium-form button[type=submit]").click()
    page.wait_for_url("**/certificates/issue/certificate/")
    page.locator(f"#kind-{kind}").check()
    page.locator(f"#storage-{storage}").check()


def _set_passwords(page, first: str, second: str) -> None:  # type: ignore[no-untyped-def]
    page.locator("#certificate-password").fill(first)
    page.locator("#certificate-password2").fill(second)


def test_issue_to_files_then_log_in_with_the_two_files(  # type: ignore[no-untyped-def]
    page, issuable, alice, alice_account, tmp_path: Path
):
    problems = console_problems(page)
    _issue(page, alice, alice_account, storage="file")

    # The password rule is checked in the page: nothing is sent for a weak or mistyped password.
    _set_passwords(page, "short1!", "short1!")
    page.locator("#issue-submit").click()
    with translation.override("ko"):
        assert str(pages.PASSWORD_PROBLEMS["too_short"]) in page.locator("#issue-status").inner_text()
        _set_passwords(page, CERT_PASSWORD, CERT_PASSWORD + "x")
        page.locator("#issue-submit").click()
        assert page.locator("#issue-status").inner_text() == str(pages.MSG_PASSWORDS_DIFFER)
    assert Certificate.objects.count() == 0

    downloads = []
    page.on("download", lambda download: downloads.append(download))
    _set_passwords(page, CERT_PASSWORD, CERT_PASSWORD)
    page.locator("#issue-submit").click()
    page.locator("#issue-receipt").wait_for(state="visible", timeout=60_000)
    for _ in range(50):  # the two download events arrive one after the other
        if len(downloads) == 2:
            break
        page.wait_for_timeout(100)

    row = Certificate.objects.get()
    assert row.storage == "file" and row.kind == "general"
    assert page.locator("#receipt-serial").inner_text() == row.serial
    assert "4,400" in page.locator("#receipt-fee").inner_text()
    assert Journal.objects.filter(kind=Journal.Kind.FEE).count() == 1
    files = {download.suggested_filename: download for download in downloads}
    assert set(files) == {"signCert.der", "signPri.key"}
    cert_path, key_path = tmp_path / "signCert.der", tmp_path / "signPri.key"
    files["signCert.der"].save_as(cert_path)
    files["signPri.key"].save_as(key_path)
    assert x509.load_der_x509_certificate(cert_path.read_bytes()).serial_number == int(row.serial)
    key = serialization.load_der_private_key(key_path.read_bytes(), CERT_PASSWORD.encode())
    certificate_key = x509.load_der_x509_certificate(cert_path.read_bytes()).public_key()
    assert isinstance(key, rsa.RSAPrivateKey) and isinstance(certificate_key, rsa.RSAPublicKey)
    assert key.public_key().public_numbers() == certificate_key.public_numbers()

    # Log in with the files: a wrong password is told locally, the right one lands in banking.
    page.goto("/certificates/signin/")
    page.locator("#cert-file").set_input_files(str(cert_path))
    page.locator("#key-file").set_input_files(str(key_path))
    page.locator("#certificate-password").fill("Wrong-pass-2026!")
    page.locator("#certificate-login-submit").click()
    status = page.locator("#login-status[role=alert]")
    status.wait_for(state="visible", timeout=30_000)
    with translation.override("ko"):
        assert status.inner_text() == str(pages.MSG_WRONG_PASSWORD)
    assert page.url.endswith("/certificates/signin/")
    page.locator("#certificate-password").fill(CERT_PASSWORD)
    page.locator("#certificate-login-submit").click()
    page.wait_for_url("**/banking/", timeout=30_000)
    assert problems == []


def test_issue_to_this_browser_then_log_in_by_picking_it(page, issuable, alice, alice_account):  # type: ignore[no-untyped-def]
    problems = console_problems(page)
    _issue(page, alice, alice_account, storage="browser", kind="restricted")
    _set_passwords(page, CERT_PASSWORD, CERT_PASSWORD)
    page.locator("#issue-submit").click()
    page.locator("#issue-receipt").wait_for(state="visible", timeout=60_000)
    row = Certificate.objects.get()
    assert row.storage == "browser"

    page.locator("#receipt-login").click()
    page.wait_for_url("**/certificates/signin/")
    page.locator("#stored-list input[name=stored]").first.check()
    page.locator("#certificate-password").fill(CERT_PASSWORD)
    page.locator("#certificate-login-submit").click()
    page.wait_for_url("**/banking/", timeout=30_000)
    assert problems == []
