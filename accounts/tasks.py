import logging

from celery import shared_task

from accounts.selectors import ledger_problems

logger = logging.getLogger(__name__)


@shared_task
def ledger_verify_task() -> dict[str, object]:
    """Nightly: recompute balances; any problem is logged at ERROR for on-call alerting."""
    problems = ledger_problems()
    for problem in problems:
        logger.error("ledger %s: %s: %s", problem.kind, problem.ref, problem.detail)
    return {"ok": not problems, "problems": len(problems)}
