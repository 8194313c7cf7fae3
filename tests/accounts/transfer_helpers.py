"""Helpers for the transfer tests: a customer with accounts, an active agreement, an internet-banking
login and a joint certificate, all made through the services; the signature the page would bind;
and the checker that proves a run of transfers kept every rule."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db.models import Sum

from accounts import services
from accounts.agreements import ID_DOCUMENT, Document, required_documents
from accounts.limits import Limit
from accounts.models import Account, Agreement, Customer, DailyTransferTotal, DepositProduct, Transfer, User
from accounts.selectors import internal_balance_live, ledger_problems
from accounts.services import agreement_online as online
from accounts.services.agreements import agreement_web_actor
from certcenter import services as cert_services
from tests.accounts.release_signing import CA_ACTOR, Cert, issue_certificate, sign
from tests.conftest import ACCOUNT_PASSWORD

LOGIN_PASSWORD = "Dasom-bank-2026!"
WEB = agreement_web_actor()


@dataclass
class Banker:
    """A customer able to bank online: accounts (all withdrawal accounts), login, certificate."""

    customer: Customer
    user: User
    accounts: list[Account]
    agreement: Agreement
    cert: Cert | None = None

    @property
    def account(self) -> Account:
        return self.accounts[0]


def _documents(customer: Customer) -> list[str]:
    wanted = required_documents(kind=customer.kind)
    return [Document.RESIDENT_CARD if item == ID_DOCUMENT else item for item in wanted]


def _id_number(customer: Customer) -> str:
    return (
        customer.brn if customer.kind == Customer.Kind.CORPORATION and customer.brn else services.customer_rrn(customer)
    )


def open_banking(
    customer: Customer,
    *,
    teller: User,
    product: DepositProduct,
    username: str,
    deposits: Sequence[int] = (1_000_000,),
    certificate: bool = True,
) -> Banker:
    """Accounts with opening deposits, an agreement over all of them, registered online, a certificate."""
    accounts = [
        services.account_open(
            customer=customer, product=product, password=ACCOUNT_PASSWORD, opening_deposit=amount, actor=teller
        )
        for amount in deposits
    ]
    services.agreement_apply(
        customer=customer, withdrawal_accounts=accounts, documents=_documents(customer), actor=teller
    )
    agreement = online.agreement_identify(
        purpose="register",
        name=customer.name,
        id_number=_id_number(customer),
        account_number=accounts[0].number,
        account_password=ACCOUNT_PASSWORD,
        actor=WEB,
    )
    agreement = services.agreement_register_online(
        agreement=agreement, medium_verified=True, username=username, password=LOGIN_PASSWORD, actor=WEB
    )
    assert agreement.user is not None
    banker = Banker(customer=customer, user=agreement.user, accounts=accounts, agreement=agreement)
    if certificate:
        banker.cert = issue_certificate(agreement, accounts[0], key_name=username)
    customer.refresh_from_db()
    return banker


def ca_ready() -> None:
    cert_services.ca_init(actor=CA_ACTOR)


def signer(
    banker: Banker, *, now: dt.datetime | None = None, key: rsa.RSAPrivateKey | None = None
) -> Callable[[str], Any]:
    """What the page passes as ``signature``: verify the browser's signature over the text, keep it."""
    assert banker.cert is not None

    def verify(text: str) -> Any:
        assert banker.cert is not None
        return cert_services.signature_verify(
            customer=banker.customer,
            certificate_der=banker.cert.der,
            text=text,
            signature=sign(key or banker.cert.key, text),
            purpose="transfer",
            actor=banker.user,
            now=now,
        )

    return verify


def key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def new_key() -> str:
    return str(uuid.uuid4())


# --- the checker ----------------------------------------------------------------------------------


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.problems.append(text)


def transfer_problems(*, limits: dict[int, Limit], money_before: int) -> list[str]:
    """Everything a run of transfers must leave true, as a list of broken rules (empty: all kept).

    ``limits``: customer id -> the limit that applied all run; ``money_before``: the customers'
    balances before (money only moves, so customer balances plus the clearing legs stay equal).
    """
    found = Findings()
    for problem in ledger_problems():
        found.add(f"ledger: {problem.kind} {problem.ref} {problem.detail}")
    customer_money = Account.objects.filter(kind=Account.Kind.CUSTOMER).aggregate(s=Sum("balance"))["s"] or 0
    clearing = sum(
        internal_balance_live(a) for a in Account.objects.filter(internal_code=Account.Internal.INTERBANK_CLEARING)
    )
    if customer_money + clearing != money_before:
        found.add(f"money not conserved: {customer_money} + clearing {clearing} != {money_before}")
    if Account.objects.filter(kind=Account.Kind.CUSTOMER, balance__lt=0).exists():
        found.add("a customer balance is negative")
    per_day: dict[tuple[int, dt.date], int] = defaultdict(int)
    for transfer in Transfer.objects.select_related("journal"):
        per_day[(transfer.customer_id, transfer.kst_day)] += transfer.amount
        limit = limits.get(transfer.customer_id)
        if limit is not None and transfer.amount > limit.per_transfer:
            found.add(f"{transfer.reference}: {transfer.amount} over the per-transfer limit {limit.per_transfer}")
        legs = sorted(transfer.journal.entries.values_list("amount", flat=True))
        if legs != [-transfer.amount, transfer.amount]:
            found.add(f"{transfer.reference}: journal legs {legs} do not move {transfer.amount}")
    for (customer_id, day), sent in per_day.items():
        limit = limits.get(customer_id)
        if limit is not None and sent > limit.per_day:
            found.add(f"customer {customer_id} sent {sent} on {day}, over the daily limit {limit.per_day}")
    totals = {(t.customer_id, t.day): t.total for t in DailyTransferTotal.objects.all()}
    for key, sent in per_day.items():
        if totals.get(key, 0) != sent:
            found.add(f"day total {key} is {totals.get(key, 0)}, transfers add up to {sent}")
    return found.problems
