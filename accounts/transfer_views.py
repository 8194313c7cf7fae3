"""The transfer pages (이체), in the banking (certificate) session.

1. ``transfer``: from which withdrawal account, to where (own account, an account here, another
   bank), how much, a memo for each side. The recipient is looked up (수취인 조회) and the limits and
   balance are checked here, so a refusal comes at once and says which limit and how much is left.
2. ``transfer_confirm``: the details with the recipient's name and what is left of today's limit;
   the account password, the security medium's challenge (card numbers or OTP) and the
   certificate's e-signature over ``transfer_canonical_text``: signed in the browser with a joint
   certificate (static/js/transfer-sign.js), or, for a customer holding a financial certificate
   who chooses it (``?method=financial``), by the cloud after the PIN typed on the keypad
   (``financial_sign`` over the same text, before ``transfer_execute``, which only checks it).
   Either way the order is account password, security medium (once per flow), signature. The
   final POST looks the form's key up first (``transfer_for_key``): a resubmitted form shows its
   receipt and asks for nothing again, not the PIN either.
3. ``transfer_receipt``: printable, with the reference; another bank's status is read again
   whenever it is opened.

Flow state lives in the session under ``FLOWS_KEY``, one entry per rendered form, keyed by the
form's idempotency key (made when the input form is rendered): the step reached, the checked
details, the medium kind asked for and whether it was answered, the signatures refused so far and
whether the financial certificate became unusable (locked, ...). Never the account password or PIN.
A step opens only when its form's flow has reached it; an expired or unknown flow starts again.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import wraps
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, ngettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from accounts import accountnumbers
from accounts import limits as rules
from accounts.ebanking_views import (
    MSG_SIGN_BAD_CERT_FILE,
    MSG_SIGN_BAD_KEY_FILE,
    MSG_SIGN_CHOOSE,
    MSG_SIGN_ENTER_PASSWORD,
    MSG_SIGN_EXPIRES,
    MSG_SIGN_NO_SUPPORT,
    MSG_SIGN_NONE_STORED,
    MSG_SIGN_WORKING,
    MSG_SIGN_WRONG_PASSWORD,
)
from accounts.forms import OtpAnswerForm, SecurityCardAnswerForm
from accounts.forms_transfer import (
    ERR_ACCOUNT_PASSWORD_REQUIRED,
    SIGN_FINANCIAL,
    SIGN_JOINT,
    TransferConfirmForm,
    TransferFinancialConfirmForm,
    TransferForm,
)
from accounts.limits import Tier
from accounts.models import Account, Agreement, Customer, Transfer, User
from accounts.pins import MAX_FAILURES
from accounts.services.limits import Remaining, remaining_today, won
from accounts.services.passwords import require_account_password
from accounts.services.transfers import (
    ERR_AGREEMENT_NOT_ACTIVE,
    ERR_DAILY_LIMIT,
    ERR_FORM_KEY,
    ERR_FROM_ACCOUNT,
    ERR_INSUFFICIENT_FUNDS,
    ERR_NO_SECURITY_MEDIUM,
    ERR_PER_TRANSFER_LIMIT,
    ERR_SAME_ACCOUNT,
    Recipient,
    bank_codes,
    parse_idempotency_key,
    transfer_canonical_text,
    transfer_execute,
    transfer_for_key,
    transfer_recipient,
)
from bankportal.forms import add_service_error
from bankportal.session_levels import banking_required
from bankportal.timeutil import kst_now
from certcenter.ca import CertificateKind
from certcenter.services import signature_verify
from certcenter.services.financial import (
    ERR_EXPIRED,
    ERR_LOCKED,
    ERR_NONE_HELD,
    ERR_REVOKED,
    financial_sign,
    financial_transfer_signature,
    signing_financial_certificate,
)
from otp.services import (
    ANTI_PHISHING_NOTICE,
    Medium,
    Purpose,
    Refusal,
    SecurityMediumRefused,
    security_medium_challenge,
    security_medium_verify,
    security_tier,
)

FLOWS_KEY = "transfer_flows"
FLOW_SECONDS = 10 * 60  # from rendering a step's form to submitting it
MAX_FLOWS = 5  # open transfer forms per session (tabs); the oldest is dropped
SIGN_TRIES = 5  # refused signatures in one flow before it ends (each refusal is audited)
SUBMIT_LOCK_SECONDS = 60  # longer than any transfer takes; a crashed worker's mark expires
SUBMIT_WAIT_SECONDS = 10  # how long a second submission of one form waits for the first

MSG_START_AGAIN = _(
    "This transfer form has expired or was already used. Fill in the transfer again: each step is valid for 10 minutes."
)
ERR_NOT_A_CUSTOMER = _(
    "Transfers are for customers who use internet banking. Staff and web members cannot make transfers here."
)
ERR_SIGN_TRIES = _(
    "The transfer was not signed after %(tries)s attempts. Nothing was sent. Start the transfer again; if your "
    "certificate cannot be used, issue a new one in the certificate centre."
)
ERR_IN_PROGRESS = _(
    "This transfer form is being sent right now. Wait a moment, then open the transfer page again to check "
    "before you send it again."
)
ERR_PASSWORD_TRIES_LEFT = ngettext_lazy(
    "%(left)s more wrong entry locks the account password.",
    "%(left)s more wrong entries lock the account password.",
    "left",
)
ERR_MEDIUM_TRIES_LEFT = ngettext_lazy(
    "%(left)s more wrong entry locks the security medium.",
    "%(left)s more wrong entries lock the security medium.",
    "left",
)
MSG_SIGN_ENTER_ACCOUNT_PASSWORD = ERR_ACCOUNT_PASSWORD_REQUIRED
MSG_SIGN_ENTER_MEDIUM = _("Enter the security card numbers or the OTP number asked for.")
MSG_FINANCIAL_FALLBACK = _(
    "You can still sign this transfer with a joint certificate: your security medium is already confirmed."
)
MSG_ACCOUNT_CHOICE = _("%(number)s (%(product)s) · balance %(balance)s won")

# Refusals by the transfer service that end the flow: the details cannot go through as they are.
# Anything else from ``transfer_execute`` is the certificate centre refusing the signature, which
# the customer may try again (another certificate, the right file).
_FLOW_ENDING_CODES = frozenset(
    {
        "form_key",
        "idempotency_key_reused",
        "amount_positive",
        "memo",
        "destination",
        "bank_code",
        "interbank_unavailable",
        "account_number",
        "no_such_account",
        "not_own_account",
        "same_account",
        "medium_not_verified",
        "agreement_not_active",
        "from_account",
        "no_security_medium",
        "per_transfer_limit",
        "daily_limit",
        "insufficient_funds",
        "account_closed",
        "account_frozen",
    }
)
_LIMIT_MESSAGES = {
    rules.LimitRefusal.NO_MEDIUM: ERR_NO_SECURITY_MEDIUM,
    rules.LimitRefusal.PER_TRANSFER: ERR_PER_TRANSFER_LIMIT,
    rules.LimitRefusal.PER_DAY: ERR_DAILY_LIMIT,
}
# Where a recipient-inquiry refusal belongs on the input form.
_FIELD_BY_CODE = {
    "destination": "destination",
    "bank_code": "to_bank_code",
    "account_number": "to_account_number",
    "no_such_account": "to_account_number",
    "not_own_account": "own_account",
}
_ENDING_MEDIUM_REFUSALS = {Refusal.LOCKED, Refusal.NO_MEDIUM, Refusal.ACCIDENT_REPORTED}
# Refusals of ``financial_sign`` after which the financial certificate cannot sign this flow: the
# page falls back to the joint certificate and says why (a locked one is reissued, never unlocked).
_FINANCIAL_UNUSABLE = {
    "locked": ERR_LOCKED,
    "revoked": ERR_REVOKED,
    "expired": ERR_EXPIRED,
    "no_financial_certificate": ERR_NONE_HELD,
}

ConfirmForm = TransferConfirmForm | TransferFinancialConfirmForm


# --- guard and reads -------------------------------------------------------------------------------


def customer_banking(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Banking session (``banking_required``), and a customer's own user: the view gets the customer."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = cast(User, request.user)
        if user.is_staff or user.customer_id is None:
            return render(request, "accounts/transfer/refused.html", {"message": ERR_NOT_A_CUSTOMER}, status=403)
        return view(request, user.customer, *args, **kwargs)

    return never_cache(banking_required(wrapped))


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _agreement(customer: Customer) -> Agreement | None:
    return Agreement.objects.filter(customer_id=customer.pk, state__in=Agreement.OPEN_STATES).first()


def _withdrawal_accounts(agreement: Agreement, customer: Customer) -> list[Account]:
    return list(
        agreement.withdrawal_accounts.filter(
            kind=Account.Kind.CUSTOMER, holder_id=customer.pk, status=Account.Status.ACTIVE
        )
        .select_related("product")
        .order_by("pk")
    )


def _own_accounts(customer: Customer) -> list[Account]:
    return list(
        Account.objects.filter(holder_id=customer.pk, kind=Account.Kind.CUSTOMER)
        .exclude(status=Account.Status.CLOSED)
        .select_related("product")
        .order_by("pk")
    )


def _account_label(account: Account) -> str:
    product = account.product.name_for(get_language()) if account.product else ""
    return str(MSG_ACCOUNT_CHOICE) % {
        "number": account.number_display,
        "product": product,
        "balance": won(account.balance),
    }


def bank_name(code: str) -> str:
    """A bank's name in the page's language: ours from settings, the others from INTERBANK_INSTITUTIONS."""
    english = get_language() == "en"
    if code == settings.BANK_CODE:
        return str(settings.BANK_NAME_EN if english else settings.BANK_NAME_KO)
    names = bank_codes().get(code)
    return (names[1] if english else names[0]) if names else code


def _bank_choices() -> list[tuple[str, str]]:
    """The banks the form offers; none while no interbank gateway is configured (the page then
    offers transfers within this bank only)."""
    if not settings.INTERBANK_GATEWAY:
        return []
    return [(code, f"{bank_name(code)} ({code})") for code in sorted(bank_codes())]


def masked_number(bank_code: str, number: str) -> str:
    """An account number as receipts show it: ours like ``101-01-***456-7``, another bank's with the middle hidden."""
    if bank_code == settings.BANK_CODE and len(number) == 12:
        return accountnumbers.masked(number)
    keep = 3 if len(number) >= 9 else 2
    return number[:keep] + "*" * (len(number) - 2 * keep) + number[-keep:]


