"""Web members (웹회원): a ``User`` with no customer, signed up online with an ID and password.

A web member may read product information and use the 1:1 inquiry board; banking needs an
e-banking agreement and a certificate login.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from accounts.agreements import user_id_valid
from accounts.models import User
from accounts.services._common import require_actor
from bankportal.audit.services import audit_record

ERR_USERNAME_TAKEN = _("This user ID is already in use. Choose another.")
ERR_USER_ID_SHAPE = _("Use 6 to 20 lower-case letters and digits, starting with a letter.")


def web_member_create(*, actor: Any, username: str, password: str, name: str, email: str) -> User:
    """Create a web member in one transaction with its audit event.

    Raises ``ValidationError`` for a user ID of the wrong shape (the same rule as an e-banking
    login, so never a resident number), a taken one (case-insensitively) or a weak password.
    """
    require_actor(actor)
    if not user_id_valid(username):
        raise ValidationError({"username": ERR_USER_ID_SHAPE}, code="user_id_shape")
    candidate = User(username=username, first_name=name, email=email)
    validate_password(password, user=candidate)
    try:
        with transaction.atomic():
            if User.objects.filter(username__iexact=username).exists():
                raise ValidationError({"username": ERR_USERNAME_TAKEN}, code="username_taken")
            candidate.set_password(password)
            candidate.save()
            audit_record(action="web_member.create", actor=actor, obj=candidate, details={"username": username})
    except IntegrityError as error:  # a concurrent sign-up took the same ID
        raise ValidationError({"username": ERR_USERNAME_TAKEN}, code="username_taken") from error
    return candidate
