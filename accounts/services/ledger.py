"""Deposit accounts and the double-entry ledger: opening, posting, cash, reversals.

Lock order, everywhere (docs/architecture.md, "Lock order"): customer accounts by primary key,
then internal accounts, then the audit append last.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts import accountnumbers
from accounts.models import Account, AccountNumberSequence, Customer, DepositProduct, Journal, LedgerEntry
from accounts.services._common import Actor, require_not_own_record, require_perm, user_or_none
from accounts.services.passwords import hash_account_password, require_account_password, validate_account_password
from bankportal.audit.services import audit_record

ERR_PRODUCT_NOT_ON_SALE = _("This product is no longer on sale.")
ERR_OPENING_AMOUNT = _("The opening deposit is below this product's minimum.")
ERR_AMOUNT_POSITIVE = _("Enter an amount of at least 1 won.")
ERR_INSUFFICIENT_FUNDS = _("The balance is not enough for this withdrawal.")
ERR_ACCOUNT_CLOSED = _("The account is closed.")
ERR_ACCOUNT_FROZEN = _("Payments from this account are stopped.")
ERR_NOT_CUSTOMER_ACCOUNT = _("Cash can only be deposited to or withdrawn from a customer account.")
ERR_ALREADY_REVERSED = _("This journal has already been reversed.")
ERR_CANNOT_REVERSE_REVERSAL = _("A reversal cannot itself be reversed; post a new transaction instead.")
ERR_REVERSAL_REASON = _("Give the reason for the reversal.")


def _next_account_number(branch: str, product_code: str) -> str:
    sequence, _created = AccountNumberSequence.objects.get_or_create(branch=branch, product_code=product_code)
    # Lock the counter row so two tellers opening accounts at once never get the same serial.
    sequence = AccountNumberSequence.objects.select_for_update().get(pk=sequence.pk)
    sequence.last_serial += 1
    sequence.save(update_fields=["last_serial"])
    return accountnumbers.build(branch, product_code, sequence.last_serial)


def internal_account(code: str) -> Account:
    return Account.objects.get(kind=Account.Kind.INTERNAL, internal_code=code)


@transaction.atomic
def account_open(
    *,
    customer: Customer,
    product: DepositProduct,
    password: str,
    opening_deposit: int = 0,
    branch: str | None = None,
    actor: Actor,
) -> Account:
    """Open a deposit account, with an optional cash opening deposit.

    Raises ``ValidationError`` for a bad password, a product off sale or a deposit below the
    product's minimum; ``PermissionDenied`` without ``accounts.add_account`` (and
    ``accounts.take_cash`` for an opening deposit).
    """
    require_perm(actor, "accounts.add_account")
    require_not_own_record(actor, customer.pk)
    validate_account_password(password)
    if not product.is_active:
        raise ValidationError(ERR_PRODUCT_NOT_ON_SALE, code="product_not_on_sale")
    if not isinstance(opening_deposit, int) or opening_deposit < 0:
        raise ValidationError(ERR_AMOUNT_POSITIVE, code="amount_positive")
    if opening_deposit < product.min_opening_amount:
        raise ValidationError(ERR_OPENING_AMOUNT, code="opening_amount")
    branch = branch or settings.BANK_DEFAULT_BRANCH
    account = Account.objects.create(
        number=_next_account_number(branch, product.code),
        kind=Account.Kind.CUSTOMER,
        product=product,
        holder=customer,
        branch=branch,
        password_hash=hash_account_password(password),
    )
    if opening_deposit:
        cash_deposit(account=account, amount=opening_deposit, actor=actor, memo=str(_("Opening deposit")))
        account.refresh_from_db(fields=["balance"])
    # Audit last: the lock order is accounts, then internal accounts, then the audit append.
    audit_record(
        action="account.open",
        actor=actor,
        customer_id=customer.pk,
        obj=account,
        details={"number": account.number, "product": product.code, "branch": branch, "deposit": opening_deposit},
    )
    return account


def _check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValidationError(ERR_AMOUNT_POSITIVE, code="amount_positive")


@transaction.atomic
def ledger_post(
    *,
    kind: str,
    legs: Sequence[tuple[Account, int]],
    actor: Actor,
    memo: str = "",
    reverses: Journal | None = None,
) -> Journal:
    """Post one balanced journal: lock the accounts, check the rules, move the balances.

    Raises ``ValidationError`` when a customer account would go below zero or is closed or
    frozen for a debit. Raises ``ValueError`` for legs that do not sum to zero (a bug).
    """
    if len(legs) < 2:
        raise ValueError("a journal needs at least two legs")
    if any(isinstance(a, bool) or not isinstance(a, int) or a == 0 for _acc, a in legs):
        raise ValueError("every leg moves a non-zero whole number of won")
    if sum(amount for _acc, amount in legs) != 0:
        raise ValueError("journal legs must sum to zero")
    ids = [account.pk for account, _amount in legs]
    if len(set(ids)) != len(ids):
        raise ValueError("an account appears twice in one journal")
    # Lock in primary-key order so two journals over the same accounts cannot deadlock,
    # and so the balance we check is the balance we write.
    locked = {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    for account_id, amount in ((a.pk, amt) for a, amt in legs):
        account = locked[account_id]
        if account.status == Account.Status.CLOSED:
            raise ValidationError(ERR_ACCOUNT_CLOSED, code="account_closed")
        if amount < 0 and account.status == Account.Status.FROZEN:
            raise ValidationError(ERR_ACCOUNT_FROZEN, code="account_frozen")
        if account.balance + amount < 0 and not account.allow_negative:
            raise ValidationError(ERR_INSUFFICIENT_FUNDS, code="insufficient_funds")
    journal = Journal.objects.create(kind=kind, memo=memo[:100], created_by=user_or_none(actor), reverses=reverses)
    entries = []
    for account_id, amount in ((a.pk, amt) for a, amt in legs):
        account = locked[account_id]
        account.balance += amount
        account.save(update_fields=["balance"])
        entries.append(LedgerEntry(journal=journal, account=account, amount=amount, balance_after=account.balance))
    LedgerEntry.objects.bulk_create(entries)
    return journal


def _require_customer_account(account: Account) -> None:
    if account.kind != Account.Kind.CUSTOMER:
        raise ValidationError(ERR_NOT_CUSTOMER_ACCOUNT, code="not_customer_account")


@transaction.atomic
def cash_deposit(*, account: Account, amount: int, actor: Actor, memo: str = "") -> Journal:
    """Cash paid in at the branch: customer account up, branch cash down.

    Raises ``PermissionDenied`` without ``accounts.take_cash`` or on the actor's own account.
    """
    require_perm(actor, "accounts.take_cash")
    require_not_own_record(actor, account.holder_id)
    _check_amount(amount)
    _require_customer_account(account)
    journal = ledger_post(
        kind=Journal.Kind.CASH_DEPOSIT,
        legs=[(account, amount), (internal_account(Account.Internal.BRANCH_CASH), -amount)],
        actor=actor,
        memo=memo or str(_("Cash deposit")),
    )
    audit_record(
        action="ledger.cash_deposit",
        actor=actor,
        customer_id=account.holder_id,
        obj=journal,
        details={"account": account.number, "amount": amount},
    )
    return journal


def cash_withdrawal(*, account: Account, amount: int, password: str, actor: Actor, memo: str = "") -> Journal:
    """Cash paid out at the branch against the account password.

    The password check commits on its own (a wrong entry counts even though we refuse);
    the posting is a separate transaction. Raises ``ValidationError`` for a wrong or locked
    password, a frozen or closed account, or a short balance.
    """
    require_perm(actor, "accounts.take_cash")
    require_not_own_record(actor, account.holder_id)
    _check_amount(amount)
    _require_customer_account(account)
    require_account_password(account=account, password=password, actor=actor)
    with transaction.atomic():
        journal = ledger_post(
            kind=Journal.Kind.CASH_WITHDRAWAL,
            legs=[(account, -amount), (internal_account(Account.Internal.BRANCH_CASH), amount)],
            actor=actor,
            memo=memo or str(_("Cash withdrawal")),
        )
        audit_record(
            action="ledger.cash_withdrawal",
            actor=actor,
            customer_id=account.holder_id,
            obj=journal,
            details={"account": account.number, "amount": amount},
        )
    return journal


@transaction.atomic
def journal_reverse(*, journal: Journal, reason: str, actor: Actor) -> Journal:
    """Post the mirror image of a journal (branch manager only).

    Raises ``PermissionDenied`` without ``accounts.reverse_journal``; ``ValidationError`` when the
    journal is a reversal, was already reversed, or the account no longer holds the money.
    """
    require_perm(actor, "accounts.reverse_journal")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(ERR_REVERSAL_REASON, code="reversal_reason")
    # Lock the original so two managers cannot reverse it twice at the same moment.
    original = Journal.objects.select_for_update().get(pk=journal.pk)
    if original.kind == Journal.Kind.REVERSAL:
        raise ValidationError(ERR_CANNOT_REVERSE_REVERSAL, code="cannot_reverse_reversal")
    if Journal.objects.filter(reverses=original).exists():
        raise ValidationError(ERR_ALREADY_REVERSED, code="already_reversed")
    legs = [(entry.account, -entry.amount) for entry in original.entries.select_related("account").order_by("pk")]
    reversal = ledger_post(
        kind=Journal.Kind.REVERSAL, legs=legs, actor=actor, memo=f"{_('Reversal')} #{original.pk}", reverses=original
    )
    customer_ids = sorted({acc.holder_id for acc, _amount in legs if acc.holder_id})
    audit_record(
        action="ledger.reverse",
        actor=actor,
        customer_id=customer_ids[0] if customer_ids else None,
        obj=reversal,
        details={"reverses": original.pk, "reason": reason[:200]},
    )
    return reversal
