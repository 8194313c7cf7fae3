"""Placeholder (OTP helper: token registry, registrations at this bank); filled in by that work."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("otp", "0001_security_cards")]

    operations: list = []