@dataclass(frozen=True)
class Gate:
    agreement: Agreement
    sources: list[Account]
    tier: Tier


def _gate(request: HttpRequest, customer: Customer) -> Gate | HttpResponse:
    """What a transfer needs before any form: an agreement in use, a withdrawal account, a medium."""
    agreement = _agreement(customer)
    if agreement is None or agreement.state != Agreement.State.ACTIVE:
        return _refused(request, ERR_AGREEMENT_NOT_ACTIVE, code="agreement_not_active")
    sources = _withdrawal_accounts(agreement, customer)
    if not sources:
        return _refused(request, ERR_FROM_ACCOUNT, code="from_account")
    tier = security_tier(customer)
    if tier is Tier.NONE:
        return _refused(request, ERR_NO_SECURITY_MEDIUM, code="no_security_medium")
    return Gate(agreement=agreement, sources=sources, tier=tier)


def _refused(request: HttpRequest, message: Any, *, code: str = "", key: str | None = None) -> HttpResponse:
    """End the form's flow (if any) and say why, with where to go next."""
    if key is not None:
        _end_flow(request, key)
    return render(request, "accounts/transfer/refused.html", {"message": message, "code": code})


# --- flow state --------------------------------------------------------------------------------------


def _flows(request: HttpRequest) -> dict[str, dict[str, Any]]:
    """The session's open transfer forms, expired and malformed ones dropped."""
    stored = request.session.get(FLOWS_KEY)
    if not isinstance(stored, dict):
        return {}
    now = time.time()
    flows: dict[str, dict[str, Any]] = {}
    for key, state in stored.items():
        try:
            if isinstance(state, dict) and float(state["expires"]) >= now:
                flows[str(key)] = state
        except (KeyError, TypeError, ValueError):
            continue
    return flows


