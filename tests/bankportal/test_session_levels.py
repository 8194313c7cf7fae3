"""Session levels: a password login is a web member; only a certificate login is a banking session."""

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from accounts.models import User
from bankportal.session_levels import Level, has_certificate_session, session_level, set_session_level

pytestmark = pytest.mark.django_db


def _request(user=None):
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.user = user if user is not None else type("Anon", (), {"is_authenticated": False})()
    return request


def test_anonymous_has_no_level():
    assert session_level(_request()) is Level.NONE and not has_certificate_session(_request())


def test_a_password_login_is_a_web_member_until_a_certificate_login_raises_it():
    request = _request(User.objects.create_user(username="web01", password="Long-pass-2031!"))
    assert session_level(request) is Level.WEB_MEMBER and not has_certificate_session(request)
    set_session_level(request, Level.CERTIFICATE)
    assert has_certificate_session(request)


def test_an_unreadable_stored_level_falls_back_to_web_member():
    request = _request(User.objects.create_user(username="web02", password="Long-pass-2031!"))
    request.session["bankportal_auth_level"] = "root"
    assert session_level(request) is Level.WEB_MEMBER
