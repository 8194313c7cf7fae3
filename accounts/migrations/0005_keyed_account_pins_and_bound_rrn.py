"""Placeholder (secrets helper: keyed account-password hashes, RRN ciphertexts bound to their row); filled in by that work."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_ledger_internal_accounts")]

    operations: list = []
