"""Deposit accounts and the double-entry ledger: opening, posting, cash, reversals, roll-up.

Lock order (the one rule every service that moves money follows; docs/architecture.md, "Lock order"):

0. the *document* rows the service acts on, first: the agreement; a transfer's or limit change's
   ``DailyTransferTotal`` day row; the certificates (signature evidence); the transfer being
   returned, then its journal; the journal being reversed, or the account-number counter of a new
   account;
1. customer accounts in primary-key order, each locked, checked and moved by one
   ``UPDATE ... RETURNING``;
2. internal accounts (branch cash, fee income, clearing): never locked by a posting. Their legs
   are appended (``balance_after`` NULL) and their balance is rolled up later by
   ``internal_balances_roll_up``, the only writer of internal account rows;
3. the audit append, last (an insert that takes no lock).

Checks run after the locks; a password check commits on its own before step 1.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Max, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import accountnumbers
from accounts.models import Account, AccountNumberSequence, Customer, DepositProduct, Journal, LedgerEntry, StaffRequest
from accounts.services._approval import claim_approved_request, target_id
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


# Internal account numbers: branch (or ``000`` for head office), product ``99``, and a serial per
# purpose. 0002's bank-wide accounts are ``000``'s serials 1-3, so they read as head office's.
INTERNAL_PRODUCT_CODE = "99"
HEAD_OFFICE_BRANCH = "000"
_BRANCH_SERIALS = {Account.Internal.BRANCH_CASH: 1, Account.Internal.FEE_INCOME: 2}
_CLEARING_SERIAL_BASE = 1000  # + the counterparty's 3-digit institution code

# Per process: (code, branch, counterparty) -> internal account. Filled only after a commit that
# saw the row, so a rolled-back creation is never cached (tests clear it after a flush).
_internal_cache: dict[tuple[str, str, str], Account] = {}


def _three_digits(value: str, what: str) -> str:
    if not (isinstance(value, str) and len(value) == 3 and value.isdigit()):
        raise ValueError(f"{what} must be 3 digits, got {value!r}")
    return value


def internal_account(code: str, *, branch: str = HEAD_OFFICE_BRANCH, counterparty_bank: str = "") -> Account:
    """The internal account for ``code`` at ``branch`` (or for ``counterparty_bank``), created on first use.

    Creation is race-safe: two first postings at a new branch both try the INSERT, the unique
    constraint ``account_internal_unique`` lets one win and the other reads the winner's row.
    """
    key = (str(code), _three_digits(branch, "branch"), counterparty_bank)
    cached = _internal_cache.get(key)
    if cached is not None:
        return cached
    if code == Account.Internal.INTERBANK_CLEARING:
        serial = _CLEARING_SERIAL_BASE + int(_three_digits(counterparty_bank, "counterparty bank"))
    elif code in _BRANCH_SERIALS and not counterparty_bank:
        serial = _BRANCH_SERIALS[Account.Internal(code)]
    else:
        raise ValueError(f"no internal account {code!r} for branch {branch!r} / bank {counterparty_bank!r}")
    account, _created = Account.objects.get_or_create(
        internal_code=code,
        branch=branch,
        counterparty_bank=counterparty_bank,
        defaults={
            "number": accountnumbers.build(branch, INTERNAL_PRODUCT_CODE, serial),
            "kind": Account.Kind.INTERNAL,
            "allow_negative": True,
        },
    )
    transaction.on_commit(lambda: _internal_cache.setdefault(key, account))
    return account


def internal_account_cache_clear() -> None:
    """Forget cached internal accounts (after a test flush recreated them with new keys)."""
    _internal_cache.clear()


def branch_cash_account(branch: str) -> Account:
    """The branch's till: cash is physically per branch, so is its account."""
    return internal_account(Account.Internal.BRANCH_CASH, branch=branch)


def fee_income_account(branch: str) -> Account:
    return internal_account(Account.Internal.FEE_INCOME, branch=branch)


def clearing_account(bank_code: str) -> Account:
    """Interbank clearing with one counterparty institution (3-digit code, domain.md "Reference data")."""
    return internal_account(Account.Internal.INTERBANK_CLEARING, counterparty_bank=bank_code)


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
    number = _next_account_number(branch, product.code)
    password_key_id, password_hash = hash_account_password(password, account_number=number)
    account = Account.objects.create(
        number=number,
        kind=Account.Kind.CUSTOMER,
        product=product,
        holder=customer,
        branch=branch,
        password_hash=password_hash,
        password_key_id=password_key_id,
    )
    if opening_deposit:
        # Posting sets ``account.balance``; the new row is locked (step 1) and branch cash appended (step 2).
        cash_deposit(account=account, amount=opening_deposit, actor=actor, memo=str(_("Opening deposit")))
    # Audit last (step 3), after the posting: see "Lock order" at the top of this module.
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


