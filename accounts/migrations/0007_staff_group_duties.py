"""Placeholder (throttle helper: staff group permissions (tellers no longer read the outbox or the audit trail)); filled in by that work."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_staff_requests")]

    operations: list = []
