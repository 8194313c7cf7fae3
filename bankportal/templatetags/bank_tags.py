"""Template helpers shared by every page: money formatting, bank identity, accessible form widgets.

``bankportal`` imports no app, so money formatting is done here rather than through
``accounts.money``; both give the same ``1,234,567`` shape.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.forms import BoundField
from django.utils.translation import get_language

register = template.Library()


@register.filter
def won(value: Any) -> str:
    """Whole won with thousands separators: ``1234567`` → ``1,234,567``.

    Anything that is not an integer (``None``, text, a stray float) is shown unchanged rather
    than rounded: a template must never invent an amount.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        return "" if value is None else str(value)
    return f"{value:,}"


@register.simple_tag
def bank_name() -> str:
    """The bank's name in the active language, without a request (error pages have none)."""
    return settings.BANK_NAME_EN if get_language() == "en" else settings.BANK_NAME_KO


@register.simple_tag
def bank_call_centre() -> str:
    return settings.BANK_CALL_CENTRE


@register.simple_tag
def session_idle_seconds() -> int:
    """Seconds of inactivity after which the server ends a signed-in session."""
    return int(settings.SESSION_IDLE_SECONDS)


@register.simple_tag
def field_widget(field: BoundField, describedby: str = "", invalid: bool = False) -> str:
    """Render ``field``'s input, also described by ``describedby`` (e.g. a form-wide error).

    Django links a field's own help text and errors; form-wide errors such as a failed login
    belong to every input, so they are added here and the inputs are marked invalid.
    """
    ids = [i for i in (field.aria_describedby or "", describedby) if i]
    attrs: dict[str, str | bool] = {}
    if ids:
        attrs["aria-describedby"] = " ".join(" ".join(ids).split())
    if invalid:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)


@register.filter
def localized(obj: Any, name: str) -> str:
    """``{{ notice|localized:"title" }}`` → ``notice.title_for(<active language>)``.

    Models keep Korean and English columns with ``<name>_for(language)`` helpers that fall back
    to Korean when no English text was written.
    """
    return getattr(obj, f"{name}_for")(get_language())
