"""How strongly the current session was authenticated. Imports no app.

A web-member (웹회원) password login gives product information and board inquiries only; banking
needs a certificate login (joint or financial certificate). The certificate centre sets
``CERTIFICATE`` when a certificate login succeeds; until that lands nothing sets it, so every
page that needs it refuses with a clear message (the guard is real, only its key is missing).
"""

from __future__ import annotations

import enum
from typing import Any

SESSION_KEY = "bankportal_auth_level"


class Level(enum.IntEnum):
    NONE = 0
    WEB_MEMBER = 1
    CERTIFICATE = 2


def session_level(request: Any) -> Level:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return Level.NONE
    stored = request.session.get(SESSION_KEY, Level.WEB_MEMBER)
    try:
        return Level(int(stored))
    except (TypeError, ValueError):
        return Level.WEB_MEMBER


def set_session_level(request: Any, level: Level) -> None:
    """Record the level a login reached (the certificate login calls this with ``CERTIFICATE``)."""
    request.session[SESSION_KEY] = int(level)


def has_certificate_session(request: Any) -> bool:
    return session_level(request) >= Level.CERTIFICATE
