"""Signed transfers against pgbench's tpcb-like script, back to back, at 2 and 8 client processes; and the
same transfers through HTTP (gunicorn, every middleware, the transfer page's final POST) at 8 clients.

Usage (PostgreSQL only; run by hand, prints figures, asserts nothing):

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/transfers.py \
        [--seconds 15] [--clients 2 8] [--customers 400] [--keys 16] [--http-clients 8] [--no-http] [--profile] \
        [--floor 40] [--floor-trial SQL]

A fresh scratch database per run, dropped at the end: ``bench_transfers_<pid>`` (our migrations) and
``bench_transfers_<pid>_pgbench`` (``pgbench -i -s 1``). Set-up, untimed: a pool of RSA-2048 keys
(``--keys``, shared round-robin by the customers), then per customer through the services an account
with a large opening deposit, the e-banking agreement registered online, a restricted-use joint
certificate issued by our CA for the pool key, and a security card.

For each client count N: ``pgbench -n -c N -j N -T S``, then N processes (``multiprocessing`` spawn)
that each pick a random sender and receiver among the customers and call ``transfer_execute`` for S
seconds. Untimed, made before the start (what the browser has before it posts): per transfer the form
key, the recipient and the canonical text, signed with the sender's key. Timed: ``transfer_execute`` with ``tier`` safe,
``medium_verified`` and the page's ``signature`` callable (``certcenter.services.signature_verify`` on the
posted signature: chain, registration, row lock, evidence, audit). Many customers keep each one's daily
total far below its limit and the per-customer day-row locks rarely meet.

HTTP (skipped until the URL ``transfer`` exists): gunicorn (``--http-workers`` sync workers, every
middleware, DEBUG off) on the scratch database, then ``pgbench -c 8`` and 8 client processes, each with
its own senders signed in (password login, the session then raised to the certificate level on the
server, as the certificate login does). In rounds: every client takes one transfer per sender through
the input page, the details and the confirmation page and signs the text (untimed), then all post the
final step at once (account password, security card answer, certificate and signature; timed from the
release of a barrier until every client is done). The rate divides by the timed phases only.

Printed per run: transfers/s, p50 and p95 latency, the ratio to pgbench, deadlocks and other errors; then
the statements of one transfer and of one final POST (``--profile``: each statement and its plan, time
per statement kind, CPU of the client and its PostgreSQL backend, cProfile by part and the top calls).

Last, the database's own floor (``--floor N``, 0 skips it): N more transfers are made and their
statements captured as sent; pgbench then replays them (one picked at random per transaction, the ids
a later statement takes from an insert as that sequence's ``currval``, a fresh form key and reference)
at each client count, right after tpcb-like: with a round trip per statement, as the service sends
them, planned each time (as now) and with plans cached (``-M prepared``); all in one round trip
(``\\;``); and each transfer's statements as one PL/pgSQL function (plans cached, one call), as a
single database function doing the whole transfer would run them. No Python runs, so
this is what PostgreSQL on this machine can do with exactly our writes: no client code reaches more.
It runs after the ledger check, because the replayed postings move balances without matching running
balances. ``--floor-trial SQL`` runs a schema change (say, ``DROP INDEX ...``) first, to try it.
"""

from __future__ import annotations

import argparse
import base64
import html
import http.cookiejar
import json
import multiprocessing
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgharness import ROOT, admin_sql, django_setup, pg_args, pgbench_run

# Named after the parent's pid; the spawned workers inherit the name through the environment.
BENCH_DB = os.environ.setdefault("BENCH_TRANSFERS_DB", f"bench_transfers_{os.getpid()}")
PGBENCH_DB = f"{BENCH_DB}_pgbench"
ACCOUNT_PASSWORD = "3917"  # noqa: S105 - a scratch database
LOGIN_PASSWORD = "Bench-login-2026!"  # noqa: S105 - a scratch database
# Enough for any run; the sum over all customers stays under 13 digits, which the audit trail's RRN
# masking would take for a resident registration number (see the report of issue 9).
OPENING_DEPOSIT = 1_000_000_000
IDENTITY_RANDOM = bytes(range(20))


@dataclass
class Run:
    label: str
    clients: int
    transactions: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    deadlocks: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else 0.0

    @property
    def p95_ms(self) -> float:
        if len(self.latencies_ms) < 20:
            return max(self.latencies_ms, default=0.0)
        return statistics.quantiles(self.latencies_ms, n=20)[18]


def pgbench(clients: int, seconds: int) -> Run:
    tps, latencies = pgbench_run(PGBENCH_DB, clients, seconds)
    return Run("pgbench tpcb-like", clients, round(tps * seconds), float(seconds), latencies)


# --- set-up ----------------------------------------------------------------------------------------------


