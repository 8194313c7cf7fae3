"""Certificate centre: our CA (root and issuing, keys encrypted at rest), customers' joint
certificates and the current CRL; staff may view all three (never a CA's private key)."""

import django.db.models.deletion
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

VIEW = ["view_certificateauthority", "view_certificate", "view_crlstate"]
# Tellers serve customers' certificates at the counter; branch managers oversee them.
GRANTS = {"Teller": VIEW, "Branch manager": VIEW}


def grant_certcenter_view_permissions(apps, schema_editor):
    """Also to be run by tests after transactional tests flush the groups."""
    # Permissions are normally created after all migrations; make sure this app's exist now.
    app_config = apps.get_app_config("certcenter")
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
        group.permissions.add(*Permission.objects.filter(content_type__app_label="certcenter", codename__in=codenames))


def revoke_certcenter_view_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="certcenter", codename__in=VIEW)
    for group in Group.objects.filter(name__in=GRANTS):
        group.permissions.remove(*perms)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0011_agreement_sweep_indexes"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.CreateModel(
            name="CertificateAuthority",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "role",
                    models.CharField(
                        choices=[("root", "Root CA"), ("issuing", "Issuing CA")], max_length=8, verbose_name="role"
                    ),
                ),
                ("name", models.CharField(max_length=200, verbose_name="common name")),
                ("certificate_pem", models.TextField(verbose_name="certificate (PEM)")),
                ("key_pem", models.TextField(editable=False)),
                ("serial", models.CharField(max_length=49, unique=True, verbose_name="serial number")),
                (
                    "fingerprint_sha256",
                    models.CharField(max_length=64, unique=True, verbose_name="SHA-256 fingerprint"),
                ),
                ("not_before", models.DateTimeField(verbose_name="valid from")),
                ("not_after", models.DateTimeField(verbose_name="valid until")),
                ("is_active", models.BooleanField(default=True, verbose_name="active")),
                ("created_at", models.DateTimeField(verbose_name="created at")),
            ],
            options={
                "verbose_name": "certificate authority",
                "verbose_name_plural": "certificate authorities",
                "ordering": ["role", "-created_at"],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("is_active", True)),
                        fields=("role",),
                        name="certcenter_one_active_ca_per_role",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("role__in", ["root", "issuing"])), name="certcenter_ca_role_valid"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("serial__regex", "^[1-9][0-9]*$")), name="certcenter_ca_serial_decimal"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("not_after__gt", models.F("not_before"))), name="certcenter_ca_validity"
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="Certificate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("serial", models.CharField(max_length=49, unique=True, verbose_name="serial number")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("restricted", "Restricted use (banking, insurance, cards)"),
                            ("general", "General purpose"),
                            ("corporate", "Corporate general purpose"),
                            ("e_tax", "Electronic tax invoice"),
                        ],
                        max_length=16,
                        verbose_name="kind",
                    ),
                ),
                (
                    "storage",
                    models.CharField(
                        choices=[("browser", "This browser"), ("file", "File (hard disk or USB)")],
                        max_length=8,
                        verbose_name="storage",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("valid", "Valid"), ("revoked", "Revoked"), ("expired", "Expired")],
                        default="valid",
                        max_length=8,
                        verbose_name="status",
                    ),
                ),
                ("subject_cn", models.CharField(max_length=200, verbose_name="subject name")),
                ("not_before", models.DateTimeField(verbose_name="valid from")),
                ("not_after", models.DateTimeField(verbose_name="valid until")),
                ("certificate_der", models.BinaryField(verbose_name="certificate (DER)")),
                ("revoked_at", models.DateTimeField(blank=True, null=True, verbose_name="revoked at")),
                (
                    "revocation_reason",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("unspecified", "Unspecified"),
                            ("key_compromise", "Key compromise"),
                            ("superseded", "Superseded (renewed or reissued)"),
                            ("cessation_of_operation", "No longer used"),
                            ("affiliation_changed", "Affiliation changed"),
                        ],
                        max_length=32,
                        verbose_name="revocation reason",
                    ),
                ),
                ("created_at", models.DateTimeField(verbose_name="created at")),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="joint_certificates",
                        to="accounts.customer",
                        verbose_name="customer",
                    ),
                ),
                (
                    "issuer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="certificates",
                        to="certcenter.certificateauthority",
                        verbose_name="issuer",
                    ),
                ),
            ],
            options={
                "verbose_name": "joint certificate",
                "verbose_name_plural": "joint certificates",
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(fields=["status", "not_after"], name="certcenter_cert_status_expiry"),
                    models.Index(fields=["customer", "status"], name="certcenter_cert_customer"),
                    models.Index(fields=["issuer", "revoked_at"], name="certcenter_cert_revoked"),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("serial__regex", "^[1-9][0-9]*$")), name="certcenter_cert_serial_decimal"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("not_after__gt", models.F("not_before"))), name="certcenter_cert_validity"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("kind__in", ["restricted", "general", "corporate", "e_tax"])),
                        name="certcenter_cert_kind",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("storage__in", ["browser", "file"])), name="certcenter_cert_storage"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("status__in", ["valid", "revoked", "expired"])),
                        name="certcenter_cert_status",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("status", "revoked"), _negated=True),
                            models.Q(("revoked_at__isnull", False), models.Q(("revocation_reason", ""), _negated=True)),
                            _connector="OR",
                        ),
                        name="certcenter_cert_revoked_has_time_and_reason",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("revoked_at__isnull", False), ("status__in", ["revoked", "expired"])),
                            models.Q(("revocation_reason", ""), ("revoked_at__isnull", True)),
                            _connector="OR",
                        ),
                        name="certcenter_cert_revocation_consistent",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="CrlState",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveBigIntegerField(verbose_name="CRL number")),
                ("crl_der", models.BinaryField(verbose_name="CRL (DER)")),
                ("generated_at", models.DateTimeField(verbose_name="generated at")),
                ("next_update", models.DateTimeField(verbose_name="next update")),
                ("revoked_count", models.PositiveIntegerField(default=0, verbose_name="revoked certificates listed")),
                (
                    "issuer",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="crl_state",
                        to="certcenter.certificateauthority",
                        verbose_name="issuer",
                    ),
                ),
            ],
            options={
                "verbose_name": "certificate revocation list",
                "verbose_name_plural": "certificate revocation lists",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("number__gte", 1)), name="certcenter_crl_number_positive"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("next_update__gt", models.F("generated_at"))),
                        name="certcenter_crl_next_update_later",
                    ),
                ],
            },
        ),
        migrations.RunPython(grant_certcenter_view_permissions, revoke_certcenter_view_permissions),
    ]
