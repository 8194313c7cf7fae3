"""The transfer pages in a banking session: details → confirmation (recipient's name, what is left
today, account password, security card, a real signature made here as the page's script makes it)
→ receipt. Resubmissions show the first receipt; every refusal is a message, never a 500, and a
refused transfer writes nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts import accountnumbers, services
from accounts import transfer_views as views
from accounts.forms import ERR_AMOUNT_WHOLE_WON
from accounts.forms_transfer import ERR_BANK_CHOICE, ERR_TO_NUMBER_REQUIRED
from accounts.limits import Tier
from accounts.models import Account, Customer, DailyTransferTotal, Journal, Transfer
from accounts.services import transfers as svc
from accounts.services.clearing import CLEARING_PERMISSION, interbank_clearing_run
from accounts.services.limits import transfer_limit_change
from accounts.services.passwords import ERR_ACCOUNT_PASSWORD_LOCKED, ERR_ACCOUNT_PASSWORD_WRONG
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from bankportal.timeutil import KST
from certcenter.models import SignatureEvidence
from otp.models import SecurityCard
from otp.securitycard import Challenge, expected_answer
from otp.services import security_card_issue
from otp.services.cards import security_card_codes
from otp.services.verification import REFUSAL_MESSAGES, Refusal
from tests.accounts.release_signing import b64, customer_key, sign
from tests.accounts.transfer_helpers import Banker, ca_ready, new_key, open_banking, signer
from tests.conftest import ACCOUNT_PASSWORD, banking_login, rrn_for_age

pytestmark = pytest.mark.django_db

TRANSFER = reverse("transfer")
JOB = system_actor("test_clearing", [CLEARING_PERMISSION])


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    # Messages are compared with the constants in English; the Korean pages are the browser test's.
    with translation.override("en"):
        yield


@pytest.fixture
def alice_bank(alice, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    ca_ready()
    banker = open_banking(alice, teller=teller, product=demand_product, username="alice2026", deposits=(5_000_000, 10))
    security_card_issue(customer=alice, actor=teller)
    return banker


@pytest.fixture
def bob_bank(teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    bob = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박보브", phone="010-3333-4444", rrn=rrn_for_age(40), actor=teller
    )
    return open_banking(
        bob, teller=teller, product=demand_product, username="bob2026", deposits=(10,), certificate=False
    )


@pytest.fixture
def web(client: Client, alice_bank: Banker) -> Client:
    banking_login(client, alice_bank.user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def balance(account: Account) -> int:
    return Account.objects.get(pk=account.pk).balance


def written() -> tuple[int, int, int, int]:
    return (
        Transfer.objects.count(),
        Journal.objects.count(),
        sum(DailyTransferTotal.objects.values_list("total", flat=True)),
        SignatureEvidence.objects.filter(purpose="transfer").count(),
    )


def open_form(web: Client) -> str:
    page = web.get(TRANSFER)
    assert page.status_code == 200, page
    return str(page.context["form"].initial["key"])


def details(banker: Banker, key: str, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": key,
        "from_account": banker.account.pk,
        "destination": "same_bank",
        "own_account": "",
        "to_bank_code": "",
        "to_account_number": "",
        "amount": "300,000",
        "memo_sender": "월세 3월",
        "memo_recipient": "김앨리스",
    }
    data.update(overrides)
    return data


def to_confirm(web: Client, banker: Banker, **overrides: Any) -> str:
    """Fill in the details; returns the form's key once the confirmation step opened."""
    key = open_form(web)
    response = web.post(TRANSFER, details(banker, key, **overrides))
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    assert response["Location"] == reverse("transfer_confirm", kwargs={"key": key})
    return key


def card_answer(customer: Customer, challenge: Any) -> dict[str, str]:
    card = SecurityCard.objects.get(customer=customer, status=SecurityCard.Status.ACTIVE)
    answer = expected_answer(
        security_card_codes(card), Challenge(first=challenge.card_first, second=challenge.card_second)
    )
    return {"first_half": answer[:2], "second_half": answer[2:]}