def _keys(count: int) -> list[str]:
    """RSA-2048 keys as WebCrypto makes them, PKCS#8 PEM (made before anything is timed)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pems = []
    for _ in range(count):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pems.append(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode("ascii")
        )
    return pems


def _csr(key_pem: str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = serialization.load_pem_private_key(key_pem.encode("ascii"), password=None)
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "browser")])
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)  # type: ignore[arg-type]


@dataclass
class Banker:
    customer: int
    user: int
    username: str
    account: int
    number: str
    key: int  # index into the key pool
    cert_der: str  # base64
    card_codes: tuple[str, ...]


def _prepare(n_customers: int, key_pems: list[str]) -> list[Banker]:
    """Migrate the scratch database; customers with accounts, agreements, certificates, security cards."""
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from accounts import services
    from accounts.agreements import ID_DOCUMENT, Document, required_documents
    from accounts.models import Customer, DepositProduct, User
    from accounts.services import agreement_online as online
    from accounts.services.agreements import agreement_web_actor
    from bankportal.actors import system_actor
    from certcenter import services as cert_services
    from otp.services import security_card_issue

    call_command("migrate", verbosity=0)
    product = DepositProduct.objects.create(code="01", kind="demand", name_ko="벤치", name_en="Bench")
    teller = User.objects.create_user(username="teller0", password="bench-teller-pass", is_staff=True)  # noqa: S106
    teller.groups.add(Group.objects.get(name="Teller"))
    cert_services.ca_init(actor=system_actor("bench:ca_init", [cert_services.CA_INIT_PERMISSION]))
    web, cert_web = agreement_web_actor(), cert_services.certificate_web_actor()
    csrs = [_csr(pem) for pem in key_pems]
    documents = [
        Document.RESIDENT_CARD if item == ID_DOCUMENT else item
        for item in required_documents(kind=Customer.Kind.INDIVIDUAL)
    ]
    bankers = []
    for i in range(n_customers):
        birth = f"{70 + i % 30:02d}{1 + i % 12:02d}{1 + i % 28:02d}"
        rrn = f"{birth}-1{i:06d}"
        customer = services.customer_create(
            kind=Customer.Kind.INDIVIDUAL, name=f"고객{i}", phone="01012345678", rrn=rrn, actor=teller
        )
        account = services.account_open(
            customer=customer,
            product=product,
            password=ACCOUNT_PASSWORD,
            opening_deposit=OPENING_DEPOSIT,
            actor=teller,
        )
        services.agreement_apply(customer=customer, withdrawal_accounts=[account], documents=documents, actor=teller)
        agreement = online.agreement_identify(
            purpose="register",
            name=customer.name,
            id_number=rrn,
            account_number=account.number,
            account_password=ACCOUNT_PASSWORD,
            actor=web,
        )
        username = f"bench{i:05d}"
        agreement = services.agreement_register_online(
            agreement=agreement, medium_verified=True, username=username, password=LOGIN_PASSWORD, actor=web
        )
        if agreement.user is None:
            raise SystemExit("set-up: the online registration made no user")
        issued = cert_services.certificate_issue(
            agreement=agreement,
            withdrawal_account=account,
            kind="restricted",
            storage="file",
            csr=csrs[i % len(csrs)],
            identity_random=IDENTITY_RANDOM,
            medium_verified=True,
            actor=cert_web,
        )
        card = security_card_issue(customer=customer, actor=teller)
        bankers.append(
            Banker(
                customer=customer.pk,
                user=agreement.user.pk,
                username=username,
                account=account.pk,
                number=account.number,
                key=i % len(csrs),
                cert_der=base64.b64encode(issued.der).decode("ascii"),
                card_codes=tuple(card.codes),
            )
        )
    return bankers


# --- the service ---------------------------------------------------------------------------------------


class _Sender:
    """One worker's view of the customers: rows loaded once, the page's signature callable per transfer."""

    def __init__(self, bankers: list[Banker], key_pems: list[str]) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        from accounts.models import Account, Customer, User

        self.bankers = bankers
        self.keys: list[rsa.RSAPrivateKey] = []
        for pem in key_pems:
            key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise SystemExit("the key pool holds RSA keys only")
            self.keys.append(key)
        self.customers = Customer.objects.in_bulk([b.customer for b in bankers])
        self.users = User.objects.in_bulk([b.user for b in bankers])
        self.accounts = Account.objects.in_bulk([b.account for b in bankers])
        self.ders = {b.customer: base64.b64decode(b.cert_der) for b in bankers}

    def order(self, rng: random.Random) -> dict[str, Any]:
        """Everything the browser has before it posts: the details, the form key and the signature."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        from accounts.services.transfers import transfer_canonical_text, transfer_recipient

        sender, receiver = rng.sample(self.bankers, 2)
        customer, account = self.customers[sender.customer], self.accounts[sender.account]
        amount = rng.randint(1, 500) * 100
        key = uuid.uuid4()
        recipient = transfer_recipient(customer=customer, destination="same_bank", to_account_number=receiver.number)
        text = transfer_canonical_text(
            customer=customer,
            from_account=account,
            recipient=recipient,
            amount=amount,
            memo_sender="",
            memo_recipient="",
            idempotency_key=key,
        )
        signature = self.keys[sender.key].sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        return {"sender": sender, "receiver": receiver, "amount": amount, "key": key, "signature": signature}

    def execute(self, order: dict[str, Any]) -> Any:
        from accounts.limits import Tier
        from accounts.services.transfers import transfer_execute
        from certcenter.services import signature_verify

        sender: Banker = order["sender"]
        customer, user = self.customers[sender.customer], self.users[sender.user]

        def verify(text: str) -> Any:
            return signature_verify(
                customer=customer,
                certificate_der=self.ders[sender.customer],
                text=text,
                signature=order["signature"],
                purpose="transfer",
                actor=user,
            )

        return transfer_execute(
            customer=customer,
            from_account=self.accounts[sender.account],
            destination="same_bank",
            to_account_number=order["receiver"].number,
            amount=order["amount"],
            idempotency_key=order["key"],
            tier=Tier.SAFE,
            medium_verified=True,
            signature=verify,
            actor=user,
        )


