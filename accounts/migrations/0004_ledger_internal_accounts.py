"""No bank-wide hot rows: internal accounts per branch / per counterparty bank, internal legs unlocked.

- ``internal_code`` is no longer unique on its own: one internal account per (purpose, branch,
  counterparty bank). Branch cash and fee income are per branch, interbank clearing per
  counterparty bank; the services create them lazily (race-safe on the unique constraint).
- Internal legs are appended without locking their account: their ``balance_after`` is NULL and
  the internal ``balance`` becomes a rolled-up figure covering the entries of finished
  transactions. ``LedgerEntry.txid`` (PostgreSQL transaction id, a column default) says which.
- The three bank-wide accounts of 0002 stay as they are (branch ``000``: head office); their
  balance already equals their entries, so the roll-up starts out covering every existing entry.
"""

import accounts.money
import bankportal.audit.expressions
from django.db import migrations, models
from django.db.models import Max
from django.utils import timezone


def mark_existing_entries_rolled_up(apps, schema_editor):
    Account = apps.get_model("accounts", "Account")
    LedgerEntry = apps.get_model("accounts", "LedgerEntry")
    last_entry = LedgerEntry.objects.aggregate(last=Max("id"))["last"] or 0
    horizon = None
    if schema_editor.connection.vendor == "postgresql":
        # Existing rows took this migration's transaction id as their txid; every later
        # transaction gets a larger one, so "below ours + 1" covers exactly the existing entries.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            horizon = cursor.fetchone()[0] + 1
    Account.objects.filter(kind="internal").update(
        rollup_xid=horizon, rollup_entry_id=last_entry, rolled_up_at=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_ledger_append_only_trigger")]

    operations = [
        migrations.AddField(
            model_name="account",
            name="counterparty_bank",
            field=models.CharField(
                blank=True, default="", editable=False, max_length=3, verbose_name="counterparty bank code"
            ),
        ),
        migrations.AddField(
            model_name="account",
            name="rolled_up_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="balance rolled up at"),
        ),
        migrations.AddField(
            model_name="account",
            name="rollup_entry_id",
            field=models.BigIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="account",
            name="rollup_xid",
            field=models.BigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="ledgerentry",
            name="txid",
            field=models.BigIntegerField(
                blank=True,
                db_default=bankportal.audit.expressions.CurrentTransactionId(),
                editable=False,
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="account",
            name="internal_code",
            field=models.CharField(
                blank=True,
                choices=[
                    ("branch_cash", "Branch cash"),
                    ("fee_income", "Fee income"),
                    ("interbank_clearing", "Interbank clearing"),
                ],
                editable=False,
                max_length=32,
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="balance_after",
            field=accounts.money.MoneyField(blank=True, null=True, verbose_name="balance after (won)"),
        ),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(fields=["account", "txid"], name="ledger_account_txid_idx"),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                condition=models.Q(("internal_code__isnull", False)),
                fields=("internal_code", "branch", "counterparty_bank"),
                name="account_internal_unique",
            ),
        ),
        migrations.RunPython(mark_existing_entries_rolled_up, migrations.RunPython.noop),
    ]
