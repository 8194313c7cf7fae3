"""Sign-in throttling on the public site and the admin (django-axes, bankportal/throttling.py).

Limits come from settings, so these tests follow whatever the defaults are: ``AXES_FAILURE_LIMIT``
failures lock a user name from one address, ``SIGNIN_IP_FAILURE_LIMIT`` failures lock an address
whatever the names, and a lock lifts by itself after ``AXES_COOLOFF_TIME``.
"""

from __future__ import annotations

import datetime as dt
import io
import time

import pytest
from axes.models import AccessAttempt, AccessLog
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from bankportal.audit.models import AuditEvent
from tests.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-horse-42"
HOME_IP = "203.0.113.10"
OTHER_IP = "198.51.100.20"


@pytest.fixture
def webmember(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user(username="webmember", password=PASSWORD)


def sign_in(username: str, password: str, *, ip: str = HOME_IP, path: str = "", **extra: str):  # type: ignore[no-untyped-def]
    """One sign-in attempt from a fresh browser (no session), as a separate visitor would."""
    return Client().post(
        path or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip, **extra
    )


def fail(times: int, username: str = "webmember") -> None:
    for _ in range(times):
        assert sign_in(username, "wrong-password").status_code == 200, "refused before the limit"


def spread_failures(count: int, *, per_name: int) -> None:
    """``count`` failures from HOME_IP over as many names as it takes for none to reach its own limit."""
    for i in range(count):
        assert sign_in(f"guess{i // per_name}", "wrong-password").status_code == 200, "refused before the limit"


def is_locked_page(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 429 and "registration/signin_locked.html" in [t.name for t in response.templates]


def signed_in(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302 and response.wsgi_request.user.is_authenticated


def test_one_failure_short_of_the_limit_the_right_password_still_signs_in(webmember, settings):
    """N-1 failures then the right password: signed in, and that clears the user's count."""
    fail(settings.AXES_FAILURE_LIMIT - 1)
    assert signed_in(sign_in("webmember", PASSWORD))

    fail(settings.AXES_FAILURE_LIMIT - 1)  # a fresh count: would lock at once had the success not cleared it
    assert signed_in(sign_in("webmember", PASSWORD))


def test_the_nth_failure_locks_that_user_name_from_that_address(webmember, settings):
    """The Nth failure answers with the lockout page; then even the right password is refused."""
    fail(settings.AXES_FAILURE_LIMIT - 1)

    assert is_locked_page(sign_in("webmember", "wrong-password"))
    refused = sign_in("webmember", PASSWORD)
    assert is_locked_page(refused)
    assert not refused.wsgi_request.user.is_authenticated
    assert refused["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))


def test_the_same_user_name_from_another_address_still_signs_in(webmember, settings):
    """The lock is on the pair (name, address): an attacker elsewhere cannot lock the customer out."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("webmember", "wrong-password", ip=OTHER_IP)
    assert is_locked_page(sign_in("webmember", PASSWORD, ip=OTHER_IP))

    assert signed_in(sign_in("webmember", PASSWORD, ip=HOME_IP))


def test_another_user_name_from_the_locked_address_still_signs_in(webmember, django_user_model, settings):
    """Below the per-address limit, a lock on one name does not refuse the other names there."""
    django_user_model.objects.create_user(username="neighbour", password=PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("webmember", "wrong-password")
    assert is_locked_page(sign_in("webmember", PASSWORD))

    assert signed_in(sign_in("neighbour", PASSWORD))


def test_many_user_names_from_one_address_lock_the_address(webmember, settings):
    """SIGNIN_IP_FAILURE_LIMIT failures over different names (each under its own limit) lock the
    address for every name, the right password included; other addresses are unaffected."""
    spread_failures(settings.SIGNIN_IP_FAILURE_LIMIT - 1, per_name=settings.AXES_FAILURE_LIMIT - 1)

    assert is_locked_page(sign_in("webmember", "wrong-password"))  # the limit-th failure from here
    assert is_locked_page(sign_in("webmember", PASSWORD))
    assert signed_in(sign_in("webmember", PASSWORD, ip=OTHER_IP))


def test_a_success_does_not_reset_the_address_count(webmember, settings):
    """A valid account signing in does not give its address a fresh per-address allowance."""
    spread_failures(settings.SIGNIN_IP_FAILURE_LIMIT - 1, per_name=settings.AXES_FAILURE_LIMIT - 1)
    assert signed_in(sign_in("webmember", PASSWORD))

    assert is_locked_page(sign_in("another-guess", "wrong-password"))


def test_the_lock_lifts_after_the_cool_off_even_under_a_flood(webmember, settings):
    """Refused attempts while locked are not counted, so the lock ends one cool-off after the
    failure that set it: locked just before, open just after, however many tries came between."""
    settings.AXES_COOLOFF_TIME = dt.timedelta(seconds=2)  # the cache's own clock (Redis TTL) decides
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("webmember", "wrong-password")
    locked_at = time.monotonic()

    for _ in range(10):
        assert is_locked_page(sign_in("webmember", "wrong-password"))
    time.sleep(max(0.0, locked_at + 1.2 - time.monotonic()))
    assert is_locked_page(sign_in("webmember", PASSWORD))

    time.sleep(max(0.0, locked_at + 2.6 - time.monotonic()))
    assert signed_in(sign_in("webmember", PASSWORD))


def test_an_operator_lifts_a_pause_early(webmember, settings):
    """``axes_reset_ip_username`` clears the pair's and the address's counts: the customer signs in."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("webmember", "wrong-password")
    assert is_locked_page(sign_in("webmember", PASSWORD))

    call_command("axes_reset_ip_username", HOME_IP, "webmember", stdout=io.StringIO())

    assert signed_in(sign_in("webmember", PASSWORD))


def test_the_admin_sign_in_is_throttled_too(teller, settings):
    """Staff sign-in at /admin/login/ locks the same way, and the lockout is audited as admin."""
    from tests.conftest import staff_totp_code

    def admin_sign_in(password: str, ip: str = HOME_IP):  # type: ignore[no-untyped-def]
        # The admin also asks for the authenticator code (bankportal/admin_site.py).
        data = {"username": "teller", "password": password, "otp_token": staff_totp_code(teller)}
        return Client().post(reverse("admin:login"), data, REMOTE_ADDR=ip)

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert admin_sign_in("wrong-password").status_code == 200

    assert is_locked_page(admin_sign_in("wrong-password"))
    assert is_locked_page(admin_sign_in(STAFF_PASSWORD))
    assert AuditEvent.objects.get(action="auth.locked_out").channel == "admin"
    assert admin_sign_in(STAFF_PASSWORD, ip=OTHER_IP).status_code == 302


def test_the_lockout_is_audited_once_and_refused_attempts_not_at_all(webmember, settings):
    """Failures up to the limit are audited one by one, the lockout once, and the flood of refused
    attempts while locked writes nothing (no audit event, no database row of django-axes)."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("webmember", "wrong-password")
    for _ in range(25):
        sign_in("webmember", "wrong-password")
        sign_in("webmember", PASSWORD)

    assert AuditEvent.objects.filter(action="auth.login_failed").count() == settings.AXES_FAILURE_LIMIT
    lockout = AuditEvent.objects.get(action="auth.locked_out")
    assert (lockout.ip, lockout.channel, lockout.details) == (
        HOME_IP,
        "web",
        {"username": "webmember", "scopes": ["username+ip_address"]},
    )
    assert not AccessAttempt.objects.exists() and not AccessLog.objects.exists()


@pytest.mark.parametrize("language", ["ko", "en"])
def test_the_lockout_page_is_translated_and_never_shows_the_name_typed(webmember, settings, language):
    """The lockout page is in the visitor's language, status 429, and does not echo the user name
    (someone may have typed a resident number into it)."""
    rrn = "850315-2718281"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = sign_in(rrn, "wrong-password", HTTP_ACCEPT_LANGUAGE=language)

    assert is_locked_page(response)
    html = response.content.decode()
    with translation.override(language):
        heading = gettext("Sign-in paused")
    assert f'<html lang="{language}">' in html
    assert f"<h1>{heading}</h1>" in html
    assert rrn not in html and "2718281" not in html


def test_the_client_address_behind_the_proxy_is_the_one_locked(webmember, settings):
    """Behind the proxy the last X-Forwarded-For hop is the client (as in the audit trail): two
    customers behind the same proxy address are throttled separately."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxy = {"ip": "10.0.0.5"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("webmember", "wrong-password", HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.77", **proxy)

    assert is_locked_page(sign_in("webmember", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.77", **proxy))
    assert signed_in(sign_in("webmember", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.78", **proxy))
    assert AuditEvent.objects.get(action="auth.locked_out").ip == "203.0.113.77"


@pytest.mark.parametrize(("per_ip", "loads"), [("5", True), ("4", False)])
def test_the_per_address_limit_is_never_below_the_per_name_limit(per_ip, loads):
    """SIGNIN_IP_FAILURE_LIMIT equal to SIGNIN_FAILURE_LIMIT loads; one below stops start-up."""
    from tests.bankportal.test_settings import PRODUCTION, _load_settings

    result = _load_settings(**PRODUCTION, SIGNIN_FAILURE_LIMIT="5", SIGNIN_IP_FAILURE_LIMIT=per_ip)

    assert (result.returncode == 0) is loads, result.stderr
    assert ("SIGNIN_IP_FAILURE_LIMIT must be at least" in result.stderr) is not loads