ORDERS_PER_WORKER = 6000  # signed orders made before the start; more are made (untimed) if a run uses them up


def _service_worker(
    seed: int, bankers: list[Banker], key_pems: list[str], start_at: float, seconds: float, queue: Any
) -> None:
    django_setup(BENCH_DB)
    from django.db import connection

    sender = _Sender(bankers, key_pems)
    rng = random.Random(seed)
    for _ in range(3):  # warm up: permission caches, internal accounts, the connection
        sender.execute(sender.order(rng))
    # The browser's part (recipient, text, signature) before the start, so the clients keep the
    # database busy all the time they are measured.
    orders: list[dict[str, Any]] = []
    while time.time() < start_at - 0.5 and len(orders) < ORDERS_PER_WORKER:
        orders.append(sender.order(rng))
    time.sleep(max(0.0, start_at - time.time()))
    latencies: list[float] = []
    deadlocks = errors = made_late = 0
    samples: list[str] = []
    stop = start_at + seconds
    paused = 0.0
    while time.time() < stop + paused:
        if not orders:
            started = time.perf_counter()
            orders.append(sender.order(rng))
            made_late += 1
            paused += time.perf_counter() - started
        order = orders.pop()
        started = time.perf_counter()
        try:
            sender.execute(order)
            latencies.append((time.perf_counter() - started) * 1000)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            if "deadlock detected" in str(exc):
                deadlocks += 1
            else:
                errors += 1
                if len(samples) < 3:
                    samples.append(f"{type(exc).__name__}: {exc}")
    if made_late:
        samples.append(f"note: {made_late} orders were made during the run (not timed, the clock was extended)")
    connection.close()
    queue.put((len(latencies), latencies, deadlocks, errors, samples, float(seconds)))


def _processes(target: Any, clients: int, seconds: int, args: tuple[Any, ...], label: str, warmup: float) -> Run:
    """``clients`` spawned processes of ``target``; each puts (count, latencies, deadlocks, errors,
    samples, measured seconds) on the queue. The rate divides by the longest measured time."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start_at = time.time() + warmup  # time to start Django, warm up and prepare
    extra = (context.Barrier(clients), context.Value("d", 0.0)) if target is _http_worker else ()
    processes = [
        context.Process(target=target, args=(i, *args, *extra, start_at, seconds, queue), daemon=True)
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    results: list[tuple[int, list[float], int, int, list[str], float]] = []
    deadline = time.time() + warmup + seconds * 4 + 300
    while len(results) < clients:
        try:
            results.append(queue.get(timeout=1))
        except Exception:  # noqa: BLE001 - queue.Empty: see whether a worker died
            if time.time() > deadline or sum(p.exitcode not in (None, 0) for p in processes):
                for process in processes:
                    process.kill()
                raise SystemExit(f"{label}: a worker failed or hung (see its traceback above)") from None
    for process in processes:
        process.join(timeout=30)
    return Run(
        label,
        clients,
        sum(r[0] for r in results),
        max(r[5] for r in results),
        [ms for r in results for ms in r[1]],
        deadlocks=sum(r[2] for r in results),
        errors=sum(r[3] for r in results),
        error_samples=[s for r in results for s in r[4]],
    )


def service_run(clients: int, seconds: int, bankers: list[Banker], key_pems: list[str]) -> Run:
    return _processes(_service_worker, clients, seconds, (bankers, key_pems), "transfer_execute", warmup=25)


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a local process (the PostgreSQL backend runs on this machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _statement_times(sender: _Sender, orders: list[dict[str, Any]]) -> None:
    """Wall time per statement kind (client round trip included) against the whole transfer."""
    import re
    from collections import defaultdict

    from django.db import connection

    spent: dict[str, list[float]] = defaultdict(list)

    def timed(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            words = re.sub(r'"', "", sql).split()
            if "SAVEPOINT" in words[:2]:
                name = " ".join(words[:-1])
            else:
                table = next((w.split(".")[0] for w in words[1:8] if "_" in w and w.islower()), "")
                name = f"{words[0]} {table}"
            spent[name].append(time.perf_counter() - started)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    backend_before = _process_cpu(backend)
    cpu_before = time.process_time()
    started = time.perf_counter()
    with connection.execute_wrapper(timed):
        for order in orders:
            sender.execute(order)
    total = time.perf_counter() - started
    client_cpu, backend_cpu = time.process_time() - cpu_before, _process_cpu(backend) - backend_before
    in_db = sum(sum(v) for v in spent.values())
    n = len(orders)
    each, in_statements = total / n * 1000, in_db / n * 1000
    print(
        f"\nper transfer ({n}): {each:.2f} ms, in statements {in_statements:.2f} ms,"
        f" Python and COMMIT {each - in_statements:.2f} ms"
    )
    print(
        f"CPU per transfer: Python process {client_cpu / n * 1000:.2f} ms, its PostgreSQL backend"
        f" {backend_cpu / n * 1000:.2f} ms (on {os.cpu_count()} cores shared by all clients and backends)"
    )
    for name, times in sorted(spent.items(), key=lambda item: -sum(item[1])):
        print(f"  {sum(times) / n * 1000:>6.2f} ms  x{len(times) / n:<4.1f} {name}")


def _test_client_flow(sender: _Sender, payer: Banker, payee: Banker) -> tuple[Any, str, dict[str, str]]:
    """A signed-in test client at the transfer's final step: its URL and the form it posts."""
    import json as json_module

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from django.test import Client
    from django.urls import reverse

    from bankportal.session_levels import SESSION_KEY, Level
    from otp import securitycard as card_rules

    start = reverse("transfer")
    browser = Client(HTTP_HOST="127.0.0.1")
    browser.force_login(sender.users[payer.user])
    session = browser.session
    session[SESSION_KEY] = int(Level.CERTIFICATE)
    session.save()
    page = browser.get(start).content.decode()
    key = _Browser.field(page, r'name="key" value="([^"]+)"')
    details = {"key": key, "from_account": str(payer.account), "destination": "same_bank"}
    details |= {"to_account_number": payee.number, "amount": "1000", "memo_sender": "", "memo_recipient": ""}
    confirm = browser.post(start, details)["Location"]
    page = browser.get(confirm).content.decode()
    text = json_module.loads(
        _Browser.field(page, r'<script id="transfer-sign-text" type="application/json">(.*?)</script>')
    )
    asked = card_rules.Challenge(
        first=int(_Browser.field(page, r'data-first="(\d+)"')), second=int(_Browser.field(page, r'data-second="(\d+)"'))
    )
    answer = card_rules.expected_answer(payer.card_codes, asked)
    signature = sender.keys[payer.key].sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    final = {"key": key, "account_password": ACCOUNT_PASSWORD, "certificate": payer.cert_der}
    final |= {"signature": base64.b64encode(signature).decode("ascii"), "first_half": answer[:2]}
    final |= {"second_half": answer[2:]}
    return browser, confirm, final


