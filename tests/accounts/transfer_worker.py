"""A worker process for the PostgreSQL transfer tests: fires transfers at the shared test database.

``python -m tests.accounts.transfer_worker`` reads its orders as JSON from ``TRANSFER_WORKER_ORDERS``,
points Django at the test database named in ``TRANSFER_WORKER_DB``, prints ``ready``, waits for the
go file (so every process starts at the same instant), runs, and prints one JSON line with what
happened: transfers made, refusals by code, and every other exception (the test asserts none, and
no deadlock). Mode ``service`` uses ``transfer_execute``; mode ``naive`` is the deliberately wrong
control: it checks the daily limit on an unlocked read, so the checker must catch it.
"""

from __future__ import annotations

import base64
import json
import os
import random
import sys
import time
import uuid
from typing import Any


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankportal.settings")
    import django
    from django.conf import settings

    name = os.environ["TRANSFER_WORKER_DB"]
    django.setup()
    settings.DATABASES["default"]["NAME"] = name
    settings.DATABASES["default"]["TEST"] = {"NAME": name}


def _signer(customer: Any, user: Any, spec: dict[str, Any]) -> Any:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from certcenter.services import signature_verify

    key = serialization.load_pem_private_key(spec["key_pem"].encode("ascii"), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    der = base64.b64decode(spec["cert_der"])

    def verify(text: str) -> Any:
        signature = key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        return signature_verify(
            customer=customer, certificate_der=der, text=text, signature=signature, purpose="transfer", actor=user
        )

    return verify


def naive_transfer(*, customer: Any, source: Any, target: Any, amount: int, per_day: int, per_transfer: int) -> Any:
    """The control: the same writes as the service, but the daily limit is checked on an unlocked
    read of the day's total (and the gap widened), so two processes can both pass it."""
    from django.core.exceptions import ValidationError
    from django.db import transaction
    from django.db.models import F

    from accounts.models import DailyTransferTotal, Journal, Transfer
    from accounts.services.ledger import ledger_post
    from bankportal.timeutil import kst_today

    day = kst_today()
    with transaction.atomic():
        DailyTransferTotal.objects.get_or_create(customer=customer, day=day)
        sent = DailyTransferTotal.objects.get(customer=customer, day=day).total  # no lock: the bug
        if amount > per_transfer or sent + amount > per_day:
            raise ValidationError("over the limit", code="daily_limit")
        time.sleep(0.05)
        journal = ledger_post(kind=Journal.Kind.TRANSFER, legs=[(source, -amount), (target, amount)], actor=customer)
        transfer = Transfer.objects.create(
            reference=f"{day:%Y%m%d}{journal.pk:012d}",
            customer=customer,
            idempotency_key=uuid.uuid4(),
            destination="same_bank",
            status="completed",
            from_account=source,
            to_account=target,
            to_bank_code="997",
            to_account_number=target.number,
            recipient_name="naive",
            amount=amount,
            journal=journal,
            kst_day=day,
            created_at=journal.created_at,
        )
        DailyTransferTotal.objects.filter(customer=customer, day=day).update(total=F("total") + amount)
        return transfer


def _run(orders: dict[str, Any]) -> dict[str, Any]:
    from django.core.exceptions import ValidationError
    from django.db import connection

    from accounts.limits import Tier
    from accounts.models import Account, Customer, User
    from accounts.services.transfers import transfer_execute

    people = []
    for spec in orders["customers"]:
        customer = Customer.objects.get(pk=spec["customer"])
        user = User.objects.get(pk=spec["user"])
        accounts = list(Account.objects.filter(pk__in=spec["accounts"]).order_by("pk"))
        people.append((customer, user, accounts, _signer(customer, user, spec) if spec.get("cert_der") else None))
    everyone = [a for _c, _u, accounts, _s in people for a in accounts]
    hot = Account.objects.get(pk=orders["hot"]) if orders.get("hot") else None
    rng = random.Random(orders["seed"])
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(orders["go"]):
        if time.monotonic() > deadline:
            return {"made": [], "refusals": {}, "errors": ["never got the go signal"]}
        time.sleep(0.01)

    made: list[int] = []
    refusals: dict[str, int] = {}
    errors: list[str] = []
    started = time.monotonic()
    for round_ in range(orders["rounds"]):
        customer, user, accounts, sign = people[rng.randrange(len(people))] if orders.get("random") else people[0]
        source = rng.choice(accounts)
        roll = rng.random()
        destination, number, bank = "same_bank", "", ""
        if orders.get("to_hot"):
            assert hot is not None
            number = hot.number
        elif roll < 0.4 and hot is not None and hot.pk != source.pk:
            number = hot.number
        elif roll < 0.55 and len(accounts) > 1:
            destination = "own"
            number = next(a for a in accounts if a.pk != source.pk).number
        elif roll < 0.75:
            destination, number, bank = "other_bank", f"{rng.randrange(10**11, 10**12)}", rng.choice(["004", "088"])
        else:
            number = rng.choice([a for a in everyone if a.pk != source.pk]).number
        amount = orders.get("amount") or rng.randint(1, orders["max_amount"])
        try:
            if orders["mode"] == "naive":
                target = Account.objects.get(number=number) if destination != "other_bank" else hot
                transfer = naive_transfer(
                    customer=customer,
                    source=source,
                    target=target,
                    amount=amount,
                    per_day=orders["per_day"],
                    per_transfer=orders["per_transfer"],
                )
            else:
                transfer = transfer_execute(
                    customer=customer,
                    from_account=source,
                    destination=destination,
                    to_account_number=number,
                    to_bank_code=bank,
                    amount=amount,
                    idempotency_key=orders.get("fixed_key") or uuid.uuid4(),
                    tier=Tier(orders["tier"]),
                    medium_verified=True,
                    signature=sign or (lambda _text: None),
                    actor=user,
                )
            made.append(transfer.pk)
        except ValidationError as exc:  # a business refusal (limit, balance): allowed
            code = str(exc.code)
            refusals[code] = refusals.get(code, 0) + 1
        except Exception as exc:  # noqa: BLE001 - every other error is reported to the test
            errors.append(f"{type(exc).__name__}: {exc}")
            connection.close()  # a broken connection must not poison the next round
        del round_
    return {"made": made, "refusals": refusals, "errors": errors, "seconds": time.monotonic() - started}


def main() -> None:
    sys.path.insert(0, os.getcwd())
    _setup()
    orders = json.loads(os.environ["TRANSFER_WORKER_ORDERS"])
    try:
        result = _run(orders)
    except Exception as exc:  # noqa: BLE001
        result = {"made": [], "refusals": {}, "errors": [f"{type(exc).__name__}: {exc}"]}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
