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
from accounts.services.agreement_jobs import agreements_dormancy_sweep, agreements_lapse_due
from accounts.services.agreement_online import (
    IdentifyPurpose,
    agreement_identify,
    agreement_register_online,
    agreement_release_online,
    agreement_user_id_lookup,
    mask_user_id,
)
from accounts.services.agreements import (
    agreement_apply,
    agreement_lapse,
    agreement_record_use,
    agreement_record_wrong_entry,
    agreement_release,
    agreement_suspend,
    agreement_terminate,
    agreement_web_actor,
)
from accounts.services.customers import (
    customer_create,
    customer_lift_minor_cap,
    customer_rrn_reencrypt,
    customer_update_contact,
    customer_update_name,
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
from accounts.services.staff import staff_create, staff_otp_enrol
from accounts.services.staff_requests import (
    StaffRequestExecutor,
    staff_request_approve,
    staff_request_cancel,
    staff_request_create,
    staff_request_executor,
    staff_request_executor_for,
    staff_request_expire_due,
    staff_request_expiry,
    staff_request_reject,
)

__all__ = [
    "Actor",
    "PasswordCheck",
    "StaffRequestExecutor",
    "account_open",
    "account_password_check",
    "account_password_reset",
    "IdentifyPurpose",
    "agreement_apply",
    "agreement_identify",
    "agreement_user_id_lookup",
    "agreements_dormancy_sweep",
    "agreements_lapse_due",
    "mask_user_id",
    "agreement_lapse",
    "agreement_record_use",
    "agreement_record_wrong_entry",
    "agreement_register_online",
    "agreement_release",
    "agreement_release_online",
    "agreement_suspend",
    "agreement_terminate",
    "agreement_web_actor",
    "cash_deposit",
    "cash_withdrawal",
    "customer_create",
    "customer_lift_minor_cap",
    "customer_rrn",
    "customer_rrn_reencrypt",
    "customer_update_contact",
    "customer_update_name",
    "internal_account",
    "journal_reverse",
    "ledger_post",
    "normalise_phone",
    "require_account_password",
    "staff_create",
    "staff_otp_enrol",
    "staff_request_approve",
    "staff_request_cancel",
    "staff_request_create",
    "staff_request_executor",
    "staff_request_executor_for",
    "staff_request_expire_due",
    "staff_request_expiry",
    "staff_request_reject",
    "validate_account_password",
]
