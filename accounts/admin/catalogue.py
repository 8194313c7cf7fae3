"""Staff admin: deposit products and user logins."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.admin.common import (
    staff_user,
    won,
)
from accounts.models import DepositProduct, User
from bankportal.admin import ResidentNumberSafeSearchMixin
from bankportal.audit.services import audit_record

# --- Products and staff users ------------------------------------------------------------------


@admin.register(DepositProduct)
class DepositProductAdmin(ResidentNumberSafeSearchMixin, admin.ModelAdmin):
    """Branch managers edit products; each change is written to the audit trail."""

    list_display = ("code", "name_ko", "name_en", "kind", "interest_rate_display", "min_opening_display", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name_ko", "name_en")
    ordering = ("display_order", "code")

    @admin.display(description=_("interest rate (% a year)"), ordering="interest_rate_bp")
    def interest_rate_display(self, obj: DepositProduct) -> str:
        return obj.interest_rate_display

    @admin.display(description=_("minimum opening amount"), ordering="min_opening_amount")
    def min_opening_display(self, obj: DepositProduct) -> str:
        return won(obj.min_opening_amount)

    def get_readonly_fields(self, request: HttpRequest, obj: DepositProduct | None = None) -> Any:
        # The code is part of every account number already issued under the product.
        return ("code",) if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: DepositProduct | None = None) -> bool:
        return False  # take a product off sale instead; accounts keep pointing at it

    def save_model(self, request: HttpRequest, obj: DepositProduct, form: forms.ModelForm, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                action="product.change" if change else "product.create",
                actor=staff_user(request),
                obj=obj,
                details={"product": obj.code, "fields": sorted(form.changed_data)},
            )


@admin.register(User)
class UserAdmin(ResidentNumberSafeSearchMixin, DjangoUserAdmin):
    """Staff logins (superusers only by default). Changes are audited; users are deactivated, not deleted."""

    fieldsets = (*(DjangoUserAdmin.fieldsets or ()), (_("Customer"), {"fields": ("customer",)}))
    raw_id_fields = ("customer",)
    list_display = ("username", "first_name", "last_name", "is_staff", "is_active", "last_login")

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: User, form: forms.ModelForm, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                action="staff_user.change" if change else "staff_user.create",
                actor=staff_user(request),
                obj=obj,
                details={"username": obj.get_username(), "fields": sorted(form.changed_data)},
            )

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        before = set(form.instance.groups.values_list("name", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        after = set(form.instance.groups.values_list("name", flat=True))
        if before != after:
            audit_record(
                action="staff_user.groups",
                actor=staff_user(request),
                obj=form.instance,
                details={"added": sorted(after - before), "removed": sorted(before - after)},
            )

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        user = self.get_object(request, unquote(id))
        before = user.password if user is not None else None
        response = super().user_change_password(request, id, form_url)
        if user is not None and request.method == "POST":
            user.refresh_from_db(fields=["password"])
            if user.password != before:
                audit_record(action="staff_user.password_set", actor=staff_user(request), obj=user)
        return response


admin.site.unregister(Group)


@admin.register(Group)
class AuditedGroupAdmin(ResidentNumberSafeSearchMixin, GroupAdmin):
    """Staff groups (Teller, Branch manager): a change of what a role may do is itself audited."""

    def has_delete_permission(self, request: HttpRequest, obj: Group | None = None) -> bool:
        return False

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        def codes() -> set[str]:
            return {
                f"{app}.{codename}"
                for app, codename in form.instance.permissions.values_list("content_type__app_label", "codename")
            }

        before = codes() if change else set()
        super().save_related(request, form, formsets, change)
        after = codes()
        audit_record(
            action="staff_group.change" if change else "staff_group.create",
            actor=staff_user(request),
            obj=form.instance,
            details={
                "group": form.instance.name,
                "added": sorted(after - before),
                "removed": sorted(before - after),
            },
        )


# django-otp registers its device admin (searchable by user name and email) without the guard.
admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class StaffTOTPDeviceAdmin(ResidentNumberSafeSearchMixin, TOTPDeviceAdmin):
    """django-otp's TOTP device admin; a resident number typed into its search is never echoed."""
