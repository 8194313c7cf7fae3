"""Signed-in session limits (idle and absolute) and the sign-in history read from the audit trail.

The server decides when a session ends; the header countdown (``static/js/site.js``) only shows
it. Every request of a signed-in user counts as activity. A request after
``SESSION_IDLE_SECONDS`` without activity, or after ``SESSION_ABSOLUTE_SECONDS`` since sign-in
however active, signs the user out and sends them to the login page with a message.
Times are Unix seconds from ``time.time()`` (JSON-serialisable in any session backend).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bankportal.audit.models import AuditEvent

STARTED_KEY = "bankportal_session_started"
ACTIVITY_KEY = "bankportal_last_activity"
PREVIOUS_SIGNIN_KEY = "bankportal_previous_signin"

MSG_IDLE_ENDED = _("You were signed out after %(minutes)d minutes without activity. Please log in again.")
MSG_LIFETIME_ENDED = _("Your session reached its maximum length of %(hours)d hours. Please log in again.")

LOGIN_ACTION = "auth.login"
LOGIN_FAILED_ACTION = "auth.login_failed"


def session_expiry_reason(*, started: float, last_activity: float, now: float) -> str | None:
    """``"idle"``, ``"lifetime"`` or ``None`` (still valid). Exactly the limit is still valid."""
    if now - started > settings.SESSION_ABSOLUTE_SECONDS:
        return "lifetime"
    if now - last_activity > settings.SESSION_IDLE_SECONDS:
        return "idle"
    return None


def seconds_left(*, started: float, now: float) -> int:
    """Seconds until the session ends if nothing more happens (activity was ``now``)."""
    return int(max(0, min(settings.SESSION_IDLE_SECONDS, started + settings.SESSION_ABSOLUTE_SECONDS - now)))


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class PreviousSignin:
    at: dt.datetime
    ip: str | None


def previous_signin(user: Any) -> PreviousSignin | None:
    """The user's successful sign-in before the latest one (the latest is the current session)."""
    events = list(
        AuditEvent.objects.filter(action=LOGIN_ACTION, actor_id=user.pk).order_by("-id").values("created_at", "ip")[:2]
    )
    if len(events) < 2:
        return None
    return PreviousSignin(at=events[1]["created_at"], ip=events[1]["ip"])


class SessionTimeoutMiddleware:
    """After ``AuthenticationMiddleware`` and ``MessageMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        now = time.time()
        if request.user.is_authenticated:
            started = _float(request.session.get(STARTED_KEY))
            last = _float(request.session.get(ACTIVITY_KEY))
            if started is not None and last is not None:
                reason = session_expiry_reason(started=started, last_activity=last, now=now)
                if reason is not None:
                    return self._end(request, reason)
                request.session[ACTIVITY_KEY] = now
                self._annotate(request, started=started, now=now)
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and request.session.get(STARTED_KEY) is None:
            # A sign-in happened during this request (or a session from before these limits).
            request.session[STARTED_KEY] = now
            request.session[ACTIVITY_KEY] = now
            previous = previous_signin(user)
            request.session[PREVIOUS_SIGNIN_KEY] = (
                {"at": previous.at.timestamp(), "ip": previous.ip} if previous is not None else None
            )
        return response

    @staticmethod
    def _annotate(request: HttpRequest, *, started: float, now: float) -> None:
        stored = request.session.get(PREVIOUS_SIGNIN_KEY)
        previous = None
        if isinstance(stored, dict) and (at := _float(stored.get("at"))) is not None:
            previous = PreviousSignin(at=dt.datetime.fromtimestamp(at, tz=dt.UTC), ip=stored.get("ip"))
        request.previous_signin = previous  # type: ignore[attr-defined]
        request.session_seconds_left = seconds_left(started=started, now=now)  # type: ignore[attr-defined]

    @staticmethod
    def _end(request: HttpRequest, reason: str) -> HttpResponse:
        logout(request)
        if reason == "idle":
            message = MSG_IDLE_ENDED % {"minutes": settings.SESSION_IDLE_SECONDS // 60}
        else:
            message = MSG_LIFETIME_ENDED % {"hours": settings.SESSION_ABSOLUTE_SECONDS // 3600}
        messages.warning(request, message)
        if request.path == reverse("session_extend"):
            return HttpResponse(status=401)  # the header script shows its own "session ended" text
        if request.path.startswith("/admin/"):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        # A form posted after the limit is not replayed: back to the login page alone.
        next_path = request.get_full_path() if request.method in ("GET", "HEAD") else ""
        return redirect_to_login(next_path, settings.LOGIN_URL)


@dataclass(frozen=True)
class SigninRecord:
    at: dt.datetime
    success: bool
    channel: str
    method: str
    ip: str | None
    browser: str


def browser_name(user_agent: str) -> str:
    """A short browser name from a user-agent string (order matters: Edge and Chrome say Safari)."""
    for marker, name in (
        ("Edg/", "Edge"),
        ("Whale/", "Whale"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ):
        if marker in user_agent:
            return name
    return str(_("Other")) if user_agent else ""


def signin_history(user: Any, *, limit: int = 20) -> list[SigninRecord]:
    """The user's recent sign-ins, newest first: successes (by actor) and failures (by the user
    name typed, which the failed event keeps in its details)."""
    events = (
        AuditEvent.objects.filter(
            Q(action=LOGIN_ACTION, actor_id=user.pk)
            | Q(action=LOGIN_FAILED_ACTION, details__username=user.get_username())
        )
        .order_by("-id")
        .values("created_at", "action", "channel", "ip", "user_agent", "details")[:limit]
    )
    return [
        SigninRecord(
            at=timezone.localtime(event["created_at"]),
            success=event["action"] == LOGIN_ACTION,
            channel=event["channel"],
            method=str((event["details"] or {}).get("method", "password")),
            ip=event["ip"],
            browser=browser_name(event["user_agent"]),
        )
        for event in events
    ]