def _by_part(profiler: Any, count: int, what: str) -> None:
    """cProfile's own time grouped: Django, psycopg2 round trips, cryptography, our code, the rest."""
    import pstats

    stats = pstats.Stats(profiler)
    by_part: dict[str, float] = {}
    for (filename, _line, function), (_cc, _nc, own, _cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "psycopg2" in function or "psycopg2" in filename:
            part = "psycopg2 (round trips)"
        elif "cryptography" in filename or "cryptography" in function:
            part = "cryptography (x509, RSA)"
        elif "/django/" in filename:
            part = "Django (ORM, models, middleware, templates)"
        elif str(ROOT) in filename and "/.venv/" not in filename:
            part = "portal code"
        else:
            part = "other (stdlib, builtins, other libraries)"
        by_part[part] = by_part.get(part, 0.0) + own
    total_own = sum(by_part.values())
    print(f"\nown time by part, {count} {what} under cProfile (inflates Python-heavy parts):")
    for part, own in sorted(by_part.items(), key=lambda item: -item[1]):
        print(f"  {own / count * 1000:>6.2f} ms  {own / total_own:>5.1%}  {part}")


def _http_statements(bankers: list[Banker], sender: _Sender, *, detail: bool) -> None:
    """The statements of the transfer page's final POST (Django's test client, every middleware);
    with ``detail`` a cProfile of 15 final POSTs (one customer each: one card challenge each)."""
    import cProfile
    import pstats

    from django.core import signals
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("transfer")
    except NoReverseMatch:
        return
    browser, confirm, final = _test_client_flow(sender, bankers[-1], bankers[-2])
    # Django empties the query log when a request starts; keep what the capture collects.
    signals.request_started.disconnect(reset_queries)
    try:
        with CaptureQueriesContext(connection) as captured:
            response = browser.post(confirm, final)
    finally:
        signals.request_started.connect(reset_queries)
    outcome = response.get("Location") or response.status_code
    print(f"statements of the transfer page's final POST (middleware, password, card, transfer): {len(captured)}")
    print(f"  answered {outcome}")
    kinds: dict[str, int] = {}
    for query in captured.captured_queries:
        words = query["sql"].replace('"', "").split()
        table = next((w.split(".")[0] for w in words[1:8] if "_" in w and w.islower()), "")
        name = " ".join(w for w in words[:2] if w in ("RELEASE", "SAVEPOINT")) or f"{words[0]} {table}"
        kinds[name] = kinds.get(name, 0) + 1
    print("  " + ", ".join(f"{name} x{count}" for name, count in sorted(kinds.items(), key=lambda item: -item[1])))
    if not detail:
        return
    flows = [_test_client_flow(sender, payer, bankers[0]) for payer in bankers[1:31]]
    cpu_before, started = time.process_time(), time.perf_counter()
    for browser, confirm, final in flows[:15]:
        browser.post(confirm, final)
    each = (time.perf_counter() - started) / 15 * 1000
    cpu = (time.process_time() - cpu_before) / 15 * 1000
    print(f"\nfinal POST through the test client, 15 back to back, no profiler: {each:.2f} ms each, {cpu:.2f} ms CPU")
    profiler = cProfile.Profile()
    profiler.enable()
    for browser, confirm, final in flows[15:]:
        browser.post(confirm, final)
    profiler.disable()
    _by_part(profiler, 15, "final POSTs")
    print("\ncProfile, 15 final POSTs (cumulative):")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)


