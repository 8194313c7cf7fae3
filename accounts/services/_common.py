"""What every accounts service shares: the actor rules and the audit call."""

from __future__ import annotations

from typing import Any, TypeAlias

from django.core.exceptions import PermissionDenied

from accounts.models import User
from bankportal.actors import SystemActor

# A staff user, a customer's user, or a named system actor (jobs, commands). Never None.
Actor: TypeAlias = User | SystemActor


def require_actor(actor: Any) -> None:
    """Refuse an anonymous call: every service states who acts."""
    if isinstance(actor, SystemActor):
        return
    if actor is None or not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", False):
        raise PermissionDenied("an authenticated actor is required")


def require_perm(actor: Any, perm: str) -> None:
    """Defence in depth: the admin checks permissions too, but a service never trusts its caller."""
    require_actor(actor)
    if not actor.has_perm(perm):
        raise PermissionDenied(f"missing permission {perm}")


def is_staff_actor(actor: Any) -> bool:
    return isinstance(actor, User) and actor.is_authenticated and actor.is_staff


def require_not_own_record(actor: Any, customer_id: int | None) -> None:
    """Staff never process their own customer record (직무 분리)."""
    if is_staff_actor(actor) and customer_id is not None and actor.customer_id == customer_id:
        raise PermissionDenied("staff cannot act on their own customer record")


def require_customer_or_perm(
    actor: Any, customer_id: int | None, perm: str, *, staff_perm: str | None = None, refusal: str = ""
) -> None:
    """The customer's own user, or staff / a system actor holding ``perm`` (``staff_perm`` for staff,
    when counter staff need a different right); staff never on their own customer record.

    Raises ``PermissionDenied`` (with ``refusal`` as its text) for anyone else.
    """
    require_actor(actor)
    if isinstance(actor, SystemActor):
        allowed = actor.has_perm(perm)
    elif is_staff_actor(actor):
        require_not_own_record(actor, customer_id)
        allowed = actor.has_perm(staff_perm or perm)
    else:
        allowed = customer_id is not None and actor.customer_id == customer_id
    if not allowed:
        raise PermissionDenied(refusal or "this actor may not act for this customer")


def user_or_none(actor: Any) -> User | None:
    """The user to store as ``created_by``; a system actor is recorded by name in the audit trail."""
    return actor if isinstance(actor, User) and actor.is_authenticated else None
