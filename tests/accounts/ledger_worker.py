"""Helpers for the ledger tests, and a worker process that posts money on the test database.

``python -m tests.accounts.ledger_worker`` is started (several at once) by the PostgreSQL
concurrency tests: it reads its orders as JSON from ``LEDGER_WORKER_ORDERS``, points Django at the
test database named in ``LEDGER_WORKER_DB``, runs the services and prints one JSON line with what
happened, including every exception, so the test can assert that none was a deadlock.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


def reverse_journal(journal: Any, *, requester: Any, approver: Any, reason: str = "keyed twice") -> Any:
    """Reverse ``journal`` the only way there is: a staff request, approved by a branch manager."""
    from accounts.models import Journal, StaffRequest
    from accounts.services.staff_requests import staff_request_approve, staff_request_create

    request = staff_request_create(
        kind=StaffRequest.Kind.JOURNAL_REVERSE, reason=reason, journal=journal, actor=requester
    )
    staff_request_approve(request=request, actor=approver)
    return Journal.objects.get(reverses=journal)


def roll_up_everything(*, timeout: float = 30.0) -> None:
    """Roll up until no internal account has entries left outside its rolled-up balance.

    On PostgreSQL the roll-up only folds in transactions older than every one still running in
    the cluster (another test run's open transaction holds it back for a moment), so poll.
    """
    from accounts.models import Account
    from accounts.selectors import internal_balance_live
    from accounts.services.ledger import internal_balances_roll_up
    from bankportal.actors import system_actor

    actor = system_actor("test_roll_up", ["accounts.change_account"])
    deadline = time.monotonic() + timeout
    while True:
        internal_balances_roll_up(actor=actor)
        internals = list(Account.objects.filter(kind=Account.Kind.INTERNAL))
        if all(internal_balance_live(a) == a.balance for a in internals):
            return
        if time.monotonic() > deadline:
            raise AssertionError("internal entries still not rolled up")
        time.sleep(0.2)


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankportal.settings")
    import django
    from django.conf import settings

    name = os.environ["LEDGER_WORKER_DB"]
    django.setup()
    settings.DATABASES["default"]["NAME"] = name
    settings.DATABASES["default"]["TEST"] = {"NAME": name}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _run(orders: dict[str, Any]) -> dict[str, Any]:
    from django.core.exceptions import ValidationError
    from django.db import connection

    from accounts import services
    from accounts.models import Account, Customer, DepositProduct, Journal, User
    from accounts.services.ledger import account_open, cash_deposit, cash_withdrawal

    # Hold a transaction open after a deposit (lock tests): set a lock_timeout, deposit, report, wait.
    if orders.get("hold"):
        from django.db import transaction

        teller = User.objects.get(pk=orders["teller"])
        account = Account.objects.get(pk=orders["account"])
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            started = time.monotonic()
            try:
                cash_deposit(account=account, amount=orders["amount"], actor=teller, branch=orders["branch"])
                outcome = "posted"
            except Exception as exc:  # noqa: BLE001 - reported to the test
                outcome = f"{type(exc).__name__}: {exc}"
            waited = time.monotonic() - started
            print(json.dumps({"outcome": outcome, "waited": waited}), flush=True)
            time.sleep(orders["hold"])
        return {"done": True}

    teller = User.objects.get(pk=orders["teller"])
    manager = User.objects.get(pk=orders["manager"])
    approver = User.objects.get(pk=orders["approver"])
    customer = Customer.objects.get(pk=orders["customer"])
    product = DepositProduct.objects.get(pk=orders["product"])
    accounts = list(Account.objects.filter(pk__in=orders["accounts"]).order_by("pk"))
    branches = orders["branches"]
    seed = orders["seed"]
    errors: list[str] = []
    refusals: dict[str, int] = {}
    posted = 0
    mine: list[Journal] = []
    for round_ in range(orders["rounds"]):
        step = (seed + round_) % 5
        account = accounts[(seed * 7 + round_) % len(accounts)]
        branch = branches[(seed + round_) % len(branches)]
        try:
            if step == 0:
                opened = account_open(
                    customer=customer,
                    product=product,
                    password="3917",
                    opening_deposit=5_000,
                    actor=teller,
                    branch=branch,
                )
                assert opened.balance == 5_000
            elif step in (1, 2):
                mine.append(cash_deposit(account=account, amount=1_000 + round_, actor=teller, branch=branch))
            elif step == 3:
                cash_withdrawal(account=account, amount=700, password=orders["password"], actor=teller, branch=branch)
            else:
                if not mine:
                    mine.append(cash_deposit(account=account, amount=300, actor=teller, branch=branch))
                reverse_journal(mine.pop(0), requester=manager, approver=approver)
            posted += 1
        except ValidationError as exc:  # a business refusal (e.g. not enough money): allowed
            code = str(exc.code)
            refusals[code] = refusals.get(code, 0) + 1
        except Exception as exc:  # noqa: BLE001 - every other error is reported to the test
            errors.append(f"{type(exc).__name__}: {exc}")
    services.__name__  # noqa: B018 - imported so the whole services package is loaded as in production
    return {"posted": posted, "refusals": refusals, "errors": errors}


def main() -> None:
    sys.path.insert(0, os.getcwd())
    _setup()
    orders = json.loads(os.environ["LEDGER_WORKER_ORDERS"])
    try:
        result = _run(orders)
    except Exception as exc:  # noqa: BLE001
        result = {"errors": [f"{type(exc).__name__}: {exc}"], "posted": 0, "refusals": {}}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
