"""1:1 inquiries (1:1 문의): members ask and read their own; tellers and managers answer in the admin."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.models import User
from bankportal.audit.models import AuditEvent
from bankportal.content.models import Inquiry
from bankportal.content.services import inquiry_answer, inquiry_create
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(db) -> User:
    return User.objects.create_user(username="webmember", password="Correct-horse-42")


def test_a_member_asks_and_sees_it_waiting_in_their_list(client, member):
    """Posting the form creates the inquiry (audited) and shows it as waiting for an answer."""
    client.force_login(member)
    response = client.post(reverse("inquiry_new"), {"title": "이체 한도", "body": "한도를 늘리고 싶어요."})
    inquiry = Inquiry.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("inquiry_detail", args=[inquiry.pk])
    assert inquiry.author == member and not inquiry.is_answered
    assert AuditEvent.objects.filter(action="inquiry.create", actor=member, object_id=str(inquiry.pk)).exists()
    html = client.get(reverse("inquiry_list")).content.decode()
    assert "이체 한도" in html


def test_blank_title_or_question_is_refused_with_a_message(client, member):
    client.force_login(member)
    response = client.post(reverse("inquiry_new"), {"title": "   ", "body": ""})
    assert response.status_code == 200 and Inquiry.objects.count() == 0
    assert 'class="errorlist' in response.content.decode()


def test_the_board_needs_a_sign_in(client):
    for name in ("inquiry_list", "inquiry_new"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_member_cannot_read_someone_elses_inquiry(client, member):
    other = User.objects.create_user(username="other", password="Correct-horse-42")
    theirs = inquiry_create(actor=other, title="private", body="secret question")
    client.force_login(member)
    assert client.get(reverse("inquiry_detail", args=[theirs.pk])).status_code == 404
    assert "private" not in client.get(reverse("inquiry_list")).content.decode()


def test_a_teller_answers_in_the_admin_and_the_member_sees_the_answer(client, member, teller):
    """The admin change form saves the answer through the service (audited); the member reads it."""
    inquiry = inquiry_create(actor=member, title="OTP", body="OTP를 잃어버렸어요.")
    staff_login(client, teller)
    url = reverse("admin:content_inquiry_change", args=[inquiry.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"answer": "가까운 영업점을 방문해 주세요."})
    assert response.status_code == 302
    inquiry.refresh_from_db()
    assert inquiry.is_answered and inquiry.answered_by == teller
    assert AuditEvent.objects.filter(action="inquiry.answer", actor=teller, object_id=str(inquiry.pk)).exists()
    client.logout()
    client.force_login(member)
    assert "가까운 영업점을 방문해 주세요." in client.get(reverse("inquiry_detail", args=[inquiry.pk])).content.decode()


def test_an_empty_answer_is_refused_in_the_admin(client, member, manager):
    inquiry = inquiry_create(actor=member, title="Q", body="question")
    staff_login(client, manager)
    response = client.post(reverse("admin:content_inquiry_change", args=[inquiry.pk]), {"answer": "  "})
    assert response.status_code == 200
    inquiry.refresh_from_db()
    assert not inquiry.is_answered


def test_correcting_an_answer_is_audited_as_a_change(member, teller):
    inquiry = inquiry_create(actor=member, title="Q", body="question")
    inquiry_answer(actor=teller, inquiry=inquiry, answer="first")
    inquiry_answer(actor=teller, inquiry=inquiry, answer="second")
    assert AuditEvent.objects.filter(action="inquiry.answer_change").count() == 1


def test_only_staff_with_the_permission_may_answer(member):
    """The author (or any user without ``content.answer_inquiry``) cannot answer; nor add in the admin."""
    inquiry = inquiry_create(actor=member, title="Q", body="question")
    with pytest.raises(PermissionDenied):
        inquiry_answer(actor=member, inquiry=inquiry, answer="I answer myself")
    with pytest.raises(ValidationError):
        inquiry_create(actor=member, title="", body="x")


def test_staff_cannot_add_or_delete_inquiries_in_the_admin(client, teller, member):
    inquiry = inquiry_create(actor=member, title="Q", body="question")
    staff_login(client, teller)
    assert client.get(reverse("admin:content_inquiry_add")).status_code == 403
    assert client.get(reverse("admin:content_inquiry_delete", args=[inquiry.pk])).status_code == 403
    assert client.get(reverse("admin:content_inquiry_changelist") + "?q=webmember").status_code == 200
