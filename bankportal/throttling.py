"""Sign-in throttling for the public site (``/login/``) and the staff admin (``/admin/login/``).

Built on django-axes (settings: "Sign-in throttling"). Two counters per failed sign-in, both kept
in the cache (Redis in production), so a flood writes no database rows:

* user name + client IP: locks after ``AXES_FAILURE_LIMIT`` failures. Keyed on the pair, so an
  attacker elsewhere cannot lock the real customer out: only that name from that address pauses.
* client IP alone: locks after ``SIGNIN_IP_FAILURE_LIMIT`` (higher) failures, whatever the names,
  against one address trying many customers.

A lock lasts ``AXES_COOLOFF_TIME`` from the failure that set it and then lifts by itself: refused
attempts while locked are not counted, so a flood cannot keep it closed. A successful sign-in
clears that user's own counter, never the per-IP one (one valid account must not reset an
address that is trying many others).

While locked, ``SignInThrottleMiddleware`` answers the sign-in POST with the lockout page before
the login view runs: no password check, no ``user_login_failed`` signal and so no audit write per
refused attempt. The lockout itself is audited once (``auth.locked_out``), when a counter reaches
its limit. ``AxesStandaloneBackend`` (first in ``AUTHENTICATION_BACKENDS``) refuses a locked pair
on any other path that calls ``authenticate``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from axes.conf import settings
from axes.handlers.cache import AxesCacheHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import (
    get_cache_timeout,
    get_client_username,
    get_credentials,
    get_failure_limit,
    get_lockout_parameters,
    get_lockout_response,
    make_cache_key_list,
)
from axes.signals import user_locked_out
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from bankportal.audit.services import audit_record

logger = logging.getLogger(__name__)

# Sign-in views whose POST is refused up front while the sender is locked out (URL names).
THROTTLED_VIEWS = frozenset({"login", "admin:login"})


@dataclass(frozen=True)
class Counter:
    key: str
    limit: int
    scope: str  # "username+ip_address" or "ip_address": what the lock applies to
    per_user: bool


class SignInThrottleHandler(AxesCacheHandler):
    """``AxesCacheHandler`` with a limit per lockout parameter (axes has one limit for all) and
    a lockout that is counted, signalled and audited once."""

    def counters(self, request: Any, credentials: dict[str, Any] | None = None) -> list[Counter]:
        username = get_client_username(request, credentials)
        values = {
            "username": username,
            "ip_address": request.axes_ip_address,
            "user_agent": request.axes_user_agent,
        }
        counters: dict[str, Counter] = {}
        for parameter in get_lockout_parameters(request, credentials):
            names = [parameter] if isinstance(parameter, str) else list(parameter)
            if not all(values.get(name) for name in names):
                # A missing part would fold this counter into another one (axes joins the parts).
                continue
            # Same key as axes builds, so ``axes_reset_ip`` and friends still clear it.
            key = make_cache_key_list([{name: values[name] for name in names}])[0]
            limit = (
                int(settings.SIGNIN_IP_FAILURE_LIMIT)
                if names == ["ip_address"]
                else get_failure_limit(request, credentials)
            )
            if key not in counters or limit < counters[key].limit:
                counters[key] = Counter(key, limit, "+".join(names), "username" in names)
        return list(counters.values())

    def _counts(self, counters: list[Counter]) -> list[tuple[Counter, int]]:
        stored = self.cache.get_many([counter.key for counter in counters])
        return [(counter, int(stored.get(counter.key, 0))) for counter in counters]

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        return max((count for _c, count in self._counts(self.counters(request, credentials))), default=0)

    def is_locked(self, request: Any, credentials: dict[str, Any] | None = None) -> bool:
        if not settings.AXES_LOCK_OUT_AT_FAILURE:
            return False
        return any(count >= counter.limit for counter, count in self._counts(self.counters(request, credentials)))

    def _increment(self, key: str, timeout: int | None) -> int:
        if self.cache.add(key, 1, timeout):
            return 1
        try:
            count = int(self.cache.incr(key))
        except ValueError:  # expired between add and incr
            self.cache.add(key, 1, timeout)
            return 1
        # The window runs from the latest counted failure; refused attempts are never counted,
        # so a lock always ends one cool-off after the failure that set it.
        self.cache.touch(key, timeout)
        return count

    def user_login_failed(self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
        if request is None:
            logger.error("sign-in throttling: user_login_failed without a request; not counted")
            return
        if getattr(request, "axes_locked_out", False) or self.is_locked(request, credentials):
            # Refused because already locked (AxesStandaloneBackend): counting it would extend
            # the lock, and the lockout was recorded when it started.
            request.axes_locked_out = True
            request.axes_credentials = credentials
            return
        if self.is_whitelisted(request, credentials):
            return
        timeout = get_cache_timeout(request)
        locked: list[str] = []
        newly_locked: list[str] = []
        for counter in self.counters(request, credentials):
            count = self._increment(counter.key, timeout)
            if count >= counter.limit:
                locked.append(counter.scope)
            if count == counter.limit:
                newly_locked.append(counter.scope)
        if locked and settings.AXES_LOCK_OUT_AT_FAILURE:
            request.axes_locked_out = True
            request.axes_credentials = credentials
        if newly_locked and settings.AXES_LOCK_OUT_AT_FAILURE:
            logger.warning("sign-in throttling: locked %s after repeated failures", ", ".join(newly_locked))
            user_locked_out.send(
                "axes",
                request=request,
                username=get_client_username(request, credentials),
                ip_address=request.axes_ip_address,
                scopes=newly_locked,
            )

    def user_logged_in(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        if not settings.AXES_RESET_ON_SUCCESS:
            return
        credentials = get_credentials(user.get_username())
        # Only the user's own counters: the per-IP count stays.
        self.cache.delete_many([c.key for c in self.counters(request, credentials) if c.per_user])

    def user_logged_out(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        return None


def signin_throttle_clear_user(request: HttpRequest, username: str) -> None:
    """Clear ``username``'s own sign-in counters for this client (never the per-IP one).

    For a flow where the customer has just proved who they are more strongly than a password does
    (the online release of a wrong-entry suspension: account password, security medium and a code
    sent to their phone), so the release is not followed by a 15-minute pause for the same person.
    """
    AxesProxyHandler.update_request(request)
    handler = AxesProxyHandler.get_implementation()
    if isinstance(handler, SignInThrottleHandler):
        credentials = get_credentials(username)
        handler.cache.delete_many([c.key for c in handler.counters(request, credentials) if c.per_user])


@receiver(user_locked_out, dispatch_uid="bankportal_signin_locked_out")
def _record_lockout(sender: Any, request: Any, username: str | None, ip_address: str | None, **kwargs: Any) -> None:
    # Once per lockout (when a counter reaches its limit), never per refused attempt.
    path = getattr(request, "path", "") or ""
    audit_record(
        action="auth.locked_out",
        details={"username": str(username or "")[:150], "scopes": list(kwargs.get("scopes", []))},
        channel="admin" if path.startswith("/admin/") else None,
    )


class SignInThrottleMiddleware:
    """Answers a sign-in POST from a locked-out sender with the lockout page before the view runs.

    Sits just before ``axes.middleware.AxesMiddleware`` (which turns a lockout set during the
    view into the same page), after the CSRF middleware, so the CSRF check runs first.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if not settings.AXES_ENABLED or request.method != "POST":
            return None
        match = request.resolver_match
        if match is None or match.view_name not in THROTTLED_VIEWS:
            return None
        credentials = get_credentials(request.POST.get(settings.AXES_USERNAME_FORM_FIELD) or None)
        if AxesProxyHandler.is_allowed(request, credentials):
            return None
        return get_lockout_response(request, None, credentials)
