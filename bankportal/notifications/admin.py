"""Read-only staff views of queued notifications and of the development inbox.

Who sees what: the changelists need the model's view permission (granted to branch managers, not
tellers). Bodies and subjects carry one-time codes, account numbers and amounts, so every digit in
them is shown as ``*`` unless the user also holds ``notifications.view_notification_body``. Every
body is masked, not only those whose purpose names a code: the purpose is a label the caller chose,
and one mislabelled code must not leak. Searching never looks inside bodies, and a resident number
typed into the search box is never echoed.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from bankportal.admin import ReadOnlyAdminMixin, ResidentNumberSafeSearchMixin
from bankportal.notifications.models import Notification, OutboxMessage

BODY_PERMISSION = "notifications.view_notification_body"
_DIGIT = re.compile(r"\d")


def mask_digits(text: str) -> str:
    """``'인증번호 123456'`` → ``'인증번호 ******'``."""
    return _DIGIT.sub("*", text or "")


def can_read_bodies(request: HttpRequest) -> bool:
    return request.user.has_perm(BODY_PERMISSION)


class _MaskedMessageAdmin(ResidentNumberSafeSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    search_fields = ("to", "purpose")
    message_fields: tuple[str, ...] = ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        if can_read_bodies(request):
            return list(self.message_fields)
        return [f"masked_{name}" if name in ("subject", "body") else name for name in self.message_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        return self.get_fields(request, obj)

    def get_list_display(self, request: HttpRequest) -> list[str]:  # type: ignore[override]
        fields = [str(field) for field in self.list_display]
        return fields if can_read_bodies(request) else [f"masked_{f}" if f == "subject" else f for f in fields]

    @admin.display(description=_("subject"))
    def masked_subject(self, obj: Any) -> str:
        return mask_digits(obj.subject)

    @admin.display(description=_("body"))
    def masked_body(self, obj: Any) -> str:
        return mask_digits(obj.body)


@admin.register(Notification)
class NotificationAdmin(_MaskedMessageAdmin):
    list_display = ("created_at", "channel", "to", "purpose", "subject", "state", "attempts", "next_attempt_at")
    list_filter = ("state", "channel", "purpose")
    date_hierarchy = "created_at"
    message_fields = (
        "created_at",
        "channel",
        "to",
        "purpose",
        "subject",
        "body",
        "state",
        "attempts",
        "last_error",
        "next_attempt_at",
        "claimed_at",
        "sent_at",
        "key",
    )


@admin.register(OutboxMessage)
class OutboxMessageAdmin(_MaskedMessageAdmin):
    list_display = ("created_at", "channel", "to", "purpose", "subject")
    list_filter = ("channel", "purpose")
    message_fields = ("created_at", "channel", "to", "subject", "body", "purpose")
