"""Interbank clearing: the outbound queue of transfers to other banks, and the gateway to them.

A transfer to another bank is debited at once and posted to that bank's clearing account
(``clearing_account(code)``), with status ``queued``. ``interbank_clearing_run`` (every minute,
``interbank_clearing_task``; ``manage.py interbank_clearing``) hands the queue to the gateway in
chunks: accepted → ``sent``; refused (no such account, closed, ...) → ``returned``: a reversing
journal from the clearing account back to the customer's account, an SMS, status ``returned``.

The gateway is a setting (``INTERBANK_GATEWAY``, a dotted path); with ``DEBUG`` the default is
``SimulatedGateway``, which accepts everything except account numbers ending in
``INTERBANK_SIMULATOR_REFUSED_SUFFIXES``. Without ``DEBUG`` the default is none: transfers to other
banks are refused (``interbank_unavailable``) and a clearing run sends nothing, leaving the queue
as it is and saying why (``ClearingResult.skipped``).

Each chunk is one transaction. Lock order: the picked ``Transfer`` rows (``FOR UPDATE SKIP
LOCKED``, so two runs at once never hand the same transfer over twice), then for a return the
transfer's journal (as a branch reversal locks it), the customer's account (``ledger_post``; the
clearing leg is appended unlocked), the SMS outbox row, audit last. The gateway is called while
the rows are locked and before the commit: a crash between its answer and the commit leaves the
transfer queued and it is offered again, so the gateway gets the transfer's reference as an
idempotency key (a real gateway must treat a repeat as the same order). A returned transfer still
counts towards the day's limit: it went out.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from accounts import accountnumbers
from accounts.models import Journal, Transfer
from accounts.services._common import Actor, require_perm
from accounts.services.ledger import ERR_ALREADY_REVERSED, clearing_account, ledger_post
from bankportal.audit.services import audit_record
from bankportal.notifications.services import send_sms_on_commit

logger = logging.getLogger(__name__)

CLEARING_PERMISSION = "accounts.change_transfer"

RETURNED_SMS = _(
    "[%(bank)s] Your transfer %(reference)s of %(amount)s won to %(to_bank)s was returned by the "
    "receiving bank (%(reason)s). The money is back in account %(account)s."
)
REASON_REFUSED = _("the receiving account cannot take it")
# Operators' text (logs, the job's result, the command's output): not shown to customers.
NO_GATEWAY = "no interbank gateway configured (INTERBANK_GATEWAY is empty)"


@dataclass(frozen=True)
class OutboundTransfer:
    """What the gateway gets: the reference is the idempotency key of the order."""

    reference: str
    bank_code: str
    account_number: str
    amount: int
    recipient_name: str
    memo: str


@dataclass(frozen=True)
class GatewayAnswer:
    accepted: bool
    reason: str = ""  # the receiving bank's reason for a refusal (kept on the transfer, shown to staff)


class InterbankGateway(Protocol):
    def recipient_name(self, bank_code: str, account_number: str) -> str | None:
        """The holder's name at the receiving bank (수취인 조회), or ``None`` for no such account."""

    def send(self, transfer: OutboundTransfer) -> GatewayAnswer:
        """Hand one transfer over; a repeat of the same reference is the same order."""


class SimulatedGateway:
    """Development and test stand-in for the interbank network: accepts everything except account
    numbers ending in one of ``INTERBANK_SIMULATOR_REFUSED_SUFFIXES`` (reported as closed)."""

    def __init__(self) -> None:
        self.refused_suffixes = tuple(settings.INTERBANK_SIMULATOR_REFUSED_SUFFIXES)

    def _refused(self, account_number: str) -> bool:
        return any(account_number.endswith(suffix) for suffix in self.refused_suffixes)

    def recipient_name(self, bank_code: str, account_number: str) -> str | None:
        # The recipient inquiry names everyone (a closed account is found, and refused at sending).
        return f"예금주{account_number[-4:]}"

    def send(self, transfer: OutboundTransfer) -> GatewayAnswer:
        if self._refused(transfer.account_number):
            return GatewayAnswer(accepted=False, reason="account_closed")
        return GatewayAnswer(accepted=True)


def interbank_gateway() -> InterbankGateway | None:
    """The configured gateway (``INTERBANK_GATEWAY``), or ``None`` when none is configured."""
    path = settings.INTERBANK_GATEWAY
    if not path:
        return None
    gateway: InterbankGateway = import_string(path)()
    return gateway


@dataclass
class ClearingResult:
    queued: int = 0
    sent: int = 0
    returned: int = 0
    chunks: int = 0
    failed: list[str] = field(default_factory=list)  # references left queued, with why
    dry_run: bool = False
    skipped: str = ""  # why nothing was sent at all (no gateway configured), else empty

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def returned_sms_body(transfer: Transfer) -> str:
    names = settings.INTERBANK_INSTITUTIONS.get(transfer.to_bank_code, (transfer.to_bank_code, transfer.to_bank_code))
    with translation.override(settings.LANGUAGE_CODE):
        return str(RETURNED_SMS) % {
            "bank": settings.BANK_NAME_KO,
            "reference": transfer.reference,
            "amount": f"{transfer.amount:,}",
            "to_bank": names[0],
            "reason": str(REASON_REFUSED),
            "account": accountnumbers.masked(transfer.from_account.number),
        }


