"""Releasing an internet banking suspension online needs an SMS/ARS additional authentication
(추가인증) spent together with the release: a new purpose."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("otp", "0004_digital_otp_phone_check"),
    ]

    operations = [
        migrations.AlterField(
            model_name="additionalauthchallenge",
            name="purpose",
            field=models.CharField(
                choices=[
                    ("certificate_reissue", "Certificate reissue"),
                    ("other_bank_certificate", "Registering another bank's certificate"),
                    ("financial_certificate_issue", "Financial certificate issue"),
                    ("digital_otp_enroll", "Digital OTP enrollment"),
                    ("suspension_release", "Releasing an internet banking suspension"),
                ],
                max_length=32,
                verbose_name="purpose",
            ),
        ),
    ]