def submit(
    web: Client,
    banker: Banker,
    key: str,
    *,
    password: str = ACCOUNT_PASSWORD,
    medium: dict[str, str] | None = None,
    wrong_medium: bool = False,
    key_field: str | None = None,
    signing_key: Any = None,
) -> Any:
    """Open the confirmation page, answer its challenge, sign its text as transfer-sign.js does, post."""
    url = reverse("transfer_confirm", kwargs={"key": key})
    page = web.get(url)
    assert page.status_code == 200, page
    assert banker.cert is not None
    data = {
        "key": key_field if key_field is not None else key,
        "account_password": password,
        "certificate": b64(banker.cert.der),
        "signature": b64(sign(signing_key or banker.cert.key, page.context["text"])),
    }
    if page.context["challenge"] is not None:
        answer = medium or card_answer(banker.customer, page.context["challenge"])
        if wrong_medium:
            answer = {k: f"{(int(v) + 1) % 100:02d}" for k, v in answer.items()}
        data.update(answer)
    return web.post(url, data)


def receipt_of(response: Any) -> Transfer:
    assert response.status_code == 302, response.context.get("form").errors if response.context else response
    reference = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert response["Location"] == reverse("transfer_receipt", kwargs={"reference": reference})
    return Transfer.objects.get(reference=reference)


def form_errors(response: Any) -> list[str]:
    form = response.context["form"]
    return [str(e) for errors in form.errors.values() for e in errors]


# --- the whole flow ----------------------------------------------------------------------------------


def test_a_transfer_to_another_customer_here_signed_with_the_certificate_and_shown_on_a_receipt(
    web, alice_bank, bob_bank
) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number_display)
    page = web.get(reverse("transfer_confirm", kwargs={"key": key}))
    html = page.content.decode()
    # 수취인 조회: the recipient's name, and what is left of the day's limit (general tier: 50,000,000).
    assert page.context["details"].recipient.name == "박보브" and 'id="recipient-name"><strong>박보브' in html
    assert page.context["remaining"].left_today == 50_000_000 and page.context["left_after"] == 49_700_000
    assert "49,700,000" in html and page.context["challenge"].card_first
    assert 'id="transfer-sign-text"' in html and "js/sign-text.js" in html and "js/transfer-sign.js" in html
    text = page.context["text"]
    assert "amount=300000" in text and f"key={key}" in text and "recipient=박보브" in text

    response = submit(web, alice_bank, key)
    transfer = receipt_of(response)
    assert transfer.status == Transfer.Status.COMPLETED and transfer.amount == 300_000
    assert str(transfer.idempotency_key) == key and transfer.recipient_name == "박보브"
    assert (transfer.memo_sender, transfer.memo_recipient) == ("월세 3월", "김앨리스")
    assert balance(alice_bank.account) == 4_700_000 and balance(bob_bank.account) == 300_010
    assert transfer.signature_evidence is not None and transfer.signature_evidence.text == text
    assert key not in web.session.get(views.FLOWS_KEY, {})  # the flow ended
    assert AuditEvent.objects.filter(action="security_medium.verified", details__purpose="transfer").count() == 1

    receipt = web.get(response["Location"])
    html = receipt.content.decode()
    assert receipt.status_code == 200
    assert transfer.reference in html and "박보브" in html and "300,000" in html
    assert accountnumbers.masked(alice_bank.account.number) in html
    assert accountnumbers.masked(bob_bank.account.number) in html
    assert bob_bank.account.number_display not in html  # masked
    made = timezone.localtime(transfer.created_at, KST)
    assert f"{made:%Y-%m-%d %H:%M:%S} KST" in html
    assert "data-print" in html and "js/security-card-print.js" in html and "<script>" not in html


def test_a_transfer_between_own_accounts(web, alice_bank) -> None:
    key = to_confirm(web, alice_bank, destination="own", own_account=alice_bank.accounts[1].pk)
    transfer = receipt_of(submit(web, alice_bank, key))
    assert transfer.destination == "own" and transfer.to_account == alice_bank.accounts[1]
    assert balance(alice_bank.accounts[1]) == 300_010


