"""Staff edit notices and FAQ entries here; every change is also written to the audit trail.

Public pages are where phishing notices would do the most harm, so who changed what is kept
in the tamper-evident trail, not only in Django's admin log.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from bankportal.admin import ResidentNumberSafeSearchMixin
from bankportal.audit.services import audit_record
from bankportal.content.models import FaqEntry, Inquiry, Notice
from bankportal.content.services import ANSWER_PERM, ERR_ANSWER_EMPTY, inquiry_answer


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


class InquiryAnswerForm(ModelForm):
    class Meta:
        model = Inquiry
        fields = ("answer",)

    def clean_answer(self) -> str:
        answer = str(self.cleaned_data.get("answer") or "").strip()
        if not answer:
            raise ValidationError(ERR_ANSWER_EMPTY, code="required")
        return answer


@admin.register(Inquiry)
class InquiryAdmin(ResidentNumberSafeSearchMixin, admin.ModelAdmin):
    """Staff read a customer's question and answer it; the question itself is never edited."""

    form = InquiryAnswerForm
    list_display = ("title", "author", "created_at", "is_answered_display", "answered_at")
    list_filter = (("answered_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("title", "author__username")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    readonly_fields = ("author", "created_at", "title", "body", "answered_at", "answered_by")
    fieldsets = (
        (_("Question"), {"fields": ("author", "created_at", "title", "body")}),
        (_("Answer"), {"fields": ("answer", "answered_at", "answered_by")}),
    )

    @admin.display(boolean=True, description=_("answered"))
    def is_answered_display(self, obj: Inquiry) -> bool:
        return obj.is_answered

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # customers ask on the site

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and request.user.has_perm(ANSWER_PERM)

    def save_model(self, request: HttpRequest, obj: Inquiry, form: ModelForm, change: bool) -> None:
        inquiry_answer(actor=request.user, inquiry=obj, answer=form.cleaned_data["answer"])
