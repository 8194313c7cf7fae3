"""Staff edit notices and FAQ entries here; every change is also written to the audit trail.

Public pages are where phishing notices would do the most harm, so who changed what is kept
in the tamper-evident trail, not only in Django's admin log.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models, transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from bankportal.admin import ResidentNumberSafeSearchMixin
from bankportal.audit.services import audit_record
from bankportal.content.models import FaqEntry, Notice


class AuditedContentAdmin(ResidentNumberSafeSearchMixin, admin.ModelAdmin):
    audit_prefix = ""

    def save_model(self, request: HttpRequest, obj: models.Model, form: ModelForm, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                action=f"{self.audit_prefix}_{'change' if change else 'create'}",
                actor=request.user,
                obj=obj,
                details={"fields": sorted(form.changed_data)},
            )

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        with transaction.atomic():
            audit_record(action=f"{self.audit_prefix}_delete", actor=request.user, obj=obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            for obj in queryset:
                audit_record(action=f"{self.audit_prefix}_delete", actor=request.user, obj=obj)
            super().delete_queryset(request, queryset)


@admin.register(Notice)
class NoticeAdmin(AuditedContentAdmin):
    audit_prefix = "content_notice"
    list_display = ("title_ko", "title_en", "is_pinned", "is_published", "published_at", "updated_at")
    list_display_links = ("title_ko",)
    list_filter = ("is_published", "is_pinned", "published_at")
    search_fields = ("title_ko", "title_en", "body_ko", "body_en")
    date_hierarchy = "published_at"
    ordering = ("-is_pinned", "-published_at", "-id")
    readonly_fields = ("updated_at",)
    fieldsets = (
        (_("Korean"), {"fields": ("title_ko", "body_ko")}),
        (_("English"), {"fields": ("title_en", "body_en")}),
        (_("Publication"), {"fields": ("is_published", "published_at", "is_pinned", "updated_at")}),
    )


@admin.register(FaqEntry)
class FaqEntryAdmin(AuditedContentAdmin):
    audit_prefix = "content_faq"
    list_display = ("question_ko", "category", "display_order", "is_published", "published_at")
    list_display_links = ("question_ko",)
    list_editable = ("display_order",)
    list_filter = ("category", "is_published")
    search_fields = ("question_ko", "question_en", "answer_ko", "answer_en")
    ordering = ("category", "display_order", "id")
    fieldsets = (
        (None, {"fields": ("category", "display_order")}),
        (_("Korean"), {"fields": ("question_ko", "answer_ko")}),
        (_("English"), {"fields": ("question_en", "answer_en")}),
        (_("Publication"), {"fields": ("is_published", "published_at")}),
    )
