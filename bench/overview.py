"""The accounts overview (/banking/, the banking session's landing page) through HTTP: gunicorn, every
middleware, PostgreSQL and Redis sessions, 8 concurrent client processes with signed-in sessions.

Usage (PostgreSQL only; run by hand, prints figures, asserts nothing):

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python bench/overview.py [--customers 400] [--accounts 3] [--entries 250] \\
        [--clients 8] [--workers 8] [--seconds 20] [--think-ms 0] [--db bp_bench_overview] [--keep] [--no-floor]

A scratch database (``--db``, our migrations; dropped at the end unless ``--keep``) is filled with bulk
SQL, not the services: N customers with an internet-banking user each, ``--accounts`` demand-deposit
accounts each with ``--entries`` ledger entries a few hours apart over the last months (their running
``balance_after``), the last two of every account an incoming transfer from another customer (a
``Transfer`` row: the page joins it for the sender's name and memo), a transfer limit for every second
customer and today's transfer total for every customer. Then ``VACUUM ANALYZE``.

Every client process gets its own customers' sessions (made with ``Client.force_login`` in the session
store the server uses, raised to the certificate level as the certificate login does), warms each up
with one untimed request (a session's first request also reads the previous sign-in from the audit
trail), then, from a common start instant, requests ``GET /banking/`` for ``--seconds``, cycling
through its sessions, over its own connection: in a closed loop (the default; every client always has a
request in flight) or with ``--think-ms`` between requests, as people reading the page would. Every
answer must be 200 and list the customer's accounts. The server is gunicorn with ``--workers`` sync
workers on this scratch database; DEBUG is off in the workers (``DEBUG=1`` only lets settings load
without production secrets) so that no query log is kept, as in production.

Then the floor, the same way with the same sessions: ``GET /products/``, a page that reads nothing of
the customer's, through the same server and every middleware (session, user, OTP device, session
limits). What a signed-in request costs before any page's own work bounds every page's latency here.

Printed per run: requests, errors, throughput (requests/s over the common window), p50/p95/p99 latency
in ms measured by the clients; then the overview's statements (one request, through the test client).

Without ``REDIS_URL`` the sessions live in the database (one more read and one write per request).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DB_ENV = "BENCH_OVERVIEW_DB"


def _django(db: str | None = None) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankportal.settings")
    import django
    from django.conf import settings

    django.setup()
    # As in production: no per-query debug log (DEBUG=1 only lets settings load without secrets).
    settings.DEBUG = False
    if db:
        settings.DATABASES["default"]["NAME"] = db


def server_app() -> Any:
    """The WSGI application gunicorn serves (``overview:server_app()``): every middleware, DEBUG off."""
    _django(os.environ[DB_ENV])
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def _admin_sql(sql: str) -> None:
    from django.conf import settings

    db = settings.DATABASES["default"]
    args = ["-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432), "-U", db.get("USER") or "postgres"]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    subprocess.run(["psql", *args, "-d", "postgres", "-qAtc", sql], check=True, env=env)  # noqa: S603, S607


def _sql(sql: str, params: list[Any] | None = None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.rowcount


# --- The data ------------------------------------------------------------------------------------------


def _build(customers: int, accounts: int, entries: int) -> list[int]:
    """Fill the scratch database; the customers' user ids, in customer order."""
    from django.core.management import call_command

    from accounts import accountnumbers
    from accounts.models import Account, Customer, DepositProduct, User
    from bankportal.timeutil import KST, kst_today

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    product, _ = DepositProduct.objects.get_or_create(
        code="01", defaults={"kind": "demand", "name_ko": "다솜 자유입출금통장", "name_en": "Dasom Free Savings"}
    )
    Customer.objects.bulk_create(
        Customer(
            kind=Customer.Kind.INDIVIDUAL,
            name=f"고객{i}",
            phone=f"010{i:08d}",
            rrn_index=f"bench{i}",
            rrn_masked="800101-1******",
            birth_date=dt.date(1980, 1, 1),
        )
        for i in range(customers)
    )
    customer_ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    User.objects.bulk_create(
        User(username=f"bench{pk}", password="!", customer_id=pk, first_name=f"고객{i}")  # noqa: S106
        for i, pk in enumerate(customer_ids)
    )
    serial = 0
    rows = []
    for pk in customer_ids:
        for _n in range(accounts):
            serial += 1
            number = accountnumbers.build("101", product.code, serial)
            rows.append(Account(number=number, holder_id=pk, product=product, branch="101"))
    Account.objects.bulk_create(rows, batch_size=2000)
    now = dt.datetime.now(tz=KST)
    # Entries i = 1..E of every account, 7 hours apart, the newest (i = E) an hour ago; entry ids in
    # time order across accounts, as real postings are. Journals get their ids from the sequence first,
    # so each entry knows its journal.
    _sql(
        """
        CREATE TEMP TABLE bench_src AS
        SELECT nextval(pg_get_serial_sequence('accounts_journal', 'id')) AS jid, s.*
        FROM (
            SELECT a.id AS account_id, a.holder_id, a.number, g.i,
                   CASE WHEN g.i = 1 THEN 10000000 ELSE 1000 + mod(a.id * 7919 + g.i * 104729, 90000) END AS amount,
                   %s::timestamptz - make_interval(hours => (%s - g.i) * 7 + 1) AS at
            FROM accounts_account a CROSS JOIN generate_series(1, %s) AS g(i)
            WHERE a.kind = 'customer'
            ORDER BY g.i, a.id
        ) s
        """,
        [now, entries, entries],
    )
    _sql(
        """
        INSERT INTO accounts_journal (id, kind, memo, created_at)
        SELECT jid, CASE WHEN i > %s - 2 THEN 'transfer' ELSE 'cash_deposit' END, '', at FROM bench_src
        """,
        [entries],
    )
    _sql(
        """
        INSERT INTO accounts_ledgerentry (journal_id, account_id, amount, balance_after, created_at)
        SELECT jid, account_id, amount, sum(amount) OVER (PARTITION BY account_id ORDER BY i), at
        FROM bench_src ORDER BY i, account_id
        """
    )
    # The last two entries of every account: a transfer from the next customer's first account.
    _sql(
        """
        INSERT INTO accounts_transfer (reference, customer_id, idempotency_key, destination, status,
            from_account_id, to_account_id, to_bank_code, to_account_number, recipient_name, amount,
            memo_sender, memo_recipient, journal_id, kst_day, created_at, return_reason)
        SELECT to_char(s.at AT TIME ZONE 'Asia/Seoul', 'YYYYMMDD') || lpad(s.jid::text, 12, '0'),
               src.holder_id, gen_random_uuid(), 'same_bank', 'completed', src.id, s.account_id, '997', s.number,
               c.name, s.amount, '보낸 메모 ' || s.i, '받는 메모 ' || s.i, s.jid,
               (s.at AT TIME ZONE 'Asia/Seoul')::date, s.at, ''
        FROM bench_src s
        JOIN accounts_customer c ON c.id = s.holder_id
        LEFT JOIN LATERAL (
            SELECT a.id, a.holder_id FROM accounts_account a
            WHERE a.kind = 'customer' AND a.holder_id <> s.holder_id AND a.id > s.account_id
            ORDER BY a.id LIMIT 1
        ) nxt ON true
        JOIN accounts_account src ON src.id = COALESCE(nxt.id, (
            SELECT min(a.id) FROM accounts_account a WHERE a.kind = 'customer' AND a.holder_id <> s.holder_id))
        WHERE s.i > %s - 2
        """,
        [entries],
    )
    _sql(
        """
        UPDATE accounts_account a SET balance = t.total
        FROM (SELECT account_id, sum(amount) AS total FROM accounts_ledgerentry GROUP BY account_id) t
        WHERE a.id = t.account_id
        """
    )
    _sql(
        """
        INSERT INTO accounts_transferlimit (customer_id, per_transfer, per_day, updated_at)
        SELECT id, 1000000, 5000000, now() FROM accounts_customer WHERE mod(id, 2) = 0
        """
    )
    _sql(
        """
        INSERT INTO accounts_dailytransfertotal (customer_id, day, total, count)
        SELECT id, %s, 120000, 2 FROM accounts_customer
        """,
        [kst_today()],
    )
    _sql("DROP TABLE bench_src")
    _sql("VACUUM ANALYZE")
    counts = {
        "customers": Customer.objects.count(),
        "accounts": Account.objects.filter(kind="customer").count(),
        "entries": _count("accounts_ledgerentry"),
        "transfers": _count("accounts_transfer"),
    }
    print(
        "built "
        + ", ".join(f"{value:,} {key}" for key, value in counts.items())
        + f" in {time.perf_counter() - started:.1f} s (then VACUUM ANALYZE)",
        flush=True,
    )
    return list(User.objects.filter(customer_id__in=customer_ids).order_by("customer_id").values_list("pk", flat=True))


