"""Money is an integer number of won (KRW has no minor unit). No floats anywhere."""

from __future__ import annotations

from typing import Any

from django.db import models


class MoneyField(models.BigIntegerField):
    """Whole won. Refuses floats and other non-integers on assignment to the database."""

    def get_prep_value(self, value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"money must be an int number of won, got {type(value).__name__}")
        return super().get_prep_value(value)


def format_won(amount: int) -> str:
    """``1234567`` → ``1,234,567``; the template adds the 원 / KRW unit per language."""
    return f"{amount:,}"
