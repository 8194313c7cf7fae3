"""The staff admin opens only with user name, password and a current authenticator (TOTP) code.

bankportal/admin_site.py: every staff user, superusers too, needs a confirmed TOTP device; a wrong
password, a wrong code and a missing device get the same answer, count as failed sign-ins for the
throttle and are audited on the admin channel.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.services.staff import staff_otp_enrol
from bankportal.actors import system_actor
from bankportal.admin_site import ERR_CODE_FORMAT, ERR_INVALID_LOGIN, NOT_ENROLLED_NOTICE, NOT_VERIFIED_NOTICE
from bankportal.audit.models import AuditEvent
from tests.conftest import STAFF_PASSWORD, staff_authenticator, staff_login, staff_totp_code

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 10, 0, 10, tzinfo=dt.UTC)  # 10 s into a 30-second step
IP = "203.0.113.44"


def _post_login(client: Client, username: str, password: str, code: str, **extra: str):  # type: ignore[no-untyped-def]
    data = {"username": username, "password": password, "otp_token": code, "next": reverse("admin:index")}
    return client.post(reverse("admin:login"), data, REMOTE_ADDR=IP, **extra)


def _wrong_code(user: User, now: float) -> str:
    """A well-formed code the device accepts at no step within its tolerance of ``now``."""
    valid = {staff_totp_code(user, at=now + offset * 30) for offset in (-1, 0, 1)}
    return next(code for code in (f"{n:06d}" for n in range(1_000_000)) if code not in valid)


def _error_text(response) -> str:  # type: ignore[no-untyped-def]
    return " ".join(str(e) for e in response.context["form"].non_field_errors())


def _admin_is_open(client: Client) -> bool:
    return client.get(reverse("admin:index")).status_code == 200


def _invalid_login() -> str:
    return str(ERR_INVALID_LOGIN) % {"username": User._meta.get_field("username").verbose_name}


def test_a_password_only_session_is_sent_to_the_login_page_and_sees_no_data(client, teller, alice):
    """Signed in with the password alone (no authenticator code): every admin page redirects to the login."""
    client.force_login(teller)
    for url in (
        reverse("admin:index"),
        reverse("admin:accounts_customer_changelist"),
        reverse("admin:accounts_customer_change", args=[alice.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login"))
    page = client.get(reverse("admin:accounts_customer_changelist"), follow=True).content.decode()
    assert alice.name not in page and alice.rrn_masked not in page
    assert not AuditEvent.objects.filter(action="customer.view").exists()


def test_a_verified_session_opens_the_admin(client, teller):
    """The other side of the boundary: the same staff member with a verified session sees the admin."""
    staff_login(client, teller)
    assert _admin_is_open(client)


def test_the_right_password_and_code_sign_in_and_are_audited_as_admin(client, teller):
    """Password + current code: signed in, the session verified by the staff device, audited on the admin channel."""
    device = staff_authenticator(teller)
    with time_machine.travel(T0, tick=False):
        response = _post_login(client, "teller", STAFF_PASSWORD, staff_totp_code(teller))
        assert response.status_code == 302 and response["Location"] == reverse("admin:index")
        assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
        assert _admin_is_open(client)
    event = AuditEvent.objects.get(action="auth.login")
    assert (event.actor, event.channel, str(event.ip)) == (teller, "admin", IP)


def test_a_wrong_code_is_refused_with_the_same_words_as_a_wrong_password(client, teller):
    """Nothing says which factor was wrong; the failure is audited on the admin channel with the user name."""
    with time_machine.travel(T0, tick=False):
        wrong_code = _post_login(client, "teller", STAFF_PASSWORD, _wrong_code(teller, T0.timestamp()))
        wrong_password = _post_login(Client(), "teller", "Wrong-pass-2026!", staff_totp_code(teller))
    assert wrong_code.status_code == wrong_password.status_code == 200
    assert _error_text(wrong_code) == _error_text(wrong_password) == _invalid_login()
    assert not wrong_code.wsgi_request.user.is_authenticated
    assert not _admin_is_open(client)
    failures = AuditEvent.objects.filter(action="auth.login_failed")
    assert [(e.channel, e.details) for e in failures] == [("admin", {"username": "teller"})] * 2


def test_codes_one_step_off_are_accepted_and_two_steps_off_refused(teller):
    """Authenticator clocks drift: the previous and next 30-second codes work, two steps away does not."""
    now = T0.timestamp()
    with time_machine.travel(T0, tick=False):
        for offset, accepted in ((-60, False), (60, False), (-30, True), (30, True)):
            client = Client()
            _post_login(client, "teller", STAFF_PASSWORD, staff_totp_code(teller, at=now + offset))
            assert _admin_is_open(client) is accepted, offset
            # The clock-sync of an accepted code would shift the window; start each case afresh.
            TOTPDevice.objects.filter(user=teller).update(drift=0, last_t=-1, throttling_failure_count=0)


def test_a_code_works_only_once(client, teller):
    """Signing in again with a code already used (replay) is refused, even with the right password."""
    with time_machine.travel(T0, tick=False):
        code = staff_totp_code(teller)
        _post_login(client, "teller", STAFF_PASSWORD, code)
        assert _admin_is_open(client)
        replay = Client()
        response = _post_login(replay, "teller", STAFF_PASSWORD, code)
        assert _error_text(response) == _invalid_login()
        assert not _admin_is_open(replay)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef"])
def test_a_missing_or_malformed_code_checks_no_password(client, teller, code):
    """Without a 6-digit code the password is not even tried: the answer is the same whether it was right,
    and nothing counts towards the throttle or the audit trail."""
    right = _post_login(client, "teller", STAFF_PASSWORD, code)
    wrong = _post_login(Client(), "teller", "Wrong-pass-2026!", code)
    for response in (right, wrong):
        assert response.status_code == 200
        assert response.context["form"].errors == {"otp_token": [str(ERR_CODE_FORMAT)]}
    assert not AuditEvent.objects.filter(action__startswith="auth.").exists()
    assert not _admin_is_open(client)


def test_a_code_typed_with_a_space_is_accepted(client, teller):
    """Some apps show "123 456"; typed that way it still works."""
    with time_machine.travel(T0, tick=False):
        code = staff_totp_code(teller)
        _post_login(client, "teller", STAFF_PASSWORD, f"{code[:3]} {code[3:]}")
        assert _admin_is_open(client)


def test_staff_without_an_authenticator_cannot_sign_in_and_the_page_says_whom_to_ask(client, teller):
    """No device: the usual refusal (no hint that the password was right), counted as a failed sign-in;
    the sign-in page always says operations enrol authenticators."""
    assert not TOTPDevice.objects.filter(user=teller).exists()
    response = _post_login(client, "teller", STAFF_PASSWORD, "123456", HTTP_ACCEPT_LANGUAGE="en")
    assert _error_text(response) == _invalid_login()
    assert "Ask operations or your branch manager to enrol you" in response.content.decode()
    assert not _admin_is_open(client)
    assert AuditEvent.objects.filter(action="auth.login_failed", channel="admin").count() == 1


def test_a_superuser_without_an_authenticator_is_refused_too(client):
    """Superusers are staff like any other: password alone, or password and any code, opens nothing."""
    root = User.objects.create_superuser(username="root", password=STAFF_PASSWORD)
    response = _post_login(client, "root", STAFF_PASSWORD, "123456")
    assert _error_text(response) == _invalid_login()
    assert not _admin_is_open(client)
    client.force_login(root)
    assert client.get(reverse("admin:index")).status_code == 302


def test_a_superuser_with_an_authenticator_signs_in(client):
    """The other side: enrolled, the superuser gets in with password and code."""
    root = User.objects.create_superuser(username="root", password=STAFF_PASSWORD)
    with time_machine.travel(T0, tick=False):
        _post_login(client, "root", STAFF_PASSWORD, staff_totp_code(root))
        assert _admin_is_open(client)


def test_a_signed_in_staff_member_without_an_authenticator_is_told_to_ask_operations(client, teller):
    """Already past the password (no factor is being guessed), the page says exactly what is missing."""
    client.force_login(teller)
    with translation.override("en"):
        page = client.get(reverse("admin:login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert str(NOT_ENROLLED_NOTICE) % {"username": "teller"} in page

    staff_authenticator(teller)
    with translation.override("en"):
        page = client.get(reverse("admin:login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert str(NOT_VERIFIED_NOTICE) % {"username": "teller"} in page


def test_a_retired_authenticator_stops_opening_the_admin(client, teller):
    """Re-enrolment (lost phone) retires the old device: a session it verified is closed at the next request."""
    staff_login(client, teller)
    assert _admin_is_open(client)
    staff_otp_enrol(
        user=teller,
        actor=system_actor("test:reset", ["otp_totp.add_totpdevice", "otp_totp.delete_totpdevice"]),
        reason="lost phone",
    )
    assert client.get(reverse("admin:index")).status_code == 302


@pytest.mark.parametrize(
    ("language", "labels"), [("ko", ["사용자 이름", "비밀번호"]), ("en", ["Username", "Password"])]
)
def test_the_sign_in_page_asks_for_the_code_in_korean_and_english(client, language, labels):
    """User name, password and the authenticator code, in the visitor's language."""
    page = client.get(reverse("admin:login"), HTTP_ACCEPT_LANGUAGE=language).content.decode()
    for label in labels:
        assert label in page
    assert 'name="otp_token"' in page and 'autocomplete="one-time-code"' in page


def test_wrong_codes_pause_the_admin_sign_in_like_wrong_passwords(client, teller, settings):
    """AXES_FAILURE_LIMIT wrong codes (right password) lock that name from that address: then even the right
    code is refused with the pause page, and the lockout is audited on the admin channel."""
    with time_machine.travel(T0, tick=False):
        wrong = _wrong_code(teller, T0.timestamp())
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert _post_login(Client(), "teller", STAFF_PASSWORD, wrong).status_code == 200
        assert _post_login(Client(), "teller", STAFF_PASSWORD, wrong).status_code == 429
        locked = _post_login(client, "teller", STAFF_PASSWORD, staff_totp_code(teller))
    assert locked.status_code == 429
    assert "registration/signin_locked.html" in [t.name for t in locked.templates]
    assert not _admin_is_open(client)
    assert AuditEvent.objects.get(action="auth.locked_out").channel == "admin"
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == settings.AXES_FAILURE_LIMIT
