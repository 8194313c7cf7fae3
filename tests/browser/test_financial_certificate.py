"""The financial certificate (금융인증서) in Chromium, Korean UI, with the real page scripts: a customer
issues one through the pages (identification, the phone code read from the outbox, the security card,
her details, the PIN twice on the shuffled keypad), signs in with name + mobile number + PIN in a
fresh browser (another device: nothing is stored in the first one), and signs a transfer with the PIN."""

from __future__ import annotations

import re

import pytest

from accounts import services as accounts_services
from accounts.models import Account, Customer, Transfer
from bankportal.notifications.models import Notification
from certcenter.models import Certificate
from otp.models import SecurityCard
from otp.securitycard import Challenge, expected_answer
from otp.services import security_card_issue
from otp.services.cards import security_card_codes
from tests.accounts.transfer_helpers import Banker, ca_ready, open_banking
from tests.browser.conftest import console_problems
from tests.conftest import ACCOUNT_PASSWORD, rrn_for_age

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PIN = "482915"


@pytest.fixture
def alice_bank(alice, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    ca_ready()
    banker = open_banking(alice, teller=teller, product=demand_product, username="alice2026", certificate=False)
    security_card_issue(customer=alice, actor=teller)
    return banker


@pytest.fixture
def bob_account(teller, demand_product) -> Account:  # type: ignore[no-untyped-def]
    bob = accounts_services.customer_create(
        kind=Customer.Kind.INDIVIDUAL,
        name="박보빈",
        phone="010-2468-1357",
        email="bob@example.com",
        rrn=rrn_for_age(41, serial="145678"),
        actor=teller,
    )
    return accounts_services.account_open(
        customer=bob, product=demand_product, password="4826", opening_deposit=0, actor=teller
    )


def _card_answer(customer: Customer, challenge) -> str:  # type: ignore[no-untyped-def]
    first, second = int(challenge.get_attribute("data-first")), int(challenge.get_attribute("data-second"))
    card = SecurityCard.objects.get(customer=customer, status=SecurityCard.Status.ACTIVE)
    return expected_answer(security_card_codes(card), Challenge(first=first, second=second))


def _keypad(page, field_id: str, digits: str) -> None:  # type: ignore[no-untyped-def]
    """Type ``digits`` by clicking the on-screen keypad of the field (its layout is shuffled)."""
    keypad = page.locator(f"[data-pin-keypad][data-input={field_id}]")
    keypad.wait_for(state="visible")
    for digit in digits:
        keypad.locator(".pin-key-digit", has_text=re.compile(f"^{digit}$")).click()
    assert page.locator(f"#{field_id}").input_value() == digits
    assert keypad.locator(".pin-dot.is-filled").count() == len(digits)


def test_issue_sign_in_on_another_device_and_sign_a_transfer_with_the_pin(  # type: ignore[no-untyped-def]
    page, browser, live_server, alice_bank, alice, bob_account
) -> None:
    problems = console_problems(page)
    # 1. Terms and identification.
    page.goto("/certificates/financial/issue/")
    assert page.locator("html").get_attribute("lang") == "ko"
    form = page.locator("#identify-form")
    form.locator("#id_terms").check()
    form.locator("#id_user_id").fill("alice2026")
    form.locator("#id_id_number").fill(accounts_services.customer_rrn(alice))
    form.locator("#id_account_number").fill(alice_bank.account.number_display)
    form.locator("#id_account_password").fill(ACCOUNT_PASSWORD)
    form.locator("button[type=submit]").click()
    # 2. The code sent by text message.
    page.wait_for_url("**/certificates/financial/issue/phone/")
    page.locator("#phone-send button[value=sms]").click()
    page.locator("#phone-verify").wait_for(state="visible")
    code = re.search(r"\d{6}", Notification.objects.filter(purpose="additional_auth").latest("pk").body)
    assert code is not None
    page.locator("#phone-verify input[name=phone_code]").fill(code.group(0))
    page.locator("#phone-verify button[type=submit]").click()
    # 3. The security card.
    page.wait_for_url("**/certificates/financial/issue/medium/")
    answer = _card_answer(alice, page.locator("#card-challenge"))
    page.locator("#medium-form input[name=first_half]").fill(answer[:2])
    page.locator("#medium-form input[name=second_half]").fill(answer[2:])
    page.locator("#medium-form button[type=submit]").click()
    # 4. Name, mobile number and email as the bank has them.
    page.wait_for_url("**/certificates/financial/issue/details/")
    assert "010-8642-9753" in page.locator("#holder-details").inner_text()
    page.locator("#details-confirm input[type=checkbox]").check()
    page.locator("#details-form button[type=submit]").click()
    # 5. The PIN twice, on the keypad; a trivial one first is refused.
    page.wait_for_url("**/certificates/financial/issue/pin/")
    _keypad(page, "id_pin", "123456")
    _keypad(page, "id_pin_again", "123456")
    page.locator("#pin-form button[type=submit]").click()
    page.wait_for_url("**/certificates/financial/issue/pin/")
    assert page.locator("#pin-form .errorlist").first.is_visible()
    assert not Certificate.objects.financial().exists()
    _keypad(page, "id_pin", PIN)
    _keypad(page, "id_pin_again", PIN)
    page.locator("#pin-form button[type=submit]").click()
    page.locator("#financial-issued").wait_for(state="visible")
    issued = Certificate.objects.financial().get()
    assert page.locator("#financial-issued").get_attribute("data-serial") == issued.serial
    assert problems == []

    # Another device: a fresh browser context with nothing stored. Name, number, then the PIN.
    device = browser.new_context(base_url=live_server.url, locale="ko-KR", viewport={"width": 390, "height": 844})
    try:
        phone = device.new_page()
        phone_problems = console_problems(phone)
        phone.goto("/certificates/financial/signin/")
        phone.locator("#financial-holder-form input[name=name]").fill("김앨리스")
        phone.locator("#financial-holder-form input[name=phone]").fill("010-8642-9753")
        phone.locator("#financial-holder-submit").click()
        phone.locator("#financial-pin-form").wait_for(state="visible")
        _keypad(phone, phone.locator("#financial-pin-form [data-pin-keypad]").get_attribute("data-input"), PIN)
        phone.locator("#financial-pin-submit").click()
        phone.wait_for_url("**/banking/")

        # A transfer to Bob, signed with the PIN instead of a joint certificate.
        phone.goto("/banking/transfer/")
        form = phone.locator("#transfer-form")
        form.locator("#id_from_account").select_option(str(alice_bank.account.pk))
        form.locator("input[name=destination][value=same_bank]").check()
        form.locator("#id_to_account_number").fill(bob_account.number_display)
        form.locator("#id_amount").fill("30000")
        form.locator("#transfer-next").click()
        phone.locator("#sign-method-financial").click()
        signing = phone.locator("#transfer-financial-form")
        signing.wait_for(state="visible")
        answer = _card_answer(alice, phone.locator("#card-challenge"))
        signing.locator("input[name=first_half]").fill(answer[:2])
        signing.locator("input[name=second_half]").fill(answer[2:])
        signing.locator("input[name=account_password]").fill(ACCOUNT_PASSWORD)
        _keypad(phone, signing.locator("[data-pin-keypad]").get_attribute("data-input"), PIN)
        phone.locator("#transfer-financial-submit").click()
        phone.locator("#receipt-signed-with").wait_for(state="visible")
        assert phone.locator("#receipt-signed-with").get_attribute("data-certificate") == "financial"
        transfer = Transfer.objects.get()
        assert transfer.amount == 30_000 and transfer.signature_evidence.certificate == issued  # type: ignore[union-attr]
        assert phone_problems == []
    finally:
        device.close()
