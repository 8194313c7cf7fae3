"""Journals in the admin: read-only; a reversal is a teller's request with a reason that a branch
manager approves (책임자 승인), which posts it. Also the managers' approval queue."""

from __future__ import annotations

import pytest
from django.db.models import Sum
from django.urls import reverse

from accounts.models import Journal, StaffRequest
from bankportal.audit.models import AuditEvent
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def deposit_journal(alice_account) -> Journal:  # type: ignore[no-untyped-def]
    return Journal.objects.get(kind=Journal.Kind.CASH_DEPOSIT, entries__account=alice_account)


def _reverse_url(journal: Journal) -> str:
    return reverse("admin:accounts_journal_reverse", args=[journal.pk])


def _approve_url(request: StaffRequest) -> str:
    return reverse("admin:accounts_staffrequest_approve", args=[request.pk])


def _request_reversal(client, teller, journal: Journal, reason: str = "금액 이중 입력") -> StaffRequest:  # type: ignore[no-untyped-def]
    staff_login(client, teller)
    response = client.post(_reverse_url(journal), {"reason": reason})
    assert response.status_code == 302
    return StaffRequest.objects.get(kind=StaffRequest.Kind.JOURNAL_REVERSE, journal=journal, state="pending")


def test_a_tellers_reversal_page_records_a_request_and_reverses_nothing(client, teller, deposit_journal):
    """The teller's reverse page asks for a reason and records a request; no reversal is posted."""
    staff_login(client, teller)

    page = client.get(reverse("admin:accounts_journal_change", args=[deposit_journal.pk]))
    response = client.post(_reverse_url(deposit_journal), {"reason": "금액 이중 입력"}, follow=True)

    assert _reverse_url(deposit_journal) in page.content.decode()
    assert response.status_code == 200
    assert any(m.level_tag == "success" for m in response.context["messages"])
    request = StaffRequest.objects.get()
    assert (request.state, request.requested_by, request.reason) == ("pending", teller, "금액 이중 입력")
    assert not Journal.objects.filter(kind=Journal.Kind.REVERSAL).exists()


def test_a_teller_cannot_approve_or_reject_a_request(client, teller, deposit_journal):
    """Approve and reject pages are 403 for a teller, and the request stays pending."""
    request = _request_reversal(client, teller, deposit_journal)

    assert client.get(_approve_url(request)).status_code == 403
    assert client.post(_approve_url(request), {}).status_code == 403
    assert (
        client.post(reverse("admin:accounts_staffrequest_reject", args=[request.pk]), {"note": "x"}).status_code == 403
    )
    request.refresh_from_db()
    assert request.state == StaffRequest.State.PENDING
    assert not Journal.objects.filter(kind=Journal.Kind.REVERSAL).exists()


def test_manager_approves_a_tellers_reversal_and_it_is_posted(client, teller, manager, deposit_journal, alice_account):
    """The approval posts the mirror entries (summing to zero), restores the balance and is audited."""
    request = _request_reversal(client, teller, deposit_journal)
    staff_login(client, manager)

    queue = client.get(reverse("admin:accounts_staffrequest_changelist"))
    detail = client.get(reverse("admin:accounts_staffrequest_change", args=[request.pk]))
    page = client.get(_approve_url(request))
    response = client.post(_approve_url(request), {"note": "확인함"})

    assert list(queue.context["cl"].result_list) == [request]
    assert _approve_url(request) in detail.content.decode()
    assert page.status_code == 200 and "금액 이중 입력" in page.content.decode()
    assert response.status_code == 302
    reversal = Journal.objects.get(kind=Journal.Kind.REVERSAL)
    assert reversal.reverses == deposit_journal
    assert reversal.entries.aggregate(total=Sum("amount"))["total"] == 0
    alice_account.refresh_from_db()
    assert alice_account.balance == 0
    event = AuditEvent.objects.get(action="ledger.reverse")
    assert event.actor == manager
    assert event.details["reason"] == "금액 이중 입력"
    request.refresh_from_db()
    assert (request.state, request.decision_note) == ("executed", "확인함")
    # Out of the waiting queue, in the closed list.
    assert list(client.get(reverse("admin:accounts_staffrequest_changelist")).context["cl"].result_list) == []
    closed = client.get(reverse("admin:accounts_staffrequest_changelist"), {"queue": "closed"})
    assert list(closed.context["cl"].result_list) == [request]


