"""Who acts: a staff user, a customer's user, or a named system actor for jobs and commands.

Every service takes an explicit ``actor`` and checks what it may do; there is no ``actor=None``
path that skips the check. A job or management command acts as a :class:`SystemActor` that names
itself (so the audit trail says which job did what) and carries exactly the permissions it was
given. Imports no app.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SystemActor:
    """A job or command acting on its own authority, with an explicit permission set."""

    name: str
    permissions: frozenset[str] = field(default_factory=frozenset)

    # Duck-types the parts of ``User`` that services and the audit trail read.
    is_authenticated = False
    is_staff = False
    is_active = True
    pk = None
    customer_id = None

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return perm in self.permissions

    def get_username(self) -> str:
        return f"system:{self.name}"

    def __str__(self) -> str:
        return self.get_username()


def system_actor(name: str, permissions: Iterable[str] = ()) -> SystemActor:
    if not name or not name.replace("_", "").replace("-", "").replace(":", "").isalnum():
        raise ValueError(f"a system actor needs a plain name, got {name!r}")
    return SystemActor(name=name, permissions=frozenset(permissions))


def is_system_actor(actor: Any) -> bool:
    return isinstance(actor, SystemActor)
