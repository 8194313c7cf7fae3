"""A worker process for the PostgreSQL OTP concurrency test: wrong codes against one token.

``python -m tests.otp.otp_worker`` reads its orders as JSON from ``OTP_WORKER_ORDERS``, points
Django at the test database named in ``OTP_WORKER_DB`` and prints one JSON line with the results.
"""

from __future__ import annotations

import json
import os
from typing import Any


def _run(orders: dict[str, Any]) -> dict[str, Any]:
    from accounts.models import Customer, User
    from bankportal.actors import system_actor
    from otp.services import otp_token_record_external_failure, otp_verify

    customer = Customer.objects.get(pk=orders["customer"])
    user = User.objects.get(pk=orders["user"])
    if orders.get("enroll"):
        from django.core.exceptions import ValidationError

        from otp.services import digital_otp_enroll_start

        try:
            digital_otp_enroll_start(customer=customer, actor=user)
            return {"outcomes": ["started"]}
        except ValidationError as exc:
            return {"outcomes": [f"refused: {exc.code}"]}
        except Exception as exc:  # noqa: BLE001 - reported to the test
            return {"outcomes": [f"error: {type(exc).__name__}: {exc}"]}
    outcomes: list[str] = []
    for _ in range(orders["tries"]):
        try:
            if orders["institution"] == "here":
                outcomes.append(otp_verify(customer=customer, code=orders["code"], actor=user).result.value)
            else:
                centre = system_actor("test:integrated_otp_centre", ["otp.change_otptoken"])
                otp_token_record_external_failure(
                    serial=orders["serial"], institution=orders["institution"], actor=centre
                )
                outcomes.append("external")
        except Exception as exc:  # noqa: BLE001 - reported to the test
            outcomes.append(f"error: {type(exc).__name__}: {exc}")
    return {"outcomes": outcomes}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankportal.settings")
    import django
    from django.conf import settings

    name = os.environ["OTP_WORKER_DB"]
    django.setup()
    settings.DATABASES["default"]["NAME"] = name
    settings.DATABASES["default"]["TEST"] = {"NAME": name}
    print(json.dumps(_run(json.loads(os.environ["OTP_WORKER_ORDERS"]))), flush=True)


if __name__ == "__main__":
    main()