def _save_flows(request: HttpRequest, flows: dict[str, dict[str, Any]]) -> None:
    newest = sorted(flows.items(), key=lambda item: float(item[1]["expires"]), reverse=True)[:MAX_FLOWS]
    request.session[FLOWS_KEY] = dict(newest)


def _new_flow(request: HttpRequest) -> str:
    """A new form's idempotency key, with its flow at the input step."""
    key = str(uuid.uuid4())
    flows = _flows(request)
    flows[key] = {"step": "input", "expires": time.time() + FLOW_SECONDS}
    _save_flows(request, flows)
    return key


def _flow(request: HttpRequest, key: object, steps: tuple[str, ...]) -> tuple[str, dict[str, Any]] | None:
    """The form's key (canonical text) and state when its flow is at one of ``steps``, else ``None``."""
    try:
        canonical = str(parse_idempotency_key(key))
    except ValidationError:
        return None
    state = _flows(request).get(canonical)
    if state is None or state.get("step") not in steps:
        return None
    return canonical, state


def _update_flow(request: HttpRequest, key: str, **changes: Any) -> dict[str, Any]:
    flows = _flows(request)
    state = {**flows.get(key, {}), **changes}
    flows[key] = state
    _save_flows(request, flows)
    return state


def _end_flow(request: HttpRequest, key: str) -> None:
    flows = _flows(request)
    if flows.pop(key, None) is not None:
        _save_flows(request, flows)


def _restart(request: HttpRequest, key: str | None = None) -> HttpResponse:
    if key is not None:
        _end_flow(request, key)
    messages.warning(request, MSG_START_AGAIN)
    return redirect("transfer")


def _receipt_redirect(transfer: Transfer) -> HttpResponse:
    return redirect("transfer_receipt", reference=transfer.reference)


