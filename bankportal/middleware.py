"""Shared middleware: request context (client IP, user agent, actor) for the audit trail.

Services are called from views, the admin, commands and Celery tasks; only the first two have
a request. The context lives in a ``ContextVar`` so ``bankportal.audit.services.audit_record``
can stamp IP and user agent without every service signature carrying the request.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse


@dataclass(frozen=True)
class RequestContext:
    ip: str | None
    user_agent: str
    channel: str  # "web", "admin", "command", "task"


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("bankportal_request", default=None)


def client_ip(request: HttpRequest) -> str | None:
    """The client address. Behind the proxy (``SECURE_PROXY_SSL_HEADER`` set) trust the last
    hop of X-Forwarded-For, which our own proxy appends; otherwise REMOTE_ADDR."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:45]
    return (request.META.get("REMOTE_ADDR") or None) and request.META["REMOTE_ADDR"][:45]


def current_context() -> RequestContext | None:
    return _current.get()


@contextmanager
def use_context(context: RequestContext) -> Iterator[None]:
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        channel = "admin" if request.path.startswith("/admin/") else "web"
        context = RequestContext(
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
            channel=channel,
        )
        with use_context(context):
            return self.get_response(request)
