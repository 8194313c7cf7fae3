"""How strongly the current session was authenticated. Imports no app.

A web-member (웹회원) password login gives product information and board inquiries only; banking
needs a certificate login (joint or financial certificate). The certificate centre sets
``CERTIFICATE`` when a certificate login succeeds; until that lands nothing sets it, so every
page that needs it refuses with a clear message (the guard is real, only its key is missing).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

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


ERR_BANKING_NEEDS_CERTIFICATE = _(
    "Banking pages need a certificate login. You are signed in with your user ID and password, which "
    "gives product information and board inquiries only. Log in with your joint certificate or your "
    "financial certificate in the certificate centre (no certificate yet? issue one there)."
)


def banking_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Guard for every banking page (accounts, history, transfers).

    Anonymous visitors go to the login page; a web-member (password) session gets a translated
    403 page explaining that banking needs a certificate login; a certificate session passes.
    """

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        level = session_level(request)
        if level is Level.NONE:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        if level < Level.CERTIFICATE:
            return render(
                request, "registration/banking_refused.html", {"message": ERR_BANKING_NEEDS_CERTIFICATE}, status=403
            )
        return view(request, *args, **kwargs)

    return guarded