# --- step 1: input -----------------------------------------------------------------------------------


def _limit_error(refusal: rules.LimitRefusal, remaining: Remaining) -> ValidationError:
    limit = remaining.limit
    return ValidationError(
        _LIMIT_MESSAGES[refusal],
        code=refusal.value,
        params={
            "limit": won(limit.per_transfer if refusal is rules.LimitRefusal.PER_TRANSFER else limit.per_day),
            "left": won(remaining.left_today),
        },
    )


def _cannot_pay(customer: Customer, source: Account, amount: int, tier: Tier) -> ValidationError | None:
    """The limit or balance refusal ``transfer_execute`` would give now (an unlocked read; the service
    checks again under its locks): on the input step at once, and on the confirmation step before the
    financial certificate's PIN, so that no PIN is tried and no signed order is kept for a transfer
    that cannot go through (the cloud signs before the service's checks, not inside them)."""
    remaining = remaining_today(customer, tier=tier)
    over = rules.transfer_refusal(amount=amount, limit=remaining.limit, sent_today=remaining.sent_today)
    if over is not None:
        return _limit_error(over, remaining)
    if source.balance < amount:
        balance = won(source.balance)
        return ValidationError(ERR_INSUFFICIENT_FUNDS, code="insufficient_funds", params={"balance": balance})
    return None


def _checked_details(form: TransferForm, customer: Customer, gate: Gate) -> dict[str, Any] | None:
    """The details as the flow keeps them, after the recipient inquiry and the limit and balance
    checks; ``None`` with the refusal on the form."""
    data = form.cleaned_data
    source = next(account for account in gate.sources if account.pk == data["from_account"])
    destination = data["destination"]
    to_bank, to_number = data.get("to_bank_code") or "", data.get("to_account_number") or ""
    if destination == Transfer.Destination.OWN:
        own = {account.pk: account for account in _own_accounts(customer)}
        to_bank, to_number = "", own[data["own_account"]].number
    elif destination == Transfer.Destination.SAME_BANK:
        to_bank = ""
    try:
        recipient = transfer_recipient(
            customer=customer, destination=destination, to_account_number=to_number, to_bank_code=to_bank
        )
    except ValidationError as refusal:
        add_service_error(form, refusal, _FIELD_BY_CODE)
        return None
    if recipient.account is not None and recipient.account.pk == source.pk:
        field = "own_account" if destination == Transfer.Destination.OWN else "to_account_number"
        form.add_error(field, ValidationError(ERR_SAME_ACCOUNT, code="same_account"))
        return None
    amount = data["amount"]
    problem = _cannot_pay(customer, source, amount, gate.tier)
    if problem is not None:
        form.add_error("amount", problem)
        return None
    return {
        "from": source.pk,
        "destination": recipient.destination,
        "to_bank": recipient.bank_code,
        "to_number": recipient.account_number,
        "own_account": data.get("own_account") if destination == Transfer.Destination.OWN else None,
        "name": recipient.name,
        "amount": amount,
        "memo_sender": data["memo_sender"],
        "memo_recipient": data["memo_recipient"],
    }


def _initial(key: str, state: dict[str, Any], gate: Gate, wanted_from: str = "") -> dict[str, Any]:
    """The form's first values: a flow's details when its customer comes back to change them; else the
    account the overview's "Transfer" link named (``?from=<number>``) when it is one of the sources."""
    initial: dict[str, Any] = {"key": key, "destination": Transfer.Destination.SAME_BANK}
    if len(gate.sources) == 1:
        initial["from_account"] = gate.sources[0].pk
    chosen = next((account.pk for account in gate.sources if account.number == wanted_from), None)
    if chosen is not None:
        initial["from_account"] = chosen
    details = state.get("details")
    if isinstance(details, dict):
        destination = details.get("destination")
        initial.update(
            from_account=details.get("from"),
            destination=destination,
            own_account=details.get("own_account"),
            to_bank_code=details.get("to_bank") if destination == Transfer.Destination.OTHER_BANK else "",
            to_account_number="" if destination == Transfer.Destination.OWN else details.get("to_number", ""),
            amount=details.get("amount"),
            memo_sender=details.get("memo_sender", ""),
            memo_recipient=details.get("memo_recipient", ""),
        )
    return initial


def _input_page(
    request: HttpRequest, customer: Customer, gate: Gate, form: TransferForm, *, status: int = 200, key_error: Any = ""
) -> HttpResponse:
    remaining = remaining_today(customer, tier=gate.tier)
    return render(
        request,
        "accounts/transfer/input.html",
        {"form": form, "remaining": remaining, "step": 1, "steps": STEPS, "key_error": key_error},
        status=status,
    )