_MOVE_SQL = (
    "UPDATE accounts_account SET balance = balance + %(amount)s"
    " WHERE id = %(pk)s AND kind = 'customer' AND status <> 'closed'"
    " AND (%(amount)s > 0 OR status <> 'frozen') AND (balance + %(amount)s >= 0 OR allow_negative)"
    " RETURNING balance"
)


def _move_customer_balance(pk: int, amount: int) -> int:
    """Lock one customer account, check it may move ``amount``, move it; return the new balance.

    Raises ``ValidationError`` (closed, frozen for a debit, not enough money) with nothing written.
    """
    with connection.cursor() as cursor:
        cursor.execute(_MOVE_SQL, {"amount": amount, "pk": pk})
        row = cursor.fetchone()
    if row is not None:
        return int(row[0])
    # Refused: lock the row (same order, it is this journal's next) and say why.
    current = Account.objects.select_for_update().get(pk=pk, kind=Account.Kind.CUSTOMER)
    if current.status == Account.Status.CLOSED:
        raise ValidationError(ERR_ACCOUNT_CLOSED, code="account_closed")
    if amount < 0 and current.status == Account.Status.FROZEN:
        raise ValidationError(ERR_ACCOUNT_FROZEN, code="account_frozen")
    raise ValidationError(ERR_INSUFFICIENT_FUNDS, code="insufficient_funds")


@transaction.atomic(savepoint=False)  # no savepoint round trips: any error aborts the caller too
def ledger_post(
    *,
    kind: str,
    legs: Sequence[tuple[Account, int]],
    actor: Actor,
    memo: str = "",
    reverses: Journal | None = None,
) -> Journal:
    """Post one balanced journal: lock the customer accounts, check the rules, move the balances.

    Customer legs are locked by primary key and carry ``balance_after``; internal legs are only
    appended (never locked, ``balance_after`` NULL). The ``Account`` objects passed in for
    customer legs get their new ``balance``. Raises ``ValidationError`` when a customer account
    would go below zero or is closed, or frozen for a debit; ``ValueError`` for legs that do not
    sum to zero or repeat an account (a bug).
    """
    if len(legs) < 2:
        raise ValueError("a journal needs at least two legs")
    if any(isinstance(a, bool) or not isinstance(a, int) or a == 0 for _acc, a in legs):
        raise ValueError("every leg moves a non-zero whole number of won")
    if sum(amount for _acc, amount in legs) != 0:
        raise ValueError("journal legs must sum to zero")
    ids = [account.pk for account, _amount in legs]
    if None in ids or len(set(ids)) != len(ids):
        raise ValueError("every leg needs a saved account, each at most once")
    moves = sorted((a.pk, amount) for a, amount in legs if a.kind == Account.Kind.CUSTOMER)
    # Lock order step 1: customer accounts in primary-key order, so two journals over the same
    # accounts cannot deadlock. Each is one UPDATE ... RETURNING that locks the row, checks the
    # rules against the locked row and moves the balance in a single round trip.
    balances = {pk: _move_customer_balance(pk, amount) for pk, amount in moves}
    journal = Journal.objects.create(kind=kind, memo=memo[:100], created_by=user_or_none(actor), reverses=reverses)
    entries = []
    for account, amount in legs:
        if account.pk in balances:
            account.balance = balances[account.pk]
            entries.append(LedgerEntry(journal=journal, account=account, amount=amount, balance_after=account.balance))
        else:
            # Step 2: an internal leg is appended only; the roll-up job folds it into the balance.
            entries.append(LedgerEntry(journal=journal, account=account, amount=amount, balance_after=None))
    LedgerEntry.objects.bulk_create(entries)
    return journal


def _require_customer_account(account: Account) -> None:
    if account.kind != Account.Kind.CUSTOMER:
        raise ValidationError(ERR_NOT_CUSTOMER_ACCOUNT, code="not_customer_account")


