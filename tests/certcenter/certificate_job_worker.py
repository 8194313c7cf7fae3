"""A worker process that runs the certificate daily job on the test database, for the PostgreSQL tests.

``python -m tests.certcenter.certificate_job_worker`` reads its orders as JSON from
``CERTIFICATE_JOB_ORDERS`` and the test database's name from ``CERTIFICATE_JOB_DB``, waits until
``start_at`` (a Unix time, so several workers start together), runs the job and prints one JSON
line: the summary, or the error. After each committed chunk it prints ``{"chunk": n,
"certificates": k}`` and sleeps ``pause_after_chunk`` seconds (so two runs interleave).
Notifications are not handed to Celery: the test counts the outbox rows.
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

    name = os.environ["CERTIFICATE_JOB_DB"]
    django.setup()
    settings.DATABASES["default"]["NAME"] = name
    settings.DATABASES["default"]["TEST"] = {"NAME": name}


def _run(orders: dict[str, Any]) -> dict[str, Any]:
    from bankportal.actors import system_actor
    from certcenter.services import notices

    committed = 0
    apply_chunk = notices._apply_chunk

    def probed_chunk(*args: Any, **kwargs: Any) -> Any:
        nonlocal committed
        chunk = apply_chunk(*args, **kwargs)  # its own transaction: committed on return
        if chunk.certificates:
            committed += 1
            print(json.dumps({"chunk": committed, "certificates": len(chunk.certificates)}), flush=True)
            time.sleep(orders.get("pause_after_chunk", 0))
        return chunk

    def no_hand_off(notification_ids: Sequence[int]) -> None:
        pass  # nothing leaves this process: the test counts the outbox rows

    notices._apply_chunk = probed_chunk  # type: ignore[assignment]
    notices.notifications_dispatch_on_commit = no_hand_off  # type: ignore[assignment]
    now = dt.datetime.fromisoformat(orders["now"])
    time.sleep(max(0.0, orders.get("start_at", 0) - time.time()))
    actor = system_actor(f"test_worker_{orders.get('name', 'x')}", [notices.NOTICES_PERMISSION])
    summary = notices.certificates_daily(actor=actor, now=now, chunk_size=orders["chunk_size"])
    return {"summary": summary.as_dict(), "committed_chunks": committed}


def main() -> None:
    sys.path.insert(0, os.getcwd())
    _setup()
    orders = json.loads(os.environ["CERTIFICATE_JOB_ORDERS"])
    try:
        result = _run(orders)
    except Exception as exc:  # noqa: BLE001 - reported to the test
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
