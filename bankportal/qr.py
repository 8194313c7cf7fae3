"""QR codes for otpauth URIs (digital OTP enrollment, staff authenticators). Imports no app, no ORM.

segno draws the code: pure Python, no Pillow, SVG and terminal output. The SVG has no text, no
script and no ``style`` attribute (the strict CSP allows none inline), and the data URI suits
``<img src>`` under ``img-src 'self' data:``. The URI carries a secret: never log or cache these.
"""

from __future__ import annotations

import io

import segno
from django.utils.safestring import SafeString, mark_safe

# Medium error correction: enough for a phone camera off a screen, a smaller code than Q or H.
ERROR_CORRECTION = "m"
SCALE = 5


def _code(uri: str) -> segno.QRCode:
    return segno.make(uri, error=ERROR_CORRECTION, micro=False)


def qr_svg(uri: str, *, scale: int = SCALE) -> SafeString:
    """Inline ``<svg>`` markup for a template; safe because segno writes only path data, no text."""
    return mark_safe(_code(uri).svg_inline(scale=scale, dark="#000", light="#fff", title=None, desc=None))  # noqa: S308


def qr_data_uri(uri: str, *, scale: int = SCALE) -> str:
    """``data:image/svg+xml,...`` for ``<img src=...>`` (CSP: ``img-src 'self' data:``)."""
    return _code(uri).svg_data_uri(scale=scale, dark="#000", light="#fff")


def qr_terminal(uri: str) -> str:
    """The code drawn with Unicode half blocks, for a management command's output (no ANSI codes)."""
    out = io.StringIO()
    _code(uri).terminal(out=out, compact=True)
    return out.getvalue()