def test_the_own_account_cannot_be_the_account_sent_from(web, alice_bank) -> None:
    key = open_form(web)
    response = web.post(TRANSFER, details(alice_bank, key, destination="own", own_account=alice_bank.account.pk))
    assert response.status_code == 200
    assert str(svc.ERR_SAME_ACCOUNT) in response.context["form"].errors["own_account"]


# --- idempotency -------------------------------------------------------------------------------------


def test_submitting_twice_makes_one_transfer_and_shows_the_same_receipt(web, alice_bank, bob_bank) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    url = reverse("transfer_confirm", kwargs={"key": key})
    page = web.get(url)
    assert alice_bank.cert is not None
    data = {
        "key": key,
        "account_password": ACCOUNT_PASSWORD,
        "certificate": b64(alice_bank.cert.der),
        "signature": b64(sign(alice_bank.cert.key, page.context["text"])),
        **card_answer(alice_bank.customer, page.context["challenge"]),
    }
    first = web.post(url, data)
    before = written()
    medium_checks = AuditEvent.objects.filter(action__startswith="security_medium.").count()
    again = web.post(url, data)  # a double click, or a network retry of the same post
    assert again.status_code == 302 and again["Location"] == first["Location"]
    # Back to the details page and its form sent again: the same receipt too.
    resent = web.post(TRANSFER, details(alice_bank, key, to_account_number=bob_bank.account.number))
    assert resent.status_code == 302 and resent["Location"] == first["Location"]
    assert written() == before and Transfer.objects.count() == 1
    assert balance(alice_bank.account) == 4_700_000
    # The medium was not asked again (a spent OTP number would be refused as a replay).
    assert AuditEvent.objects.filter(action__startswith="security_medium.").count() == medium_checks


def test_a_second_submission_waits_for_the_first_and_gets_its_receipt(web, alice_bank, bob_bank, monkeypatch) -> None:
    """While one submission of a form is being processed, another one of the same form waits for it
    instead of asking the security medium again; if none appears in time it says so."""
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    cache.add(views._lock_name(alice_bank.customer, key), "1", 60)  # the first submission, still running
    monkeypatch.setattr(views, "SUBMIT_WAIT_SECONDS", 0.3)
    response = submit(web, alice_bank, key)
    assert response.status_code == 200 and str(views.ERR_IN_PROGRESS) in form_errors(response)
    assert Transfer.objects.count() == 0

    made = svc.transfer_execute(  # the first submission commits
        customer=alice_bank.customer,
        from_account=alice_bank.account,
        destination="same_bank",
        to_account_number=bob_bank.account.number,
        amount=300_000,
        memo_sender="월세 3월",
        memo_recipient="김앨리스",
        idempotency_key=key,
        tier=Tier.GENERAL,
        medium_verified=True,
        signature=signer(alice_bank),
        actor=alice_bank.user,
    )
    url = reverse("transfer_confirm", kwargs={"key": key})
    response = web.post(url, {"key": key, "account_password": "0000"})
    assert receipt_of(response) == made
    cache.delete(views._lock_name(alice_bank.customer, key))


# --- refusals ------------------------------------------------------------------------------------------


def test_a_wrong_account_password_is_counted_and_the_fifth_locks_it(web, alice_bank, bob_bank) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    for failures in range(1, 5):
        response = submit(web, alice_bank, key, password="1111")
        assert response.status_code == 200
        errors = response.context["form"].errors["account_password"]
        assert errors[0].startswith(str(ERR_ACCOUNT_PASSWORD_WRONG))
        assert f"{5 - failures} more wrong entr" in errors[0]
        assert Account.objects.get(pk=alice_bank.account.pk).password_failures == failures
    response = submit(web, alice_bank, key, password="1111")
    assert response.status_code == 200 and response.templates[0].name == "accounts/transfer/refused.html"
    assert response.context["message"] == ERR_ACCOUNT_PASSWORD_LOCKED
    assert Account.objects.get(pk=alice_bank.account.pk).password_locked_at is not None
    assert Transfer.objects.count() == 0 and not DailyTransferTotal.objects.exclude(total=0).exists()
    assert key not in web.session.get(views.FLOWS_KEY, {})


