from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from bankportal.notifications.models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "channel", "to", "purpose", "subject")
    list_filter = ("channel", "purpose")
    search_fields = ("to", "purpose")
    readonly_fields = ("created_at", "channel", "to", "subject", "body", "purpose")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
