"""Drop the chain head (appends no longer lock anything) and add the signed seal chain."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_event_content_hash_and_txid")]

    operations = [
        migrations.AlterModelOptions(
            name="auditevent",
            options={"ordering": ["-id"], "verbose_name": "audit event", "verbose_name_plural": "audit events"},
        ),
        migrations.RemoveField(model_name="auditevent", name="seq"),
        migrations.RemoveField(model_name="auditevent", name="prev_hash"),
        migrations.DeleteModel(name="AuditChainHead"),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["txid", "id"], name="audit_event_txid_id"),
        ),
        migrations.CreateModel(
            name="AuditSeal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.BigIntegerField(editable=False, unique=True)),
                ("sealed_at", models.DateTimeField(editable=False)),
                ("first_txid", models.BigIntegerField(blank=True, editable=False, null=True)),
                ("first_id", models.BigIntegerField(editable=False)),
                ("last_txid", models.BigIntegerField(blank=True, editable=False, null=True)),
                ("last_id", models.BigIntegerField(editable=False)),
                ("count", models.PositiveIntegerField(editable=False)),
                ("merkle_root", models.CharField(editable=False, max_length=64)),
                ("prev_hash", models.CharField(editable=False, max_length=64)),
                ("hash", models.CharField(editable=False, max_length=64, unique=True)),
                ("key_id", models.CharField(editable=False, max_length=16)),
                ("signature", models.CharField(editable=False, max_length=100)),
            ],
            options={
                "verbose_name": "audit seal",
                "verbose_name_plural": "audit seals",
                "ordering": ["-number"],
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("count__gt", 0)), name="audit_seal_not_empty"),
                    models.CheckConstraint(condition=models.Q(("number__gt", 0)), name="audit_seal_number_positive"),
                ],
            },
        ),
    ]
