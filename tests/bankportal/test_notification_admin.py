"""Staff read queued notifications and the development inbox only with a dedicated permission, and
see the digits of a message (one-time codes) only with another."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.models import User
from bankportal.notifications.admin import mask_digits
from bankportal.notifications.models import Notification, OutboxMessage
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db

CODE = "834291"
RRN = "900101-1234567"


def _staff(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username=username, password="Staff-pass-2026!", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="notifications", codename__in=codenames)
    )
    return user


@pytest.fixture
def notification() -> Notification:
    return Notification.objects.create(
        channel="sms",
        to="01012345678",
        body=f"[다솜은행] 인증번호 {CODE}",
        purpose="otp",
        next_attempt_at=None,
        state="failed",
        attempts=5,
        last_error="SMS gateway answered 503",
    )


@pytest.fixture
def inbox_message() -> OutboxMessage:
    return OutboxMessage.objects.create(channel="sms", to="01012345678", body=f"인증번호 {CODE}", purpose="otp")


def test_mask_digits_hides_every_digit():
    assert mask_digits(f"인증번호 {CODE}, 잔액 1,000원") == "인증번호 ******, 잔액 *,***원"


@pytest.mark.parametrize("page", ["changelist", "change"])
def test_staff_without_the_view_permission_cannot_open_notifications(client, teller, notification, page):
    """A teller (no notifications.view_notification) is refused the list and the record."""
    staff_login(client, teller)
    args = [notification.pk] if page == "change" else []
    assert client.get(reverse(f"admin:notifications_notification_{page}", args=args)).status_code == 403


@pytest.mark.parametrize(
    ("model", "view_perm"), [("notification", "view_notification"), ("outboxmessage", "view_outboxmessage")]
)
def test_without_the_body_permission_every_digit_of_a_message_is_masked(
    client, notification, inbox_message, model, view_perm
):
    """Allowed to view but not to read bodies: the list and the record show ****** for the code."""
    staff_login(client, _staff("reviewer", view_perm))
    obj = notification if model == "notification" else inbox_message
    for url in (
        reverse(f"admin:notifications_{model}_changelist"),
        reverse(f"admin:notifications_{model}_change", args=[obj.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert CODE not in response.content.decode()
    assert "인증번호 ******" in response.content.decode()


@pytest.mark.parametrize(
    ("model", "view_perm"), [("notification", "view_notification"), ("outboxmessage", "view_outboxmessage")]
)
def test_with_the_body_permission_the_code_is_shown(client, notification, inbox_message, model, view_perm):
    """notifications.view_notification_body shows the message as sent (e.g. to follow up a failure)."""
    staff_login(client, _staff("operator", view_perm, "view_notification_body"))
    obj = notification if model == "notification" else inbox_message
    response = client.get(reverse(f"admin:notifications_{model}_change", args=[obj.pk]))
    assert CODE in response.content.decode()


def test_the_notification_admin_is_read_only(client, notification):
    """Nobody adds, changes or deletes notifications through the admin, even a superuser."""
    admin_user = User.objects.create_superuser(username="root", password="Staff-pass-2026!")
    staff_login(client, admin_user)
    assert client.get(reverse("admin:notifications_notification_add")).status_code == 403
    response = client.post(
        reverse("admin:notifications_notification_change", args=[notification.pk]), {"state": "pending"}
    )
    assert response.status_code == 403
    notification.refresh_from_db()
    assert notification.state == "failed"
    assert client.get(reverse("admin:notifications_notification_delete", args=[notification.pk])).status_code == 403


@pytest.mark.parametrize("model", ["notification", "outboxmessage"])
def test_a_resident_number_search_is_redirected_to_the_masked_term(client, notification, model):
    """A typed RRN never comes back in the page, its links or its search box."""
    staff_login(client, _staff("reviewer", "view_notification", "view_outboxmessage"))
    response = client.get(reverse(f"admin:notifications_{model}_changelist"), {"q": RRN}, follow=True)
    assert response.redirect_chain
    assert response.context["cl"].query == "900101-1******"
    html = response.content.decode()
    assert RRN not in html
    assert RRN.replace("-", "") not in html
