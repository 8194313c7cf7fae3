"""Shared fixtures: named personas built through the services, and the service-requirement rules.

With ``REQUIRE_SERVICES=1`` (CI's PostgreSQL + Redis run) any skipped test fails the run, so a
missing server or browser can never pass silently.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import os
import sys
from types import CodeType

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.apps import apps as django_apps
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from accounts import services
from accounts.models import Customer, DepositProduct, User
from bankportal.timeutil import kst_today
from certcenter.ca.common import CA_KEY_BITS

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") == "1"
STAFF_PASSWORD = "Staff-pass-2026!"
ACCOUNT_PASSWORD = "4825"


def pytest_sessionstart(session: pytest.Session) -> None:
    if REQUIRE_SERVICES:
        engine = django_settings.DATABASES["default"]["ENGINE"]
        missing = []
        if engine != "django.db.backends.postgresql":
            missing.append("DATABASE_URL (PostgreSQL)")
        if not django_settings.REDIS_URL:
            missing.append("REDIS_URL")
        if missing:
            raise pytest.UsageError(f"REQUIRE_SERVICES=1 but not configured: {', '.join(missing)}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
    if REQUIRE_SERVICES and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under REQUIRE_SERVICES=1, which forbids skips: {reason}"


def _is_postgres() -> bool:
    return django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


@pytest.fixture
def requires_postgres() -> None:
    if not _is_postgres():
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture
def requires_redis() -> None:
    if not django_settings.REDIS_URL:
        pytest.skip("needs Redis (set REDIS_URL)")


@pytest.fixture(autouse=True)
def _reference_data(request: pytest.FixtureRequest) -> None:
    """Transactional tests (live server, threads) flush the database after each test, which also
    removes what the data migrations wrote; put the staff groups (with the permissions every later
    migration gave or took) and internal accounts back. The per-branch internal accounts are made
    again on first use, so the ledger's per-process cache of them is cleared first."""
    from accounts.services.ledger import internal_account_cache_clear

    internal_account_cache_clear()
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    migration = importlib.import_module("accounts.migrations.0002_internal_accounts_and_staff_groups")
    migration.create_internal_accounts(django_apps, None)
    migration.create_groups(django_apps, None)
    importlib.import_module("accounts.migrations.0006_staff_requests").grant_staff_request_permissions(
        django_apps, None
    )
    importlib.import_module("accounts.migrations.0007_staff_group_duties").assign_staff_duties(django_apps, None)
    importlib.import_module("otp.migrations.0001_security_cards").grant_security_card_permissions(django_apps, None)
    importlib.import_module("otp.migrations.0002_otp_tokens").grant_otp_token_permissions(django_apps, None)
    importlib.import_module("accounts.migrations.0009_agreements").grant_agreement_permissions(django_apps, None)
    importlib.import_module("certcenter.migrations.0001_initial").grant_certcenter_view_permissions(django_apps, None)
    importlib.import_module(
        "certcenter.migrations.0005_staff_view_other_institutions"
    ).grant_other_institution_view_permissions(django_apps, None)
    importlib.import_module("bankportal.content.migrations.0002_inquiry").grant_inquiry_permissions(django_apps, None)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    # Argon2 is the production hasher (tested in tests/bankportal/test_settings.py); tests hash
    # hundreds of passwords, so they use a fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# RSA-3072 key pairs for the portal's own CAs, made once per test run and handed out again to later tests.
_CA_KEY_POOL: list[rsa.RSAPrivateKey] = []
_generate_private_key = rsa.generate_private_key


def _inside(code: CodeType) -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