def _count(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - a fixed table name
        return int(cursor.fetchone()[0])


def _sessions(user_ids: list[int]) -> list[str]:
    """A certificate-level session per user, in the store the server reads (Redis or the database)."""
    from django.test import Client

    from accounts.models import User
    from bankportal.session_levels import SESSION_KEY, Level

    keys = []
    for user in User.objects.filter(pk__in=user_ids).order_by("pk"):
        client = Client()
        client.force_login(user)
        session = client.session
        session[SESSION_KEY] = int(Level.CERTIFICATE)
        session.save()
        keys.append(session.session_key or "")
    return keys


# --- The load ------------------------------------------------------------------------------------------


# What each measured page must contain, so an error page or a redirect to sign-in is not counted.
PAGES = {"/banking/": b"account-card", "/products/": b"<h1>"}


def _client(
    port: int,
    cookie_name: str,
    keys: list[str],
    start_at: float,
    seconds: float,
    think: float,
    queue: Any,
    path: str = "/banking/",
) -> None:
    """One client process: warm every session up, then GET ``path`` in a loop, timing each, waiting
    ``think`` seconds between requests (0: a closed loop, the next request as soon as one is answered)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    marker = PAGES[path]

    def get(key: str) -> tuple[int, bytes]:
        connection.request(
            "GET", path, headers={"Cookie": f"{cookie_name}={key}", "Accept-Language": "ko", "Host": "127.0.0.1"}
        )
        response = connection.getresponse()
        return response.status, response.read()

    errors: list[str] = []
    for key in keys:
        status, body = get(key)
        if status != 200 or marker not in body:
            errors.append(f"warm-up: HTTP {status}")
    latencies: list[float] = []
    time.sleep(max(0.0, start_at - time.time()))
    end_at = start_at + seconds
    turn = 0
    while time.time() < end_at:
        key = keys[turn % len(keys)]
        turn += 1
        began = time.perf_counter()
        try:
            status, body = get(key)
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            connection.close()
            continue
        latencies.append((time.perf_counter() - began) * 1000)
        if status != 200 or marker not in body:
            errors.append(f"HTTP {status}")
        if think:
            time.sleep(think)
    connection.close()
    queue.put((latencies, errors))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(port: int, workers: int, db: str) -> subprocess.Popen[bytes]:
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
        "overview:server_app()",
    ]
    server = subprocess.Popen(gunicorn, env={**os.environ, DB_ENV: db})  # noqa: S603
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def _load(
    port: int, clients: int, seconds: float, think: float, keys: list[str], path: str = "/banking/"
) -> tuple[list[float], list[str], float]:
    from django.conf import settings

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start_at = time.time() + 5 + len(keys) * 0.02  # every process warms its sessions up before
    shares = [keys[i::clients] for i in range(clients)]
    processes = [
        context.Process(
            target=_client,
            args=(port, settings.SESSION_COOKIE_NAME, share, start_at, seconds, think, queue, path),
            daemon=True,
        )
        for share in shares
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=seconds + 300) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    latencies = [value for result in results for value in result[0]]
    errors = [error for result in results for error in result[1]]
    return latencies, errors, seconds


def _statements(user_id: int) -> list[str]:
    """The page's statements for one signed-in customer, through the test client (second request)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from bankportal.session_levels import SESSION_KEY, Level

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(pk=user_id))
    session = client.session
    session[SESSION_KEY] = int(Level.CERTIFICATE)
    session.save()
    client.get("/banking/")
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/banking/")
    if response.status_code != 200:
        return [f"HTTP {response.status_code}"]
    return [f"{float(q['time']) * 1000:6.2f} ms  {' '.join(q['sql'].split())[:150]}" for q in queries.captured_queries]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--accounts", type=int, default=3, help="accounts per customer")
    parser.add_argument("--entries", type=int, default=250, help="ledger entries per account")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client processes")
    parser.add_argument("--sessions", type=int, default=10, help="signed-in customers per client process")
    parser.add_argument("--workers", type=int, default=8, help="gunicorn sync workers")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument(
        "--think-ms", type=float, default=0, help="pause between a client's requests (0: closed loop, the default)"
    )
    parser.add_argument("--db", default="bp_bench_overview", help="scratch database (dropped and made again)")
    parser.add_argument("--keep", action="store_true", help="leave the scratch database for EXPLAIN")
    parser.add_argument(
        "--no-floor",
        action="store_true",
        help="skip the second run: GET /products/ with the same sessions (every middleware, nothing of the customer's)",
    )
    args = parser.parse_args()
    if args.entries < 3:
        raise SystemExit("--entries must be 3 or more")
    if args.customers < args.clients * args.sessions:
        raise SystemExit("--customers must cover --clients x --sessions")

    _django()
    from django.conf import settings
    from django.db import connection

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise SystemExit("set DATABASE_URL to a PostgreSQL server")
    connection.close()
    _admin_sql(f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")
    _admin_sql(f"CREATE DATABASE {args.db}")
    settings.DATABASES["default"]["NAME"] = args.db
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            version = cursor.fetchone()[0].split(" on ")[0]
        sessions = "Redis" if settings.SESSION_ENGINE.endswith(".cache") else "the database"
        print(f"{version}; {os.cpu_count()} cores; sessions in {sessions}", flush=True)
        user_ids = _build(args.customers, args.accounts, args.entries)
        keys = _sessions(user_ids[: args.clients * args.sessions])
        statements = _statements(user_ids[-1])
        connection.close()
        port = _free_port()
        server = _serve(port, args.workers, args.db)
        runs = [("/banking/", "the overview")] + ([] if args.no_floor else [("/products/", "the floor")])
        results = {}
        try:
            for path, _label in runs:
                results[path] = _load(port, args.clients, args.seconds, args.think_ms / 1000, keys, path)
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(
            f"\nthrough gunicorn ({args.workers} sync workers), {args.clients} client processes x "
            f"{args.sessions} signed-in sessions, {args.seconds:g} s each, think {args.think_ms:g} ms; "
            f"{args.accounts} accounts x {args.entries} entries each"
        )
        print(
            f"{'':<26} {'requests':>9} {'errors':>7} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
            f" {'max ms':>7}"
        )
        for path, label in runs:
            latencies, errors, seconds = results[path]
            cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
            print(
                f"{label + ': GET ' + path:<26} {len(latencies):>9} {len(errors):>7} {len(latencies) / seconds:>8.1f}"
                f" {cuts[49]:>7.2f} {cuts[94]:>7.2f} {cuts[98]:>7.2f} {max(latencies, default=float('nan')):>7.2f}"
            )
            for sample in sorted(set(errors))[:5]:
                print(f"  error: {sample}")
        print(f"\nthe page's statements (one request, {len(statements)}):")
        for line in statements:
            print(f"  {line}")
    finally:
        connection.close()
        if not args.keep:
            _admin_sql(f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")


if __name__ == "__main__":
    main()
