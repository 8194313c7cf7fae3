"""Dual control for staff (책임자 승인): the StaffRequest model, and who may request and approve."""

import django.db.models.deletion
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

# Tellers record requests; branch managers record them too, and approve or reject them.
GRANTS = {
    "Teller": ["add_staffrequest", "view_staffrequest"],
    "Branch manager": ["add_staffrequest", "view_staffrequest", "approve_staffrequest"],
}


def grant_staff_request_permissions(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure this model's exist now.
    app_config = apps.get_app_config("accounts")
    original = getattr(app_config, "models_module", None)
    app_config.models_module = original or True
    try:
        create_permissions(app_config, verbosity=0, apps=apps)
    finally:
        app_config.models_module = original
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group, _created = Group.objects.get_or_create(name=name)
        # Added, not set: other migrations own the rest of each group's permissions.
        group.permissions.add(*Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames))


def revoke_staff_request_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="accounts", content_type__model="staffrequest")
    for group in Group.objects.filter(name__in=GRANTS):
        group.permissions.remove(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_keyed_account_pins_and_bound_rrn"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.CreateModel(
            name="StaffRequest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("account_password_reset", "Reset account password"),
                            ("contact_change", "Change contact phone or email"),
                            ("minor_cap_lift", "Lift the minor sign-up cap"),
                            ("journal_reverse", "Reverse a journal"),
                        ],
                        max_length=40,
                        verbose_name="kind",
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting for approval"),
                            ("approved", "Approved"),
                            ("executed", "Executed"),
                            ("rejected", "Rejected"),
                            ("cancelled", "Cancelled"),
                            ("expired", "Expired"),
                        ],
                        default="pending",
                        max_length=16,
                        verbose_name="state",
                    ),
                ),
                ("payload", models.JSONField(blank=True, default=dict, verbose_name="details")),
                ("reason", models.CharField(max_length=200, verbose_name="reason")),
                ("requested_at", models.DateTimeField(db_index=True, verbose_name="requested at")),
                ("expires_at", models.DateTimeField(verbose_name="expires at")),
                ("decided_at", models.DateTimeField(blank=True, null=True, verbose_name="decided at")),
                ("decision_note", models.CharField(blank=True, max_length=200, verbose_name="decision note")),
                ("executed_at", models.DateTimeField(blank=True, null=True, verbose_name="executed at")),
                ("closed_at", models.DateTimeField(blank=True, null=True, verbose_name="closed at")),
                (
                    "account",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.account",
                        verbose_name="account",
                    ),
                ),
                (
                    "customer",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.customer",
                        verbose_name="customer",
                    ),
                ),
                (
                    "decided_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="decided by",
                    ),
                ),
                (
                    "executed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="executed by",
                    ),
                ),
                (
                    "journal",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.journal",
                        verbose_name="journal",
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="requested by",
                    ),
                ),
            ],
            options={
                "verbose_name": "staff request",
                "verbose_name_plural": "staff requests",
                "ordering": ["-requested_at", "-id"],
                "permissions": [("approve_staffrequest", "Can approve or reject staff requests (branch manager)")],
                "indexes": [models.Index(fields=["state", "expires_at"], name="staffrequest_open_idx")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("decided_by__isnull", True),
                            models.Q(("decided_by", models.F("requested_by")), _negated=True),
                            _connector="OR",
                        ),
                        name="staffrequest_not_decided_by_requester",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("reason", ""), _negated=True), name="staffrequest_reason_required"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("customer__isnull", False), ("journal__isnull", False), _connector="OR"),
                        name="staffrequest_has_target",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("expires_at__gt", models.F("requested_at"))), name="staffrequest_expiry"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("closed_at__isnull", True),
                                ("decided_at__isnull", True),
                                ("decided_by__isnull", True),
                                ("executed_at__isnull", True),
                                ("executed_by__isnull", True),
                                ("state", "pending"),
                            ),
                            models.Q(
                                ("closed_at__isnull", True),
                                ("decided_at__isnull", False),
                                ("decided_by__isnull", False),
                                ("executed_at__isnull", True),
                                ("executed_by__isnull", True),
                                ("state__in", ["approved", "rejected"]),
                            ),
                            models.Q(
                                ("closed_at__isnull", True),
                                ("decided_at__isnull", False),
                                ("decided_by__isnull", False),
                                ("executed_at__isnull", False),
                                ("executed_by__isnull", False),
                                ("state", "executed"),
                            ),
                            models.Q(
                                ("closed_at__isnull", False),
                                ("executed_at__isnull", True),
                                ("executed_by__isnull", True),
                                ("state__in", ["cancelled", "expired"]),
                            ),
                            _connector="OR",
                        ),
                        name="staffrequest_state_shape",
                    ),
                ],
            },
        ),
        migrations.RunPython(grant_staff_request_permissions, revoke_staff_request_permissions),
    ]
