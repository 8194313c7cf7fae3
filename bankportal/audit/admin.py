from django.contrib import admin

from bankportal.admin import ReadOnlyAdminMixin, ResidentNumberSafeSearchMixin
from bankportal.audit.models import AuditEvent, AuditSeal


@admin.register(AuditEvent)
class AuditEventAdmin(ResidentNumberSafeSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: staff with the view permission can read the trail; nobody changes or deletes it."""

    list_display = (
        "id",
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
    ordering = ("-id",)
    readonly_fields = [f.name for f in AuditEvent._meta.fields]


@admin.register(AuditSeal)
class AuditSealAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The signed seal chain, read-only; ``audit_verify`` is what checks it."""

    list_display = ("number", "sealed_at", "first_id", "last_id", "count", "key_id")
    date_hierarchy = "sealed_at"
    ordering = ("-number",)
    readonly_fields = [f.name for f in AuditSeal._meta.fields]
