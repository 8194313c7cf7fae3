"""Certificate centre jobs: thin wrappers that name their system actor and call a service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.exceptions import ValidationError

from bankportal.actors import system_actor
from bankportal.middleware import RequestContext, use_context
from certcenter.services import CRL_PERMISSION, NOTICES_PERMISSION, certificates_daily, crl_regenerate
from certcenter.services.copying import PURGE_PERMISSION, copy_purge
from certcenter.services.external_crl import crl_refresh_actor, trusted_authorities_crl_refresh
from certcenter.services.housekeeping import HOUSEKEEPING_PERMISSIONS, certcenter_housekeeping

logger = logging.getLogger(__name__)


@shared_task
def crl_regenerate_task() -> dict[str, object]:
    """Nightly (KST): sign a fresh CRL, so it never reaches its next update between revocations."""
    actor = system_actor("crl_regenerate", [CRL_PERMISSION])
    try:
        with use_context(RequestContext(ip=None, user_agent="", channel="task")):
            state = crl_regenerate(actor=actor)
    except ValidationError as exc:
        # Before ca_init there is nothing to publish; a key that does not open needs on-call.
        level = logging.INFO if exc.code == "not_initialised" else logging.ERROR
        logger.log(level, "CRL not regenerated: %s", exc.code)
        return {"ok": False, "reason": exc.code}
    return {"ok": True, "number": state.number, "revoked": state.revoked_count}


@shared_task
def certificates_daily_task() -> dict[str, object]:
    """Just after midnight KST: mark expired certificates; send renewal notices and 7-day reminders."""
    actor = system_actor("certificates_daily", [NOTICES_PERMISSION])
    with use_context(RequestContext(ip=None, user_agent="", channel="task")):
        return certificates_daily(actor=actor).as_dict()


@shared_task
def certcenter_housekeeping_task() -> dict[str, object]:
    """00:50 KST: empty expired certificate copies; delete copies and login challenges a day past expiry."""
    actor = system_actor("certcenter_housekeeping", HOUSEKEEPING_PERMISSIONS)
    with use_context(RequestContext(ip=None, user_agent="", channel="task")):
        return certcenter_housekeeping(actor=actor).as_dict()


@shared_task
def certificate_copies_purge_task() -> dict[str, object]:
    """Every minute: empty the payloads of certificate copies past their 5 minutes, so ciphertext
    nobody picked up stays on the server at most about a minute longer (the nightly job deletes the rows)."""
    actor = system_actor("certificate_copies_purge", [PURGE_PERMISSION])
    with use_context(RequestContext(ip=None, user_agent="", channel="task")):
        return {"emptied": copy_purge(actor=actor)}


@shared_task
def trusted_authorities_crl_refresh_task() -> dict[str, object]:
    """00:35 KST: download the CRL of every active trusted CA with a CRL URL; one failing CA is logged
    and audited, the others are still loaded."""
    with use_context(RequestContext(ip=None, user_agent="", channel="task")):
        return trusted_authorities_crl_refresh(actor=crl_refresh_actor()).as_dict()