STEPS = (_("Details"), _("Confirm and sign"), _("Receipt"))


@customer_banking
@require_http_methods(["GET", "HEAD", "POST"])
def transfer(request: HttpRequest, customer: Customer) -> HttpResponse:
    """Step 1: the transfer's details. A GET renders a new form (a new idempotency key); ``?key=``
    reopens a form not yet sent, to change its details."""
    gate = _gate(request, customer)
    if isinstance(gate, HttpResponse):
        return gate

    def make_form(data: Any = None, initial: dict[str, Any] | None = None) -> TransferForm:
        return TransferForm(
            data,
            initial=initial,
            from_choices=[(account.pk, _account_label(account)) for account in gate.sources],
            own_choices=[(account.pk, _account_label(account)) for account in _own_accounts(customer)],
            bank_choices=_bank_choices(),
        )

    if request.method != "POST":
        reopened = _flow(request, request.GET.get("key"), ("input", "confirm")) if "key" in request.GET else None
        if reopened is not None and transfer_for_key(customer, reopened[0]) is None:
            key, state = reopened
        else:
            key, state = _new_flow(request), {}
        initial = _initial(key, state, gate, request.GET.get("from", ""))
        return _input_page(request, customer, gate, make_form(initial=initial))

    raw_key = request.POST.get("key", "")
    existing = transfer_for_key(customer, raw_key)
    if existing is not None:  # the same form sent again (back button, double click): its receipt
        return _receipt_redirect(existing)
    found = _flow(request, raw_key, ("input", "confirm"))
    if found is None:
        try:
            parse_idempotency_key(raw_key)
        except ValidationError:
            # No form of ours: a new form, with the reason, and a 400 for whatever sent this.
            form = make_form(initial=_initial(_new_flow(request), {}, gate))
            return _input_page(request, customer, gate, form, status=400, key_error=ERR_FORM_KEY)
        return _restart(request)
    key, _state = found
    form = make_form(request.POST)
    if form.is_valid():
        details = _checked_details(form, customer, gate)
        if details is not None:
            # New details: the medium and signature are asked for (again) on the confirmation step.
            _update_flow(
                request,
                key,
                step="confirm",
                details=details,
                medium="",
                medium_ok=False,
                sign_refusals=0,
                expires=time.time() + FLOW_SECONDS,
            )
            return redirect("transfer_confirm", key=key)
    return _input_page(request, customer, gate, form)


# --- step 2: confirm and sign ------------------------------------------------------------------------


@dataclass(frozen=True)
class Details:
    source: Account
    recipient: Recipient
    amount: int
    memo_sender: str
    memo_recipient: str


def _details(customer: Customer, state: dict[str, Any]) -> Details | None:
    """The flow's checked details with the from-account read again; ``None`` if unusable."""
    raw = state.get("details")
    if not isinstance(raw, dict):
        return None
    try:
        source = Account.objects.select_related("product").filter(pk=int(raw["from"]), holder_id=customer.pk).first()
        recipient = Recipient(
            destination=str(raw["destination"]),
            bank_code=str(raw["to_bank"]),
            account_number=str(raw["to_number"]),
            name=str(raw["name"]),
            account=None,  # the text names the account by number; transfer_execute looks it up again
        )
        amount = int(raw["amount"])
        memos = str(raw["memo_sender"]), str(raw["memo_recipient"])
    except (KeyError, TypeError, ValueError):
        return None
    if source is None:
        return None
    return Details(source=source, recipient=recipient, amount=amount, memo_sender=memos[0], memo_recipient=memos[1])


def _signing_text(customer: Customer, details: Details, key: str) -> str:
    return transfer_canonical_text(
        customer=customer,
        from_account=details.source,
        recipient=details.recipient,
        amount=details.amount,
        memo_sender=details.memo_sender,
        memo_recipient=details.memo_recipient,
        idempotency_key=key,
    )


def _sign_messages() -> dict[str, str]:
    return {
        "wrong_password": str(MSG_SIGN_WRONG_PASSWORD),
        "bad_key_file": str(MSG_SIGN_BAD_KEY_FILE),
        "bad_cert_file": str(MSG_SIGN_BAD_CERT_FILE),
        "choose": str(MSG_SIGN_CHOOSE),
        "enter_password": str(MSG_SIGN_ENTER_PASSWORD),
        "no_support": str(MSG_SIGN_NO_SUPPORT),
        "working": str(MSG_SIGN_WORKING),
        "none_stored": str(MSG_SIGN_NONE_STORED),
        "expires": str(MSG_SIGN_EXPIRES),
        "enter_account_password": str(MSG_SIGN_ENTER_ACCOUNT_PASSWORD),
        "enter_medium": str(MSG_SIGN_ENTER_MEDIUM),
    }