def test_a_wrong_security_card_answer_is_refused_and_counted_then_the_right_one_goes_through(
    web, alice_bank, bob_bank
) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    response = submit(web, alice_bank, key, wrong_medium=True)
    assert response.status_code == 200
    message = form_errors(response)[0]
    assert message.startswith(str(REFUSAL_MESSAGES[Refusal.WRONG])) and "more wrong entries lock" in message
    assert SecurityCard.objects.get(customer=alice_bank.customer, status="active").failures == 1
    assert Transfer.objects.count() == 0
    assert receipt_of(submit(web, alice_bank, key)).amount == 300_000


def test_a_refused_signature_can_be_signed_again_without_the_medium_again(web, alice_bank, bob_bank) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    response = submit(web, alice_bank, key, signing_key=customer_key("someone else"))
    assert response.status_code == 200 and form_errors(response)
    assert Transfer.objects.count() == 0 and written()[3] == 0
    assert response.context["challenge"] is None and response.context["medium_form"] is None
    assert 'id="medium-done"' in response.content.decode()
    transfer = receipt_of(submit(web, alice_bank, key))
    assert transfer.amount == 300_000


def test_five_refused_signatures_end_the_flow(web, alice_bank, bob_bank) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    for _ in range(views.SIGN_TRIES - 1):
        assert submit(web, alice_bank, key, signing_key=customer_key("someone else")).status_code == 200
    response = submit(web, alice_bank, key, signing_key=customer_key("someone else"))
    assert response.context["code"] == "sign_tries" and Transfer.objects.count() == 0
    assert web.get(reverse("transfer_confirm", kwargs={"key": key})).status_code == 302


def _lower_limits(banker: Banker, per_transfer: int, per_day: int) -> None:
    transfer_limit_change(
        customer=banker.customer,
        per_transfer=per_transfer,
        per_day=per_day,
        tier=Tier.GENERAL,
        medium_verified=False,
        actor=banker.user,
    )


def test_over_the_per_transfer_limit_is_refused_at_once_with_the_limit(web, alice_bank, bob_bank) -> None:
    _lower_limits(alice_bank, 1_000_000, 3_000_000)
    to_confirm(web, alice_bank, to_account_number=bob_bank.account.number, amount="1,000,000")  # exactly: fine
    key = open_form(web)
    response = web.post(TRANSFER, details(alice_bank, key, to_account_number=bob_bank.account.number, amount="1000001"))
    assert response.status_code == 200
    expected = svc.ERR_PER_TRANSFER_LIMIT % {"limit": "1,000,000", "left": "3,000,000"}
    assert response.context["form"].errors["amount"] == [expected]
    assert "3,000,000" in response.content.decode()  # the limits panel: left today


def test_over_the_daily_limit_says_what_is_left_today(web, alice_bank, bob_bank) -> None:
    _lower_limits(alice_bank, 2_000_000, 3_000_000)
    svc.transfer_execute(
        customer=alice_bank.customer,
        from_account=alice_bank.account,
        destination="same_bank",
        to_account_number=bob_bank.account.number,
        amount=2_000_000,
        idempotency_key=new_key(),
        tier=Tier.GENERAL,
        medium_verified=True,
        signature=signer(alice_bank),
        actor=alice_bank.user,
    )
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number, amount="1,000,000")  # exactly left
    other = open_form(web)
    response = web.post(
        TRANSFER, details(alice_bank, other, to_account_number=bob_bank.account.number, amount="1000001")
    )
    expected = svc.ERR_DAILY_LIMIT % {"limit": "3,000,000", "left": "1,000,000"}
    assert response.status_code == 200 and response.context["form"].errors["amount"] == [expected]

    # Meanwhile another transfer uses up part of the day: the confirmation page says so, and the
    # final post is refused with what is left, writing nothing.
    svc.transfer_execute(
        customer=alice_bank.customer,
        from_account=alice_bank.account,
        destination="same_bank",
        to_account_number=bob_bank.account.number,
        amount=1,
        idempotency_key=new_key(),
        tier=Tier.GENERAL,
        medium_verified=True,
        signature=signer(alice_bank),
        actor=alice_bank.user,
    )
    page = web.get(reverse("transfer_confirm", kwargs={"key": key}))
    left = svc.ERR_DAILY_LIMIT % {"limit": "3,000,000", "left": "999,999"}
    assert page.context["limit_problem"] == left and 'id="transfer-confirm-form"' not in page.content.decode()
    before = written()
    url = reverse("transfer_confirm", kwargs={"key": key})
    assert alice_bank.cert is not None
    response = web.post(
        url,
        {
            "key": key,
            "account_password": ACCOUNT_PASSWORD,
            "certificate": b64(alice_bank.cert.der),
            "signature": b64(sign(alice_bank.cert.key, page.context["text"])),
            **card_answer(alice_bank.customer, page.context["challenge"]),
        },
    )
    assert response.status_code == 200 and response.context["code"] == "daily_limit"
    assert response.context["message"] == left
    assert written() == before


