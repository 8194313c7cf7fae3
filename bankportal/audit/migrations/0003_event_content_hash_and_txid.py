"""Events stop chaining onto each other: each keeps a hash of its own content and its transaction id.

The legacy chain (``seq``/``prev_hash``, one locked head row) is verified first and the migration
refuses to run if it is broken, so converting it never launders an earlier tampering. Then each
row's ``hash`` is rewritten to the content hash that ``audit_seal`` will seal; the append-only
trigger is switched off for exactly that UPDATE, inside this migration's transaction.
"""

import hashlib
import json

from django.db import migrations, models

import bankportal.audit.expressions
from bankportal.audit.chain import content_hash, event_content

LEGACY_GENESIS = "0" * 64


def _legacy_hash(prev_hash, content):
    # Frozen copy of the old ``chain.event_hash``.
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + body).hexdigest()


def _legacy_content(event):
    return {"seq": event.seq, **event_content(event)}


def rehash_events(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    db = schema_editor.connection.alias
    expected_prev, expected_seq = LEGACY_GENESIS, 1
    rewritten = []
    for event in AuditEvent.objects.using(db).order_by("seq").iterator(chunk_size=2000):
        if (
            event.seq != expected_seq
            or event.prev_hash != expected_prev
            or _legacy_hash(event.prev_hash, _legacy_content(event)) != event.hash
        ):
            raise RuntimeError(
                f"the legacy audit chain is broken at seq {expected_seq}; run the previous release's "
                "audit_verify and investigate before migrating"
            )
        expected_prev, expected_seq = event.hash, expected_seq + 1
        event.hash = content_hash(event_content(event))
        rewritten.append(event)
    head = AuditChainHead.objects.using(db).filter(id=1).first()
    last_seq = head.last_seq if head else 0
    if last_seq != expected_seq - 1 or (head and head.last_hash != expected_prev):
        raise RuntimeError("the legacy audit chain head does not match its last event (rows removed?)")
    if not rewritten:
        return
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
    AuditEvent.objects.using(db).bulk_update(rewritten, ["hash"], batch_size=1000)
    if postgres:
        schema_editor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="txid",
            field=models.BigIntegerField(
                blank=True,
                db_default=bankportal.audit.expressions.CurrentTransactionId(),
                editable=False,
                null=True,
                verbose_name="transaction id",
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(editable=False, max_length=64),
        ),
        migrations.RunPython(rehash_events, migrations.RunPython.noop, elidable=False),
    ]
