"""Another bank's joint certificate in Chromium with the real page scripts: its two files on disk
(signCert.der and a PBES2-encrypted signPri.key holding the identity random value), registered
through /certificates/other/ (identification, security card, SMS code, sign), then used to log in;
then its registration deleted from My certificates (the service tests show it then no longer logs in)."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from django.utils import timezone, translation

from accounts import services as accounts_services
from bankportal.notifications.models import Notification
from certcenter import ca, services
from certcenter.models import ExternalCertificate
from certcenter.services import external
from otp.models import SecurityCard
from otp.securitycard import Challenge, expected_answer
from otp.services import security_card_issue
from otp.services.cards import security_card_codes
from tests.browser.conftest import console_problems
from tests.certcenter.external_pki import encrypted_key_file, other_bank_ca, other_bank_certificate
from tests.certcenter.test_login import browser_key
from tests.certcenter.test_pages import register
from tests.certcenter.test_pki_endpoints import CA_ACTOR
from tests.conftest import ACCOUNT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CERT_PASSWORD = "Other-bank-2026!"


@pytest.fixture
def other_bank_files(teller, alice, alice_account, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Alice's certificate from the other bank as its two files, the other bank's CA trusted here."""
    services.ca_init(actor=CA_ACTOR)
    security_card_issue(customer=alice, actor=teller)
    register(alice, alice_account, "alice2026", teller)
    now = timezone.now()
    other = other_bank_ca(now - dt.timedelta(days=30))
    external.trusted_authority_add(
        certificate=ca.certificate_pem(other.certificate), actor=external.trust_command_actor("test")
    )
    key = browser_key("alice-other-bank")
    random_value = os.urandom(20)
    cert = other_bank_certificate(
        other,
        key,
        serial=0x5EED_0042,
        not_before=now - dt.timedelta(days=10),
        not_after=now + dt.timedelta(days=300),
        identity="bank",
        id_number=accounts_services.customer_rrn(alice),
        random_value=random_value,
    )
    cert_path, key_path = tmp_path / "signCert.der", tmp_path / "signPri.key"
    cert_path.write_bytes(ca.certificate_der(cert))
    key_path.write_bytes(encrypted_key_file(key, CERT_PASSWORD, random_value=random_value))
    return cert_path, key_path


def _identify_and_verify(page, alice, alice_account) -> None:  # type: ignore[no-untyped-def]
    page.goto("/certificates/other/")
    form = page.locator("#identify-form")
    form.locator("#id_terms").check()
    form.locator("#id_user_id").fill("alice2026")
    form.locator("#id_id_number").fill(accounts_services.customer_rrn(alice))
    form.locator("#id_account_number").fill(alice_account.number_display)
    form.locator("#id_account_password").fill(ACCOUNT_PASSWORD)
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/certificates/other/medium/")
    challenge = page.locator("#card-challenge")
    first, second = int(challenge.get_attribute("data-first")), int(challenge.get_attribute("data-second"))
    card = SecurityCard.objects.get(customer=alice, status=SecurityCard.Status.ACTIVE)
    answer = expected_answer(security_card_codes(card), Challenge(first=first, second=second))
    page.locator("#medium-form input[name=first_half]").fill(answer[:2])
    page.locator("#medium-form input[name=second_half]").fill(answer[2:])
    page.locator("#medium-form button[type=submit]").click()
    page.wait_for_url("**/certificates/other/phone/")
    page.locator("#phone-send button[value=sms]").click()
    page.locator("#phone-verify").wait_for()
    code = re.search(r"\d{6}", Notification.objects.latest("id").body)
    assert code is not None
    page.locator("#phone-verify input[name=phone_code]").fill(code.group(0))
    page.locator("#phone-verify button[type=submit]").click()
    page.wait_for_url("**/certificates/other/certificate/")


def test_register_another_banks_certificate_from_files_then_log_in(  # type: ignore[no-untyped-def]
    page, other_bank_files, alice, alice_account
):
    problems = console_problems(page)
    cert_path, key_path = other_bank_files
    _identify_and_verify(page, alice, alice_account)

    # A wrong password is told in the page; nothing is registered.
    page.locator("#cert-file").set_input_files(str(cert_path))
    page.locator("#key-file").set_input_files(str(key_path))
    page.locator("#certificate-password").fill("Wrong-pass-2026!")
    page.locator("#external-submit").click()
    status = page.locator("#external-status[role=alert]")
    status.wait_for(state="visible", timeout=30_000)
    from certcenter import pages

    with translation.override("ko"):
        assert status.inner_text() == str(pages.MSG_WRONG_PASSWORD)
    assert not ExternalCertificate.objects.exists()

    page.locator("#certificate-password").fill(CERT_PASSWORD)
    page.locator("#external-submit").click()
    page.locator("#external-receipt").wait_for(state="visible", timeout=60_000)
    row = ExternalCertificate.objects.get()
    assert row.customer == alice and row.identity_checked and row.status == "registered"
    assert page.locator("#receipt-serial").inner_text() == row.serial
    assert page.locator("#receipt-issuer").inner_text() == row.authority.name

    # Log in with the same two files.
    page.locator("#receipt-login").click()
    page.wait_for_url("**/certificates/signin/")
    page.locator("#cert-file").set_input_files(str(cert_path))
    page.locator("#key-file").set_input_files(str(key_path))
    page.locator("#certificate-password").fill(CERT_PASSWORD)
    page.locator("#certificate-login-submit").click()
    page.wait_for_url("**/banking/", timeout=30_000)

    # My certificates lists it; deleting the registration ends its use here.
    page.goto("/certificates/mine/")
    external_row = page.locator(f"#external-{row.pk}")
    assert row.authority.name in external_row.locator(".external-issuer").inner_text()
    external_row.locator(".external-delete-link").click()
    page.locator("#external-delete-submit").click()
    page.wait_for_url("**/certificates/mine/")
    page.locator("#mine-external-empty").wait_for()
    row.refresh_from_db()
    assert row.status == "deregistered"
    assert problems == []
