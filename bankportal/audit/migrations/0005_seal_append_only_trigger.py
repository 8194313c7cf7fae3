"""On PostgreSQL the database refuses UPDATE and DELETE on audit seals too (as 0002 does for events).

A superuser can still get past it; the seal signatures (made with a key the database does not
hold) and the exported seal file are what catch that.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION audit_seal_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit seals are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_seal_append_only
    BEFORE UPDATE OR DELETE ON audit_auditseal
    FOR EACH ROW EXECUTE FUNCTION audit_seal_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_seal_append_only ON audit_auditseal;
DROP FUNCTION IF EXISTS audit_seal_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)  # no params: the % in RAISE is literal


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_seal_chain")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
