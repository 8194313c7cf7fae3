"""Security cards (보안카드): the card (a django-otp Device owned by a customer), its encrypted codes
and pending challenge; tellers issue cards, branch managers approve unlocking them."""

import django.db.models.deletion
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

TELLER = "Teller"
MANAGER = "Branch manager"
GRANTS = {
    TELLER: ["view_securitycard", "add_securitycard"],
    MANAGER: ["view_securitycard", "add_securitycard", "unlock_securitycard"],
}


def grant_security_card_permissions(apps, schema_editor):
    """Also run by tests after transactional tests flush the groups."""
    # Permissions are normally created after all migrations; make sure this model's exist now.
    app_config = apps.get_app_config("otp")
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
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="otp", content_type__model="securitycard", codename__in=codenames
            )
        )


def revoke_security_card_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="otp", content_type__model="securitycard")
    for group in Group.objects.filter(name__in=GRANTS):
        group.permissions.remove(*perms)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0007_staff_group_duties"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.CreateModel(
            name="SecurityCard",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(help_text="The human-readable name of this device.", max_length=64)),
                ("confirmed", models.BooleanField(default=True, help_text="Is this device ready for use?")),
                ("serial", models.CharField(editable=False, max_length=12, unique=True, verbose_name="serial number")),
                ("codes_ciphertext", models.TextField(editable=False)),
                ("codes_key_id", models.CharField(db_index=True, editable=False, max_length=16)),
                (
                    "status",
                    models.CharField(
                        choices=[("active", "Active"), ("locked", "Locked"), ("retired", "Retired")],
                        default="active",
                        max_length=8,
                        verbose_name="status",
                    ),
                ),
                ("failures", models.PositiveSmallIntegerField(default=0, verbose_name="consecutive wrong answers")),
                ("issued_at", models.DateTimeField(db_index=True, verbose_name="issued at")),
                ("locked_at", models.DateTimeField(blank=True, null=True, verbose_name="locked at")),
                ("retired_at", models.DateTimeField(blank=True, null=True, verbose_name="retired at")),
                ("challenge_first", models.PositiveSmallIntegerField(blank=True, editable=False, null=True)),
                ("challenge_second", models.PositiveSmallIntegerField(blank=True, editable=False, null=True)),
                ("challenge_issued_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("challenge_expires_at", models.DateTimeField(blank=True, editable=False, null=True)),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="security_cards",
                        to="accounts.customer",
                        verbose_name="customer",
                    ),
                ),
                (
                    "issued_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="issued by",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
            ],
            options={
                "verbose_name": "security card",
                "verbose_name_plural": "security cards",
                "ordering": ["-issued_at", "-id"],
                "permissions": [
                    ("unlock_securitycard", "Can approve unlocking a locked security card (branch manager)"),
                    (
                        "verify_securitycard",
                        "Can check a customer's security card answer on the customer's behalf",
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("status__in", ["active", "locked"])),
                        fields=("customer",),
                        name="securitycard_one_live_per_customer",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("serial__regex", "^[0-9]{12}$")), name="securitycard_serial_digits"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("status", "locked"), _negated=True),
                            ("locked_at__isnull", False),
                            _connector="OR",
                        ),
                        name="securitycard_locked_has_time",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("status", "retired"), _negated=True),
                            ("retired_at__isnull", False),
                            _connector="OR",
                        ),
                        name="securitycard_retired_has_time",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("challenge_expires_at__isnull", True),
                                ("challenge_first__isnull", True),
                                ("challenge_issued_at__isnull", True),
                                ("challenge_second__isnull", True),
                            ),
                            models.Q(
                                ("challenge_expires_at__isnull", False),
                                ("challenge_first__gte", 1),
                                ("challenge_first__lte", 30),
                                ("challenge_issued_at__isnull", False),
                                ("challenge_second__gte", 1),
                                ("challenge_second__lte", 30),
                                models.Q(("challenge_first", models.F("challenge_second")), _negated=True),
                            ),
                            _connector="OR",
                        ),
                        name="securitycard_challenge_shape",
                    ),
                ],
            },
        ),
        migrations.RunPython(grant_security_card_permissions, revoke_security_card_permissions),
    ]
