"""Signed-in sessions: idle and absolute limits enforced on the server, the extend endpoint, the
previous sign-in in the header, the login history, and the banking guard."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from accounts import accountnumbers
from accounts.models import User
from bankportal.audit.models import AuditEvent
from bankportal.sessions import MSG_IDLE_ENDED, MSG_LIFETIME_ENDED, browser_name, signin_history
from tests.conftest import banking_login

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 14, 9, 0, 0, tzinfo=dt.UTC)
PASSWORD = "Correct-horse-42"
CHROME_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


@pytest.fixture
def member(db) -> User:
    return User.objects.create_user(username="webmember", password=PASSWORD, first_name="웹회원")


def _sign_in(client, username="webmember", password=PASSWORD, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_activity_at_9_59_keeps_the_session_and_each_request_restarts_the_clock(client, member):
    """9:59 after the last request the session is alive; that request restarts the idle clock."""
    with time_machine.travel(START, tick=False) as traveller:
        _sign_in(client)
        traveller.shift(dt.timedelta(seconds=settings.SESSION_IDLE_SECONDS - 1))
        assert client.get(reverse("inquiry_list")).status_code == 200
        traveller.shift(dt.timedelta(seconds=settings.SESSION_IDLE_SECONDS - 1))
        assert client.get(reverse("inquiry_list")).status_code == 200
        assert _signed_in(client)


def test_a_request_at_10_01_signs_out_and_sends_to_login_with_a_message(client, member):
    """10:01 without activity: the server ends the session and says why on the login page."""
    with time_machine.travel(START, tick=False) as traveller:
        _sign_in(client)
        traveller.shift(dt.timedelta(seconds=settings.SESSION_IDLE_SECONDS + 1))
        response = client.get(reverse("inquiry_list"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
        assert not _signed_in(client)
        page = client.get(response["Location"]).content.decode()
        with translation.override(settings.LANGUAGE_CODE):
            expected = str(MSG_IDLE_ENDED % {"minutes": settings.SESSION_IDLE_SECONDS // 60})
        assert "message-warning" in page and escape(expected) in page
        assert AuditEvent.objects.filter(action="auth.logout", actor=member).exists()


def test_exactly_the_idle_limit_is_still_valid(client, member):
    """The boundary itself: 10:00 after the last request is not yet idle."""
    with time_machine.travel(START, tick=False) as traveller:
        _sign_in(client)
        traveller.shift(dt.timedelta(seconds=settings.SESSION_IDLE_SECONDS))
        assert client.get(reverse("inquiry_list")).status_code == 200


def test_the_absolute_lifetime_ends_even_an_active_session(client, member):
    """Active every 5 minutes: alive at the lifetime minus a second, ended a second after it."""
    step = dt.timedelta(minutes=5)
    lifetime = dt.timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS)
    with time_machine.travel(START, tick=False) as traveller:
        _sign_in(client)
        elapsed = dt.timedelta(0)
        while elapsed + step < lifetime:
            traveller.shift(step)
            elapsed += step
            assert client.get(reverse("inquiry_list")).status_code == 200
        traveller.shift(lifetime - elapsed - dt.timedelta(seconds=1))
        assert client.get(reverse("inquiry_list")).status_code == 200
        traveller.shift(dt.timedelta(seconds=2))
        response = client.get(reverse("inquiry_list"))
        assert response.status_code == 302 and not _signed_in(client)
        with translation.override(settings.LANGUAGE_CODE):
            expected = str(MSG_LIFETIME_ENDED % {"hours": settings.SESSION_ABSOLUTE_SECONDS // 3600})
        assert escape(expected) in client.get(response["Location"]).content.decode()


def test_the_extend_button_refreshes_activity_and_answers_the_seconds_left(client, member):
    """POST to the extend endpoint 9:59 in: the session then survives another 9:59."""
    with time_machine.travel(START, tick=False) as traveller:
        _sign_in(client)
        traveller.shift(dt.timedelta(seconds=settings.SESSION_IDLE_SECONDS - 1))
        response = client.post(reverse("session_extend"), HTTP_ACCEPT="application/json")
        assert response.status_code == 200 and response.json() == {"seconds": settings.SESSION_IDLE_SECONDS}
        traveller.shift(dt.timedelta(seconds=settings.SESSION_IDLE_SECONDS - 1))
        assert client.get(reverse("inquiry_list")).status_code == 200


def test_extend_after_the_limit_is_refused_and_without_script_redirects_back(client, member):
    """Too late to extend: 401 for the script. Without the script the form post redirects back."""
    with time_machine.travel(START, tick=False) as traveller:
        _sign_in(client)
        response = client.post(reverse("session_extend"), {"next": reverse("inquiry_list")})
        assert response.status_code == 302 and response["Location"] == reverse("inquiry_list")
        response = client.post(reverse("session_extend"), {"next": "https://evil.example/"})
        assert response["Location"] == reverse(settings.LOGIN_REDIRECT_URL)
        traveller.shift(dt.timedelta(seconds=settings.SESSION_IDLE_SECONDS + 1))
        assert client.post(reverse("session_extend"), HTTP_ACCEPT="application/json").status_code == 401
        assert not _signed_in(client)


def test_extend_refuses_get_and_anonymous(client):
    assert client.get(reverse("session_extend")).status_code == 405
    assert client.post(reverse("session_extend")).status_code == 401


def test_the_countdown_never_promises_more_than_the_absolute_lifetime_leaves(client, member):
    """Near the absolute limit the header countdown shows what is really left."""
    with time_machine.travel(START, tick=False) as traveller:
        _sign_in(client)
        step = dt.timedelta(seconds=settings.SESSION_IDLE_SECONDS - 10)
        left = dt.timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS)
        while left > dt.timedelta(seconds=settings.SESSION_IDLE_SECONDS + 120):
            traveller.shift(step)
            left -= step
            client.get(reverse("home"))
        traveller.shift(left - dt.timedelta(seconds=120))
        html = client.get(reverse("home")).content.decode()
        assert 'data-left="120"' in html


def test_the_header_shows_the_previous_sign_in_time_and_ip(client, member):
    """The second sign-in shows when and from where the first one was."""
    with time_machine.travel(START, tick=False):
        _sign_in(client, REMOTE_ADDR="203.0.113.7")
        html = client.get(reverse("home")).content.decode()
        assert "data-previous-signin" not in html  # a first sign-in has no previous one
        client.post(reverse("logout"))
    with time_machine.travel(START + dt.timedelta(days=1), tick=False):
        _sign_in(client, REMOTE_ADDR="198.51.100.9")
        html = client.get(reverse("home")).content.decode()
    assert "data-previous-signin" in html and "203.0.113.7" in html
    assert "2031-03-14 18:00" in html  # 09:00 UTC in KST


def test_login_history_lists_successes_and_failures_with_browser_and_ip(client, member):
    """로그인 기록: a failed attempt with the member's ID and a success, newest first."""
    _sign_in(client, password="wrong-password", REMOTE_ADDR="198.51.100.20", HTTP_USER_AGENT=CHROME_UA)
    _sign_in(client, REMOTE_ADDR="198.51.100.21", HTTP_USER_AGENT=CHROME_UA)
    records = signin_history(member)
    assert [(r.success, r.ip, r.browser) for r in records] == [
        (True, "198.51.100.21", "Chrome"),
        (False, "198.51.100.20", "Chrome"),
    ]
    html = client.get(reverse("login_history")).content.decode()
    assert "198.51.100.20" in html and "198.51.100.21" in html


