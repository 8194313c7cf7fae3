"""Branch staff duties: tellers no longer read the SMS/email outbox or the whole audit trail.

Tellers keep counter work (customers, accounts, cash). Reading the audit trail (who looked at
whose data) and the notification outbox (one-time codes, contact details) is a branch manager's
duty. Tellers lose every permission in the ``audit`` and ``notifications`` apps; branch managers
keep (or get) the view permissions of the audit trail, the queued notifications and the
development inbox, but not ``view_notification_body`` (one-time codes in clear), which stays a
grant to named people.

Tolerant of the models present: it works from the permissions that exist when it runs (the
outbox model is being replaced), and ``tests/conftest.py`` runs ``assign_staff_duties`` again
after transactional tests flush the groups.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

TELLER = "Teller"
MANAGER = "Branch manager"
READ_BY_MANAGERS_ONLY = ("audit", "notifications")
MANAGER_READS = [
    ("audit", "view_auditevent"),
    ("notifications", "view_notification"),
    ("notifications", "view_outboxmessage"),
]
# Bodies carry one-time codes in clear: granted to named people, never to a whole role.
NEVER_TO_A_ROLE = [("notifications", "view_notification_body")]
# The state 0002 left, restored on reverse.
TELLER_BEFORE = [("audit", "view_auditevent"), ("notifications", "view_outboxmessage")]


def _ensure_permissions(apps, app_labels):
    # Permissions are normally created after all migrations (post_migrate); create them now.
    # (create_permissions skips app configs without a models module, as migration states have.)
    for label in app_labels:
        try:
            app_config = apps.get_app_config(label)
        except LookupError:
            continue
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True
        try:
            create_permissions(app_config, verbosity=0, apps=apps)
        finally:
            app_config.models_module = original


def assign_staff_duties(apps, schema_editor):
    """Also run by ``tests/conftest.py`` with the live app registry after a flush."""
    _ensure_permissions(apps, READ_BY_MANAGERS_ONLY)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    teller = Group.objects.filter(name=TELLER).first()
    if teller is not None:
        teller.permissions.remove(*Permission.objects.filter(content_type__app_label__in=READ_BY_MANAGERS_ONLY))
    manager = Group.objects.filter(name=MANAGER).first()
    if manager is not None:
        manager.permissions.remove(*_existing(Permission, NEVER_TO_A_ROLE))
        manager.permissions.add(*_existing(Permission, MANAGER_READS))


def _existing(Permission, codes):
    # A model that is not (or no longer) there has no permission to grant: skip it.
    found = []
    for app_label, codename in codes:
        perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if perm is not None:
            found.append(perm)
    return found


def restore_teller_reads(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    teller = Group.objects.filter(name=TELLER).first()
    if teller is not None:
        teller.permissions.add(*_existing(Permission, TELLER_BEFORE))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_staff_requests"),
        ("audit", "0001_initial"),
        ("notifications", "0002_notification"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(assign_staff_duties, restore_teller_reads)]
