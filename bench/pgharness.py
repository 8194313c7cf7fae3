"""What the PostgreSQL benchmarks share: Django set up as in production, psql/pgbench connection
arguments from DATABASE_URL, admin SQL (scratch databases), and one pgbench tpcb-like run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_setup(db_name: str | None = None) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankportal.settings")
    import django
    from django.conf import settings

    django.setup()
    if db_name:
        settings.DATABASES["default"]["NAME"] = db_name
    # As in production: no per-query debug logging (DEBUG=1 only lets settings load without secrets).
    settings.DEBUG = False
    # Measure the portal, not password hashing (logins and account passwords are set up once).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pg_args() -> tuple[list[str], dict[str, str]]:
    """psql/pgbench connection arguments and environment for the configured database server."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    args = ["-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432), "-U", db.get("USER") or "postgres"]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return args, env


def admin_sql(sql: str) -> None:
    args, env = pg_args()
    subprocess.run(["psql", *args, "-d", "postgres", "-qAtc", sql], check=True, env=env)  # noqa: S603, S607


def pgbench_run(
    database: str, clients: int, seconds: int, scripts: list[str] | None = None, protocol: str = "simple"
) -> tuple[float, list[float]]:
    """pgbench's tpcb-like script against ``database`` (made with ``pgbench -i``), or the given script
    files (one picked at random per transaction), over ``protocol`` (pgbench's ``-M``: ``simple`` parses
    and plans every statement, ``prepared`` once per connection): (tps, latencies in ms)."""
    args, env = pg_args()
    chosen = [arg for path in scripts or [] for arg in ("-f", path)] + ["-M", protocol]
    with tempfile.TemporaryDirectory() as logdir:
        prefix = str(Path(logdir) / "tx")
        done = subprocess.run(  # noqa: S603
            [shutil.which("pgbench") or "pgbench", *args, "-n", "-c", str(clients), "-j", str(clients)]
            + ["-T", str(seconds), "-l", "--log-prefix", prefix, *chosen, database],
            check=False,
            capture_output=True,
            text=True,
            env=env,
        )
        if done.returncode:
            raise SystemExit(f"pgbench failed ({done.returncode}):\n{done.stderr[-2000:]}")
        latencies = [
            int(line.split()[2]) / 1000  # microseconds -> ms
            for log in Path(logdir).glob("tx*")
            for line in log.read_text().splitlines()
        ]
    tps = float(next(line for line in done.stdout.splitlines() if line.startswith("tps =")).split()[2])
    return tps, latencies
