import logging

from celery import shared_task

from bankportal.audit.services import audit_seal
from bankportal.audit.verification import audit_verify

logger = logging.getLogger(__name__)

# An unsealed event older than this means the sealer (beat every few seconds) is not running, or a
# long transaction somewhere in the PostgreSQL cluster is holding the seal horizon back.
STALE_TAIL_SECONDS = 15 * 60


@shared_task
def audit_seal_task() -> dict[str, object]:
    """Every few seconds (beat): seal committed audit events; a no-op while another sealer runs."""
    run = audit_seal()
    return {"seals": run.seals, "events": run.events, "busy": run.busy, "last_number": run.last_number}


@shared_task
def audit_verify_task() -> dict[str, object]:
    """Nightly: verify events and the seal chain; a break is logged at ERROR for the on-call alerting,
    a stale unsealed tail at WARNING."""
    report = audit_verify()
    for problem in report.problems:
        logger.error("audit trail broken (%s): %s", problem.kind, problem.message)
    age = report.oldest_unsealed_age
    if age is not None and age.total_seconds() > STALE_TAIL_SECONDS:
        logger.warning("audit sealing is behind: %s", report.tail_summary())
    return {
        "ok": report.ok,
        "seals": report.seals,
        "sealed_events": report.sealed_events,
        "unsealed_events": report.unsealed_events,
        "problems": len(report.problems) + report.problems_not_listed,
    }
