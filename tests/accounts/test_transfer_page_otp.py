# ruff: noqa: F811 - fixtures are imported from tests/accounts/test_transfer_pages.py and tests/otp/test_otp_tokens.py
"""The transfer pages for a customer whose security medium is an OTP: the confirmation step asks for
the OTP number, the transfer goes through with the receipt, a wrong number is refused and counted
and moves nothing, and the OTP's safe tier allows more per transfer than the security card."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from accounts.limits import Tier
from accounts.models import Account, Transfer
from accounts.services import transfers as svc
from bankportal.audit.models import AuditEvent
from bankportal.timeutil import KST
from otp.models import OtpToken
from otp.services import otp_register_at_branch, security_tier
from otp.services.verification import REFUSAL_MESSAGES, Refusal
from tests.accounts.test_transfer_pages import (  # noqa: F401 - _english, bob_bank and web are fixtures
    TRANSFER,
    _english,
    balance,
    bob_bank,
    details,
    form_errors,
    open_form,
    receipt_of,
    submit,
    to_confirm,
    web,
    written,
)
from tests.accounts.transfer_helpers import Banker, ca_ready, open_banking
from tests.otp.test_otp_tokens import code, tokens, wrong  # noqa: F401 - tokens is a fixture

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 10, 12, 0, 30, tzinfo=KST)
SERIAL = "OTP0000000001"  # another institution's integrated OTP (통합OTP), 60-second steps
DEPOSIT = 150_000_000
CARD_PER_TRANSFER = 10_000_000  # domain.md: individual, general tier (security card)
OTP_PER_TRANSFER = 100_000_000  # domain.md: individual, safe tier (OTP)


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    # The page checks the OTP number against the current time: hold it still.
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice_bank(clock, alice, teller, demand_product, tokens) -> Banker:  # type: ignore[no-untyped-def]
    """Alice banks online with an OTP as her only security medium (the imported ``web`` fixture
    signs this banker in)."""
    ca_ready()
    banker = open_banking(alice, teller=teller, product=demand_product, username="alice2026", deposits=(DEPOSIT, 10))
    otp_register_at_branch(customer=alice, serial=SERIAL, actor=teller)
    assert security_tier(alice) is Tier.SAFE
    return banker


def otp_number(now: dt.datetime = T0) -> dict[str, str]:
    return {"code": code(SERIAL, now)}


def error_count() -> int:
    return OtpToken.objects.get(serial=SERIAL).error_count


def test_a_transfer_confirmed_with_the_otp_number_gets_its_receipt(web, alice_bank, bob_bank) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number_display)
    page = web.get(reverse("transfer_confirm", kwargs={"key": key}))
    html = page.content.decode()
    assert page.context["is_otp"] and page.context["challenge"].card_first is None
    assert 'name="code"' in html and 'name="first_half"' not in html
    # The safe tier's day: 500,000,000 won, 300,000 of it used by this transfer.
    assert page.context["remaining"].left_today == 500_000_000 and page.context["left_after"] == 499_700_000

    response = submit(web, alice_bank, key, medium=otp_number())
    transfer = receipt_of(response)
    assert transfer.status == Transfer.Status.COMPLETED and transfer.amount == 300_000
    assert balance(alice_bank.account) == DEPOSIT - 300_000 and balance(bob_bank.account) == 300_010
    verified = AuditEvent.objects.get(action="security_medium.verified", details__purpose="transfer")
    assert verified.details["medium"] == "otp"
    receipt = web.get(response["Location"])
    assert receipt.status_code == 200 and transfer.reference in receipt.content.decode()


def test_a_wrong_otp_number_is_refused_counted_and_moves_nothing(web, alice_bank, bob_bank) -> None:
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number)
    before = written()
    response = submit(web, alice_bank, key, medium={"code": wrong(SERIAL, T0)})
    assert response.status_code == 200
    message = form_errors(response)[0]
    assert message.startswith(str(REFUSAL_MESSAGES[Refusal.WRONG]))
    assert "9 more wrong entries lock the security medium" in message
    assert error_count() == 1  # a wrong entry, on the token's counter shared across institutions
    refused = AuditEvent.objects.get(action="security_medium.refused")
    assert refused.details == {"purpose": "transfer", "medium": "otp", "refusal": "wrong"}
    assert written() == before and Transfer.objects.count() == 0
    assert balance(alice_bank.account) == DEPOSIT and balance(bob_bank.account) == 10
    assert Account.objects.get(pk=alice_bank.account.pk).password_failures == 0  # the password was right

    # The same form, now with the right number: it goes through and the counter starts again.
    assert receipt_of(submit(web, alice_bank, key, medium=otp_number())).amount == 300_000
    assert error_count() == 0


def test_the_otp_tier_allows_more_per_transfer_than_the_card(web, alice_bank, bob_bank, clock) -> None:
    """One won over the card's per-transfer maximum goes with an OTP, and so does exactly the OTP
    tier's maximum; one won more than that is refused at once with the limit."""
    over_card = CARD_PER_TRANSFER + 1
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number, amount=f"{over_card:,}")
    assert receipt_of(submit(web, alice_bank, key, medium=otp_number())).amount == over_card

    key = open_form(web)
    response = web.post(
        TRANSFER, details(alice_bank, key, to_account_number=bob_bank.account.number, amount=f"{OTP_PER_TRANSFER + 1}")
    )
    assert response.status_code == 200
    left = 500_000_000 - over_card
    expected = svc.ERR_PER_TRANSFER_LIMIT % {"limit": "100,000,000", "left": f"{left:,}"}
    assert response.context["form"].errors["amount"] == [expected]

    clock.shift(60)  # the next OTP number: a used one is refused as a replay
    key = to_confirm(web, alice_bank, to_account_number=bob_bank.account.number, amount=f"{OTP_PER_TRANSFER:,}")
    assert receipt_of(submit(web, alice_bank, key, medium=otp_number(T0 + dt.timedelta(seconds=60)))).amount == (
        OTP_PER_TRANSFER
    )
    assert balance(alice_bank.account) == DEPOSIT - over_card - OTP_PER_TRANSFER
    assert balance(bob_bank.account) == 10 + over_card + OTP_PER_TRANSFER
