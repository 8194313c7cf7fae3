"""A worker process that runs an agreement job on the test database, for the PostgreSQL tests.

``python -m tests.accounts.agreement_job_worker`` reads its orders as JSON from
``AGREEMENT_JOB_ORDERS`` and the test database's name from ``AGREEMENT_JOB_DB``, waits until
``start_at`` (a Unix time, so several workers start together), runs the job and prints one JSON
line: the summary, or the error. Each chunk is followed by a probe that prints
``{"chunk": n, "agreements": k}`` once the chunk has committed, then sleeps ``pause_after_chunk``
seconds (so two runs interleave) or, from chunk ``hang_after_chunks`` on, hangs until the test
kills the process. Notifications are not handed to Celery: the test counts the outbox rows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankportal.settings")
    import django
    from django.conf import settings

    name = os.environ["AGREEMENT_JOB_DB"]
    django.setup()
    settings.DATABASES["default"]["NAME"] = name
    settings.DATABASES["default"]["TEST"] = {"NAME": name}


def _run(orders: dict[str, Any]) -> dict[str, Any]:
    from accounts.services import agreement_jobs
    from accounts.services.agreements import LAPSE_PERMISSION, SUSPEND_PERMISSION
    from bankportal.actors import system_actor

    committed = 0
    apply_chunk = agreement_jobs._apply_chunk

    def probed_chunk(*args: Any, **kwargs: Any) -> Any:
        nonlocal committed
        chunk = apply_chunk(*args, **kwargs)  # its own transaction: committed on return
        if chunk.agreements:
            committed += 1
            print(json.dumps({"chunk": committed, "agreements": len(chunk.agreements)}), flush=True)
            hang_after = orders.get("hang_after_chunks")
            if hang_after and committed >= hang_after:
                time.sleep(600)
            time.sleep(orders.get("pause_after_chunk", 0))
        return chunk

    def no_hand_off(notification_ids: Sequence[int]) -> None:
        pass  # nothing leaves this process: the test counts the outbox rows

    agreement_jobs._apply_chunk = probed_chunk  # type: ignore[assignment]
    agreement_jobs.notifications_dispatch_on_commit = no_hand_off  # type: ignore[assignment]
    now = dt.datetime.fromisoformat(orders["now"])
    time.sleep(max(0.0, orders.get("start_at", 0) - time.time()))
    summary: agreement_jobs.DormancySummary | agreement_jobs.LapseSummary
    if orders["job"] == "dormancy":
        actor = system_actor(f"test_worker_{orders.get('name', 'x')}", [SUSPEND_PERMISSION])
        summary = agreement_jobs.agreements_dormancy_sweep(actor=actor, now=now, chunk_size=orders["chunk_size"])
    else:
        actor = system_actor(f"test_worker_{orders.get('name', 'x')}", [LAPSE_PERMISSION])
        summary = agreement_jobs.agreements_lapse_due(actor=actor, now=now, chunk_size=orders["chunk_size"])
    return {"summary": summary.as_dict(), "committed_chunks": committed}


def main() -> None:
    sys.path.insert(0, os.getcwd())
    _setup()
    orders = json.loads(os.environ["AGREEMENT_JOB_ORDERS"])
    try:
        result = _run(orders)
    except Exception as exc:  # noqa: BLE001 - reported to the test
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