def profile(bankers: list[Banker], key_pems: list[str], *, detail: bool) -> None:
    """The statements of one transfer (and with ``detail`` each one, their plans, the time per
    statement kind, CPU, and a cProfile of 75 transfers), then the same for the page's final POST."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    sender = _Sender(bankers, key_pems)
    rng = random.Random(99)
    sender.execute(sender.order(rng))
    order = sender.order(rng)
    with CaptureQueriesContext(connection) as captured:
        sender.execute(order)
    queries = list(captured.captured_queries)  # the test client's requests below empty the log
    print(f"\nstatements per transfer (transfer_execute, signature included): {len(queries)}")
    if detail:
        for query in queries:
            print(f"  {query['time']:>6}s  {query['sql'][:180]}")
        print("\nplans (EXPLAIN, top node) of the reads and updates:")
        with connection.cursor() as cursor:
            for query in queries:
                sql = query["sql"]
                if not sql.startswith(("SELECT", "UPDATE")):
                    continue
                cursor.execute("EXPLAIN " + sql)
                plan = [row[0].strip() for row in cursor.fetchall()]
                scans = [line for line in plan if "Scan" in line]
                table = next((w for w in sql.replace('"', "").split() if "_" in w and w.islower()), "?").split(".")[0]
                print(f"  {sql.split()[0]:<6} {table:<32} {' | '.join(scans)[:140]}")
        orders = [sender.order(rng) for _ in range(300)]
        started = time.perf_counter()
        for order in orders[:150]:
            sender.execute(order)
        each = (time.perf_counter() - started) / 150 * 1000
        print(f"\none process, 150 transfers back to back, no profiler: {each:.2f} ms each")
        _statement_times(sender, orders[150:225])
        orders = orders[225:]
        profiler = cProfile.Profile()
        profiler.enable()
        for order in orders:
            sender.execute(order)
        profiler.disable()
        _by_part(profiler, len(orders), "transfers")
        print(f"\ncProfile, {len(orders)} transfers in one process (cumulative):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    _http_statements(bankers, sender, detail=detail)


# --- the database's own floor: our statements replayed by pgbench ------------------------------------------

_QUOTED = re.compile(r"('(?:[^']|'')*')")
_GENERATED = {  # the inserts whose new id later statements use, by table
    "accounts_journal": "journal_id",
    "certcenter_signatureevidence": "signature_evidence_id",
    "accounts_transfer": "pk",
}


def _bare(number: int) -> re.Pattern[str]:
    """``number`` standing alone: not a part of a longer number, a name or a decimal."""
    return re.compile(rf"(?<![\w.]){number}(?![\w.])")


def _replace_id(sql: str, old: int, new: str) -> str:
    """``old`` as a bare number outside quotes, or as the quoted text ``'old'``, becomes ``new``."""
    parts = _QUOTED.split(sql)
    bare = _bare(old)
    for i, part in enumerate(parts):
        if i % 2:
            parts[i] = f"({new})::text" if part == f"'{old}'" else part
        else:
            parts[i] = bare.sub(f"({new})", part)
    return "".join(parts)


def _replayable(statements: list[str], transfer: Any, sequences: dict[str, str]) -> list[str] | None:
    """One transfer's statements made repeatable: every id a later statement takes from an insert is
    that sequence's ``currval``, the form key a fresh UUID, the reference the new journal's. ``None``
    when an id is ambiguous (its number also appears before its insert)."""
    out: list[str] = []
    pending = {table: int(getattr(transfer, attr)) for table, attr in _GENERATED.items()}
    live: dict[int, str] = {}
    journal_expr = f"currval('{sequences['accounts_journal']}')"
    for sql in statements:
        for number, expr in live.items():
            sql = _replace_id(sql, number, expr)
        if sql.startswith('INSERT INTO "accounts_transfer"'):
            key, reference = str(transfer.idempotency_key), transfer.reference
            sql = sql.replace(f"'{key}'::uuid", "gen_random_uuid()").replace(f"'{key}'", "gen_random_uuid()")
            sql = sql.replace(f"'{reference}'", f"'{reference[:8]}' || lpad(({journal_expr})::text, 12, '0')")
        for table, number in list(pending.items()):
            if sql.startswith(f'INSERT INTO "{table}"'):
                live[number] = f"currval('{sequences[table]}')"
                del pending[table]
            elif _bare(number).search(sql):
                return None
        out.append(sql)
    return out


def _transfers_made() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_transfer")
        made = int(cursor.fetchone()[0])
    connection.close()
    return made


def _as_function(name: str, statements: list[str]) -> str:
    """One transfer's statements as a PL/pgSQL function (plans cached by PL/pgSQL, one call a transfer):
    the transaction is the call's, so BEGIN, COMMIT and savepoints go; a read is PERFORMed and the
    RETURNING clauses go."""
    body = []
    for sql in statements:
        if sql.startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")):
            continue
        if sql.startswith("SELECT "):
            sql = "PERFORM " + sql.removeprefix("SELECT ")
        else:  # RETURNING is the last clause, outside quotes; an insert of two entries returns two rows
            parts = _QUOTED.split(sql)
            parts[-1] = parts[-1].split(" RETURNING ")[0]
            sql = "".join(parts)
        body.append(sql)
    statements_sql = ";\n".join(body)
    return f"CREATE FUNCTION {name}() RETURNS void LANGUAGE plpgsql AS $floor$\nBEGIN\n{statements_sql};\nEND\n$floor$"


def _capture_replays(bankers: list[Banker], key_pems: list[str], samples: int) -> list[list[str]]:
    """Make up to ``samples`` more transfers and return each one's statements, made replayable."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    sender = _Sender(bankers, key_pems)
    rng = random.Random(7)
    with connection.cursor() as cursor:
        sequences = {}
        for table in _GENERATED:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            sequences[table] = cursor.fetchone()[0]
        # Apart, so that no id is also another table's id (the ids of a transfer would otherwise be
        # equal numbers here: one of each per transfer).
        for gap, table in enumerate(_GENERATED):
            cursor.execute("SELECT setval(%s, nextval(%s) + %s)", [sequences[table]] * 2 + [1_000_000 * gap])
    scripts: list[list[str]] = []
    attempts = 0
    while len(scripts) < samples and attempts < samples * 3:
        attempts += 1
        order = sender.order(rng)
        with CaptureQueriesContext(connection) as captured:
            transfer = sender.execute(order)
        replay = _replayable([q["sql"] for q in captured.captured_queries], transfer, sequences)
        if replay is not None:
            scripts.append(replay)
    if not scripts:
        raise SystemExit("no transfer could be made replayable")
    return scripts


