"""1:1 inquiries (1:1 문의): a signed-in user asks; staff with ``content.answer_inquiry`` answer.

Each write is one transaction with its audit event. (``bankportal`` imports no app, so the actor
checks are written here rather than taken from ``accounts.services._common``.)
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bankportal.audit.services import audit_record
from bankportal.content.models import Inquiry

ERR_ANSWER_EMPTY = _("Write an answer before saving.")
ERR_TITLE_EMPTY = _("Enter a title.")
ERR_BODY_EMPTY = _("Enter your question.")
ANSWER_PERM = "content.answer_inquiry"


def _require_user(actor: Any) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", False):
        raise PermissionDenied("an authenticated actor is required")


def inquiry_create(*, actor: Any, title: str, body: str) -> Inquiry:
    """The signed-in ``actor`` asks a question; they are its author."""
    _require_user(actor)
    title, body = title.strip(), body.strip()
    if not title:
        raise ValidationError({"title": ERR_TITLE_EMPTY}, code="required")
    if not body:
        raise ValidationError({"body": ERR_BODY_EMPTY}, code="required")
    with transaction.atomic():
        inquiry = Inquiry.objects.create(author=actor, title=title, body=body)
        audit_record(action="inquiry.create", actor=actor, customer_id=getattr(actor, "customer_id", None), obj=inquiry)
    return inquiry


def inquiry_answer(*, actor: Any, inquiry: Inquiry, answer: str) -> Inquiry:
    """Staff answer (or correct their answer); the author sees it on their inquiry page."""
    _require_user(actor)
    if not actor.has_perm(ANSWER_PERM):
        raise PermissionDenied(f"missing permission {ANSWER_PERM}")
    answer = answer.strip()
    if not answer:
        raise ValidationError({"answer": ERR_ANSWER_EMPTY}, code="required")
    with transaction.atomic():
        locked = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
        first = locked.answered_at is None
        locked.answer = answer
        locked.answered_at = timezone.now()
        locked.answered_by = actor
        locked.save(update_fields=["answer", "answered_at", "answered_by"])
        audit_record(
            action="inquiry.answer" if first else "inquiry.answer_change",
            actor=actor,
            customer_id=getattr(locked.author, "customer_id", None),
            obj=locked,
        )
    return locked