def _lock_name(customer: Customer, key: str) -> str:
    return f"transfer-submit:{customer.pk}:{key}"


@contextlib.contextmanager
def _submission(customer: Customer, key: str) -> Iterator[Transfer | None | bool]:
    """One submission of a form at a time: yields ``True`` for the one that goes on; another one
    (a double click, a network retry) waits for it and gets its ``Transfer``, or ``False`` when
    none appeared in time. The database keeps one transfer per key regardless (the service); this
    only spares the second submission a security medium answer the first one has spent."""
    name = _lock_name(customer, key)
    deadline = time.monotonic() + SUBMIT_WAIT_SECONDS
    while not cache.add(name, "1", timeout=SUBMIT_LOCK_SECONDS):
        existing = transfer_for_key(customer, key)
        if existing is not None or time.monotonic() > deadline:
            yield existing or False
            return
        time.sleep(0.2)
    try:
        yield True
    finally:
        cache.delete(name)


def _medium_form(state: dict[str, Any], data: Any = None) -> SecurityCardAnswerForm | OtpAnswerForm | None:
    if state.get("medium_ok"):
        return None
    if state.get("medium") == Medium.OTP.value:
        return OtpAnswerForm(data)
    if state.get("medium") == Medium.SECURITY_CARD.value:
        return SecurityCardAnswerForm(data)
    return None


def _password_refusal(refusal: ValidationError, account: Account) -> str:
    failures = Account.objects.filter(pk=account.pk).values_list("password_failures", flat=True).first() or 0
    left = MAX_FAILURES - failures
    message = str(refusal.messages[0])
    return f"{message} {ERR_PASSWORD_TRIES_LEFT % {'left': left}}" if left > 0 else message


def _sign_refused(
    request: HttpRequest, key: str, state: dict[str, Any], form: ConfirmForm, message: Any, field: str | None = None
) -> HttpResponse | None:
    """Count a refused signature (a joint certificate's or a wrong PIN) in the flow; the last allowed
    one ends it. ``None`` with the message on ``form`` for the page again."""
    tries = int(state.get("sign_refusals") or 0) + 1
    if tries >= SIGN_TRIES:
        return _refused(request, ERR_SIGN_TRIES % {"tries": tries}, code="sign_tries", key=key)
    _update_flow(request, key, sign_refusals=tries)
    form.add_error(field, message)
    return None


def _financial_signature(
    request: HttpRequest,
    customer: Customer,
    key: str,
    state: dict[str, Any],
    details: Details,
    form: TransferFinancialConfirmForm,
) -> Callable[[str], Any] | HttpResponse | None:
    """The cloud's signature with the PIN over the text the page showed, as ``transfer_execute``'s
    ``signature``. Outside any transaction: the cloud commits a wrong PIN's count itself. ``None``
    with the refusal on ``form`` (a wrong PIN says how many tries are left) or, when the financial
    certificate cannot sign any more (locked, ...), with the flow falling back to the joint one."""
    try:
        evidence = financial_sign(
            customer=customer,
            pin=form.cleaned_data["pin"],
            text=_signing_text(customer, details, key),
            purpose="transfer",
            actor=_user(request),
        )
    except ValidationError as refusal:
        code = refusal.code or ""
        if code in _FINANCIAL_UNUSABLE:
            _update_flow(request, key, financial_refused=code)
            return None
        return _sign_refused(request, key, state, form, refusal.messages[0], "pin" if code == "wrong_pin" else None)
    return financial_transfer_signature(evidence)


