"""Placeholder (staff-request helper: maker-checker StaffRequest); filled in by that work."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_keyed_account_pins_and_bound_rrn")]

    operations: list = []
