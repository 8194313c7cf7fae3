"""Certificate centre jobs: thin wrappers that name their system actor and call a service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.exceptions import ValidationError

from bankportal.actors import system_actor
from bankportal.middleware import RequestContext, use_context
from certcenter.services import CRL_PERMISSION, NOTICES_PERMISSION, certificates_daily, crl_regenerate

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
