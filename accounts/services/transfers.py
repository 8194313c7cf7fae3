"""Transfers (이체): to the customer's own account, to another account here, or to another bank.

The page does what must count even when the transfer is then refused, each in its own short
transaction, **before** calling ``transfer_execute``: the account password
(``account_password_check``), the security medium (``security_medium_verify``, purpose
``transfer``), the recipient inquiry (``transfer_recipient``, shown on the confirmation step) and
the text the customer signs (``transfer_canonical_text``). It first looks the form's idempotency
key up (``transfer_for_key``): a form submitted twice shows the first receipt without asking for
the medium again (a spent OTP number would be refused as a replay).

``transfer_execute`` is one transaction, in the portal's lock order (``accounts.services.ledger``):

0. documents: the customer's e-banking agreement (active; the from-account is one of its
   withdrawal accounts), then the customer's ``DailyTransferTotal`` row of the KST day (created on
   first use, locked): it serialises the customer's transfers and limit changes, so the daily
   limit holds across accounts and the idempotency key is looked up race-free; then the limits are
   checked and the customer's signature is verified and stored (``signature(text)``: its evidence
   row refers to the certificate, which certificate renewal locks before it charges a fee, so the
   signature comes before any account lock);
1. customer accounts by primary key (``ledger_post``: the from-account, and this bank's
   destination account), balance checked under the lock;
2. another bank's clearing account, appended unlocked;
3. the ``Transfer`` row, the day's total, and the audit append last.

A refused transfer writes nothing (no transfer, journal, entry, total or evidence); only the
refusal is audited, in its own transaction afterwards (``transfer.refused``).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import accountnumbers
from accounts import limits as rules
from accounts.limits import Tier
from accounts.models import Account, Agreement, Customer, Journal, Transfer
from accounts.services._common import Actor
from accounts.services.clearing import InterbankGateway, interbank_gateway
from accounts.services.ledger import clearing_account, ledger_post
from accounts.services.limits import customer_limits, lock_day_total, require_customer_actor, won
from bankportal.audit.services import audit_record
from bankportal.timeutil import kst_today
from certcenter.signing import canonical_text

TRANSFER_PERMISSION = "accounts.add_transfer"
MEMO_MAX = 20

ERR_FORM_KEY = _("This transfer form is no longer valid. Open the transfer page again.")
ERR_KEY_REUSED = _(
    "This transfer form was already submitted with other details. Open the transfer page again for a new transfer."
)
ERR_AMOUNT = _("Enter an amount of at least 1 won.")
ERR_MEMO = _("A memo can be at most 20 characters, without line breaks.")
ERR_DESTINATION = _("Choose where the money goes: your own account, another account here, or another bank.")
ERR_BANK_CODE = _("Choose the receiving bank from the list.")
ERR_ACCOUNT_NUMBER = _("Check the receiving account number: it is not a valid account number.")
ERR_NO_SUCH_ACCOUNT = _("No account with this number can receive money. Check the number with the recipient.")
ERR_INTERBANK_UNAVAILABLE = _(
    "Transfers to other banks are not available right now. Try a transfer within this bank, or call the bank."
)
ERR_NOT_OWN_ACCOUNT = _("Choose one of your own accounts as the receiving account.")
ERR_SAME_ACCOUNT = _("The receiving account is the account you are sending from. Choose another one.")
ERR_FROM_ACCOUNT = _("Send from one of your active withdrawal accounts. To add a withdrawal account, visit a branch.")
ERR_AGREEMENT_NOT_ACTIVE = _(
    "Your internet banking agreement is not in use. Release a suspension in the security centre or visit a branch."
)
ERR_MEDIUM_NOT_VERIFIED = _("Enter the security card numbers or the OTP number asked for to confirm the transfer.")
ERR_SIGNATURE_REQUIRED = _("Sign the transfer with your certificate to confirm it.")
ERR_INSUFFICIENT_FUNDS = _("The balance of the account is not enough for this transfer (%(balance)s won available).")
ERR_NO_SECURITY_MEDIUM = _(
    "Transfers need a security medium. Visit a branch for a security card or an OTP, then try again."
)
ERR_PER_TRANSFER_LIMIT = _(
    "This amount is over your per-transfer limit of %(limit)s won. Send at most %(limit)s won at a time, "
    "or raise your limit."
)
ERR_DAILY_LIMIT = _(
    "This transfer would pass your daily limit of %(limit)s won: %(left)s won is left today (until midnight). "
    "Send at most %(left)s won, or raise your limit."
)

_LIMIT_MESSAGES = {
    rules.LimitRefusal.NO_MEDIUM: ERR_NO_SECURITY_MEDIUM,
    rules.LimitRefusal.PER_TRANSFER: ERR_PER_TRANSFER_LIMIT,
    rules.LimitRefusal.PER_DAY: ERR_DAILY_LIMIT,
}


def _refuse(message: Any, code: str, **params: str) -> ValidationError:
    return ValidationError(message, code=code, params=params or None)


# --- inputs ------------------------------------------------------------------------------------------


def parse_idempotency_key(value: object) -> uuid.UUID:
    """The form's key as a UUID; a missing or tampered one refuses the submission."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise _refuse(ERR_FORM_KEY, "form_key") from None


