"""A digital OTP is enrolled online only after a phone check (추가인증) that is spent once: a new
purpose, the USED state and when a verification was used."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("otp", "0003_additional_authentication"),
    ]

    operations = [
        migrations.AddField(
            model_name="additionalauthchallenge",
            name="used_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="used at"),
        ),
        migrations.AlterField(
            model_name="additionalauthchallenge",
            name="purpose",
            field=models.CharField(
                choices=[
                    ("certificate_reissue", "Certificate reissue"),
                    ("other_bank_certificate", "Registering another bank's certificate"),
                    ("financial_certificate_issue", "Financial certificate issue"),
                    ("digital_otp_enroll", "Digital OTP enrollment"),
                ],
                max_length=32,
                verbose_name="purpose",
            ),
        ),
        migrations.AlterField(
            model_name="additionalauthchallenge",
            name="state",
            field=models.CharField(
                choices=[
                    ("pending", "Waiting for the code"),
                    ("verified", "Verified"),
                    ("failed", "Too many wrong codes"),
                    ("expired", "Expired"),
                    ("superseded", "Replaced by a newer code"),
                    ("used", "Verified and used"),
                ],
                default="pending",
                max_length=12,
                verbose_name="state",
            ),
        ),
        migrations.AddConstraint(
            model_name="additionalauthchallenge",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("state", "used"), _negated=True),
                    models.Q(("used_at__isnull", False), ("verified_at__isnull", False)),
                    _connector="OR",
                ),
                name="additional_auth_used_has_times",
            ),
        ),
    ]
