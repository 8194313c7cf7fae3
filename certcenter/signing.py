"""The canonical text a customer signs (전자서명 원문): pure, standard library only.

A signed operation (a transfer, a release) is described by named fields. Both the page that signs
and the server that verifies build the text with the same rule, so the signature covers exactly
these values and nothing that a reordering or a stray character could change:

* every key and value is normalised to Unicode NFC (a Hangul name typed as jamo and as syllables
  gives the same text);
* one ``key=value`` line per field, sorted by key (code-point order, after normalisation);
* lines joined by a single ``\\n``, with **no trailing newline**;
* the text is signed as UTF-8 bytes (RSASSA-PKCS1-v1_5 with SHA-256).

Keys are non-empty and hold no ``=``, no line break and no control character; values hold no
line break or control character (a value with a newline could forge another line). Two keys that
become equal under NFC are refused. Anything else raises ``ValueError``: the caller built the
fields, so a bad one is a programming error, not customer input.

Example: ``canonical_text({"to": "088-123", "amount": "50000"})`` is ``"amount=50000\\nto=088-123"``.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping


def _has_control(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text)


def canonical_text(fields: Mapping[str, str]) -> str:
    """The text to sign for ``fields``: sorted NFC ``key=value`` lines, no trailing newline."""
    lines: dict[str, str] = {}
    for raw_key, raw_value in fields.items():
        if not isinstance(raw_key, str) or not isinstance(raw_value, str):
            raise ValueError("canonical text fields are strings")
        key = unicodedata.normalize("NFC", raw_key)
        value = unicodedata.normalize("NFC", raw_value)
        if not key or "=" in key or _has_control(key):
            raise ValueError(f"unusable key {raw_key!r} in a canonical text")
        if _has_control(value):
            raise ValueError(f"the value of {key!r} holds a line break or control character")
        if key in lines:
            raise ValueError(f"two keys normalise to {key!r}")
        lines[key] = value
    return "\n".join(f"{key}={lines[key]}" for key in sorted(lines))


def text_sha256(text: str) -> str:
    """Hex SHA-256 of ``text`` as signed (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
