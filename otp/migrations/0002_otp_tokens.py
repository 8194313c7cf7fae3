"""OTP tokens (the 통합OTP registry, seeds encrypted) and customers' registrations at this bank.

Also gives the staff groups their OTP duties: tellers see tokens and registrations, register a
token to a customer and record accident reports; branch managers do the same and approve
unlocking a locked token (through a staff request). ``grant_otp_token_permissions`` is safe to
run again (``tests/conftest.py`` may, after transactional tests flush the groups).
"""

import django.db.models.deletion
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

TELLER = "Teller"
MANAGER = "Branch manager"
TELLER_OTP = [
    ("otp", "view_otptoken"),
    ("otp", "view_otpregistration"),
    ("otp", "add_otpregistration"),
    ("otp", "record_otp_accident"),
]
MANAGER_OTP = TELLER_OTP + [("otp", "unlock_otptoken")]


def _ensure_permissions(apps):
    # Permissions are normally created after all migrations (post_migrate); create them now.
    app_config = apps.get_app_config("otp")
    original = getattr(app_config, "models_module", None)
    app_config.models_module = original or True
    try:
        create_permissions(app_config, verbosity=0, apps=apps)
    finally:
        app_config.models_module = original


def _permissions(apps, codes):
    Permission = apps.get_model("auth", "Permission")
    return [
        perm
        for perm in (
            Permission.objects.filter(content_type__app_label=app, codename=codename).first() for app, codename in codes
        )
        if perm is not None
    ]


def grant_otp_token_permissions(apps, schema_editor):
    _ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    for name, codes in ((TELLER, TELLER_OTP), (MANAGER, MANAGER_OTP)):
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.add(*_permissions(apps, codes))


def revoke_otp_token_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name, codes in ((TELLER, TELLER_OTP), (MANAGER, MANAGER_OTP)):
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.remove(*_permissions(apps, codes))


class Migration(migrations.Migration):
    dependencies = [
        ("otp", "0001_security_cards"),
        ("accounts", "0007_staff_group_duties"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="OtpToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("serial", models.CharField(max_length=20, unique=True, verbose_name="serial number")),
                ("vendor", models.CharField(blank=True, max_length=60, verbose_name="vendor")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("hardware", "Hardware OTP"),
                            ("card_type", "Card-type OTP"),
                            ("digital", "Digital OTP"),
                        ],
                        max_length=12,
                        verbose_name="kind",
                    ),
                ),
                (
                    "issuer",
                    models.CharField(
                        help_text="Three-digit institution code; ours is BANK_CODE",
                        max_length=3,
                        verbose_name="issuing institution",
                    ),
                ),
                ("seed_ciphertext", models.TextField(editable=False)),
                ("seed_key_id", models.CharField(db_index=True, editable=False, max_length=16)),
                ("step_seconds", models.PositiveSmallIntegerField(default=60, verbose_name="time step (seconds)")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting for the first code"),
                            ("active", "Active"),
                            ("accident_reported", "Accident reported"),
                            ("locked", "Locked"),
                            ("retired", "Retired"),
                        ],
                        default="active",
                        max_length=20,
                        verbose_name="status",
                    ),
                ),
                ("error_count", models.PositiveSmallIntegerField(default=0, verbose_name="consecutive errors")),
                (
                    "last_used_step",
                    models.BigIntegerField(blank=True, editable=False, null=True, verbose_name="last time step used"),
                ),
                ("last_used_at", models.DateTimeField(blank=True, null=True, verbose_name="last used at")),
                ("warranty_until", models.DateField(blank=True, null=True, verbose_name="warranty end")),
                ("locked_at", models.DateTimeField(blank=True, null=True, verbose_name="locked at")),
                (
                    "accident_reported_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="accident reported at"),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
            ],
            options={
                "verbose_name": "OTP token",
                "verbose_name_plural": "OTP tokens",
                "ordering": ["serial"],
                "permissions": [("unlock_otptoken", "Can approve unlocking a locked OTP token (branch manager)")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("serial__regex", "^[A-Z0-9]{6,20}$")), name="otptoken_serial_shape"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("issuer__regex", "^[0-9]{3}$")), name="otptoken_issuer_code"
                    ),
                    models.CheckConstraint(condition=models.Q(("step_seconds__gte", 1)), name="otptoken_step_positive"),
                    models.CheckConstraint(condition=models.Q(("error_count__lte", 10)), name="otptoken_errors_capped"),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("status", "locked"), _negated=True), ("locked_at__isnull", False), _connector="OR"
                        ),
                        name="otptoken_locked_has_time",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("status", "accident_reported"), _negated=True),
                            ("accident_reported_at__isnull", False),
                            _connector="OR",
                        ),
                        name="otptoken_accident_has_time",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="OtpRegistration",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(help_text="The human-readable name of this device.", max_length=64)),
                ("confirmed", models.BooleanField(default=True, help_text="Is this device ready for use?")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting for the first code"),
                            ("active", "Active"),
                            ("accident_reported", "Accident reported"),
                            ("retired", "Retired"),
                        ],
                        default="active",
                        max_length=20,
                        verbose_name="status",
                    ),
                ),
                (
                    "channel",
                    models.CharField(
                        choices=[("branch", "Branch"), ("online", "Online")], max_length=8, verbose_name="channel"
                    ),
                ),
                ("registered_at", models.DateTimeField(db_index=True, verbose_name="registered at")),
                ("ended_at", models.DateTimeField(blank=True, null=True, verbose_name="ended at")),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="otp_registrations",
                        to="accounts.customer",
                        verbose_name="customer",
                    ),
                ),
                (
                    "registered_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="registered by",
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
                (
                    "token",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="registrations",
                        to="otp.otptoken",
                        verbose_name="OTP token",
                    ),
                ),
            ],
            options={
                "verbose_name": "OTP registration",
                "verbose_name_plural": "OTP registrations",
                "ordering": ["-registered_at", "-id"],
                "permissions": [
                    ("record_otp_accident", "Can record an OTP accident report (사고신고) for a customer"),
                    ("verify_otpregistration", "Can check a customer's OTP code on the customer's behalf"),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("status", "active")),
                        fields=("customer",),
                        name="otpregistration_one_active_per_customer",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("status", "active")),
                        fields=("token",),
                        name="otpregistration_one_active_per_token",
                    ),
                ],
            },
        ),
        migrations.RunPython(grant_otp_token_permissions, revoke_otp_token_permissions),
    ]
