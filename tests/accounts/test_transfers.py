"""Transfers: own account, another account here, another bank; the signed text, replays, and refusals
that write nothing but their audit event."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from accounts import services
from accounts.limits import Tier
from accounts.models import Account, DailyTransferTotal, Journal, LedgerEntry, Transfer
from accounts.selectors import ledger_problems
from accounts.services import transfers as svc
from accounts.services.ledger import clearing_account
from bankportal.audit.models import AuditEvent
from bankportal.timeutil import KST
from certcenter.models import SignatureEvidence
from otp.services.cards import security_card_issue
from otp.services.verification import security_tier
from tests.accounts.release_signing import customer_key
from tests.accounts.transfer_helpers import Banker, ca_ready, new_key, open_banking, signer

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 10, 12, 0, tzinfo=KST)


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice_bank(clock, alice, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    ca_ready()
    return open_banking(alice, teller=teller, product=demand_product, username="alice2026", deposits=(5_000_000, 10))


@pytest.fixture
def bob_bank(clock, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]
    from accounts.models import Customer
    from tests.conftest import rrn_for_age

    bob = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박보브", phone="010-3333-4444", rrn=rrn_for_age(40), actor=teller
    )
    return open_banking(
        bob, teller=teller, product=demand_product, username="bob2026", deposits=(10,), certificate=False
    )


def send(banker: Banker, *, amount: int, to: str, destination: str = "same_bank", **overrides: Any) -> Transfer:
    data: dict[str, Any] = {
        "customer": banker.customer,
        "from_account": banker.account,
        "destination": destination,
        "to_account_number": to,
        "to_bank_code": "",
        "amount": amount,
        "memo_sender": "",
        "memo_recipient": "",
        "idempotency_key": new_key(),
        "tier": Tier.GENERAL,
        "medium_verified": True,
        "signature": signer(banker),
        "actor": banker.user,
    }
    data.update(overrides)
    return svc.transfer_execute(**data)


def written() -> tuple[int, int, int, int, int]:
    """What a transfer writes: transfers, journals, entries, day totals, signatures."""
    return (
        Transfer.objects.count(),
        Journal.objects.count(),
        LedgerEntry.objects.count(),
        DailyTransferTotal.objects.count(),
        SignatureEvidence.objects.filter(purpose="transfer").count(),
    )


def balance(account: Account) -> int:
    return Account.objects.get(pk=account.pk).balance


# --- completed transfers ----------------------------------------------------------------------------


def test_a_transfer_to_another_customer_here_moves_the_money_signed_and_audited(alice_bank, bob_bank) -> None:
    transfer = send(alice_bank, amount=300_000, to=bob_bank.account.number_display, memo_recipient="월세")
    assert transfer.status == Transfer.Status.COMPLETED
    assert transfer.destination == Transfer.Destination.SAME_BANK
    assert transfer.recipient_name == "박보브" and transfer.to_account == bob_bank.account
    assert transfer.to_bank_code == settings.BANK_CODE and transfer.to_account_number == bob_bank.account.number
    assert transfer.reference == f"20260310{transfer.journal_id:012d}" and len(transfer.reference) == 20
    assert transfer.kst_day == dt.date(2026, 3, 10) and transfer.created_at == T0
    assert balance(alice_bank.account) == 4_700_000 and balance(bob_bank.account) == 300_010
    evidence = transfer.signature_evidence
    assert evidence is not None and evidence.purpose == "transfer" and evidence.customer_id == alice_bank.customer.pk
    assert "amount=300000" in evidence.text and f"key={transfer.idempotency_key}" in evidence.text
    assert "memo_recipient=월세" in evidence.text and "recipient=박보브" in evidence.text
    assert DailyTransferTotal.objects.get(customer=alice_bank.customer).total == 300_000
    event = AuditEvent.objects.get(action="transfer.execute")
    assert event.actor_id == alice_bank.user.pk and event.details["amount"] == 300_000
    assert event.details["evidence"] == evidence.pk
    assert ledger_problems() == []


def test_a_transfer_between_own_accounts(alice_bank) -> None:
    transfer = send(alice_bank, amount=1_000, to=alice_bank.accounts[1].number, destination="own")
    assert transfer.destination == "own" and transfer.to_account == alice_bank.accounts[1]
    assert balance(alice_bank.accounts[1]) == 1_010


def test_own_account_means_own(alice_bank, bob_bank) -> None:
    with pytest.raises(ValidationError) as exc:
        send(alice_bank, amount=1_000, to=bob_bank.account.number, destination="own")
    assert exc.value.code == "not_own_account"


def test_a_transfer_to_another_bank_goes_to_its_clearing_account_and_waits_in_the_queue(alice_bank) -> None:
    transfer = send(alice_bank, amount=50_000, to="110-123-456789", destination="other_bank", to_bank_code="088")
    assert transfer.status == Transfer.Status.QUEUED and transfer.to_account is None
    assert transfer.to_account_number == "110123456789" and transfer.recipient_name == "예금주6789"
    legs = dict(transfer.journal.entries.values_list("account_id", "amount"))
    assert legs == {alice_bank.account.pk: -50_000, clearing_account("088").pk: 50_000}
    assert ledger_problems() == []


@pytest.mark.parametrize(
    ("code", "number", "refusal"),
    [
        ("997", "110123456789", "bank_code"),  # our own code is not "another bank"
        ("999", "110123456789", "bank_code"),
        ("", "110123456789", "bank_code"),
        ("088", "12345", "account_number"),
        ("088", "1" * 21, "account_number"),
        ("088", "11012345678x", "account_number"),
    ],
)
def test_another_bank_needs_a_listed_code_and_a_plausible_number(alice_bank, code, number, refusal) -> None:
    before = written()
    with pytest.raises(ValidationError) as exc:
        send(alice_bank, amount=1_000, to=number, destination="other_bank", to_bank_code=code)
    assert exc.value.code == refusal and written() == before


@pytest.mark.parametrize(
    ("number", "refusal"), [("101-01-000001-0", "account_number"), ("101-01-999999-1", "no_such_account")]
)
def test_a_number_here_must_be_valid_and_exist(alice_bank, number, refusal) -> None:
    from accounts.accountnumbers import luhn_check_digit

    if refusal == "no_such_account":
        number = "10101999999" + str(luhn_check_digit("10101999999"))
    with pytest.raises(ValidationError) as exc:
        send(alice_bank, amount=1_000, to=number)
    assert exc.value.code == refusal


# --- idempotency -------------------------------------------------------------------------------------


def test_submitting_one_form_twice_makes_one_transfer_and_the_same_receipt(alice_bank, bob_bank) -> None:
    key = new_key()
    first = send(alice_bank, amount=10_000, to=bob_bank.account.number, idempotency_key=key)
    before = written()
    # The replay does not even need the medium or a signature again: nothing moves.
    again = send(
        alice_bank, amount=10_000, to=bob_bank.account.number, idempotency_key=key, medium_verified=False,
        signature=lambda _text: None,
    )  # fmt: skip
    assert again.pk == first.pk and again.reference == first.reference
    assert written() == before and balance(alice_bank.account) == 4_990_000
    assert svc.transfer_for_key(alice_bank.customer, key) == first


def test_the_same_key_with_other_details_is_refused(alice_bank, bob_bank) -> None:
    key = new_key()
    send(alice_bank, amount=10_000, to=bob_bank.account.number, idempotency_key=key)
    with pytest.raises(ValidationError) as exc:
        send(alice_bank, amount=20_000, to=bob_bank.account.number, idempotency_key=key)
    assert exc.value.code == "idempotency_key_reused"
    assert Transfer.objects.count() == 1


@pytest.mark.parametrize("key", ["", "not-a-uuid", None])
def test_a_missing_or_tampered_form_key_is_refused(alice_bank, bob_bank, key) -> None:
    with pytest.raises(ValidationError) as exc:
        send(alice_bank, amount=10_000, to=bob_bank.account.number, idempotency_key=key)
    assert exc.value.code == "form_key"


# --- refusals write nothing -------------------------------------------------------------------------


def _suspend(banker: Banker) -> None:
    services.agreement_suspend(agreement=banker.agreement, reason="customer_request", actor=banker.user)


def _close_other_key(banker: Banker) -> Any:
    return signer(banker, key=customer_key("someone-else"))


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"amount": 5_000_001}, "insufficient_funds"),
        ({"amount": 0}, "amount_positive"),
        ({"amount": -5}, "amount_positive"),
        ({"amount": 1.5}, "amount_positive"),
        ({"medium_verified": False}, "medium_not_verified"),
        ({"signature": lambda _text: None}, "signature_required"),
        ({"signature": "wrong key"}, "bad_signature"),
        ({"memo_sender": "x" * 21}, "memo"),
        ({"memo_recipient": "a\nb"}, "memo"),
        ({"destination": "elsewhere"}, "destination"),
        ({"tier": Tier.NONE}, "no_security_medium"),
        ({"from_account": "bob"}, "from_account"),
        ({"to": "self"}, "same_account"),
        ({"suspended": True}, "agreement_not_active"),
    ],
)
def test_a_refused_transfer_writes_nothing_but_its_audit_event(alice_bank, bob_bank, overrides, code) -> None:
    """No transfer, journal, entry, day total or signature evidence; balances as they were."""
    overrides = dict(overrides)
    if overrides.get("signature") == "wrong key":
        overrides["signature"] = _close_other_key(alice_bank)
    to = bob_bank.account.number
    if overrides.get("from_account") == "bob":
        overrides["from_account"] = bob_bank.account
        to = alice_bank.accounts[1].number
    if overrides.pop("to", None) == "self":
        to = alice_bank.account.number
    if overrides.pop("suspended", False):
        _suspend(alice_bank)
    before, money = written(), (balance(alice_bank.account), balance(bob_bank.account))
    with pytest.raises(ValidationError) as exc:
        send(alice_bank, to=to, **{"amount": 1_000, **overrides})
    assert exc.value.code == code
    assert written() == before
    assert (balance(alice_bank.account), balance(bob_bank.account)) == money
    refused = AuditEvent.objects.filter(action="transfer.refused").latest("pk")
    assert refused.details["reason"] == code and refused.customer_ref == alice_bank.customer.pk


def test_only_the_customer_makes_their_transfers(alice_bank, bob_bank, teller) -> None:
    for actor in (teller, bob_bank.user):
        with pytest.raises(PermissionDenied):
            send(alice_bank, amount=1_000, to=bob_bank.account.number, actor=actor)
    assert Transfer.objects.count() == 0


def test_the_signed_text_names_every_detail_and_a_signature_over_other_details_fails(alice_bank, bob_bank) -> None:
    recipient = svc.transfer_recipient(
        customer=alice_bank.customer, destination="same_bank", to_account_number=bob_bank.account.number
    )
    key = new_key()
    text = svc.transfer_canonical_text(
        customer=alice_bank.customer,
        from_account=alice_bank.account,
        recipient=recipient,
        amount=7_000,
        memo_sender="a",
        memo_recipient="b",
        idempotency_key=key,
    )
    assert text.splitlines() == sorted(text.splitlines())
    for line in (
        f"from_account={alice_bank.account.number}",
        f"to_account={bob_bank.account.number}",
        "to_bank=997",
        "amount=7000",
        "memo_sender=a",
        "memo_recipient=b",
        f"key={key}",
        "action=transfer",
    ):
        assert line in text.splitlines()  # fmt: skip
    assert alice_bank.cert is not None
    from certcenter import services as cert_services
    from tests.accounts.release_signing import sign

    signed_for_8000 = text.replace("amount=7000", "amount=8000")

    def page_signed_other_text(server_text: str) -> Any:
        assert alice_bank.cert is not None
        return cert_services.signature_verify(
            customer=alice_bank.customer,
            certificate_der=alice_bank.cert.der,
            text=server_text,
            signature=sign(alice_bank.cert.key, signed_for_8000),
            purpose="transfer",
            actor=alice_bank.user,
        )

    with pytest.raises(ValidationError) as exc:
        send(alice_bank, amount=7_000, to=bob_bank.account.number, memo_sender="a", memo_recipient="b",
             idempotency_key=key, signature=page_signed_other_text)  # fmt: skip
    assert exc.value.code == "bad_signature"


def test_a_refusal_says_what_to_do_in_english(alice_bank, bob_bank) -> None:
    with pytest.raises(ValidationError) as exc:
        send(alice_bank, amount=6_000_000, to=bob_bank.account.number)
    with translation.override("en"):
        assert exc.value.messages == [
            str(svc.ERR_INSUFFICIENT_FUNDS) % {"balance": "5,000,000"}
        ]  # the balance available


def test_the_tier_comes_from_the_security_medium(alice_bank, bob_bank, teller) -> None:
    """With a security card only, the general tier's 10,000,000 won per transfer applies."""
    security_card_issue(customer=alice_bank.customer, actor=teller)
    tier = security_tier(alice_bank.customer)
    assert tier == Tier.GENERAL
    services.cash_deposit(account=alice_bank.account, amount=20_000_000, actor=teller)
    with pytest.raises(ValidationError) as exc:
        send(alice_bank, amount=10_000_001, to=bob_bank.account.number, tier=tier)
    assert exc.value.code == "per_transfer_limit"
    assert send(alice_bank, amount=10_000_000, to=bob_bank.account.number, tier=tier).amount == 10_000_000
