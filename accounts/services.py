"""Every state change of customers, accounts and the ledger.

Each public service is one transaction that also appends an audit event. Services raise
``ValidationError`` (with a ``code``) for business refusals and ``PermissionDenied`` when the
acting staff member lacks the permission; messages are the constants below.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import accountnumbers
from accounts.idnumbers import InvalidNumber, age_on, is_minor, mask_rrn, parse_brn, parse_rrn
from accounts.models import Account, AccountNumberSequence, Customer, DepositProduct, Journal, LedgerEntry, User
from bankportal import crypto
from bankportal.audit.services import audit_record
from bankportal.timeutil import kst_today

RRN_PURPOSE = "customer.rrn"
ACCOUNT_PASSWORD_MAX_FAILURES = 5
MIN_SOLO_AGE = 14  # house rule: a younger child is only registered together with a legal representative

ERR_NAME_REQUIRED = _("Enter the customer's name.")
ERR_PHONE_INVALID = _("Enter a mobile number such as 010-1234-5678.")
ERR_RRN_REQUIRED = _("Enter the resident registration number.")
ERR_RRN_FORMAT = _("Enter the resident registration number as 13 digits (YYMMDD-GNNNNNN).")
ERR_RRN_BIRTH_DATE = _("The first six digits of the resident registration number are not a real date of birth.")
ERR_RRN_FUTURE = _("The date of birth in the resident registration number is in the future.")
ERR_RRN_NOT_ALLOWED = _("A corporation is identified by its business registration number, not a resident number.")
ERR_BRN_REQUIRED = _("Enter the business registration number.")
ERR_BRN_FORMAT = _("Enter the business registration number as 10 digits (NNN-NN-NNNNN).")
ERR_BRN_CHECK_DIGIT = _("The business registration number is not valid (check digit mismatch).")
ERR_BRN_NOT_ALLOWED = _("An individual customer has no business registration number.")
ERR_DUPLICATE_RRN = _("A customer with this resident registration number already exists.")
ERR_DUPLICATE_BRN = _("A customer with this business registration number already exists.")
ERR_CHILD_NEEDS_REPRESENTATIVE = _("A child under 14 can only be registered with a legal representative.")
ERR_REPRESENTATIVE_INVALID = _("The legal representative must be an adult individual customer.")
ERR_REPRESENTATIVE_RELATION = _("Choose how the legal representative is related to the minor.")
ERR_REPRESENTATIVE_NOT_MINOR = _("Only a minor is registered with a legal representative.")
ERR_ACCOUNT_PASSWORD_FORMAT = _("The account password must be exactly 4 digits.")
ERR_ACCOUNT_PASSWORD_WEAK = _("Choose an account password that is not four equal digits or a straight run like 1234.")
ERR_ACCOUNT_PASSWORD_WRONG = _("The account password is wrong.")
ERR_ACCOUNT_PASSWORD_LOCKED = _(
    "The account password is locked after 5 wrong entries. Visit a branch with your ID to reset it."
)
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
ERR_MINOR_CAP_NOT_SET = _("This customer has no minor sign-up cap.")
ERR_MINOR_CAP_STILL_MINOR = _("The cap can only be lifted once the customer is an adult (18 or older).")

_PHONE_RE = re.compile(r"^01[016789]\d{7,8}$")
_RRN_ERRORS = {"format": ERR_RRN_FORMAT, "birth_date": ERR_RRN_BIRTH_DATE, "future": ERR_RRN_FUTURE}
_BRN_ERRORS = {"format": ERR_BRN_FORMAT, "check_digit": ERR_BRN_CHECK_DIGIT}


def _staff_actor(actor: User | None) -> User | None:
    return actor if actor is not None and actor.is_authenticated else None


def _require_perm(actor: User | None, perm: str) -> None:
    """Defence in depth: the admin checks permissions too, but a service never trusts its caller."""
    if actor is None or not actor.has_perm(perm):
        raise PermissionDenied(f"missing permission {perm}")


def normalise_phone(value: str) -> str:
    digits = re.sub(r"[\s-]", "", value or "")
    if not _PHONE_RE.match(digits):
        raise ValidationError(ERR_PHONE_INVALID, code="phone_invalid")
    return digits


def rrn_blind_index(digits: str) -> str:
    return crypto.blind_index(digits, key=crypto.current_blind_index_key(), purpose=RRN_PURPOSE)


def customer_rrn(customer: Customer) -> str:
    """Decrypt the RRN for a service that must compare it. Never render or log the result."""
    return crypto.decrypt(
        customer.rrn_ciphertext, key_id=customer.rrn_key_id, ring=crypto.current_ring(), purpose=RRN_PURPOSE
    )


def _set_rrn(customer: Customer, digits: str) -> None:
    key_id, token = crypto.encrypt(digits, ring=crypto.current_ring(), purpose=RRN_PURPOSE)
    customer.rrn_ciphertext = token
    customer.rrn_key_id = key_id
    customer.rrn_index = rrn_blind_index(digits)
    customer.rrn_masked = mask_rrn(digits)


@transaction.atomic
def customer_create(
    *,
    kind: str,
    name: str,
    phone: str,
    email: str = "",
    rrn: str | None = None,
    brn: str | None = None,
    legal_representative: Customer | None = None,
    representative_relation: str = "",
    actor: User | None,
) -> Customer:
    """Register a real-name customer.

    Raises ``ValidationError`` (a dict of field errors) for a malformed or duplicate number,
    a missing representative for a child under 14, or an invalid representative.
    """
    today = kst_today()
    errors: dict[str, Any] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ValidationError(ERR_NAME_REQUIRED, code="name_required")
    try:
        phone = normalise_phone(phone)
    except ValidationError as exc:
        errors["phone"] = exc

    rrn_digits: str | None = None
    birth_date = None
    if kind in (Customer.Kind.INDIVIDUAL, Customer.Kind.INDIVIDUAL_BUSINESS):
        if not (rrn or "").strip():
            errors["rrn"] = ValidationError(ERR_RRN_REQUIRED, code="rrn_required")
        else:
            try:
                parsed = parse_rrn(rrn or "", today=today)
                rrn_digits, birth_date = parsed.digits, parsed.birth_date
            except InvalidNumber as exc:
                errors["rrn"] = ValidationError(_RRN_ERRORS[exc.code], code=f"rrn_{exc.code}")
    elif (rrn or "").strip():
        errors["rrn"] = ValidationError(ERR_RRN_NOT_ALLOWED, code="rrn_not_allowed")

    brn_digits: str | None = None
    if kind in (Customer.Kind.INDIVIDUAL_BUSINESS, Customer.Kind.CORPORATION):
        if not (brn or "").strip():
            errors["brn"] = ValidationError(ERR_BRN_REQUIRED, code="brn_required")
        else:
            try:
                brn_digits = parse_brn(brn or "")
            except InvalidNumber as exc:
                errors["brn"] = ValidationError(_BRN_ERRORS[exc.code], code=f"brn_{exc.code}")
    elif (brn or "").strip():
        errors["brn"] = ValidationError(ERR_BRN_NOT_ALLOWED, code="brn_not_allowed")

    solo_minor_cap = False
    if birth_date is not None and kind == Customer.Kind.INDIVIDUAL and is_minor(birth_date, today):
        if legal_representative is None:
            if age_on(birth_date, today) < MIN_SOLO_AGE:
                errors["legal_representative"] = ValidationError(
                    ERR_CHILD_NEEDS_REPRESENTATIVE, code="child_needs_representative"
                )
            solo_minor_cap = True
        else:
            if legal_representative.kind != Customer.Kind.INDIVIDUAL or legal_representative.is_minor(today):
                errors["legal_representative"] = ValidationError(
                    ERR_REPRESENTATIVE_INVALID, code="representative_invalid"
                )
            if representative_relation not in Customer.RepresentativeRelation.values:
                errors["representative_relation"] = ValidationError(
                    ERR_REPRESENTATIVE_RELATION, code="representative_relation"
                )
    elif legal_representative is not None:
        errors["legal_representative"] = ValidationError(ERR_REPRESENTATIVE_NOT_MINOR, code="representative_not_minor")

    if rrn_digits and "rrn" not in errors and Customer.objects.filter(rrn_index=rrn_blind_index(rrn_digits)).exists():
        errors["rrn"] = ValidationError(ERR_DUPLICATE_RRN, code="duplicate_rrn")
    if brn_digits and "brn" not in errors and Customer.objects.filter(brn=brn_digits).exists():
        errors["brn"] = ValidationError(ERR_DUPLICATE_BRN, code="duplicate_brn")
    if errors:
        raise ValidationError(errors)

    customer = Customer(
        kind=kind,
        name=name,
        phone=phone,
        email=(email or "").strip(),
        brn=brn_digits,
        birth_date=birth_date,
        legal_representative=legal_representative,
        representative_relation=representative_relation if legal_representative else "",
        solo_minor_cap=solo_minor_cap,
    )
    if rrn_digits:
        _set_rrn(customer, rrn_digits)
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        # Another teller registered the same number between our check and our insert.
        field, message, code = (
            ("rrn", ERR_DUPLICATE_RRN, "duplicate_rrn") if rrn_digits else ("brn", ERR_DUPLICATE_BRN, "duplicate_brn")
        )
        raise ValidationError({field: ValidationError(message, code=code)}) from None
    audit_record(
        action="customer.create",
        actor=actor,
        customer_id=customer.pk,
        obj=customer,
        details={
            "kind": kind,
            "solo_minor_cap": solo_minor_cap,
            "has_representative": legal_representative is not None,
        },
    )
    return customer


@transaction.atomic
def customer_update_contact(*, customer: Customer, name: str, phone: str, email: str, actor: User | None) -> Customer:
    """Change name, phone or email; the audit event names the changed fields, not their values."""
    errors: dict[str, Any] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ValidationError(ERR_NAME_REQUIRED, code="name_required")
    try:
        phone = normalise_phone(phone)
    except ValidationError as exc:
        errors["phone"] = exc
    if errors:
        raise ValidationError(errors)
    # Lock so two tellers editing at once cannot both compute "changed" from the same old row.
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    changed = [
        field
        for field, value in (("name", name), ("phone", phone), ("email", (email or "").strip()))
        if getattr(locked, field) != value
    ]
    if changed:
        locked.name, locked.phone, locked.email = name, phone, (email or "").strip()
        locked.save(update_fields=[*changed, "updated_at"])
        audit_record(
            action="customer.update_contact",
            actor=actor,
            customer_id=locked.pk,
            obj=locked,
            details={"fields": changed},
        )
    return locked


@transaction.atomic
def customer_lift_minor_cap(*, customer: Customer, actor: User) -> Customer:
    """Lift the cap on a former minor who signed up alone, after the branch has checked their ID."""
    _require_perm(actor, "accounts.lift_minor_cap")
    # Lock so a double-submitted lift writes one audit event, not two.
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    if not locked.solo_minor_cap:
        raise ValidationError(ERR_MINOR_CAP_NOT_SET, code="minor_cap_not_set")
    if locked.is_minor(kst_today()):
        raise ValidationError(ERR_MINOR_CAP_STILL_MINOR, code="minor_cap_still_minor")
    locked.solo_minor_cap = False
    locked.save(update_fields=["solo_minor_cap", "updated_at"])
    audit_record(action="customer.lift_minor_cap", actor=actor, customer_id=locked.pk, obj=locked)
    return locked


def customer_rrn_reencrypt(*, batch_size: int = 500) -> int:
    """Re-encrypt every RRN not under the newest key; returns how many were rewritten.

    Each batch is its own transaction, so a long run can be interrupted and resumed.
    """
    ring = crypto.current_ring()
    total = 0
    while True:
        with transaction.atomic():
            # Lock the batch so two runs at once never rewrite the same rows from stale copies.
            batch = list(
                Customer.objects.select_for_update()
                .exclude(rrn_ciphertext="")
                .exclude(rrn_key_id=ring.current_id)
                .order_by("pk")[:batch_size]
            )
            if not batch:
                break
            for customer in batch:
                _set_rrn(customer, customer_rrn(customer))
            Customer.objects.bulk_update(batch, ["rrn_ciphertext", "rrn_key_id", "rrn_index", "rrn_masked"])
            total += len(batch)
    if total:
        audit_record(action="customer.rrn_reencrypt", details={"count": total, "key_id": ring.current_id})
    return total


# --- Account passwords -------------------------------------------------------------------


class PasswordCheck(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"


def validate_account_password(password: str) -> None:
    if not (isinstance(password, str) and len(password) == 4 and password.isascii() and password.isdigit()):
        raise ValidationError(ERR_ACCOUNT_PASSWORD_FORMAT, code="account_password_format")
    digits = [int(d) for d in password]
    steps = {b - a for a, b in zip(digits, digits[1:], strict=False)}
    if steps in ({0}, {1}, {-1}):
        raise ValidationError(ERR_ACCOUNT_PASSWORD_WEAK, code="account_password_weak")


def account_password_check(*, account: Account, password: str, actor: User | None = None) -> PasswordCheck:
    """Check the 4-digit account password, counting consecutive failures; the 5th locks it.

    Runs in its own transaction so the failure count is kept even when the caller then refuses
    the operation. Call it outside any surrounding transaction.
    """
    with transaction.atomic():
        # Lock the row: two wrong guesses at once must both be counted.
        locked = Account.objects.select_for_update().get(pk=account.pk)
        if locked.password_locked_at is not None:
            return PasswordCheck.LOCKED
        if locked.password_hash and check_password(password, locked.password_hash):
            if locked.password_failures:
                locked.password_failures = 0
                locked.save(update_fields=["password_failures"])
            return PasswordCheck.OK
        locked.password_failures += 1
        now_locked = locked.password_failures >= ACCOUNT_PASSWORD_MAX_FAILURES
        if now_locked:
            locked.password_locked_at = timezone.now()
        locked.save(update_fields=["password_failures", "password_locked_at"])
        audit_record(
            action="account.password_locked" if now_locked else "account.password_failed",
            actor=actor,
            customer_id=locked.holder_id,
            obj=locked,
            details={"failures": locked.password_failures},
        )
        return PasswordCheck.LOCKED if now_locked else PasswordCheck.WRONG


def require_account_password(*, account: Account, password: str, actor: User | None = None) -> None:
    """Raise ``ValidationError`` unless the password is right (see ``account_password_check``)."""
    result = account_password_check(account=account, password=password, actor=actor)
    if result is PasswordCheck.LOCKED:
        raise ValidationError(ERR_ACCOUNT_PASSWORD_LOCKED, code="account_password_locked")
    if result is PasswordCheck.WRONG:
        raise ValidationError(ERR_ACCOUNT_PASSWORD_WRONG, code="account_password_wrong")


@transaction.atomic
def account_password_reset(*, account: Account, new_password: str, actor: User) -> Account:
    """Set a new password at the branch after an ID check; clears the failure count and lock."""
    _require_perm(actor, "accounts.reset_account_password")
    validate_account_password(new_password)
    # Lock so a wrong entry counted at this moment cannot re-lock the account after the reset.
    locked = Account.objects.select_for_update().get(pk=account.pk)
    was_locked = locked.password_locked_at is not None
    locked.password_hash = make_password(new_password)
    locked.password_failures = 0
    locked.password_locked_at = None
    locked.save(update_fields=["password_hash", "password_failures", "password_locked_at"])
    audit_record(
        action="account.password_reset",
        actor=actor,
        customer_id=locked.holder_id,
        obj=locked,
        details={"was_locked": was_locked},
    )
    return locked


# --- Accounts and the ledger ---------------------------------------------------------------


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
    actor: User | None,
) -> Account:
    """Open a deposit account, with an optional cash opening deposit.

    Raises ``ValidationError`` for a bad password, a product off sale or a deposit below the
    product's minimum.
    """
    from django.conf import settings

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
        password_hash=make_password(password),
    )
    audit_record(
        action="account.open",
        actor=actor,
        customer_id=customer.pk,
        obj=account,
        details={"number": account.number, "product": product.code, "branch": branch},
    )
    if opening_deposit:
        cash_deposit(account=account, amount=opening_deposit, actor=actor, memo=str(_("Opening deposit")))
        account.refresh_from_db(fields=["balance"])
    return account


def _check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValidationError(ERR_AMOUNT_POSITIVE, code="amount_positive")


@transaction.atomic
def ledger_post(
    *,
    kind: str,
    legs: Sequence[tuple[Account, int]],
    actor: User | None,
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
    journal = Journal.objects.create(kind=kind, memo=memo[:100], created_by=_staff_actor(actor), reverses=reverses)
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
def cash_deposit(*, account: Account, amount: int, actor: User | None, memo: str = "") -> Journal:
    """Cash paid in at the branch: customer account up, branch cash down."""
    _check_amount(amount)
    _require_customer_account(account)
    if actor is not None and actor.is_authenticated:
        _require_perm(actor, "accounts.take_cash")
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


def cash_withdrawal(*, account: Account, amount: int, password: str, actor: User | None, memo: str = "") -> Journal:
    """Cash paid out at the branch against the account password.

    The password check commits on its own (a wrong entry counts even though we refuse);
    the posting is a separate transaction. Raises ``ValidationError`` for a wrong or locked
    password, a frozen or closed account, or a short balance.
    """
    _check_amount(amount)
    _require_customer_account(account)
    if actor is not None and actor.is_authenticated:
        _require_perm(actor, "accounts.take_cash")
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
def journal_reverse(*, journal: Journal, reason: str, actor: User) -> Journal:
    """Post the mirror image of a journal (branch manager only).

    Raises ``PermissionDenied`` without ``accounts.reverse_journal``; ``ValidationError`` when the
    journal is a reversal, was already reversed, or the account no longer holds the money.
    """
    _require_perm(actor, "accounts.reverse_journal")
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
