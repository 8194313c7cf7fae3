import logging

from celery import shared_task

from accounts.selectors import ledger_problems
from accounts.services.agreement_jobs import agreements_dormancy_sweep, agreements_lapse_due
from accounts.services.agreements import LAPSE_PERMISSION, SUSPEND_PERMISSION
from accounts.services.clearing import CLEARING_PERMISSION, interbank_clearing_run
from accounts.services.ledger import internal_balances_roll_up
from accounts.services.staff_requests import EXPIRE_PERMISSION, staff_request_expire_due
from bankportal.actors import system_actor
from bankportal.middleware import RequestContext, use_context

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


@shared_task
def agreements_lapse_task() -> dict[str, object]:
    """Just after midnight KST: lapse the applications not registered online by their deadline."""
    actor = system_actor("agreement_lapse", [LAPSE_PERMISSION])
    with use_context(RequestContext(ip=None, user_agent="", channel="task")):
        return agreements_lapse_due(actor=actor).as_dict()


@shared_task
def agreements_dormancy_task() -> dict[str, object]:
    """Just after midnight KST: suspend agreements unused for 12 months; send the 30-day notices."""
    actor = system_actor("agreement_dormancy", [SUSPEND_PERMISSION])
    with use_context(RequestContext(ip=None, user_agent="", channel="task")):
        return agreements_dormancy_sweep(actor=actor).as_dict()


@shared_task
def interbank_clearing_task() -> dict[str, object]:
    """Every minute: hand queued transfers to the other banks; return the refused ones with a notice."""
    actor = system_actor("interbank_clearing", [CLEARING_PERMISSION])
    with use_context(RequestContext(ip=None, user_agent="", channel="task")):
        return interbank_clearing_run(actor=actor).as_dict()