def test_more_than_the_balance_is_refused_with_the_balance(web, alice_bank, bob_bank) -> None:
    key = open_form(web)
    response = web.post(
        TRANSFER, details(alice_bank, key, to_account_number=bob_bank.account.number, amount="5,000,001")
    )
    expected = svc.ERR_INSUFFICIENT_FUNDS % {"balance": "5,000,000"}
    assert response.context["form"].errors["amount"] == [expected]
    to_confirm(web, alice_bank, to_account_number=bob_bank.account.number, amount="5,000,000")


# --- other banks -------------------------------------------------------------------------------------


def test_another_bank_transfer_is_queued_then_shown_sent_after_clearing(web, alice_bank) -> None:
    key = to_confirm(web, alice_bank, destination="other_bank", to_bank_code="004", to_account_number="123-456-789012")
    page = web.get(reverse("transfer_confirm", kwargs={"key": key}))
    assert page.context["to_bank_name"] == "KB Kookmin" and page.context["details"].recipient.name == "예금주9012"
    response = submit(web, alice_bank, key)
    transfer = receipt_of(response)
    assert transfer.status == Transfer.Status.QUEUED and transfer.to_bank_code == "004"
    receipt = web.get(response["Location"])
    html = receipt.content.decode()
    assert receipt.context["transfer"].status == "queued" and 'id="refresh-status"' in html
    assert "KB Kookmin" in html and "123******012" in html and "123456789012" not in html

    interbank_clearing_run(actor=JOB)
    receipt = web.get(response["Location"])
    assert receipt.context["transfer"].status == "sent" and 'id="receipt-sent-at"' in receipt.content.decode()


def test_a_returned_transfer_shows_returned_and_the_money_back(web, alice_bank) -> None:
    key = to_confirm(web, alice_bank, destination="other_bank", to_bank_code="088", to_account_number="110120000")
    response = submit(web, alice_bank, key)
    interbank_clearing_run(actor=JOB)
    receipt = web.get(response["Location"])
    assert receipt.context["transfer"].status == "returned" and 'id="receipt-returned-at"' in receipt.content.decode()
    assert balance(alice_bank.account) == 5_000_000


