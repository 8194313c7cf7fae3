import logging

from celery import shared_task

from accounts.selectors import ledger_problems
from accounts.services.ledger import internal_balances_roll_up
from accounts.services.staff_requests import EXPIRE_PERMISSION, staff_request_expire_due
from bankportal.actors import system_actor

logger = logging.getLogger(__name__)


@shared_task
def ledger_verify_task() -> dict[str, object]:
    """Nightly: prove every balance and running balance; any problem is logged at ERROR for on-call."""
    problems = ledger_problems()
    for problem in problems:
        logger.error("ledger %s: %s: %s", problem.kind, problem.ref, problem.detail)
    return {"ok": not problems, "problems": len(problems)}


@shared_task
def internal_balances_roll_up_task() -> dict[str, object]:
    """Every minute: fold finished internal legs into the branch cash, fee and clearing balances."""
    actor = system_actor("ledger_roll_up", ["accounts.change_account"])
    return {"moved": internal_balances_roll_up(actor=actor)}


@shared_task
def staff_request_expire_task() -> dict[str, object]:
    """Just after midnight KST: close the staff requests left open at the end of their business day."""
    actor = system_actor("staff_request_expiry", [EXPIRE_PERMISSION])
    return {"expired": staff_request_expire_due(actor=actor)}
