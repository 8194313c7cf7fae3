"""Small typed readers for configuration from the environment.

Each reader fails loudly (``ImproperlyConfigured``) on a value it cannot parse, so a typo in a
deployment never silently falls back to a default. ``env_secret`` also reads ``NAME_FILE`` so
secrets can come from mounted files (Docker/Kubernetes secrets).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    return (os.environ if environ is None else environ).get(name)


def env_str(name: str, default: str = "", *, environ: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ)
    return default if value is None else value


def env_bool(name: str, default: bool = False, *, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), got {value!r}")


def env_int(
    name: str,
    default: int,
    *,
    min_value: int | None = None,
    max_value: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    value = _raw(name, environ)
    if value is None or value.strip() == "":
        result = default
    else:
        try:
            result = int(value.strip(), 10)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if min_value is not None and result < min_value:
        raise ImproperlyConfigured(f"{name} must be at least {min_value}, got {result}")
    if max_value is not None and result > max_value:
        raise ImproperlyConfigured(f"{name} must be at most {max_value}, got {result}")
    return result


def env_list(name: str, default: list[str] | None = None, *, environ: Mapping[str, str] | None = None) -> list[str]:
    """Comma-separated list; blanks are dropped."""
    value = _raw(name, environ)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(
    name: str, default: str, choices: Mapping[str, str] | list[str], *, environ: Mapping[str, str] | None = None
) -> str:
    value = env_str(name, default, environ=environ).strip()
    if value not in choices:
        allowed = ", ".join(sorted(choices))
        raise ImproperlyConfigured(f"{name} must be one of {allowed}, got {value!r}")
    return value


def env_secret(name: str, default: str | None = None, *, environ: Mapping[str, str] | None = None) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE (not both)."""
    direct = _raw(name, environ)
    path = _raw(f"{name}_FILE", environ)
    if direct is not None and path is not None:
        raise ImproperlyConfigured(f"Set only one of {name} and {name}_FILE")
    if path is not None:
        try:
            with open(path, encoding="utf-8") as handle:
                content = handle.read().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc.strerror}") from None
        if not content:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} is empty")
        return content
    if direct is not None:
        if not direct.strip():
            raise ImproperlyConfigured(f"{name} is set but empty")
        return direct.strip()
    return default


def env_url(name: str, default: str = "", *, schemes: tuple[str, ...], environ: Mapping[str, str] | None = None) -> str:
    """A URL whose scheme must be one of ``schemes``; empty means unset."""
    value = env_str(name, default, environ=environ).strip()
    if not value:
        return ""
    scheme, sep, rest = value.partition("://")
    if not sep or scheme not in schemes or not rest:
        raise ImproperlyConfigured(f"{name} must be a URL starting with one of {', '.join(schemes)}, got {value!r}")
    return value
