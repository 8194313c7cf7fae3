"""Placeholder (ledger helper: per-branch cash, per-counterparty clearing, internal legs not row-locked); filled in by that work."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_ledger_append_only_trigger")]

    operations: list = []
