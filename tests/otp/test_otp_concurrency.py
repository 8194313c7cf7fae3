"""On PostgreSQL, several processes hammering one integrated OTP count every error exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from bankportal.actors import system_actor
from otp import totp
from otp.models import OtpToken
from otp.services import otp_register_at_branch, otp_tokens_import

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
SERIAL, SEED = "OTP0000000777", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def _worker(orders: dict) -> subprocess.Popen:
    env = dict(os.environ, OTP_WORKER_DB=connection.settings_dict["NAME"], OTP_WORKER_ORDERS=json.dumps(orders))
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.otp.otp_worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(process: subprocess.Popen) -> list[str]:
    out, err = process.communicate(timeout=90)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, f"worker printed no result; stderr:\n{err[-3000:]}"
    return json.loads(lines[-1])["outcomes"]


def test_errors_from_this_bank_and_another_institution_at_once_lock_the_token_at_exactly_10(
    requires_postgres, alice, teller
):
    """Four processes (two here, two 'elsewhere') send 16 wrong codes at once: the 10th locks, none is lost."""
    row = {"serial": SERIAL, "seed": SEED, "kind": "hardware", "issuer": "088", "warranty": "2036-12-31"}
    otp_tokens_import(rows=[(2, row)], actor=system_actor("test:import", ["otp.add_otptoken"]))
    otp_register_at_branch(customer=alice, serial=SERIAL, actor=teller)
    user = User.objects.create_user(username="alice01", password="Long-pass-2031!", customer=alice)
    # A six-digit number that no step in any plausible window produces: always wrong.
    now_step = totp.time_step(timezone.now(), 60)
    near = {totp.code_at_step(SEED, now_step + d, step_seconds=60) for d in range(-3, 4)}
    wrong = next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in near)
    base = {"customer": alice.pk, "user": user.pk, "code": wrong, "serial": SERIAL, "tries": 4}
    processes = [
        _worker({**base, "institution": "here"}),
        _worker({**base, "institution": "here"}),
        _worker({**base, "institution": "088"}),
        _worker({**base, "institution": "004"}),
    ]
    outcomes = [outcome for process in processes for outcome in _result(process)]
    assert not [o for o in outcomes if o.startswith("error")], outcomes
    token = OtpToken.objects.get(serial=SERIAL)
    assert token.status == OtpToken.Status.LOCKED
    assert token.error_count == 10
    # Once locked, this bank's tries are refused as locked, never counted as wrong any more.
    here = [o for o in outcomes if o in ("wrong", "locked")]
    assert len(here) == 8 and here.count("wrong") <= 9


def test_one_phone_check_starts_one_digital_otp_however_many_requests_race(requires_postgres, alice):
    """Four processes start an enrollment with the same verified phone check: exactly one succeeds."""
    import re

    from bankportal.notifications.models import Notification
    from otp.models import AdditionalAuthChallenge
    from otp.services import additional_auth_start, additional_auth_verify

    user = User.objects.create_user(username="alice01", password="Long-pass-2031!", customer=alice)
    purpose = AdditionalAuthChallenge.Purpose.DIGITAL_OTP_ENROLL
    additional_auth_start(customer=alice, purpose=purpose, channel="sms", actor=user)
    code = re.search(r"\d{6}", Notification.objects.latest("id").body).group(0)
    assert additional_auth_verify(customer=alice, purpose=purpose, answer=code, actor=user).ok
    base = {"customer": alice.pk, "user": user.pk, "enroll": True}
    processes = [_worker(base) for _ in range(4)]
    outcomes = sorted(outcome for process in processes for outcome in _result(process))
    assert outcomes == ["refused: phone_check_required"] * 3 + ["started"], outcomes
    assert AdditionalAuthChallenge.objects.get(purpose=purpose).state == AdditionalAuthChallenge.State.USED
