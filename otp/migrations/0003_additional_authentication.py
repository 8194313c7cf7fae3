"""Additional authentication codes (추가인증): only a keyed MAC of each code is stored."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_staff_group_duties"), ("otp", "0002_otp_tokens")]

    operations = [
        migrations.CreateModel(
            name="AdditionalAuthChallenge",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "purpose",
                    models.CharField(
                        choices=[
                            ("certificate_reissue", "Certificate reissue"),
                            ("other_bank_certificate", "Registering another bank's certificate"),
                            ("financial_certificate_issue", "Financial certificate issue"),
                        ],
                        max_length=32,
                        verbose_name="purpose",
                    ),
                ),
                (
                    "channel",
                    models.CharField(
                        choices=[("sms", "Text message (SMS)"), ("ars", "ARS call")],
                        max_length=8,
                        verbose_name="channel",
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting for the code"),
                            ("verified", "Verified"),
                            ("failed", "Too many wrong codes"),
                            ("expired", "Expired"),
                            ("superseded", "Replaced by a newer code"),
                        ],
                        default="pending",
                        max_length=12,
                        verbose_name="state",
                    ),
                ),
                ("nonce", models.CharField(editable=False, max_length=32)),
                ("code_mac", models.CharField(editable=False, max_length=64)),
                ("attempts", models.PositiveSmallIntegerField(default=0, verbose_name="wrong tries")),
                ("created_at", models.DateTimeField(db_index=True, verbose_name="sent at")),
                ("expires_at", models.DateTimeField(verbose_name="expires at")),
                ("verified_at", models.DateTimeField(blank=True, null=True, verbose_name="verified at")),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.customer",
                        verbose_name="customer",
                    ),
                ),
            ],
            options={
                "verbose_name": "additional authentication",
                "verbose_name_plural": "additional authentications",
                "ordering": ["-created_at", "-id"],
                "indexes": [models.Index(fields=["customer", "purpose", "state"], name="additional_auth_lookup_idx")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("state", "verified"), _negated=True),
                            ("verified_at__isnull", False),
                            _connector="OR",
                        ),
                        name="additional_auth_verified_has_time",
                    )
                ],
            },
        ),
    ]
