"""A worker process for the cloud's PostgreSQL race test: enters PINs for one certificate at once with others.

``python -m tests.certcenter.cloud.pin_worker`` reads its orders as JSON from ``PIN_WORKER_ORDERS``
(cloud_id, the PINs to enter in turn, the moment to sign at, the go file), points Django at the test
database named in ``PIN_WORKER_DB``, prints ``ready``, waits for the go file (so every process starts
at the same instant), and prints one JSON line: each attempt's outcome (``signed`` or the refusal
code) and every other exception (the test asserts none).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from typing import Any


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankportal.settings")
    import django
    from django.conf import settings

    name = os.environ["PIN_WORKER_DB"]
    django.setup()
    settings.DATABASES["default"]["NAME"] = name
    settings.DATABASES["default"]["TEST"] = {"NAME": name}


def _run(orders: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection

    from certcenter.cloud.api import CloudRefused, financial_cloud

    cloud = financial_cloud()
    now = dt.datetime.fromisoformat(orders["now"])
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(orders["go"]):
        if time.monotonic() > deadline:
            return {"outcomes": [], "errors": ["never got the go signal"]}
        time.sleep(0.01)
    outcomes: list[str] = []
    errors: list[str] = []
    for pin in orders["pins"]:
        try:
            cloud.sign(cloud_id=orders["cloud_id"], pin=pin, data=b"race", now=now)
            outcomes.append("signed")
        except CloudRefused as exc:
            outcomes.append(exc.code.value)
        except Exception as exc:  # noqa: BLE001 - every other error is reported to the test
            errors.append(f"{type(exc).__name__}: {exc}")
            connection.close()
    return {"outcomes": outcomes, "errors": errors}


def main() -> None:
    sys.path.insert(0, os.getcwd())
    _setup()
    orders = json.loads(os.environ["PIN_WORKER_ORDERS"])
    try:
        result = _run(orders)
    except Exception as exc:  # noqa: BLE001
        result = {"outcomes": [], "errors": [f"{type(exc).__name__}: {exc}"]}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
