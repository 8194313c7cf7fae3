import logging

from celery import shared_task

from bankportal.audit.services import audit_chain_verify

logger = logging.getLogger(__name__)


@shared_task
def audit_verify_task() -> dict[str, object]:
    """Nightly: verify the audit chain; a break is logged at ERROR for the on-call alerting."""
    report = audit_chain_verify()
    if not report.ok:
        logger.error("audit chain broken at #%s: %s", report.broken_seq, report.reason)
    return {"ok": report.ok, "checked": report.checked, "broken_seq": report.broken_seq}