def test_the_bank_list_follows_the_language(client, alice_bank) -> None:
    banking_login(client, alice_bank.user)
    with translation.override("ko"):
        korean = client.get(TRANSFER, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    english = client.get(TRANSFER, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "KB국민은행 (004)" in korean and "KB Kookmin (004)" in english
    assert f">{settings.INTERBANK_INSTITUTIONS['092'][1]} (092)<" in english


# --- who and in which order --------------------------------------------------------------------------


def test_someone_elses_receipt_is_not_found(client, web, alice_bank, bob_bank) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    transfer = receipt_of(submit(web, alice_bank, key))
    other = Client()
    banking_login(other, bob_bank.user)
    assert other.get(reverse("transfer_receipt", kwargs={"reference": transfer.reference})).status_code == 404
    assert web.get(reverse("transfer_receipt", kwargs={"reference": "1" * 20})).status_code == 404
    assert web.get(reverse("transfer_receipt", kwargs={"reference": "x'--"})).status_code == 404
    # Nor can another customer's form key be replayed to reach it.
    url = reverse("transfer_confirm", kwargs={"key": key})
    assert other.post(url, {"key": key}).status_code == 302  # start again, not the receipt
    assert other.post(url, {"key": key})["Location"] == TRANSFER


def test_steps_cannot_be_skipped(web, alice_bank, bob_bank) -> None:
    # A confirmation step for a key this session never rendered, or a form not yet filled in.
    unknown = reverse("transfer_confirm", kwargs={"key": uuid.uuid4()})
    assert web.get(unknown)["Location"] == TRANSFER and web.post(unknown, {})["Location"] == TRANSFER
    key = open_form(web)
    confirm = reverse("transfer_confirm", kwargs={"key": key})
    response = web.post(confirm, {"key": key, "account_password": ACCOUNT_PASSWORD})
    assert response.status_code == 302 and response["Location"] == TRANSFER
    assert Transfer.objects.count() == 0
    assert web.get(TRANSFER, follow=True).status_code == 200


def test_banking_pages_need_a_certificate_session_and_a_customer(client, alice_bank, teller) -> None:
    response = client.get(TRANSFER)
    assert response.status_code == 302 and reverse("login") in response["Location"]
    client.force_login(alice_bank.user)  # password login: web-member level
    assert client.get(TRANSFER).status_code == 403
    staff = Client()
    banking_login(staff, teller)
    response = staff.get(TRANSFER)
    assert response.status_code == 403 and response.context["message"] == views.ERR_NOT_A_CUSTOMER


def test_a_step_expires_after_ten_minutes(web, alice_bank, bob_bank) -> None:
    start = dt.datetime.now(tz=dt.UTC)
    with time_machine.travel(start, tick=False) as clock:
        early = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
        late = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
        clock.shift(views.FLOW_SECONDS)
        assert web.get(reverse("transfer_confirm", kwargs={"key": early})).status_code == 200  # at 10:00
        clock.shift(1)
        response = web.get(reverse("transfer_confirm", kwargs={"key": late}))  # at 10:01
        assert response.status_code == 302 and response["Location"] == TRANSFER


def test_changing_the_details_asks_for_the_medium_again(web, alice_bank, bob_bank) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    submit(web, alice_bank, key, signing_key=customer_key("someone else"))  # medium answered, signature refused
    reopened = web.get(TRANSFER, {"key": key})
    assert reopened.context["form"].initial["key"] == key and reopened.context["form"].initial["amount"] == 300_000
    response = web.post(TRANSFER, details(alice_bank, key, to_account_number=bob_bank.account.number, amount="1000"))
    assert response.status_code == 302
    page = web.get(reverse("transfer_confirm", kwargs={"key": key}))
    assert page.context["challenge"] is not None and page.context["details"].amount == 1_000
    assert receipt_of(submit(web, alice_bank, key)).amount == 1_000


def test_no_transfers_without_an_agreement_in_use_or_a_security_medium(web, alice_bank, bob_bank) -> None:
    bob = Client()
    banking_login(bob, bob_bank.user)  # no security card or OTP
    response = bob.get(TRANSFER)
    assert response.status_code == 200 and response.context["code"] == "no_security_medium"
    assert response.context["message"] == svc.ERR_NO_SECURITY_MEDIUM
    services.agreement_suspend(agreement=alice_bank.agreement, reason="customer_request", actor=alice_bank.user)
    response = web.get(TRANSFER)
    assert response.status_code == 200 and response.context["code"] == "agreement_not_active"


# --- garbage in ----------------------------------------------------------------------------------------


def test_a_post_without_a_form_key_is_a_400_with_a_new_form(web, alice_bank) -> None:
    for key in ("", "not-a-key", "' or 1=1 --"):
        response = web.post(TRANSFER, details(alice_bank, key))
        assert response.status_code == 400
        assert response.context["key_error"] == svc.ERR_FORM_KEY and str(svc.ERR_FORM_KEY) in response.content.decode()
        assert response.context["form"].initial["key"]  # a fresh form to fill in
    # A well-formed key this session never issued: start again.
    response = web.post(TRANSFER, details(alice_bank, str(uuid.uuid4())))
    assert response.status_code == 302 and response["Location"] == TRANSFER


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": "abc"}, "amount", ERR_AMOUNT_WHOLE_WON),
        ({"amount": "0"}, "amount", svc.ERR_AMOUNT),
        ({"amount": "-5"}, "amount", svc.ERR_AMOUNT),
        ({"amount": "1.5"}, "amount", ERR_AMOUNT_WHOLE_WON),
        ({"amount": "9" * 40}, "amount", None),
        ({"memo_sender": "a" * 21}, "memo_sender", svc.ERR_MEMO),
        ({"memo_recipient": "줄\n바꿈"}, "memo_recipient", svc.ERR_MEMO),
        ({"memo_recipient": "nul\x00"}, "memo_recipient", None),
        ({"destination": "mars"}, "destination", svc.ERR_DESTINATION),
        ({"destination": "other_bank", "to_bank_code": "997"}, "to_bank_code", ERR_BANK_CHOICE),
        ({"destination": "other_bank", "to_bank_code": ""}, "to_bank_code", ERR_BANK_CHOICE),
        ({"destination": "other_bank", "to_bank_code": "088", "to_account_number": "12ab"}, "to_account_number",
         svc.ERR_ACCOUNT_NUMBER),
        ({"to_account_number": ""}, "to_account_number", ERR_TO_NUMBER_REQUIRED),
        ({"to_account_number": "101-01-000001-0"}, "to_account_number", svc.ERR_ACCOUNT_NUMBER),
        ({"destination": "own", "own_account": "999999"}, "own_account", None),
        ({"from_account": "999999"}, "from_account", None),
        ({"from_account": "x"}, "from_account", None),
    ],
)  # fmt: skip
def test_bad_details_are_told_field_by_field(web, alice_bank, bob_bank, overrides, field, message) -> None:
    overrides.setdefault("to_account_number", bob_bank.account.number)
    key = open_form(web)
    response = web.post(TRANSFER, details(alice_bank, key, **overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    if message is not None:
        assert str(message) in errors[field]


def test_another_customers_account_is_not_own(web, alice_bank, bob_bank) -> None:
    key = open_form(web)
    response = web.post(TRANSFER, details(alice_bank, key, destination="own", own_account=bob_bank.account.pk))
    assert response.status_code == 200 and "own_account" in response.context["form"].errors


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"account_password": "12"},
        {"account_password": "abcd", "first_half": "x", "second_half": "yy"},
        {"account_password": ACCOUNT_PASSWORD, "certificate": "***", "signature": "%%%"},
        {"account_password": ACCOUNT_PASSWORD, "certificate": "QQ==" * 5000, "signature": "QQ=="},
    ],
)
def test_a_garbled_confirmation_post_is_a_message_not_an_error(web, alice_bank, bob_bank, data) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    url = reverse("transfer_confirm", kwargs={"key": key})
    web.get(url)
    response = web.post(url, {"key": key, **data})
    assert response.status_code == 200 and response.context["form"].errors
    assert Transfer.objects.count() == 0
    assert Account.objects.get(pk=alice_bank.account.pk).password_failures == 0  # nothing was checked


