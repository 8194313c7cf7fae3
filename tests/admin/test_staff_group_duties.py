"""Branch staff duties: tellers do counter work; reading the audit trail and the notification
outbox is a branch manager's job (migration accounts/0007)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.conftest import staff_login

pytestmark = pytest.mark.django_db

MANAGER_ONLY_LISTS = ["audit_auditevent", "notifications_notification", "notifications_outboxmessage"]


def _codes(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


@pytest.mark.parametrize("changelist", MANAGER_ONLY_LISTS)
def test_a_teller_is_refused_the_audit_trail_and_the_outbox(client, teller, changelist):
    """A teller gets 403 on the audit and outbox lists."""
    staff_login(client, teller)

    assert client.get(reverse(f"admin:{changelist}_changelist")).status_code == 403


@pytest.mark.parametrize("changelist", MANAGER_ONLY_LISTS)
def test_a_branch_manager_reads_the_audit_trail_and_the_outbox(client, manager, changelist):
    """A branch manager opens the same lists."""
    staff_login(client, manager)

    assert client.get(reverse(f"admin:{changelist}_changelist")).status_code == 200


def test_tellers_hold_no_audit_or_notification_permission_and_keep_counter_work():
    """Tellers lose every audit and notifications permission, not only the ones listed; counter
    work stays, and nobody's role grants notification bodies (one-time codes in clear)."""
    teller = _codes("Teller")
    manager = _codes("Branch manager")

    assert not {code for code in teller if code.split(".")[0] in ("audit", "notifications")}
    assert {"accounts.view_customer", "accounts.add_account", "accounts.take_cash"} <= teller
    assert {"audit.view_auditevent", "notifications.view_notification", "notifications.view_outboxmessage"} <= manager
    assert "notifications.view_notification_body" not in teller | manager


def test_running_the_duties_again_changes_nothing():
    """The migration's function is idempotent (tests/conftest.py runs it again after a flush)."""
    before = (_codes("Teller"), _codes("Branch manager"))
    module = importlib.import_module("accounts.migrations.0007_staff_group_duties")

    module.assign_staff_duties(django_apps, None)

    assert (_codes("Teller"), _codes("Branch manager")) == before


@pytest.mark.django_db(transaction=True)
def test_groups_put_back_after_a_flush_carry_the_same_duties():
    """Transactional tests get the groups re-created by tests/conftest.py with the current duties."""
    assert "audit.view_auditevent" not in _codes("Teller")
    assert "audit.view_auditevent" in _codes("Branch manager")
