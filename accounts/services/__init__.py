"""Every state change of customers, accounts and the ledger, split by concept.

Each public service is one transaction that also appends an audit event, takes an explicit
``actor`` (a staff user, the customer, or a named ``bankportal.actors.SystemActor``) and checks
what that actor may do. Services raise ``ValidationError`` (with a ``code``) for business refusals
and ``PermissionDenied`` when the actor may not act; messages are constants in each module.

Callers use ``from accounts import services`` and ``services.<name>``; the names below are the
public surface.
"""

from accounts.identity import customer_rrn
from accounts.services._common import Actor
from accounts.services.customers import (
    customer_create,
    customer_lift_minor_cap,
    customer_rrn_reencrypt,
    customer_update_contact,
    normalise_phone,
)
from accounts.services.ledger import (
    account_open,
    cash_deposit,
    cash_withdrawal,
    internal_account,
    journal_reverse,
    ledger_post,
)
from accounts.services.passwords import (
    PasswordCheck,
    account_password_check,
    account_password_reset,
    require_account_password,
    validate_account_password,
)

__all__ = [
    "Actor",
    "PasswordCheck",
    "account_open",
    "account_password_check",
    "account_password_reset",
    "cash_deposit",
    "cash_withdrawal",
    "customer_create",
    "customer_lift_minor_cap",
    "customer_rrn",
    "customer_rrn_reencrypt",
    "customer_update_contact",
    "internal_account",
    "journal_reverse",
    "ledger_post",
    "normalise_phone",
    "require_account_password",
    "validate_account_password",
]
