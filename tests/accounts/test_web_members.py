"""Web-member sign-up (웹회원 가입): a User with no customer, password rules up front, audited."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import password_validators_help_texts
from django.urls import reverse
from django.utils.html import escape

from accounts.models import User
from bankportal.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

GOOD = {
    "username": "webmember1",
    "password1": "Correct-horse-42",
    "password2": "Correct-horse-42",
    "name": "김웹",
    "email": "web@example.com",
}


def test_sign_up_creates_a_web_member_and_they_can_log_in(client):
    """A User with no customer, audited; then the normal login works and gives a web-member session."""
    response = client.post(reverse("signup"), GOOD)
    assert response.status_code == 302 and response["Location"] == reverse("login")
    user = User.objects.get(username="webmember1")
    assert user.customer_id is None and not user.is_staff and user.first_name == "김웹"
    assert AuditEvent.objects.filter(action="web_member.create", object_id=str(user.pk)).exists()
    client.post(reverse("login"), {"username": "webmember1", "password": "Correct-horse-42"})
    assert client.get(reverse("banking_home")).status_code == 403


def test_the_password_rules_are_shown_before_typing(client):
    html = client.get(reverse("signup")).content.decode()
    for rule in password_validators_help_texts():
        assert escape(rule) in html


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password1": "short1!", "password2": "short1!"}, "password1"),
        ({"password1": "1234567890", "password2": "1234567890"}, "password1"),
        ({"password2": "Different-horse-42"}, "password2"),
        ({"username": "ab"}, "username"),
        ({"username": "1startsdigit"}, "username"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_bad_input_is_refused_next_to_its_field(client, change, field):
    response = client.post(reverse("signup"), {**GOOD, **change})
    assert response.status_code == 200 and not User.objects.filter(username=GOOD["username"]).exists()
    assert response.context["form"].errors[field]


def test_a_taken_user_id_is_refused_case_insensitively(client):
    User.objects.create_user(username="webmember1", password="Other-pass-2031")
    response = client.post(reverse("signup"), {**GOOD, "username": "WebMember1"})
    assert response.status_code == 200 and response.context["form"].errors["username"]
    assert User.objects.count() == 1


def test_signed_in_users_are_sent_home_from_sign_up(client):
    client.force_login(User.objects.create_user(username="member2", password="Correct-horse-42"))
    assert client.get(reverse("signup"))["Location"] == reverse(settings.LOGIN_REDIRECT_URL)


def test_web_member_login_is_throttled_like_any_sign_in(client):
    """The sign-up makes an ordinary user: repeated wrong passwords hit the existing lock-out."""
    client.post(reverse("signup"), GOOD)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "webmember1", "password": "wrong-password"})
    response = client.post(reverse("login"), {"username": "webmember1", "password": "Correct-horse-42"})
    assert response.status_code == 429
