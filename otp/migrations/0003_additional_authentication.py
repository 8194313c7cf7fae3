"""Placeholder (additional authentication codes, 추가인증); filled in by that work."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("otp", "0002_otp_tokens")]

    operations: list = []