def sql_floor(
    bankers: list[Banker], key_pems: list[str], clients_list: list[int], seconds: int, samples: int, trial_sql: str
) -> None:
    """Our transfers' own statements, without Python: pgbench replays ``samples`` captured transfers
    (one picked at random per transaction) four ways: a round trip per statement as the service sends
    them, planned each time and with plans cached; all in one round trip (``\\;``); and each transfer
    as one PL/pgSQL function call, as a single database function would run it; against tpcb-like."""
    import tempfile

    from django.db import connection

    scripts = _capture_replays(bankers, key_pems, samples)
    with connection.cursor() as cursor:
        for i, statements in enumerate(scripts):
            cursor.execute(_as_function(f"bench_transfer_floor_{i}", statements))
        if trial_sql:  # a schema change to try (e.g. DROP INDEX ...), made after the capture
            cursor.execute(trial_sql)
            print(f"\nfloor with: {trial_sql}")
    connection.close()
    print(f"\nthe database's floor: {len(scripts)} captured transfers replayed by pgbench, no Python; per second")
    print(f"{'':>7}  {'':>12}  {'a round trip per statement':^36}  {'one round trip':^36}")
    columns = f"{'planned each time':>17}  {'plans cached':>17}  {'planned each time':>17}  {'PL/pgSQL call':>17}"
    print(f"{'clients':>7}  {'tpcb-like':>12}  {columns}")
    with tempfile.TemporaryDirectory() as folder:
        each, one, call = [], [], []
        for i, statements in enumerate(scripts):
            each.append(str(Path(folder) / f"each{i}.sql"))
            Path(each[-1]).write_text("".join(f"{sql};\n" for sql in statements))
            one.append(str(Path(folder) / f"one{i}.sql"))
            Path(one[-1]).write_text(" \\;\n".join(statements) + ";\n")
            call.append(str(Path(folder) / f"call{i}.sql"))
            Path(call[-1]).write_text(f"SELECT bench_transfer_floor_{i}();\n")
        for clients in clients_list:
            base, _lat = pgbench_run(PGBENCH_DB, clients, seconds)
            rates = []
            for files, protocol in ((each, "simple"), (each, "prepared"), (one, "simple"), (call, "simple")):
                before = _transfers_made()
                rate, _lat = pgbench_run(BENCH_DB, clients, seconds, files, protocol=protocol)
                made = _transfers_made() - before
                # Every replayed transaction must have written its transfer row (and so everything before it).
                if abs(made - rate * seconds) > max(0.05 * made, clients * 2):
                    raise SystemExit(f"replay wrote {made} transfers for {rate * seconds:.0f} transactions")
                rates.append(rate)
            shown = "  ".join(f"{f'{rate:.1f} ({rate / base:.3f})':>17}" for rate in rates)
            print(f"{clients:>7}  {base:>12.1f}  {shown}   load {os.getloadavg()[0]:.1f}", flush=True)
    print("(in brackets: the ratio to tpcb-like, which pgbench runs over the simple protocol)")


