"""The audit trail in the admin: readable by staff, never changed or deleted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bankportal.audit.models import AuditEvent
from bankportal.audit.services import audit_chain_verify

pytestmark = pytest.mark.django_db


def test_teller_sees_the_audit_changelist(client, teller, alice):
    """The audit list is open to a teller and shows the customer.create event."""
    client.force_login(teller)

    response = client.get(reverse("admin:audit_auditevent_changelist"))

    assert response.status_code == 200
    assert "customer.create" in response.content.decode()


def test_teller_cannot_change_or_delete_an_audit_event(client, teller, alice):
    """POSTing to an event's change page is 403, the delete page is 403, and the chain still verifies."""
    client.force_login(teller)
    event = AuditEvent.objects.get(action="customer.create")
    change_url = reverse("admin:audit_auditevent_change", args=[event.pk])

    view = client.get(change_url)
    change = client.post(change_url, {"action": "tampered"})
    delete = client.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"})

    assert view.status_code == 200
    assert change.status_code == 403
    assert delete.status_code == 403
    event.refresh_from_db()
    assert event.action == "customer.create"
    assert audit_chain_verify().ok


def test_nobody_adds_or_bulk_deletes_audit_events(client, manager, alice):
    """Even a manager has no add page and no delete action on the audit list."""
    client.force_login(manager)

    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    page = client.get(reverse("admin:audit_auditevent_changelist"))
    assert "delete_selected" not in page.content.decode()


def test_audit_page_of_a_customer_event_has_no_resident_number(client, teller, alice):
    """The customer.create event page shows no RRN digits beyond the masked form."""
    from tests.conftest import rrn_for_age

    client.force_login(teller)
    event = AuditEvent.objects.get(action="customer.create")
    rrn = rrn_for_age(34, serial="234567")

    html = client.get(reverse("admin:audit_auditevent_change", args=[event.pk])).content.decode()

    assert rrn not in html
    assert rrn.replace("-", "") not in html
