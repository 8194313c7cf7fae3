"""Small helpers for the few services that write raw SQL (set-based sweeps, the audit sealer)."""

from __future__ import annotations

from django.db import connection, models


def is_postgres() -> bool:
    """Whether the default database is PostgreSQL (the SQLite development path is portable SQL)."""
    return connection.vendor == "postgresql"


def quoted_column(model: type[models.Model], name: str) -> str:
    """The quoted column of a concrete field, for SQL the ORM cannot express."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return connection.ops.quote_name(field.column)
