"""Wrong PINs entered from several devices at once, in separate processes on PostgreSQL (as gunicorn
workers run): the row lock lets exactly five wrong PINs through, the fifth locks, nothing is lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from bankportal.audit.models import AuditEvent
from certcenter.cloud.api import CertificateStatus
from certcenter.cloud.local import LocalCloud
from tests.certcenter.cloud.conftest import ENROLLED_AT, PIN, WRONG_PIN, issue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[3]


def _fire(orders: list[dict[str, Any]], timeout: float = 120) -> list[dict[str, Any]]:
    """Start one worker per order, wait until each is ready, release them together, collect."""
    with tempfile.TemporaryDirectory() as folder:
        go = os.path.join(folder, "go")
        env_base = dict(os.environ, PIN_WORKER_DB=connection.settings_dict["NAME"])
        workers = [
            subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "tests.certcenter.cloud.pin_worker"],
                cwd=ROOT,
                env={**env_base, "PIN_WORKER_ORDERS": json.dumps({**order, "go": go})},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for order in orders
        ]
        for worker in workers:
            line = worker.stdout.readline() if worker.stdout else ""
            assert line.strip() == "ready", (line, worker.stderr.read() if worker.stderr else "")
        Path(go).touch()
        results = []
        for worker in workers:
            out, err = worker.communicate(timeout=timeout)
            lines = [line for line in out.splitlines() if line.startswith("{")]
            assert lines, f"worker printed no result; stderr:\n{err[-3000:]}"
            results.append(json.loads(lines[-1]))
    return results


def test_two_devices_racing_wrong_pins_never_get_more_than_five_through(requires_postgres, chain):
    cloud = LocalCloud()
    state = issue(cloud, chain)
    now = (ENROLLED_AT.replace(hour=12)).isoformat()
    order = {"cloud_id": str(state.cloud_id), "now": now, "pins": [WRONG_PIN] * 6}

    results = _fire([order, order])

    assert [e for r in results for e in r["errors"]] == []
    outcomes = Counter(o for r in results for o in r["outcomes"])
    # 12 attempts: four wrong_pin answers, the fifth wrong PIN locks, everything after says locked.
    assert outcomes == Counter({"wrong_pin": 4, "locked": 8})
    after = cloud.status(cloud_id=state.cloud_id)
    assert (after.status, after.wrong_pins) == (CertificateStatus.LOCKED, 5)
    assert AuditEvent.objects.filter(action="fincloud.locked").count() == 1
    assert AuditEvent.objects.filter(action="fincloud.sign_refused").count() == 12


def test_a_right_pin_racing_wrong_ones_resets_without_losing_any(requires_postgres, chain):
    cloud = LocalCloud()
    state = issue(cloud, chain)
    now = (ENROLLED_AT.replace(hour=12)).isoformat()
    wrong = {"cloud_id": str(state.cloud_id), "now": now, "pins": [WRONG_PIN] * 3}
    right = {"cloud_id": str(state.cloud_id), "now": now, "pins": [PIN] * 3}

    results = _fire([wrong, right])

    assert [e for r in results for e in r["errors"]] == []
    outcomes = Counter(o for r in results for o in r["outcomes"])
    assert outcomes == Counter({"wrong_pin": 3, "signed": 3})
    # Whatever the interleaving, the count is the wrong PINs after the last right one: at most 3, never locked.
    after = cloud.status(cloud_id=state.cloud_id)
    assert after.status == CertificateStatus.ACTIVE and after.wrong_pins <= 3
