"""On PostgreSQL the database refuses UPDATE and DELETE on posted journals and ledger entries.

A posting is corrected by a reversal journal, never by editing history. Balances on
``accounts_account`` still change (they are the running totals ``ledger_verify`` recomputes).
TRUNCATE (table owner only) stays possible so test runs can flush.
"""

from django.db import migrations

TABLES = ("accounts_journal", "accounts_ledgerentry")

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'posted ledger rows are append-only (% on % refused)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CREATE_FUNCTION, params=None)  # no params: the % in RAISE is literal
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()",
            params=None,
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}", params=None)
    schema_editor.execute("DROP FUNCTION IF EXISTS ledger_append_only()", params=None)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_internal_accounts_and_staff_groups")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
