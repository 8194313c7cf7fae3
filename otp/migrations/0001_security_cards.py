"""Placeholder (security-card helper: SecurityCard and its challenge); filled in by that work."""

from django.db import migrations


class Migration(migrations.Migration):
    initial = True

    dependencies = [("accounts", "0007_staff_group_duties")]

    operations: list = []