# --- main ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--clients", type=int, nargs="+", default=[2, 8])
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--keys", type=int, default=16)
    parser.add_argument("--http-clients", type=int, default=8)
    parser.add_argument("--http-workers", type=int, default=8, help="gunicorn sync workers")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print each statement and a cProfile summary")
    parser.add_argument(
        "--floor",
        type=int,
        default=40,
        metavar="N",
        help="replay N captured transfers with pgbench, without Python, after the checks (0: skip)",
    )
    parser.add_argument("--floor-trial", default="", metavar="SQL", help="run SQL (a schema change) before the replay")
    args = parser.parse_args()

    django_setup()
    from django.conf import settings
    from django.db import connection

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise SystemExit("set DATABASE_URL to a PostgreSQL server: this compares against pgbench")
    connection.close()
    connect_args, env = pg_args()
    for db in (BENCH_DB, PGBENCH_DB):
        admin_sql(f"DROP DATABASE IF EXISTS {db}")
        admin_sql(f"CREATE DATABASE {db}")
    settings.DATABASES["default"]["NAME"] = BENCH_DB
    try:
        pgbench_init = [shutil.which("pgbench") or "pgbench", *connect_args, "-i", "-s", "1", "-q", PGBENCH_DB]
        subprocess.run(pgbench_init, check=True, env=env, capture_output=True)  # noqa: S603
        started = time.perf_counter()
        key_pems = _keys(args.keys)
        keygen = time.perf_counter() - started
        bankers = _prepare(args.customers, key_pems)
        setup = time.perf_counter() - started - keygen
        print(f"set-up: {args.keys} keys in {keygen:.1f} s; {len(bankers)} customers in {setup:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            version = cursor.fetchone()[0].split(" on ")[0]
        connection.close()
        print(f"{version}; {os.cpu_count()} cores; {len(bankers)} customers; {args.seconds} s per run\n")
        header = (
            f"{'clients':>7}  {'pgbench tx/s':>12} {'p50':>6} {'p95':>6}  {'transfers/s':>11} {'p50':>6} {'p95':>6}"
        )
        print(header + f"  {'ratio':>6}  {'deadlocks':>9} {'errors':>6}   (latencies in ms)")
        for clients in args.clients:
            base = pgbench(clients, args.seconds)
            ours = service_run(clients, args.seconds, bankers, key_pems)
            print(
                f"{clients:>7}  {base.rate:>12.1f} {base.p50_ms:>6.2f} {base.p95_ms:>6.2f}"
                f"  {ours.rate:>11.1f} {ours.p50_ms:>6.2f} {ours.p95_ms:>6.2f}"
                f"  {ours.rate / base.rate:>6.3f}  {ours.deadlocks:>9} {ours.errors:>6}"
                f"   load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            for sample in ours.error_samples:
                print(f"         error: {sample}")
        if not args.no_http:
            http_bench(args.http_clients, args.http_workers, args.seconds, bankers, key_pems)
        profile(bankers, key_pems, detail=args.profile)
        from accounts.selectors import ledger_problems
        from accounts.services.ledger import internal_balances_roll_up
        from bankportal.actors import system_actor

        internal_balances_roll_up(actor=system_actor("bench", ["accounts.change_account"]))
        problems = ledger_problems()
        print(f"\nledger_verify after the runs: {'balanced' if not problems else f'{len(problems)} problem(s)'}")
        if args.floor:
            # Last: the replayed postings move balances without matching entries' running balances.
            sql_floor(bankers, key_pems, args.clients, args.seconds, args.floor, args.floor_trial)
    finally:
        connection.close()
        for db in (BENCH_DB, PGBENCH_DB):
            admin_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


# --- through HTTP ----------------------------------------------------------------------------------------


def http_app() -> Any:
    """The WSGI application gunicorn serves (``transfers:http_app()``): every middleware, DEBUG off."""
    import warnings

    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collected static files here
    django_setup(BENCH_DB)
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


class _Browser:
    """Cookies, CSRF tokens and forms as a browser without JavaScript keeps them (the page's script
    only fills in the certificate and signature, which this client makes in Python)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers={"Referer": self.base + path})  # noqa: S310
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.headers.get("Location", ""), response.read().decode()
        except urllib.error.HTTPError as error:  # 3xx (not followed) and 4xx/5xx
            return error.code, error.headers.get("Location", ""), error.read().decode(errors="replace")

    @staticmethod
    def field(page: str, pattern: str) -> str:
        found = re.search(pattern, page, re.S)
        if found is None:
            raise RuntimeError(f"not on the page: {pattern}")
        return html.unescape(found.group(1))

    def csrf(self, page: str) -> str:
        return self.field(page, r'name="csrfmiddlewaretoken" value="([^"]+)"')

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.jar if c.name == name and c.value is not None)


def _http_login(browser: _Browser, banker: Banker) -> None:
    """The password login, then the session raised to the certificate level on the server, as the
    certificate login does (the browser tests drive that login; here it is set-up, not measured)."""
    from importlib import import_module

    from django.conf import settings

    from bankportal.session_levels import SESSION_KEY, Level

    _status, _location, page = browser.request("/login/")
    status, _location, _page = browser.request(
        "/login/", {"csrfmiddlewaretoken": browser.csrf(page), "username": banker.username, "password": LOGIN_PASSWORD}
    )
    if status != 302:
        raise RuntimeError(f"login of {banker.username} answered {status}")
    store = import_module(settings.SESSION_ENGINE).SessionStore(
        session_key=browser.cookie(settings.SESSION_COOKIE_NAME)
    )
    store[SESSION_KEY] = int(Level.CERTIFICATE)
    store.save()


def _http_worker(
    index: int,
    base: str,
    clients: int,
    bankers: list[Banker],
    key_pems: list[str],
    barrier: Any,
    measured: Any,
    start_at: float,
    seconds: float,
    queue: Any,
) -> None:
    """One client with its own senders (a security card has one pending challenge per customer), any
    receiver. In rounds: every client prepares one transfer per sender up to the final step (untimed:
    the input page, the details, the confirmation page, the card answer and the signature), then all
    post their final steps at once (timed, from the release of the barrier until every client is
    done). Client 0 adds up the timed phases and stops the run after ``seconds`` of them."""
    django_setup(BENCH_DB)
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from otp import securitycard as card_rules

    keys: list[rsa.RSAPrivateKey] = []
    for pem in key_pems:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise SystemExit("the key pool holds RSA keys only")
        keys.append(key)
    mine = [banker for i, banker in enumerate(bankers) if i % clients == index]
    browsers = {}
    for banker in mine:
        browsers[banker.customer] = _Browser(base)
        _http_login(browsers[banker.customer], banker)
    rng = random.Random(index)

    def prepare(sender: Banker) -> tuple[_Browser, str, dict[str, str]]:
        receiver = rng.choice([b for b in bankers if b.customer != sender.customer])
        browser = browsers[sender.customer]
        _status, _location, page = browser.request("/banking/transfer/")
        key = browser.field(page, r'name="key" value="([^"]+)"')
        details = {
            "csrfmiddlewaretoken": browser.csrf(page),
            "key": key,
            "from_account": str(sender.account),
            "destination": "same_bank",
            "to_account_number": receiver.number,
            "amount": str(rng.randint(1, 500) * 100),
            "memo_sender": "",
            "memo_recipient": "",
        }
        status, confirm, page = browser.request("/banking/transfer/", details)
        if status != 302:
            raise RuntimeError(f"the details were refused ({status}): {re.findall(r'errorlist.{0,200}', page)[:2]}")
        _status, _location, page = browser.request(confirm)
        text = json.loads(
            browser.field(page, r'<script id="transfer-sign-text" type="application/json">(.*?)</script>')
        )
        asked = card_rules.Challenge(
            first=int(browser.field(page, r'data-first="(\d+)"')),
            second=int(browser.field(page, r'data-second="(\d+)"')),
        )
        answer = card_rules.expected_answer(sender.card_codes, asked)
        signature = keys[sender.key].sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        final = {
            "csrfmiddlewaretoken": browser.csrf(page),
            "key": key,
            "account_password": ACCOUNT_PASSWORD,
            "certificate": sender.cert_der,
            "signature": base64.b64encode(signature).decode("ascii"),
            "first_half": answer[:2],
            "second_half": answer[2:],
        }
        return browser, confirm, final

    latencies: list[float] = []
    errors = rounds = 0
    samples: list[str] = []
    timed = 0.0
    while True:
        batch = []
        for sender in mine:
            try:
                batch.append(prepare(sender))
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors += 1
                if len(samples) < 3:
                    samples.append(f"preparing: {type(exc).__name__}: {exc}")
        barrier.wait()
        round_started = time.perf_counter()
        for browser, confirm, final in batch:
            started = time.perf_counter()
            status, location, page = browser.request(confirm, final)
            elapsed = (time.perf_counter() - started) * 1000
            if rounds == 0:
                continue  # the first round warms the gunicorn workers up
            if status == 302 and "/receipt/" in location:
                latencies.append(elapsed)
                continue
            errors += 1
            if len(samples) < 3:
                samples.append(
                    f"final POST answered {status} {location} {re.findall(r'form-errors.{0,300}', page)[:1]}"
                )
        barrier.wait()
        if index == 0 and rounds > 0:
            measured.value += time.perf_counter() - round_started
        rounds += 1
        barrier.wait()  # every client now reads the same total
        timed = measured.value
        if timed >= seconds:
            break
    queue.put((len(latencies), latencies, 0, errors, samples, timed))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_bench(clients: int, workers: int, seconds: int, bankers: list[Banker], key_pems: list[str]) -> None:
    """gunicorn (sync workers) on the scratch database; ``clients`` processes post the final step."""
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("transfer")
    except NoReverseMatch:
        print("\nHTTP: skipped, the transfer pages (URL name 'transfer') are not there yet")
        return
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = [
        str(Path(sys.executable).with_name("gunicorn")),
        "--chdir",
        str(ROOT),
        "--pythonpath",
        f"{ROOT},{ROOT / 'bench'}",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "transfers:http_app()",
    ]
    server = subprocess.Popen(gunicorn, env=dict(os.environ))  # noqa: S603
    try:
        ready_by = time.time() + 120  # eight Django processes start slowly on a busy machine
        while True:
            try:
                with urllib.request.urlopen(base + "/", timeout=10):  # noqa: S310
                    break
            except OSError:  # refused while booting, or a timeout
                if time.time() > ready_by or server.poll() is not None:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.5)
        base_run = pgbench(clients, seconds)
        run = _processes(
            _http_worker, clients, seconds, (base, clients, bankers, key_pems), "HTTP final POST", warmup=0
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"\nHTTP: gunicorn {workers} sync workers, full middleware; {clients} client processes post the")
    print("final step (account password, security card, signature) of the transfer pages; latencies in ms")
    header = f"{'clients':>7}  {'pgbench tx/s':>12} {'p50':>6} {'p95':>6}  {'transfers/s':>11} {'p50':>6} {'p95':>6}"
    print(f"{header}  ratio  errors")
    print(
        f"{clients:>7}  {base_run.rate:>12.1f} {base_run.p50_ms:>6.2f} {base_run.p95_ms:>6.2f}"
        f"  {run.rate:>11.1f} {run.p50_ms:>6.2f} {run.p95_ms:>6.2f}  {run.rate / base_run.rate:>5.3f}  {run.errors:>6}"
    )
    for sample in run.error_samples:
        print(f"         error: {sample}")


if __name__ == "__main__":
    main()