def _return(transfer: Transfer, answer: GatewayAnswer, *, actor: Actor, now: dt.datetime) -> None:
    """The money back: clearing → the customer's account, mirroring the transfer's journal (once:
    ``Journal.reverses`` is one-to-one, so no later reversal can pay it back a second time)."""
    # Lock the transfer's journal before the account, as ``journal_reverse`` does: a branch reversal
    # of the same journal at this moment waits (or is waited for) instead of deadlocking with us.
    original = Journal.objects.select_for_update().get(pk=transfer.journal_id)
    if Journal.objects.filter(reverses=original).exists():
        raise ValidationError(ERR_ALREADY_REVERSED, code="already_reversed")
    journal = ledger_post(
        kind=Journal.Kind.REVERSAL,
        legs=[(clearing_account(transfer.to_bank_code), -transfer.amount), (transfer.from_account, transfer.amount)],
        actor=actor,
        memo=f"{_('Returned transfer')} {transfer.reference}",
        reverses=transfer.journal,
    )
    transfer.status = Transfer.Status.RETURNED
    transfer.return_journal = journal
    transfer.returned_at = now
    transfer.return_reason = (answer.reason or "refused")[:200]
    transfer.save(update_fields=["status", "return_journal", "returned_at", "return_reason"])
    send_sms_on_commit(to=transfer.customer.phone, body=returned_sms_body(transfer), purpose="transfer_returned")


def _chunk(*, gateway: InterbankGateway, actor: Actor, now: dt.datetime, size: int, result: ClearingResult) -> int:
    """One transaction: pick up to ``size`` queued transfers, hand them over, record the answers."""
    with transaction.atomic():
        picked = list(
            # SKIP LOCKED: a second run (or a slow previous one) takes other rows, never the same.
            Transfer.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("from_account", "journal", "customer")
            .filter(status=Transfer.Status.QUEUED)
            .exclude(reference__in=[ref.split(" ", 1)[0] for ref in result.failed])
            .order_by("created_at", "pk")[:size]
        )
        sent: list[str] = []
        returned: list[str] = []
        for transfer in picked:
            answer = gateway.send(
                OutboundTransfer(
                    reference=transfer.reference,
                    bank_code=transfer.to_bank_code,
                    account_number=transfer.to_account_number,
                    amount=transfer.amount,
                    recipient_name=transfer.recipient_name,
                    memo=transfer.memo_recipient,
                )
            )
            if answer.accepted:
                sent.append(transfer.reference)
                continue
            try:
                with transaction.atomic():  # a savepoint: one return that cannot post leaves the others
                    _return(transfer, answer, actor=actor, now=now)
                returned.append(transfer.reference)
            except ValidationError as exc:  # e.g. the customer's account was closed meanwhile: staff look
                logger.error("transfer %s refused by the other bank, cannot return it: %s", transfer.reference, exc)
                result.failed.append(f"{transfer.reference} {exc.code}")
        if sent:
            Transfer.objects.filter(reference__in=sent, status=Transfer.Status.QUEUED).update(
                status=Transfer.Status.SENT, sent_at=now
            )
        if sent or returned:
            audit_record(
                action="transfer.clearing",
                actor=actor,
                details={"sent": sent, "returned": returned},
            )
    result.sent += len(sent)
    result.returned += len(returned)
    return len(picked)


def interbank_clearing_run(
    *,
    actor: Actor,
    now: dt.datetime | None = None,
    gateway: InterbankGateway | None = None,
    dry_run: bool = False,
    chunk_size: int | None = None,
) -> ClearingResult:
    """Hand the queued transfers to the other banks, chunk by chunk; returns the counts.

    ``dry_run`` only counts the queue (no gateway call, nothing written). With no gateway
    configured nothing is sent or written: the transfers stay queued and ``skipped`` says why.
    Raises ``PermissionDenied`` without ``accounts.change_transfer``.
    """
    require_perm(actor, CLEARING_PERMISSION)
    now = now or timezone.now()
    result = ClearingResult(dry_run=dry_run, queued=Transfer.objects.filter(status=Transfer.Status.QUEUED).count())
    if dry_run:
        return result
    gateway = gateway or interbank_gateway()
    if gateway is None:
        # Not a crash: the queue waits, untouched, until a gateway is configured.
        result.skipped = NO_GATEWAY
        logger.log(
            logging.WARNING if result.queued else logging.INFO,
            "interbank clearing sent nothing: %s; %d transfer(s) stay queued",
            NO_GATEWAY,
            result.queued,
        )
        return result
    size = chunk_size or settings.INTERBANK_CLEARING_CHUNK
    while _chunk(gateway=gateway, actor=actor, now=now, size=size, result=result):
        result.chunks += 1
    return result
