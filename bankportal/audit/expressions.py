"""Database expressions for the audit tables (imported by migrations, so kept free of models)."""

from __future__ import annotations

from typing import Any

from django.db import models


class CurrentTransactionId(models.Func):
    """The inserting transaction's 64-bit id on PostgreSQL (``pg_current_xact_id()``), NULL elsewhere.

    Used as the column default of ``AuditEvent.txid``, so the database fills it in the same INSERT
    (no extra round trip) and returns it; SQLite has a single writer and needs none.
    """

    output_field = models.BigIntegerField()
    allowed_default = True
    template = "NULL"

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, list[Any]]:
        # Top-level transaction id even inside a savepoint; xid8 has no direct cast to bigint.
        return "pg_current_xact_id()::text::bigint", []
