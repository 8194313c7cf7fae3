"""Sign-ins, sign-outs and failed sign-ins (customers and staff alike) go into the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from bankportal.audit.services import audit_record


def _channel(request: Any) -> str | None:
    path = getattr(request, "path", "") or ""
    return "admin" if path.startswith("/admin/") else None


@receiver(user_logged_in, dispatch_uid="audit_user_logged_in")
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # How the user signed in, for the login history: views that sign in by other means than the
    # password form (the certificate login) set ``request.signin_method`` first.
    audit_record(
        action="auth.login",
        actor=user,
        customer_id=getattr(user, "customer_id", None),
        channel=_channel(request),
        details={"method": str(getattr(request, "signin_method", "password"))},
    )


@receiver(user_logged_out, dispatch_uid="audit_user_logged_out")
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(
            action="auth.logout", actor=user, customer_id=getattr(user, "customer_id", None), channel=_channel(request)
        )


@receiver(user_login_failed, dispatch_uid="audit_user_login_failed")
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # Django has already replaced the password in ``credentials``; only the user name is kept.
    username = str(credentials.get("username", ""))[:150]
    audit_record(action="auth.login_failed", details={"username": username}, channel=_channel(request))
