"""Journals in the admin: read-only, reversible by a branch manager with a reason."""

from __future__ import annotations

import pytest
from django.db.models import Sum
from django.urls import reverse

from accounts.models import Journal
from bankportal.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def deposit_journal(alice_account) -> Journal:  # type: ignore[no-untyped-def]
    return Journal.objects.get(kind=Journal.Kind.CASH_DEPOSIT, entries__account=alice_account)


def _reverse_url(journal: Journal) -> str:
    return reverse("admin:accounts_journal_reverse", args=[journal.pk])


def test_teller_cannot_reverse_a_journal(client, teller, deposit_journal):
    """A teller gets 403 on the reverse page, GET or POST, and no reversal is written."""
    client.force_login(teller)

    assert client.get(_reverse_url(deposit_journal)).status_code == 403
    assert client.post(_reverse_url(deposit_journal), {"reason": "typo"}).status_code == 403
    assert not Journal.objects.filter(kind=Journal.Kind.REVERSAL).exists()
    page = client.get(reverse("admin:accounts_journal_change", args=[deposit_journal.pk]))
    assert _reverse_url(deposit_journal) not in page.content.decode()


def test_manager_reverses_a_journal_with_a_reason(client, manager, deposit_journal, alice_account):
    """A manager's reversal posts the mirror entries (summing to zero), restores the balance and is audited."""
    client.force_login(manager)

    page = client.get(_reverse_url(deposit_journal))
    response = client.post(_reverse_url(deposit_journal), {"reason": "금액 이중 입력"})

    assert page.status_code == 200
    assert alice_account.number_display in page.content.decode()
    assert response.status_code == 302
    reversal = Journal.objects.get(kind=Journal.Kind.REVERSAL)
    assert reversal.reverses == deposit_journal
    assert reversal.entries.aggregate(total=Sum("amount"))["total"] == 0
    alice_account.refresh_from_db()
    assert alice_account.balance == 0
    event = AuditEvent.objects.get(action="ledger.reverse")
    assert event.actor == manager
    assert event.details["reason"] == "금액 이중 입력"


def test_reversal_needs_a_reason(client, manager, deposit_journal):
    """An empty reason is a field error and nothing is reversed."""
    client.force_login(manager)

    response = client.post(_reverse_url(deposit_journal), {"reason": "  "})

    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert not Journal.objects.filter(kind=Journal.Kind.REVERSAL).exists()


def test_second_reversal_is_refused_with_the_service_message(client, manager, deposit_journal):
    """Reversing the same journal twice shows the service's refusal and writes one reversal only."""
    client.force_login(manager)
    client.post(_reverse_url(deposit_journal), {"reason": "first"})

    response = client.post(_reverse_url(deposit_journal), {"reason": "again"}, HTTP_ACCEPT_LANGUAGE="en")

    assert [e.code for e in response.context["form"].non_field_errors().as_data()] == ["already_reversed"]
    assert "already been reversed" in response.content.decode()
    assert Journal.objects.filter(kind=Journal.Kind.REVERSAL).count() == 1


def test_journal_pages_are_read_only_and_show_entries(client, manager, deposit_journal, alice_account):
    """The journal page lists its entries; nobody can change or delete a journal."""
    client.force_login(manager)
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
    client.force_login(teller)

    journals = client.get(reverse("admin:accounts_journal_changelist"), {"q": alice_account.number_display})
    entries = client.get(reverse("admin:accounts_ledgerentry_changelist"), {"q": alice_account.number})

    assert list(journals.context["cl"].result_list) == [deposit_journal]
    assert [e.account_id for e in entries.context["cl"].result_list] == [alice_account.pk]
