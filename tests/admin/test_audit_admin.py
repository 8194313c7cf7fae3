"""The audit trail in the admin: readable by staff, never changed or deleted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bankportal.audit.models import AuditEvent
from bankportal.audit.verification import audit_verify
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db


def test_manager_sees_the_audit_changelist(client, manager, alice):
    """The audit list is open to a branch manager (not a teller) and shows the customer.create event."""
    staff_login(client, manager)

    response = client.get(reverse("admin:audit_auditevent_changelist"))

    assert response.status_code == 200
    assert "customer.create" in response.content.decode()


def test_manager_cannot_change_or_delete_an_audit_event(client, manager, alice):
    """POSTing to an event's change page is 403, the delete page is 403, and the trail still verifies."""
    staff_login(client, manager)
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
    assert audit_verify().ok


def test_nobody_adds_or_bulk_deletes_audit_events(client, manager, alice):
    """Even a manager has no add page and no delete action on the audit list."""
    staff_login(client, manager)

    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    page = client.get(reverse("admin:audit_auditevent_changelist"))
    assert "delete_selected" not in page.content.decode()


def test_audit_page_of_a_customer_event_has_no_resident_number(client, manager, alice):
    """The customer.create event page shows no RRN digits beyond the masked form."""
    from tests.conftest import rrn_for_age

    staff_login(client, manager)
    event = AuditEvent.objects.get(action="customer.create")
    rrn = rrn_for_age(34, serial="234567")

    html = client.get(reverse("admin:audit_auditevent_change", args=[event.pk])).content.decode()

    assert rrn not in html
    assert rrn.replace("-", "") not in html


def test_opening_a_customer_or_account_page_leaves_an_access_record(client, teller, alice, alice_account):
    """Staff access to personal and account data is recorded: who, whose, from where."""
    staff_login(client, teller)
    client.get(reverse("admin:accounts_customer_change", args=[alice.pk]), REMOTE_ADDR="10.1.2.3")
    client.get(reverse("admin:accounts_account_change", args=[alice_account.pk]), REMOTE_ADDR="10.1.2.3")
    views = list(
        AuditEvent.objects.filter(action__in=["customer.view", "account.view"])
        .order_by("id")
        .values_list("action", "actor_label", "customer_ref", "ip", "channel")
    )
    assert views == [
        ("customer.view", "teller", alice.pk, "10.1.2.3", "admin"),
        ("account.view", "teller", alice.pk, "10.1.2.3", "admin"),
    ]


def test_refused_or_missing_pages_leave_no_access_record(client, alice, alice_account):
    """A staff member without the view permission is refused, and nothing claims they saw the data."""
    from accounts.models import User

    outsider = User.objects.create_user(username="outsider", password="x-Outsider-2026", is_staff=True)
    staff_login(client, outsider)
    response = client.get(reverse("admin:accounts_customer_change", args=[alice.pk]))
    assert response.status_code in (302, 403)
    assert not AuditEvent.objects.filter(action="customer.view").exists()


def test_changing_a_staff_groups_permissions_is_audited(client, teller):
    """A superuser giving tellers the reversal permission leaves a record of exactly that."""
    from django.contrib.auth.models import Group, Permission

    from accounts.models import User

    root = User.objects.create_superuser(username="root", password="Root-pass-2026!x")
    staff_login(client, root)
    group = Group.objects.get(name="Teller")
    reverse_perm = Permission.objects.get(codename="reverse_journal")
    permissions = [*group.permissions.values_list("pk", flat=True), reverse_perm.pk]
    response = client.post(
        reverse("admin:auth_group_change", args=[group.pk]), {"name": "Teller", "permissions": permissions}
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="staff_group.change")
    assert event.details == {"group": "Teller", "added": ["accounts.reverse_journal"], "removed": []}
    assert event.actor == root
