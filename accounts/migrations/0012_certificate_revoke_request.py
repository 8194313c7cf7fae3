"""Staff revoke a customer's joint certificate only through a staff request a branch manager approves
(kind ``certificate_revoke``, carried out by ``certcenter.services.issuance``)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_agreement_sweep_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="staffrequest",
            name="kind",
            field=models.CharField(
                choices=[
                    ("account_password_reset", "Reset account password"),
                    ("contact_change", "Change contact phone or email"),
                    ("minor_cap_lift", "Lift the minor sign-up cap"),
                    ("journal_reverse", "Reverse a journal"),
                    ("security_card_unlock", "Unlock a security card"),
                    ("otp_unlock", "Unlock an OTP token"),
                    ("agreement_release", "Release a suspended e-banking agreement"),
                    ("certificate_revoke", "Revoke a joint certificate"),
                ],
                max_length=40,
                verbose_name="kind",
            ),
        ),
    ]