def test_login_history_shows_no_one_elses_attempts(client, member):
    """Another user's sign-ins and failures with another ID are not listed."""
    User.objects.create_user(username="other", password=PASSWORD)
    _sign_in(client, username="other", password="wrong-password")
    _sign_in(client, username="other")
    assert signin_history(member) == []


def test_login_history_needs_sign_in(client):
    response = client.get(reverse("login_history"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        (CHROME_UA, "Chrome"),
        (CHROME_UA + " Edg/120.0", "Edge"),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox"),
        ("Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile Safari/604.1", "Safari"),
        ("", ""),
    ],
)
def test_browser_names_from_user_agents(agent, name):
    assert browser_name(agent) == name


def test_a_web_member_gets_a_clear_refusal_on_the_banking_page(client, member):
    """A password (web-member) session: 403 with the certificate-login explanation."""
    client.force_login(member)
    response = client.get(reverse("banking_home"))
    assert response.status_code == 403
    assert "certificate" in response.content.decode() or "인증서" in response.content.decode()
    # ... and the way there: the certificate login page, and issuing a certificate.
    assert f'href="{reverse("certcenter:signin")}"' in response.content.decode()
    assert f'href="{reverse("certcenter:issue")}"' in response.content.decode()


def test_an_anonymous_visitor_is_sent_to_login_from_the_banking_page(client):
    response = client.get(reverse("banking_home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_certificate_session_opens_the_banking_page_with_own_accounts_only(client, alice, alice_account, teller):
    """``banking_login`` (the test helper) gives a certificate session; the page lists alice's accounts."""
    user = User.objects.create_user(username="alice01", password=PASSWORD, customer=alice)
    banking_login(client, user)
    response = client.get(reverse("banking_home"))
    assert response.status_code == 200
    assert accountnumbers.masked(alice_account.number) in response.content.decode()
