"""Form helpers shared by every app (imports no app)."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.core.exceptions import ValidationError


def add_service_error(form: forms.Form, exc: ValidationError, field_by_code: Mapping[str, str] | None = None) -> None:
    """Attach a service's ``ValidationError`` to ``form``: by field name, or by error code.

    Errors for a field the form does not have become form-wide errors rather than crashing.
    """
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return
    for error in exc.error_list:
        target = (field_by_code or {}).get(error.code or "")
        form.add_error(target if target in form.fields else None, error)