@pytest.fixture(autouse=True)
def _reused_ca_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Making an RSA-3072 key pair takes about 0.15 s, and most tests set up the portal's root and
    issuing CA with ``ca_init``: inside ``ca_init`` the n-th key a test asks for is the n-th of a
    pool kept for the whole run. The keys stay real and distinct within a test; only different
    tests share them, and each test starts from an empty database, so no two CAs of one test ever
    share a key. Every other key (other institutions' CAs, customer keys, which test helpers cache
    by name) is made fresh, as before."""
    from certcenter.services.authority import ca_init

    ca_init_code = inspect.unwrap(ca_init).__code__  # the function itself, not @transaction.atomic's wrapper
    handed_out = 0

    def pooled(public_exponent: int, key_size: int, backend: object = None) -> rsa.RSAPrivateKey:
        nonlocal handed_out
        if public_exponent != 65537 or key_size != CA_KEY_BITS or not _inside(ca_init_code):
            return _generate_private_key(public_exponent=public_exponent, key_size=key_size)
        handed_out += 1
        while len(_CA_KEY_POOL) < handed_out:
            _CA_KEY_POOL.append(_generate_private_key(public_exponent=public_exponent, key_size=key_size))
        return _CA_KEY_POOL[handed_out - 1]

    monkeypatch.setattr(rsa, "generate_private_key", pooled)


@pytest.fixture(autouse=True)
def _fresh_signin_throttle() -> None:
    """Sign-in throttle counters (django-axes, bankportal/throttling.py) live in the cache, which
    outlives each test's rollback: start every test with none, so failed sign-ins in one test
    never lock out the next."""
    cache = caches[django_settings.AXES_CACHE]
    if isinstance(cache, RedisCache):
        # Only the throttle's keys: flushing the database would also drop Celery's broker state.
        client = cache._cache.get_client(write=True)
        for key in client.scan_iter(match=cache.make_key("axes-*")):
            client.delete(key)
    else:
        cache.clear()


def rrn_for_age(age: int, *, serial: str = "123456", today: dt.date | None = None) -> str:
    """A syntactically valid RRN for someone who turned ``age`` 30 days ago."""
    today = today or kst_today()
    birth = today - dt.timedelta(days=30)
    if (birth.month, birth.day) == (2, 29):
        birth = birth.replace(day=28)
    birth = birth.replace(year=birth.year - age)
    century_digit = {1900: "1", 2000: "3"}[birth.year // 100 * 100]
    return f"{birth:%y%m%d}-{century_digit}{serial}"


def valid_brn(prefix: str) -> str:
    """Complete nine digits with their check digit."""
    from accounts.idnumbers import brn_check_digit, format_brn

    return format_brn(prefix + str(brn_check_digit(prefix)))


@pytest.fixture
def demand_product(db) -> DepositProduct:  # type: ignore[no-untyped-def]
    product, _ = DepositProduct.objects.get_or_create(
        code="01",
        defaults={
            "kind": DepositProduct.Kind.DEMAND,
            "name_ko": "다솜 자유입출금통장",
            "name_en": "Dasom Free Savings",
        },
    )
    return product


def _staff(username: str, group: str) -> User:
    user = User.objects.create_user(username=username, password=STAFF_PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def teller(db) -> User:  # type: ignore[no-untyped-def]
    return _staff("teller", "Teller")


@pytest.fixture
def manager(db) -> User:  # type: ignore[no-untyped-def]
    return _staff("manager", "Branch manager")


@pytest.fixture
def alice(db, teller) -> Customer:  # type: ignore[no-untyped-def]
    """An adult individual customer."""
    return services.customer_create(
        kind=Customer.Kind.INDIVIDUAL,
        name="김앨리스",
        phone="010-8642-9753",
        email="alice@example.com",
        rrn=rrn_for_age(34, serial="234567"),
        actor=teller,
    )


@pytest.fixture
def alice_account(alice, demand_product, teller):  # type: ignore[no-untyped-def]
    return services.account_open(
        customer=alice, product=demand_product, password=ACCOUNT_PASSWORD, opening_deposit=1_000_000, actor=teller
    )


@pytest.fixture
def minnie(db, teller) -> Customer:  # type: ignore[no-untyped-def]
    """An 18-year-old who signed up alone: the minor transfer cap applies."""
    return services.customer_create(
        kind=Customer.Kind.INDIVIDUAL,
        name="이민지",
        phone="010-2222-3333",
        rrn=rrn_for_age(18, serial="412345"),
        actor=teller,
    )


@pytest.fixture
def acme(db, teller) -> Customer:  # type: ignore[no-untyped-def]
    """A corporate customer."""
    return services.customer_create(
        kind=Customer.Kind.CORPORATION,
        name="(주)에이크미",
        phone="010-5555-6666",
        brn=valid_brn("220811234"),
        actor=teller,
    )


def staff_authenticator(user: User):  # type: ignore[no-untyped-def]
    """The staff member's confirmed admin authenticator (a TOTP device), enrolled on first use."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test authenticator", confirmed=True)
    return device


def staff_totp_code(user: User, *, at: float | None = None) -> str:
    """The 6-digit code the staff member's authenticator app shows now (or at ``at``, a Unix time)."""
    import time

    from django_otp.oath import TOTP

    device = staff_authenticator(user)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() if at is None else at
    return f"{totp.token():0{device.digits}d}"


def staff_login(client, user: User) -> None:  # type: ignore[no-untyped-def]
    """Sign a staff member into the admin as the OTP-protected admin expects: logged in, and the
    session verified with a confirmed TOTP device (what typing the authenticator code does)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    client.force_login(user)
    device = staff_authenticator(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


@pytest.fixture
def admin_client(client, admin_user):  # type: ignore[no-untyped-def]
    """pytest-django's superuser client, signed in the way the OTP-protected admin expects."""
    staff_login(client, admin_user)
    return client


def banking_login(client, user: User) -> None:  # type: ignore[no-untyped-def]
    """Sign a customer in with a banking (certificate) session, as the certificate login will:
    logged in, and the session level raised to ``CERTIFICATE``."""
    from bankportal.session_levels import SESSION_KEY, Level

    client.force_login(user)
    session = client.session
    session[SESSION_KEY] = int(Level.CERTIFICATE)
    session.save()
