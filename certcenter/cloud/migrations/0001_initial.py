"""The financial certificate cloud: key pairs held for holders (envelope-encrypted private key, keyed PIN
verifier, phone blind index, the attached certificate) and the institutions each is registered at."""

import django.db.models.deletion
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="CloudCertificate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "cloud_id",
                    models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name="cloud id"),
                ),
                ("institution", models.CharField(max_length=3, verbose_name="issuing institution")),
                ("holder_name", models.CharField(max_length=100, verbose_name="holder name")),
                ("phone_index", models.CharField(editable=False, max_length=64)),
                ("birth_date", models.DateField(blank=True, null=True, verbose_name="birth date")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting for the certificate"),
                            ("active", "Active"),
                            ("locked", "Locked (wrong PINs)"),
                            ("revoked", "Revoked"),
                            ("superseded", "Superseded (renewed)"),
                        ],
                        default="pending",
                        max_length=12,
                        verbose_name="status",
                    ),
                ),
                ("wrong_pins", models.PositiveSmallIntegerField(default=0, verbose_name="consecutive wrong PINs")),
                ("locked_at", models.DateTimeField(blank=True, null=True, verbose_name="locked at")),
                ("revoked_at", models.DateTimeField(blank=True, null=True, verbose_name="revoked at")),
                ("revocation_reason", models.CharField(blank=True, max_length=32, verbose_name="revocation reason")),
                ("kek_id", models.CharField(editable=False, max_length=16)),
                ("key_nonce", models.BinaryField()),
                ("key_ciphertext", models.BinaryField()),
                ("dek_nonce", models.BinaryField()),
                ("wrapped_dek", models.BinaryField()),
                ("pin_verifier", models.BinaryField()),
                ("public_key_der", models.BinaryField(verbose_name="public key (DER)")),
                ("certificate_der", models.BinaryField(blank=True, default=b"", verbose_name="certificate (DER)")),
                ("serial", models.CharField(blank=True, max_length=49, verbose_name="serial number")),
                ("issuer", models.CharField(blank=True, max_length=300, verbose_name="issuer")),
                ("not_before", models.DateTimeField(blank=True, null=True, verbose_name="valid from")),
                ("not_after", models.DateTimeField(blank=True, null=True, verbose_name="valid until")),
                ("created_at", models.DateTimeField(verbose_name="created at")),
                (
                    "renews",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="renewals",
                        to="fincloud.cloudcertificate",
                        verbose_name="renews",
                    ),
                ),
            ],
            options={
                "verbose_name": "financial certificate (cloud)",
                "verbose_name_plural": "financial certificates (cloud)",
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="CloudRegistration",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("institution", models.CharField(max_length=3, verbose_name="institution")),
                ("registered_at", models.DateTimeField(verbose_name="registered at")),
                (
                    "certificate",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="registrations",
                        to="fincloud.cloudcertificate",
                        verbose_name="certificate",
                    ),
                ),
            ],
            options={
                "verbose_name": "registration",
                "verbose_name_plural": "registrations",
                "ordering": ["registered_at", "id"],
            },
        ),
        migrations.AddIndex(
            model_name="cloudcertificate",
            index=models.Index(fields=["phone_index", "holder_name"], name="fincloud_cert_holder"),
        ),
        migrations.AddConstraint(
            model_name="cloudcertificate",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["pending", "active", "locked", "revoked", "superseded"])),
                name="fincloud_cert_status",
            ),
        ),
        migrations.AddConstraint(
            model_name="cloudcertificate",
            constraint=models.CheckConstraint(
                condition=models.Q(("institution__regex", "^[0-9]{3}$")), name="fincloud_cert_inst"
            ),
        ),
        migrations.AddConstraint(
            model_name="cloudcertificate",
            constraint=models.CheckConstraint(
                condition=models.Q(("wrong_pins__gte", 0), ("wrong_pins__lte", 5)), name="fincloud_cert_wrong_pins"
            ),
        ),
        migrations.AddConstraint(
            model_name="cloudcertificate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("status__in", ["pending", "revoked"]),
                    models.Q(models.Q(("serial", ""), _negated=True), ("not_after__isnull", False)),
                    _connector="OR",
                ),
                name="fincloud_cert_issued",
            ),
        ),
        migrations.AddConstraint(
            model_name="cloudcertificate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "locked"), _negated=True), ("locked_at__isnull", False), _connector="OR"
                ),
                name="fincloud_cert_locked_at",
            ),
        ),
        migrations.AddConstraint(
            model_name="cloudcertificate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "revoked"), _negated=True), ("revoked_at__isnull", False), _connector="OR"
                ),
                name="fincloud_cert_revoked_at",
            ),
        ),
        migrations.AddConstraint(
            model_name="cloudregistration",
            constraint=models.UniqueConstraint(
                fields=("certificate", "institution"), name="fincloud_registration_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="cloudregistration",
            constraint=models.CheckConstraint(
                condition=models.Q(("institution__regex", "^[0-9]{3}$")), name="fincloud_reg_inst"
            ),
        ),
    ]