def _submit(
    request: HttpRequest,
    customer: Customer,
    key: str,
    state: dict[str, Any],
    details: Details,
    tier: Tier,
    form: ConfirmForm,
    medium_form: SecurityCardAnswerForm | OtpAnswerForm | None,
) -> HttpResponse | None:
    """The final POST: account password, security medium, then the signed transfer (the joint
    certificate's signature from the browser, or the financial certificate's after its PIN). A
    response when the flow moves on or ends; ``None`` with the refusal on ``form`` for the page again.

    The medium comes before the PIN on purpose, as before the joint signature: it is answered once
    per flow (a wrong PIN next does not ask for another OTP number), a PIN can only be tried behind a
    verified medium, and no signature evidence is made for a transfer the medium refuses."""
    valid = form.is_valid()
    medium_valid = medium_form.is_valid() if medium_form is not None else True
    if not state.get("medium_ok") and medium_form is None:
        return _restart(request, key)  # the page was never rendered with a challenge
    if not (valid and medium_valid):
        if isinstance(form, TransferConfirmForm) and (form.errors.get("certificate") or form.errors.get("signature")):
            form.errors.pop("certificate", None)
            form.errors.pop("signature", None)
            form.add_error(None, form.refusal())
        return None
    if str(form.cleaned_data["key"]) != key:
        form.add_error(None, ValidationError(ERR_FORM_KEY, code="form_key"))
        return None
    user = _user(request)
    with _submission(customer, key) as go:
        if isinstance(go, Transfer):
            _end_flow(request, key)
            return _receipt_redirect(go)
        if go is False:
            form.add_error(None, ERR_IN_PROGRESS)
            return None
        # 1. The account password: a wrong one stays counted (its own transaction).
        try:
            require_account_password(account=details.source, password=form.cleaned_data["account_password"], actor=user)
        except ValidationError as refusal:
            if refusal.code == "account_password_locked":
                return _refused(request, refusal.messages[0], code=refusal.code, key=key)
            form.add_error("account_password", _password_refusal(refusal, details.source))
            return None
        # 2. The security medium, once per flow: a signature refused next does not spend another OTP number.
        if medium_form is not None:
            result = security_medium_verify(
                customer=customer, purpose=Purpose.TRANSFER, answer=medium_form.answer(), actor=user
            )
            if not result.ok:
                if result.refusal in _ENDING_MEDIUM_REFUSALS:
                    return _refused(request, result.message, code=f"security_medium_{result.refusal.value}", key=key)
                message = result.message
                if result.refusal is Refusal.WRONG and result.tries_left:
                    message = f"{message} {ERR_MEDIUM_TRIES_LEFT % {'left': result.tries_left}}"
                form.add_error(None, message)
                return None
            state = _update_flow(request, key, medium_ok=True)
        # 3. The transfer, with the signature verified inside it (the PIN's made just before).
        verify: Callable[[str], Any]
        if isinstance(form, TransferFinancialConfirmForm):
            problem = _cannot_pay(customer, details.source, details.amount, tier)
            if problem is not None:
                return _refused(request, problem.messages[0], code=problem.code or "", key=key)
            signed = _financial_signature(request, customer, key, state, details, form)
            if signed is None or isinstance(signed, HttpResponse):
                return signed
            verify = signed
        else:
            certificate, signature = form.cleaned_data["certificate"], form.cleaned_data["signature"]

            def verify(text: str) -> Any:
                return signature_verify(
                    customer=customer,
                    certificate_der=certificate,
                    text=text,
                    signature=signature,
                    purpose="transfer",
                    actor=user,
                )

        try:
            made = transfer_execute(
                customer=customer,
                from_account=details.source,
                destination=details.recipient.destination,
                to_account_number=details.recipient.account_number,
                to_bank_code=details.recipient.bank_code,
                amount=details.amount,
                memo_sender=details.memo_sender,
                memo_recipient=details.memo_recipient,
                idempotency_key=key,
                tier=tier,
                medium_verified=True,  # verified above for this flow's details
                signature=verify,
                actor=user,
            )
        except ValidationError as refusal:
            code = refusal.code or ""
            if code in _FLOW_ENDING_CODES:
                return _refused(request, refusal.messages[0], code=code, key=key)
            return _sign_refused(request, key, state, form, refusal.messages[0])
    _end_flow(request, key)
    return _receipt_redirect(made)