def _memo(value: str) -> str:
    memo = unicodedata.normalize("NFC", (value or "").strip())
    if len(memo) > MEMO_MAX or any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in memo):
        raise _refuse(ERR_MEMO, "memo")
    return memo


def _amount(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _refuse(ERR_AMOUNT, "amount_positive")
    return value


def bank_codes() -> dict[str, tuple[str, str]]:
    """Other banks a transfer can go to: code -> (Korean name, English name)."""
    return dict(settings.INTERBANK_INSTITUTIONS)


@dataclass(frozen=True)
class Recipient:
    """Where the money goes, as the confirmation step and the receipt show it."""

    destination: str
    bank_code: str
    account_number: str  # digits only
    name: str
    account: Account | None  # this bank's account; None for another bank


def _digits(value: str) -> str:
    return "".join((value or "").split()).replace("-", "")


def transfer_recipient(
    *,
    customer: Customer,
    destination: str,
    to_account_number: str,
    to_bank_code: str = "",
    gateway: InterbankGateway | None = None,
) -> Recipient:
    """Look the recipient up (수취인 조회): this bank by account number (the holder's name), another
    bank through the interbank gateway. A read (the gateway call happens outside any transaction).

    Raises ``ValidationError`` (destination, interbank_unavailable: no interbank gateway is
    configured, bank_code, account_number, no_such_account, not_own_account).
    """
    if destination not in Transfer.Destination.values:
        raise _refuse(ERR_DESTINATION, "destination")
    if destination == Transfer.Destination.OTHER_BANK:
        gateway = gateway or interbank_gateway()
        if gateway is None:
            raise _refuse(ERR_INTERBANK_UNAVAILABLE, "interbank_unavailable")
        code = (to_bank_code or "").strip()
        if code == settings.BANK_CODE or code not in settings.INTERBANK_INSTITUTIONS:
            raise _refuse(ERR_BANK_CODE, "bank_code")
        number = _digits(to_account_number)
        if not (number.isdigit() and number.isascii() and 6 <= len(number) <= 20):
            raise _refuse(ERR_ACCOUNT_NUMBER, "account_number")
        name = gateway.recipient_name(code, number)
        if not name:
            raise _refuse(ERR_NO_SUCH_ACCOUNT, "no_such_account")
        return Recipient(destination=destination, bank_code=code, account_number=number, name=name, account=None)
    if to_bank_code and to_bank_code != settings.BANK_CODE:
        raise _refuse(ERR_BANK_CODE, "bank_code")
    try:
        number = accountnumbers.normalise(to_account_number)
    except accountnumbers.InvalidAccountNumber:
        raise _refuse(ERR_ACCOUNT_NUMBER, "account_number") from None
    account = (
        Account.objects.select_related("holder")
        .filter(number=number, kind=Account.Kind.CUSTOMER)
        .exclude(status=Account.Status.CLOSED)
        .first()
    )
    if account is None or account.holder is None:
        raise _refuse(ERR_NO_SUCH_ACCOUNT, "no_such_account")
    if destination == Transfer.Destination.OWN and account.holder_id != customer.pk:
        raise _refuse(ERR_NOT_OWN_ACCOUNT, "not_own_account")
    return Recipient(
        destination=destination,
        bank_code=settings.BANK_CODE,
        account_number=number,
        name=account.holder.name,
        account=account,
    )


def transfer_canonical_text(
    *,
    customer: Customer,
    from_account: Account,
    recipient: Recipient,
    amount: int,
    memo_sender: str,
    memo_recipient: str,
    idempotency_key: uuid.UUID | str,
) -> str:
    """What the customer signs (전자서명 원문): every detail of the transfer and the form's key.

    Stable codes and digits, not translated labels, so the text does not depend on the page's
    language; built again inside ``transfer_execute``, so a signature over other details fails.
    """
    return canonical_text(
        {
            "action": "transfer",
            "bank": f"{settings.BANK_CODE} {settings.BANK_NAME_KO}",
            "customer": " ".join(customer.name.split()),
            "from_account": from_account.number,
            "to_bank": recipient.bank_code,
            "to_account": recipient.account_number,
            "recipient": " ".join(recipient.name.split()),
            "amount": str(amount),
            "memo_sender": memo_sender,
            "memo_recipient": memo_recipient,
            "key": str(idempotency_key),
        }
    )


def transfer_for_key(customer: Customer, idempotency_key: object) -> Transfer | None:
    """The transfer a form with this key already made, if any (a read for the page's replay check)."""
    try:
        key = parse_idempotency_key(idempotency_key)
    except ValidationError:
        return None
    return Transfer.objects.filter(customer_id=customer.pk, idempotency_key=key).first()


def _same_order(existing: Transfer, *, from_account: Account, recipient: Recipient, amount: int) -> bool:
    return (
        existing.from_account_id == from_account.pk
        and existing.amount == amount
        and existing.to_bank_code == recipient.bank_code
        and existing.to_account_number == recipient.account_number
    )


def _replay(existing: Transfer, *, from_account: Account, recipient: Recipient, amount: int) -> Transfer:
    """A resubmitted form gets its first transfer back; the same key with other details is refused."""
    if not _same_order(existing, from_account=from_account, recipient=recipient, amount=amount):
        raise _refuse(ERR_KEY_REUSED, "idempotency_key_reused")
    return existing


# --- the transfer ------------------------------------------------------------------------------------


def _lock_agreement(customer: Customer) -> Agreement:
    # Lock the agreement: a suspension or termination landing now waits for this transfer, or the
    # transfer sees it and is refused.
    agreement = (
        Agreement.objects.select_for_update(of=("self",))
        .filter(customer_id=customer.pk, state__in=Agreement.OPEN_STATES)
        .first()
    )
    if agreement is None or agreement.state != Agreement.State.ACTIVE:
        raise _refuse(ERR_AGREEMENT_NOT_ACTIVE, "agreement_not_active")
    return agreement


def _withdrawal_account(agreement: Agreement, customer: Customer, from_account: Account) -> Account:
    account = agreement.withdrawal_accounts.filter(
        pk=from_account.pk, kind=Account.Kind.CUSTOMER, holder_id=customer.pk, status=Account.Status.ACTIVE
    ).first()
    if account is None:
        raise _refuse(ERR_FROM_ACCOUNT, "from_account")
    return account


def _limit_refusal(refusal: rules.LimitRefusal, limit: rules.Limit, sent: int) -> ValidationError:
    return _refuse(
        _LIMIT_MESSAGES[refusal],
        refusal.value,
        limit=won(limit.per_transfer if refusal is rules.LimitRefusal.PER_TRANSFER else limit.per_day),
        left=won(rules.day_left(limit, sent)),
    )


def _audit_refusal(*, actor: Actor, customer: Customer, refusal: ValidationError, details: dict[str, Any]) -> None:
    # Its own transaction, after the transfer's was rolled back: the refusal stays on record.
    with transaction.atomic():
        audit_record(
            action="transfer.refused",
            actor=actor,
            customer_id=customer.pk,
            details={"reason": refusal.code or "refused", **details},
        )


def transfer_execute(
    *,
    customer: Customer,
    from_account: Account,
    destination: str,
    to_account_number: str,
    to_bank_code: str = "",
    amount: int,
    memo_sender: str = "",
    memo_recipient: str = "",
    idempotency_key: uuid.UUID | str,
    tier: Tier,
    medium_verified: bool,
    signature: Callable[[str], Any],
    actor: Actor,
    now: dt.datetime | None = None,
    gateway: InterbankGateway | None = None,
) -> Transfer:
    """Move ``amount`` won from the customer's withdrawal account (see the module docstring).

    ``tier`` is the customer's security tier (``otp.services.verification.security_tier``);
    ``medium_verified`` says the page verified the security medium for this transfer;
    ``signature(text)`` verifies the customer's signature over ``text`` (this service builds it with
    ``transfer_canonical_text``) and returns the stored evidence, or ``None`` (refused), or raises
    ``ValidationError`` (the certificate centre's refusal, passed on). The page binds
    ``certcenter.services.signature_verify`` to the customer, certificate, signature bytes,
    purpose ``transfer`` and actor.

    A second submission with the same ``idempotency_key`` returns the first transfer and moves
    nothing (the same key with other details is refused). Returns the ``Transfer``: ``completed``
    at this bank, ``queued`` for another bank (``interbank_clearing_run`` sends it).

    Raises ``ValidationError``: form_key, idempotency_key_reused, amount_positive, memo,
    destination, interbank_unavailable, bank_code, account_number, no_such_account, not_own_account, same_account,
    medium_not_verified, agreement_not_active, from_account, no_security_medium,
    per_transfer_limit, daily_limit (each saying which limit and how much is left),
    insufficient_funds, account_closed, account_frozen, signature_required, or the certificate
    centre's code. ``PermissionDenied`` for anyone but the customer's own user.
    """
    require_customer_actor(actor, customer, TRANSFER_PERMISSION)
    key = parse_idempotency_key(idempotency_key)
    now = now or timezone.now()
    amount_shown = amount if isinstance(amount, int) and not isinstance(amount, bool) else None
    try:
        return _execute(
            customer=customer,
            from_account=from_account,
            destination=destination,
            to_account_number=to_account_number,
            to_bank_code=to_bank_code,
            amount=amount,
            memo_sender=memo_sender,
            memo_recipient=memo_recipient,
            key=key,
            tier=tier,
            medium_verified=medium_verified,
            signature=signature,
            actor=actor,
            now=now,
            gateway=gateway,
        )
    except ValidationError as refusal:
        _audit_refusal(
            actor=actor,
            customer=customer,
            refusal=refusal,
            details={"amount": amount_shown, "destination": str(destination)[:16], "key": str(key)},
        )
        raise


def _execute(
    *,
    customer: Customer,
    from_account: Account,
    destination: str,
    to_account_number: str,
    to_bank_code: str,
    amount: int,
    memo_sender: str,
    memo_recipient: str,
    key: uuid.UUID,
    tier: Tier,
    medium_verified: bool,
    signature: Callable[[str], Any],
    actor: Actor,
    now: dt.datetime,
    gateway: InterbankGateway | None,
) -> Transfer:
    amount = _amount(amount)
    memo_sender, memo_recipient = _memo(memo_sender), _memo(memo_recipient)
    # The recipient inquiry may call the other bank: outside the transaction, before any lock.
    recipient = transfer_recipient(
        customer=customer,
        destination=destination,
        to_account_number=to_account_number,
        to_bank_code=to_bank_code,
        gateway=gateway,
    )
    day = kst_today(now)
    try:
        with transaction.atomic():
            agreement = _lock_agreement(customer)
            total = lock_day_total(customer.pk, day)
            # Under the day row: a submission racing this one has either committed its transfer
            # (found here) or waits behind us and will find ours.
            existing = Transfer.objects.filter(customer_id=customer.pk, idempotency_key=key).first()
            if existing is not None:
                # A double submission: nothing written, the same receipt, no medium asked again.
                return _replay(existing, from_account=from_account, recipient=recipient, amount=amount)
            if recipient.account is not None and recipient.account.pk == from_account.pk:
                raise _refuse(ERR_SAME_ACCOUNT, "same_account")
            if not medium_verified:
                raise _refuse(ERR_MEDIUM_NOT_VERIFIED, "medium_not_verified")
            source = _withdrawal_account(agreement, customer, from_account)
            limits = customer_limits(customer, tier=tier)
            refusal = rules.transfer_refusal(amount=amount, limit=limits.effective, sent_today=total.total)
            if refusal is not None:
                raise _limit_refusal(refusal, limits.effective, total.total)
            # Unlocked, to spare a signature that cannot pay; the posting checks again under the lock.
            if source.balance < amount:
                raise _refuse(ERR_INSUFFICIENT_FUNDS, "insufficient_funds", balance=won(source.balance))
            text = transfer_canonical_text(
                customer=customer,
                from_account=source,
                recipient=recipient,
                amount=amount,
                memo_sender=memo_sender,
                memo_recipient=memo_recipient,
                idempotency_key=key,
            )
            evidence = signature(text)
            if evidence is None:
                raise _refuse(ERR_SIGNATURE_REQUIRED, "signature_required")
            to_leg = recipient.account or clearing_account(recipient.bank_code)
            try:
                journal = ledger_post(
                    kind=Journal.Kind.TRANSFER,
                    legs=[(source, -amount), (to_leg, amount)],
                    actor=actor,
                    memo=memo_sender or str(_("Transfer")),
                )
            except ValidationError as exc:
                if exc.code == "insufficient_funds":
                    raise _refuse(ERR_INSUFFICIENT_FUNDS, "insufficient_funds", balance=won(source.balance)) from None
                raise
            transfer = Transfer.objects.create(
                # Unique by construction: the journal's id, after the KST day for the customer's eyes.
                reference=f"{day:%Y%m%d}{journal.pk:012d}",
                customer_id=customer.pk,
                idempotency_key=key,
                destination=recipient.destination,
                status=Transfer.Status.COMPLETED if recipient.account else Transfer.Status.QUEUED,
                from_account=source,
                to_account=recipient.account,
                to_bank_code=recipient.bank_code,
                to_account_number=recipient.account_number,
                recipient_name=recipient.name[:100],
                amount=amount,
                memo_sender=memo_sender,
                memo_recipient=memo_recipient,
                journal=journal,
                signature_evidence_id=evidence.pk,
                kst_day=day,
                created_at=now,
            )
            total.total += amount
            total.count += 1
            total.save(update_fields=["total", "count"])
            audit_record(
                action="transfer.execute",
                actor=actor,
                customer_id=customer.pk,
                obj=transfer,
                details={
                    "reference": transfer.reference,
                    "amount": amount,
                    "destination": transfer.destination,
                    "to_bank": transfer.to_bank_code,
                    "to_account": accountnumbers.masked(recipient.account_number)
                    if recipient.account
                    else recipient.account_number[:-4] + "****",
                    "status": transfer.status,
                    "evidence": evidence.pk,
                    "day_total": total.total,
                    "tier": str(tier),
                },
            )
            return transfer
    except IntegrityError:
        # The unique (customer, key) backstop: a submission that crossed KST midnight locked
        # another day's row and raced us. The whole attempt is rolled back; the first one stands.
        existing = Transfer.objects.filter(customer_id=customer.pk, idempotency_key=key).first()
        if existing is None:
            raise
        return _replay(existing, from_account=from_account, recipient=recipient, amount=amount)
