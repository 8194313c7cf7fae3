from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from bankportal.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: staff with the view permission can read the trail; nobody changes or deletes it."""

    list_display = (
        "seq",
        "created_at",
        "action",
        "actor_label",
        "customer_ref",
        "object_type",
        "object_id",
        "ip",
        "channel",
    )
    list_filter = ("action", "channel")
    search_fields = ("action", "actor_label", "object_id", "=customer_ref", "=ip")
    date_hierarchy = "created_at"
    ordering = ("-seq",)
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