@customer_banking
@require_http_methods(["GET", "HEAD", "POST"])
def transfer_confirm(request: HttpRequest, customer: Customer, key: uuid.UUID) -> HttpResponse:
    """Step 2: check the details and the recipient's name, then account password, security medium
    and the signature: the joint certificate's, or the financial certificate's with its PIN when the
    customer holds one and chose it. A form sent again shows its receipt."""
    if request.method == "POST":
        existing = transfer_for_key(customer, key)
        if existing is not None:  # before the medium: a spent OTP number would be refused as a replay
            _end_flow(request, str(key))
            return _receipt_redirect(existing)
    found = _flow(request, key, ("confirm",))
    if found is None:
        return _restart(request)
    flow_key, state = found
    details = _details(customer, state)
    if details is None:
        return _restart(request, flow_key)
    tier = security_tier(customer)
    posted = request.method == "POST"
    wants_financial = (request.POST if posted else request.GET).get("method") == SIGN_FINANCIAL
    # Asked of the cloud only when needed: a joint-certificate post that goes through never renders.
    holds_financial = signing_financial_certificate(customer.pk) is not None if wants_financial else None
    financial = wants_financial and bool(holds_financial) and not state.get("financial_refused")
    # A post choosing the financial certificate the customer does not hold (or no longer can use in
    # this flow) is refused before anything is checked: nothing is counted or spent.
    data = request.POST if posted and financial == wants_financial else None
    method_problem = ERR_NONE_HELD if posted and wants_financial and not holds_financial else ""
    form: ConfirmForm = TransferFinancialConfirmForm(data) if financial else TransferConfirmForm(data)
    medium_form = _medium_form(state, data)
    if data is not None:
        outcome = _submit(request, customer, flow_key, state, details, tier, form, medium_form)
        if outcome is not None:
            return outcome
        state = _flows(request).get(flow_key, state)
        if financial and state.get("financial_refused"):  # locked just now: back to the joint certificate
            financial, form = False, TransferConfirmForm()
    challenge = None
    if state.get("medium_ok"):
        medium_form = None
    else:
        try:
            challenge = security_medium_challenge(customer=customer, purpose=Purpose.TRANSFER, actor=_user(request))
        except SecurityMediumRefused as refusal:
            return _refused(request, refusal.messages[0], code=refusal.code or "", key=flow_key)
        if state.get("medium") != challenge.medium.value:
            state = _update_flow(request, flow_key, medium=challenge.medium.value)
            medium_form = _medium_form(state)
        if medium_form is None:
            medium_form = _medium_form(state)
    remaining = remaining_today(customer, tier=tier)
    limit_refusal = rules.transfer_refusal(
        amount=details.amount, limit=remaining.limit, sent_today=remaining.sent_today
    )
    text = _signing_text(customer, details, flow_key)
    financial_refused = _FINANCIAL_UNUSABLE.get(str(state.get("financial_refused") or ""))
    if holds_financial is None:
        holds_financial = signing_financial_certificate(customer.pk) is not None
    url = reverse("transfer_confirm", kwargs={"key": flow_key})
    return render(
        request,
        "accounts/transfer/confirm.html",
        {
            "step": 2,
            "steps": STEPS,
            "key": flow_key,
            "form": form,
            "financial": financial,
            "financial_offered": holds_financial and financial_refused is None,
            "financial_problem": financial_refused or "",
            "financial_fallback": MSG_FINANCIAL_FALLBACK,
            "method_problem": method_problem,
            "joint_url": f"{url}?method={SIGN_JOINT}",
            "financial_url": f"{url}?method={SIGN_FINANCIAL}",
            "medium_form": medium_form,
            "challenge": challenge,
            "is_otp": challenge is not None and challenge.medium is Medium.OTP,
            "notice": ANTI_PHISHING_NOTICE,
            "details": details,
            "to_bank_name": bank_name(details.recipient.bank_code),
            "to_number": details.recipient.account_number
            if details.recipient.bank_code != settings.BANK_CODE
            else accountnumbers.display(details.recipient.account_number),
            "remaining": remaining,
            "left_after": max(remaining.left_today - details.amount, 0),
            "limit_problem": _limit_error(limit_refusal, remaining).messages[0] if limit_refusal else "",
            "text": text,
            "messages_js": _sign_messages(),
            "change_url": f"{reverse('transfer')}?key={flow_key}",
        },
    )


# --- step 3: receipt ---------------------------------------------------------------------------------


def signed_with(transfer: Transfer) -> str:
    """Which certificate signed the transfer, from its evidence: ``"financial"`` (ours or another
    institution's, held in the cloud), ``"joint"``, or ``""`` when no signature is kept."""
    evidence = transfer.signature_evidence
    if evidence is None:
        return ""
    if evidence.certificate is not None:
        return SIGN_FINANCIAL if evidence.certificate.kind == CertificateKind.FINANCIAL else SIGN_JOINT
    external = evidence.external_certificate
    return SIGN_FINANCIAL if external is not None and external.cloud_id is not None else SIGN_JOINT


@customer_banking
@require_safe
def transfer_receipt(request: HttpRequest, customer: Customer, reference: str) -> HttpResponse:
    """The receipt (이체확인증) of one of the customer's transfers; another's is a 404. Another bank's
    status is read each time the page opens."""
    transfer = get_object_or_404(
        Transfer.objects.select_related(
            "from_account",
            "to_account",
            "signature_evidence__certificate",
            "signature_evidence__external_certificate",
        ),
        reference=reference,
        customer_id=customer.pk,
    )
    return render(
        request,
        "accounts/transfer/receipt.html",
        {
            "step": 3,
            "steps": STEPS,
            "transfer": transfer,
            "from_number": accountnumbers.masked(transfer.from_account.number),
            "to_number": masked_number(transfer.to_bank_code, transfer.to_account_number),
            "to_bank_name": bank_name(transfer.to_bank_code),
            "made_at": kst_now(transfer.created_at),
            "sent_at": kst_now(transfer.sent_at) if transfer.sent_at else None,
            "returned_at": kst_now(transfer.returned_at) if transfer.returned_at else None,
            "other_bank": transfer.destination == Transfer.Destination.OTHER_BANK,
            "signed_with": signed_with(transfer),
            "printed_at": kst_now(timezone.now()),
        },
    )
