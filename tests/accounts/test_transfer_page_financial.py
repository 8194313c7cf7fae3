# ruff: noqa: F811 - fixtures are imported from tests/accounts/test_transfer_pages.py
"""The transfer's confirmation step signed with the financial certificate (금융인증서): a customer who
holds one may choose it and type the 6-digit PIN on the keypad instead of signing with a joint
certificate. The account password and the security medium come first as always; the cloud then
signs the text the page showed. A wrong PIN is counted and moves nothing, the 5th locks the
certificate and the page falls back to the joint certificate; a resubmitted form shows the first
receipt without the PIN; nobody without a financial certificate can choose it.

The cloud counts wrong PINs in its own committed transaction: these tests run with
``transaction=True``."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts import transfer_views as views
from accounts.forms_transfer import ERR_FINANCIAL_PIN, TransferConfirmForm, TransferFinancialConfirmForm
from accounts.limits import Tier
from accounts.models import Account, Transfer
from accounts.services import transfers as svc
from accounts.services.limits import transfer_limit_change
from bankportal.audit.models import AuditEvent
from certcenter.cloud.api import CertificateStatus, financial_cloud
from certcenter.models import Certificate
from certcenter.services.financial import ERR_LOCKED, ERR_NONE_HELD, ERR_WRONG_PIN, financial_issue
from tests.accounts.release_signing import CERT_WEB
from tests.accounts.test_transfer_pages import (  # noqa: F401 - _english, alice_bank, bob_bank and web are fixtures
    _english,
    alice_bank,
    balance,
    bob_bank,
    card_answer,
    receipt_of,
    submit,
    to_confirm,
    web,
    written,
)
from tests.accounts.transfer_helpers import Banker, new_key, signer
from tests.conftest import ACCOUNT_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

PIN = "482915"
WRONG_PIN = "730264"


@pytest.fixture
def financial(alice_bank: Banker) -> Certificate:
    """Alice (security card, joint certificate) also holds a financial certificate with ``PIN``."""
    return financial_issue(
        agreement=alice_bank.agreement, pin=PIN, pin_again=PIN, medium_verified=True, actor=CERT_WEB
    ).certificate


def confirm_url(key: str) -> str:
    return reverse("transfer_confirm", kwargs={"key": key})


def pin_page(web: Client, key: str) -> Any:
    page = web.get(confirm_url(key), {"method": "financial"})
    assert page.status_code == 200, page
    return page


def submit_pin(
    web: Client,
    banker: Banker,
    key: str,
    *,
    pin: str = PIN,
    password: str = ACCOUNT_PASSWORD,
    wrong_medium: bool = False,
) -> Any:
    """Open the confirmation step with the financial certificate chosen, answer its challenge, post the PIN."""
    page = pin_page(web, key)
    assert page.context["financial"] is True
    data = {"key": key, "method": "financial", "account_password": password, "pin": pin}
    if page.context["challenge"] is not None:
        answer = card_answer(banker.customer, page.context["challenge"])
        if wrong_medium:
            answer = {k: f"{(int(v) + 1) % 100:02d}" for k, v in answer.items()}
        data.update(answer)
    return web.post(confirm_url(key), data)


def wrong_pins(certificate: Certificate) -> int:
    assert certificate.cloud_id is not None
    return financial_cloud().status(cloud_id=certificate.cloud_id).wrong_pins


def medium_checks() -> int:
    return AuditEvent.objects.filter(action__startswith="security_medium.", details__purpose="transfer").count()


# --- the whole flow ----------------------------------------------------------------------------------


def test_a_transfer_signed_with_the_pin_gets_its_receipt_and_the_financial_certificates_evidence(
    web, alice_bank, bob_bank, financial
) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    # The joint certificate stays the default; the financial certificate is offered next to it.
    joint = web.get(confirm_url(key))
    html = joint.content.decode()
    assert joint.context["financial"] is False and joint.context["financial_offered"] is True
    assert 'id="sign-method-financial"' in html and 'id="transfer-confirm-form"' in html
    assert "js/transfer-sign.js" in html and "data-pin-keypad" not in html

    page = pin_page(web, key)
    html = page.content.decode()
    assert isinstance(page.context["form"], TransferFinancialConfirmForm)
    assert 'id="transfer-financial-form"' in html and 'name="method" value="financial"' in html
    assert "data-pin-keypad" in html and 'name="pin"' in html and "js/pin-keypad.js" in html
    assert "js/transfer-sign.js" not in html and 'name="signature"' not in html
    assert 'name="first_half"' in html  # the security medium is asked for as with a joint certificate
    text = page.context["text"]
    assert f"key={key}" in text and "amount=300000" in text and 'id="transfer-text"' in html

    response = submit_pin(web, alice_bank, key)
    transfer = receipt_of(response)
    assert transfer.amount == 300_000 and transfer.status == Transfer.Status.COMPLETED
    assert balance(alice_bank.account) == 4_700_000 and balance(bob_bank.account) == 300_010
    evidence = transfer.signature_evidence
    assert evidence is not None and evidence.text == text and evidence.purpose == "transfer"
    assert evidence.certificate == financial and evidence.certificate.kind == Certificate.Kind.FINANCIAL
    assert key not in web.session.get(views.FLOWS_KEY, {})  # the flow ended
    assert medium_checks() == 1 and wrong_pins(financial) == 0

    receipt = web.get(response["Location"])
    assert receipt.context["signed_with"] == "financial"
    assert 'id="receipt-signed-with" data-certificate="financial">Financial certificate (PIN)<' in (
        receipt.content.decode()
    )
    detail = web.get(reverse("history_transfer_detail", args=[transfer.reference])).content.decode()
    assert 'id="evidence-by" data-certificate="financial"' in detail and evidence.certificate_serial in detail


def test_the_joint_certificate_path_is_unchanged_and_its_receipt_says_so(web, alice_bank, bob_bank, financial) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    response = submit(web, alice_bank, key)  # the browser's joint-certificate signature, no method field
    transfer = receipt_of(response)
    assert transfer.signature_evidence is not None and transfer.signature_evidence.certificate != financial
    receipt = web.get(response["Location"])
    assert receipt.context["signed_with"] == "joint" and 'data-certificate="joint">Joint certificate<' in (
        receipt.content.decode()
    )
    detail = web.get(reverse("history_transfer_detail", args=[transfer.reference])).content.decode()
    assert 'id="evidence-by" data-certificate="joint"' in detail


# --- wrong PINs --------------------------------------------------------------------------------------


def test_a_wrong_pin_is_counted_and_moves_nothing_then_the_right_pin_goes_through(
    web, alice_bank, bob_bank, financial
) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    before = written()
    response = submit_pin(web, alice_bank, key, pin=WRONG_PIN)
    assert response.status_code == 200 and response.context["financial"] is True
    assert response.context["form"].errors["pin"] == [ERR_WRONG_PIN % {"left": 4}]
    assert "4 more wrong PINs lock" in response.content.decode()
    assert wrong_pins(financial) == 1 and written() == before  # no transfer, no evidence
    assert balance(alice_bank.account) == 5_000_000
    # The medium was spent once for this flow and is not asked for again.
    assert response.context["challenge"] is None and 'id="medium-done"' in response.content.decode()
    assert Account.objects.get(pk=alice_bank.account.pk).password_failures == 0

    transfer = receipt_of(submit_pin(web, alice_bank, key))
    assert transfer.signature_evidence is not None and transfer.signature_evidence.certificate == financial
    assert wrong_pins(financial) == 0  # a right PIN resets the count
    assert medium_checks() == 1


def test_the_fifth_wrong_pin_locks_it_and_the_transfer_can_still_be_signed_with_the_joint_certificate(
    web, alice_bank, bob_bank, financial
) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    for left in (4, 3, 2, 1):
        response = submit_pin(web, alice_bank, key, pin=WRONG_PIN)
        assert response.context["form"].errors["pin"] == [ERR_WRONG_PIN % {"left": left}]
    response = submit_pin(web, alice_bank, key, pin=WRONG_PIN)
    html = response.content.decode()
    assert response.status_code == 200 and response.context["financial_problem"] == ERR_LOCKED
    assert 'id="financial-problem"' in html and str(ERR_LOCKED) in html
    # Back to the joint certificate for this flow: the choice is gone, the medium stays confirmed.
    assert response.context["financial"] is False and response.context["financial_offered"] is False
    assert isinstance(response.context["form"], TransferConfirmForm) and 'id="sign-method-financial"' not in html
    assert 'id="transfer-confirm-form"' in html and 'id="medium-done"' in html
    assert financial_cloud().status(cloud_id=financial.cloud_id).status == CertificateStatus.LOCKED  # type: ignore[arg-type]
    assert Transfer.objects.count() == 0 and written()[3] == 0

    # Choosing it again is refused without trying the PIN (even the right one).
    again = web.get(confirm_url(key), {"method": "financial"})
    assert again.context["financial"] is False and again.context["financial_problem"] == ERR_LOCKED
    forged = web.post(confirm_url(key), {"key": key, "method": "financial", "account_password": "1111", "pin": PIN})
    assert forged.status_code == 200 and forged.context["financial"] is False
    assert Account.objects.get(pk=alice_bank.account.pk).password_failures == 0 and written()[3] == 0

    transfer = receipt_of(submit(web, alice_bank, key))  # the joint certificate signs
    assert transfer.signature_evidence is not None and transfer.signature_evidence.certificate != financial
    assert medium_checks() == 1

    # A new transfer does not offer the locked certificate at all (it stays valid in the register).
    later = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    page = web.get(confirm_url(later))
    assert page.context["financial_offered"] is False and 'id="sign-method-financial"' not in page.content.decode()


def test_a_malformed_pin_is_told_and_nothing_is_checked(web, alice_bank, bob_bank, financial) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    for pin in ("", "48291", "4829150", "48291a", "４８２９１５"):
        response = submit_pin(web, alice_bank, key, pin=pin)
        assert response.status_code == 200 and response.context["form"].errors["pin"] == [ERR_FINANCIAL_PIN]
    assert wrong_pins(financial) == 0 and medium_checks() == 0
    assert Account.objects.get(pk=alice_bank.account.pk).password_failures == 0
    assert Transfer.objects.count() == 0


# --- who may choose it --------------------------------------------------------------------------------


def test_without_a_financial_certificate_there_is_no_choice_and_a_forged_one_is_refused(
    web, alice_bank, bob_bank
) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    page = web.get(confirm_url(key))
    html = page.content.decode()
    assert page.context["financial_offered"] is False
    assert 'id="sign-methods"' not in html and "data-pin-keypad" not in html
    asked = web.get(confirm_url(key), {"method": "financial"})  # a hand-made link: the joint certificate
    assert asked.context["financial"] is False and 'id="transfer-confirm-form"' in asked.content.decode()

    # A forged post choosing it: refused with a message before the password or the medium is checked.
    data = {"key": key, "method": "financial", "account_password": "1111", "pin": PIN}
    data.update(card_answer(alice_bank.customer, asked.context["challenge"]))
    response = web.post(confirm_url(key), data)
    assert response.status_code == 200 and response.context["method_problem"] == ERR_NONE_HELD
    assert 'id="method-problem"' in response.content.decode() and str(ERR_NONE_HELD) in response.content.decode()
    assert isinstance(response.context["form"], TransferConfirmForm) and not response.context["form"].is_bound
    assert Account.objects.get(pk=alice_bank.account.pk).password_failures == 0
    assert medium_checks() == 0 and Transfer.objects.count() == 0 and written()[3] == 0

    assert receipt_of(submit(web, alice_bank, key)).amount == 300_000  # the joint certificate still signs


# --- idempotency -------------------------------------------------------------------------------------


def test_submitting_the_pin_form_twice_makes_one_transfer_without_the_pin_again(
    web, alice_bank, bob_bank, financial
) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    page = pin_page(web, key)
    data = {
        "key": key,
        "method": "financial",
        "account_password": ACCOUNT_PASSWORD,
        "pin": PIN,
        **card_answer(alice_bank.customer, page.context["challenge"]),
    }
    first = web.post(confirm_url(key), data)
    receipt_of(first)
    before, checks = written(), medium_checks()
    again = web.post(confirm_url(key), data)  # a double click, or a network retry of the same post
    assert again.status_code == 302 and again["Location"] == first["Location"]
    # Sent again with a wrong PIN (or none): the receipt, and the PIN is not tried.
    stale = web.post(confirm_url(key), {**data, "pin": WRONG_PIN})
    assert stale.status_code == 302 and stale["Location"] == first["Location"]
    assert web.post(confirm_url(key), {"key": key, "method": "financial"})["Location"] == first["Location"]
    assert written() == before and Transfer.objects.count() == 1 and medium_checks() == checks
    assert wrong_pins(financial) == 0 and balance(alice_bank.account) == 4_700_000


# --- limits ------------------------------------------------------------------------------------------


def test_over_the_daily_limit_the_pin_is_not_tried_and_the_refusal_says_what_is_left(
    web, alice_bank, bob_bank, financial
) -> None:
    transfer_limit_change(
        customer=alice_bank.customer,
        per_transfer=2_000_000,
        per_day=3_000_000,
        tier=Tier.GENERAL,
        medium_verified=False,
        actor=alice_bank.user,
    )

    def elsewhere(amount: int) -> None:  # another transfer of the day, signed with the joint certificate
        svc.transfer_execute(
            customer=alice_bank.customer,
            from_account=alice_bank.account,
            destination="same_bank",
            to_account_number=bob_bank.account.number,
            amount=amount,
            idempotency_key=new_key(),
            tier=Tier.GENERAL,
            medium_verified=True,
            signature=signer(alice_bank),
            actor=alice_bank.user,
        )

    elsewhere(2_000_000)
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number, amount="1,000,000")  # all that's left
    page = pin_page(web, key)
    data = {
        "key": key,
        "method": "financial",
        "account_password": ACCOUNT_PASSWORD,
        "pin": WRONG_PIN,  # would be counted if it were tried
        **card_answer(alice_bank.customer, page.context["challenge"]),
    }
    elsewhere(1)  # meanwhile one won of the day is used
    left = svc.ERR_DAILY_LIMIT % {"limit": "3,000,000", "left": "999,999"}
    shown = pin_page(web, key)
    assert shown.context["limit_problem"] == left and 'id="transfer-financial-form"' not in shown.content.decode()
    before = written()
    response = web.post(confirm_url(key), data)
    assert response.status_code == 200 and response.context["code"] == "daily_limit"
    assert response.context["message"] == left
    assert written() == before  # no transfer and no signed order kept
    assert wrong_pins(financial) == 0 and balance(alice_bank.account) == 2_999_999
    assert key not in web.session.get(views.FLOWS_KEY, {})