@transaction.atomic
def cash_deposit(*, account: Account, amount: int, actor: Actor, memo: str = "", branch: str | None = None) -> Journal:
    """Cash paid in at ``branch`` (default: the account's branch): customer account up, that branch's cash down.

    Raises ``PermissionDenied`` without ``accounts.take_cash`` or on the actor's own account.
    """
    require_perm(actor, "accounts.take_cash")
    require_not_own_record(actor, account.holder_id)
    _check_amount(amount)
    _require_customer_account(account)
    journal = ledger_post(
        kind=Journal.Kind.CASH_DEPOSIT,
        legs=[(account, amount), (branch_cash_account(branch or account.branch), -amount)],
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


def cash_withdrawal(
    *, account: Account, amount: int, password: str, actor: Actor, memo: str = "", branch: str | None = None
) -> Journal:
    """Cash paid out at ``branch`` (default: the account's branch) against the account password.

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
            legs=[(account, -amount), (branch_cash_account(branch or account.branch), amount)],
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
def journal_reverse(*, request: StaffRequest, actor: Actor) -> Journal:
    """Post the mirror image of a journal, as an approved staff request orders (책임자 승인).

    Only reachable through ``staff_request_approve``; the reason is the request's. Raises
    ``PermissionDenied`` without ``accounts.reverse_journal`` or outside an approved request (see
    ``claim_approved_request``); ``ValidationError`` when the journal is a reversal, was already
    reversed, or the account no longer holds the money.
    """
    require_perm(actor, "accounts.reverse_journal")
    # Lock order step 0 (the documents): the staff request, then the journal, so two managers
    # cannot reverse the same journal twice at once.
    request = claim_approved_request(request=request, kind=StaffRequest.Kind.JOURNAL_REVERSE, actor=actor)
    reason = (request.reason or "").strip()
    if not reason:
        raise ValidationError(ERR_REVERSAL_REASON, code="reversal_reason")
    original = Journal.objects.select_for_update().get(pk=target_id(request.journal_id))
    if original.kind == Journal.Kind.REVERSAL:
        raise ValidationError(ERR_CANNOT_REVERSE_REVERSAL, code="cannot_reverse_reversal")
    if Journal.objects.filter(reverses=original).exists():
        raise ValidationError(ERR_ALREADY_REVERSED, code="already_reversed")
    legs = [(entry.account, -entry.amount) for entry in original.entries.select_related("account").order_by("pk")]
    # Steps 1-2 in ledger_post: its customer accounts by pk; internal legs appended unlocked.
    reversal = ledger_post(
        kind=Journal.Kind.REVERSAL, legs=legs, actor=actor, memo=f"{_('Reversal')} #{original.pk}", reverses=original
    )
    customer_ids = sorted({acc.holder_id for acc, _amount in legs if acc.holder_id})
    audit_record(
        action="ledger.reverse",
        actor=actor,
        customer_id=customer_ids[0] if customer_ids else None,
        obj=reversal,
        details={"reverses": original.pk, "reason": reason[:200], "staff_request": request.pk},
    )
    return reversal


def _rollup_horizon() -> tuple[Q, dict[str, object]]:
    """Which entries are final: a filter on entries, and the watermark fields that record it.

    PostgreSQL: every transaction whose id is below the oldest still-running one has finished
    (committed or rolled back), so entries with ``txid`` below that horizon can never change or
    appear later. SQLite has one writer, so every entry visible now is final.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            horizon = cursor.fetchone()[0]
        since = Q(account__rollup_xid__isnull=True) | Q(txid__gte=F("account__rollup_xid"))
        return Q(txid__lt=horizon) & since, {"rollup_xid": horizon}
    last = LedgerEntry.objects.aggregate(last=Max("pk"))["last"] or 0
    return Q(pk__lte=last, pk__gt=F("account__rollup_entry_id")), {"rollup_entry_id": last}


@transaction.atomic
def internal_balances_roll_up(*, actor: Actor) -> int:
    """Fold the entries of finished transactions into each internal account's ``balance``.

    The only writer of internal account rows (postings append entries and never touch them), run
    every minute by ``internal_balances_roll_up_task``. ``FOR NO KEY UPDATE`` does not conflict
    with the ``KEY SHARE`` lock each posting's foreign-key check takes, so postings never wait for
    it. Returns how many balances moved. Raises ``PermissionDenied`` without ``accounts.change_account``.
    """
    require_perm(actor, "accounts.change_account")
    # Serialises concurrent roll-ups (a second one waits, then finds nothing new); in pk order.
    accounts = {
        a.pk: a
        for a in Account.objects.select_for_update(no_key=True).filter(kind=Account.Kind.INTERNAL).order_by("pk")
    }
    # The horizon is read after the locks, so it is never behind the watermark a previous run wrote.
    final, watermark = _rollup_horizon()
    totals = (
        LedgerEntry.objects.filter(final, account__kind=Account.Kind.INTERNAL)
        .values("account_id")
        .annotate(total=Coalesce(Sum("amount"), Value(0)))
    )
    now = timezone.now()
    moved = {}
    for row in totals:
        account = accounts[row["account_id"]]
        if row["total"]:
            account.balance += row["total"]
            Account.objects.filter(pk=account.pk).update(balance=account.balance)
            moved[account.number] = row["total"]
    Account.objects.filter(pk__in=list(accounts)).update(rolled_up_at=now, **watermark)
    if moved:
        audit_record(
            action="ledger.internal_roll_up",
            actor=actor,
            details={"accounts": len(moved), "net": sum(moved.values())},
        )
    return len(moved)