def test_reversal_request_needs_a_reason(client, teller, deposit_journal):
    """An empty reason is a field error with the service's message, and nothing is recorded."""
    staff_login(client, teller)

    response = client.post(_reverse_url(deposit_journal), {"reason": "  "}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert "Give the reason for this request" in response.content.decode()
    assert not StaffRequest.objects.exists()


def test_manager_rejects_with_a_note_and_nothing_is_posted(client, teller, manager, deposit_journal):
    request = _request_reversal(client, teller, deposit_journal)
    staff_login(client, manager)
    url = reverse("admin:accounts_staffrequest_reject", args=[request.pk])

    no_note = client.post(url, {"note": ""})
    response = client.post(url, {"note": "근거 부족"})

    assert "note" in no_note.context["form"].errors
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == StaffRequest.State.REJECTED
    assert not Journal.objects.filter(kind=Journal.Kind.REVERSAL).exists()


def test_an_approval_refused_by_the_ledger_shows_why_and_leaves_the_request_waiting(
    client, teller, manager, deposit_journal, alice_account
):
    """The money left before approval: the manager sees the refusal, nothing is approved or posted."""
    from accounts import services
    from tests.conftest import ACCOUNT_PASSWORD

    request = _request_reversal(client, teller, deposit_journal)
    services.cash_withdrawal(account=alice_account, amount=1_000_000, password=ACCOUNT_PASSWORD, actor=teller)
    staff_login(client, manager)

    response = client.post(_approve_url(request), {}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert [e.code for e in response.context["form"].non_field_errors().as_data()] == ["insufficient_funds"]
    request.refresh_from_db()
    assert request.state == StaffRequest.State.PENDING
    assert not Journal.objects.filter(kind=Journal.Kind.REVERSAL).exists()


def test_second_reversal_is_refused_with_the_service_message(client, teller, manager, deposit_journal):
    """Once reversed, a new reversal request is refused with the service's message; one reversal only."""
    request = _request_reversal(client, teller, deposit_journal)
    staff_login(client, manager)
    client.post(_approve_url(request), {})
    staff_login(client, teller)

    response = client.post(_reverse_url(deposit_journal), {"reason": "again"}, HTTP_ACCEPT_LANGUAGE="en")

    assert [e.code for e in response.context["form"].non_field_errors().as_data()] == ["already_reversed"]
    assert "already been reversed" in response.content.decode()
    assert Journal.objects.filter(kind=Journal.Kind.REVERSAL).count() == 1


def test_the_requester_cancels_their_own_request(client, teller, manager, deposit_journal):
    request = _request_reversal(client, teller, deposit_journal)
    cancel = reverse("admin:accounts_staffrequest_cancel", args=[request.pk])
    staff_login(client, manager)
    refused = client.post(cancel, {}, HTTP_ACCEPT_LANGUAGE="en")
    staff_login(client, teller)

    response = client.post(cancel, {})

    assert "Only the staff member who made the request can cancel it" in refused.content.decode()
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == StaffRequest.State.CANCELLED


def test_journal_pages_are_read_only_and_show_entries(client, manager, deposit_journal, alice_account):
    """The journal page lists its entries; nobody can change or delete a journal."""
    staff_login(client, manager)
    change_url = reverse("admin:accounts_journal_change", args=[deposit_journal.pk])

    page = client.get(change_url)

    assert page.status_code == 200
    html = page.content.decode()
    assert alice_account.number_display in html
    assert "+1,000,000" in html
    assert _reverse_url(deposit_journal) in html
    assert client.post(change_url, {"memo": "edited"}).status_code == 403
    assert (
        client.post(reverse("admin:accounts_journal_delete", args=[deposit_journal.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert client.get(reverse("admin:accounts_journal_add")).status_code == 403


def test_journal_list_and_ledger_list_are_visible_to_a_teller(client, teller, deposit_journal, alice_account):
    """Tellers read the journal and ledger lists and can search them by account number."""
    staff_login(client, teller)

    journals = client.get(reverse("admin:accounts_journal_changelist"), {"q": alice_account.number_display})
    entries = client.get(reverse("admin:accounts_ledgerentry_changelist"), {"q": alice_account.number})

    assert list(journals.context["cl"].result_list) == [deposit_journal]
    assert [e.account_id for e in entries.context["cl"].result_list] == [alice_account.pk]
