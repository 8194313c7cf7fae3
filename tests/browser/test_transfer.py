"""A transfer in Chromium, in Korean, with the real page scripts (pki.js, sign-text.js,
transfer-sign.js): a customer with a security card and a joint certificate kept in this browser
signs in with the certificate, sends money to another customer (security card numbers, account
password, certificate password) and sees the receipt; a second transfer over what is left of the
day is refused with the amount still left."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from django.utils import translation

from accounts import accountnumbers, services
from accounts.limits import Tier
from accounts.management.commands.seed_demo import demo_certificate_issue
from accounts.models import Account, Customer, Transfer
from accounts.services import transfers as svc
from accounts.services.limits import transfer_limit_change
from certcenter import services as certcenter_services
from certcenter.models import SignatureEvidence
from otp.models import SecurityCard
from otp.securitycard import Challenge, expected_answer
from otp.services import security_card_issue
from otp.services.cards import security_card_codes
from tests.accounts.transfer_helpers import ca_ready, open_banking
from tests.browser.conftest import console_problems
from tests.conftest import ACCOUNT_PASSWORD, rrn_for_age

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CERT_PASSWORD = "Alice-cert-2026!"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _keep_in_browser(page, der: bytes, key_file: bytes) -> None:  # type: ignore[no-untyped-def]
    """What the issue page does when the customer keeps the certificate in this browser."""
    cert = x509.load_der_x509_certificate(der)
    record = {
        "serial": str(cert.serial_number),
        "certificate": _b64(der),
        "key": _b64(key_file),
        "subject": cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
        "notAfter": cert.not_valid_after_utc.isoformat(),
    }
    page.wait_for_function("() => Boolean(window.BankPki)")
    page.evaluate(
        """(r) => window.BankPki.store.save({
            serial: r.serial, subject: r.subject, notAfter: r.notAfter, kind: "restricted",
            certificateDer: BankPki.b64decode(r.certificate), encryptedKeyDer: BankPki.b64decode(r.key)})""",
        record,
    )


def _answer_card(page, customer: Customer) -> None:  # type: ignore[no-untyped-def]
    challenge = page.locator("#card-challenge")
    first, second = int(challenge.get_attribute("data-first")), int(challenge.get_attribute("data-second"))
    card = SecurityCard.objects.get(customer=customer, status=SecurityCard.Status.ACTIVE)
    answer = expected_answer(security_card_codes(card), Challenge(first=first, second=second))
    form = page.locator("#transfer-confirm-form")
    form.locator("input[name=first_half]").fill(answer[:2])
    form.locator("input[name=second_half]").fill(answer[2:])


def _details(page, account: Account, to: Account, amount: str) -> None:  # type: ignore[no-untyped-def]
    form = page.locator("#transfer-form")
    form.locator("#id_from_account").select_option(str(account.pk))
    form.locator("input[name=destination][value=same_bank]").check()
    form.locator("#id_to_account_number").fill(to.number_display)
    form.locator("#id_amount").fill(amount)
    form.locator("#id_memo_sender").fill("3월 월세")
    form.locator("#id_memo_recipient").fill("김앨리스")
    form.locator("#transfer-next").click()


def test_a_transfer_with_the_security_card_and_a_certificate_kept_in_this_browser(  # type: ignore[no-untyped-def]
    page, alice, teller, demand_product
):
    problems = console_problems(page)
    ca_ready()
    alice_bank = open_banking(
        alice, teller=teller, product=demand_product, username="alice2026", deposits=(5_000_000,), certificate=False
    )
    security_card_issue(customer=alice, actor=teller)
    certificate = demo_certificate_issue(
        agreement=alice_bank.agreement,
        account=alice_bank.account,
        password=CERT_PASSWORD,
        actor=certcenter_services.certificate_web_actor(),
    )
    transfer_limit_change(  # lowering takes effect at once
        customer=alice, per_transfer=1_000_000, per_day=1_000_000, tier=Tier.GENERAL, medium_verified=False,
        actor=alice_bank.user,
    )  # fmt: skip
    bob = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박보브", phone="010-3333-4444", rrn=rrn_for_age(40), actor=teller
    )
    bob_bank = open_banking(
        bob, teller=teller, product=demand_product, username="bob2026", deposits=(10,), certificate=False
    )

    # Sign in with the certificate kept in this browser.
    page.goto("/certificates/signin/")
    assert page.locator("html").get_attribute("lang") == "ko"
    _keep_in_browser(page, certificate.issued.der, certificate.key_file)
    page.reload()
    page.locator("#stored-list input[name=stored]").first.check()
    page.locator("#certificate-password").fill(CERT_PASSWORD)
    page.locator("#certificate-login-submit").click()
    page.wait_for_url("**/banking/", timeout=30_000)

    # 1. Details, from the banking navigation.
    page.locator("header nav a[href$='/banking/transfer/']").click()
    page.wait_for_url("**/banking/transfer/")
    _details(page, alice_bank.account, bob_bank.account, "300,000")
    page.wait_for_url("**/confirm/")

    # 2. The recipient's name and what is left today; card numbers, account password, certificate.
    assert page.locator("#recipient-name").inner_text() == "박보브"
    assert "1,000,000" in page.locator("#left-today").inner_text()
    assert "700,000" in page.locator("#left-after").inner_text()
    page.locator("#id_account_password").fill(ACCOUNT_PASSWORD)
    _answer_card(page, alice)
    page.locator("#stored-list input[name=stored]").first.check()
    page.locator("#certificate-password").fill("Wrong-cert-2026!")
    page.locator("#transfer-sign-submit").click()
    page.locator("#sign-status[role=alert]").wait_for(state="visible", timeout=30_000)
    page.wait_for_function("() => !document.getElementById('transfer-sign-submit').disabled")
    assert "/confirm/" in page.url and Transfer.objects.count() == 0  # a wrong password is caught here
    page.locator("#certificate-password").fill(CERT_PASSWORD)
    page.locator("#transfer-sign-submit").click()
    page.wait_for_url("**/receipt/**", timeout=30_000)

    # 3. The receipt.
    transfer = Transfer.objects.get()
    assert transfer.amount == 300_000 and transfer.to_account_id == bob_bank.account.pk
    assert page.locator("#receipt-reference").inner_text() == transfer.reference
    assert page.locator("#receipt-recipient").inner_text() == "박보브"
    assert page.locator("#receipt-from").inner_text() == accountnumbers.masked(alice_bank.account.number)
    assert "300,000" in page.locator("#receipt-amount").inner_text()
    assert page.locator("#receipt-memo-recipient").inner_text() == "김앨리스"
    assert page.locator("#print-receipt").is_visible()
    evidence = SignatureEvidence.objects.get(purpose="transfer")
    assert transfer.signature_evidence_id == evidence.pk and f"key={transfer.idempotency_key}" in evidence.text
    assert Account.objects.get(pk=bob_bank.account.pk).balance == 300_010

    # Over what is left today: refused at once, with the amount still left.
    page.locator("#new-transfer").click()
    page.wait_for_url("**/banking/transfer/")
    _details(page, alice_bank.account, bob_bank.account, "800,000")
    page.wait_for_load_state()
    error = page.locator("#transfer-form .errorlist").first
    with translation.override("ko"):
        expected = str(svc.ERR_DAILY_LIMIT % {"limit": "1,000,000", "left": "700,000"})
    assert error.inner_text() == expected and "700,000" in expected
    assert Transfer.objects.count() == 1
    assert problems == []