def test_a_confirmation_post_with_another_forms_key_is_refused(web, alice_bank, bob_bank) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    response = submit(web, alice_bank, key, key_field=str(uuid.uuid4()))
    assert response.status_code == 200 and str(svc.ERR_FORM_KEY) in form_errors(response)
    assert Transfer.objects.count() == 0


def test_the_pages_render_in_korean(client, alice_bank, bob_bank) -> None:
    banking_login(client, alice_bank.user)
    with translation.override("ko"):
        key = open_form(client)
        page = client.post(TRANSFER, details(alice_bank, key, to_account_number=bob_bank.account.number))
        confirm = client.get(page["Location"])
    html = confirm.content.decode()
    assert confirm.status_code == 200 and 'lang="ko"' in html and settings.BANK_NAME_KO in html


def test_the_overviews_transfer_link_preselects_its_account_and_ignores_a_foreign_one(
    web, alice_bank, bob_bank
) -> None:  # type: ignore[no-untyped-def]
    second = alice_bank.accounts[1]
    page = web.get(TRANSFER, {"from": second.number})
    assert page.context["form"].initial["from_account"] == second.pk
    foreign = web.get(TRANSFER, {"from": bob_bank.account.number})
    assert foreign.context["form"].initial.get("from_account") != bob_bank.account.pk
