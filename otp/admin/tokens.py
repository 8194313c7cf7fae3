"""Staff admin: OTP tokens (the registry) and customers' OTP registrations at this bank.

The registry is read-only here (vendor files come in through ``import_otp_tokens``) and never
shows a seed. Tellers register a token to a customer (``add/?customer=<id>``), record an accident
report (사고신고) and request the unlock of a locked token, which a branch manager approves in the
staff request queue (책임자 승인). Every step calls ``otp.services``, which checks and audits.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.db.models import ManyToOneRel
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from accounts.admin.common import record_personal_data_view, staff_user
from accounts.admin.staff_requests import StaffRequestWithIdForm, record_request_view, refusals_on_form
from accounts.forms import StaffForm
from accounts.models import Customer, StaffRequest
from bankportal.admin import ReadOnlyAdminMixin, ResidentNumberSafeSearchMixin, StaffPagesMixin
from otp.models import OtpRegistration, OtpToken
from otp.services import tokens as token_services

ERR_ID_CHECK = _("Confirm that you have checked the customer's ID document.")
MSG_REGISTERED = _("OTP %(serial)s registered for %(customer)s.")
MSG_ACCIDENT = _("Accident report recorded: OTP %(serial)s is blocked at every institution.")
MSG_NOT_ACTIVE = _("Only an active OTP registration can be reported or unlocked.")
MSG_NOT_LOCKED = _("Only a locked OTP can be unlocked.")


def _id_checked() -> forms.BooleanField:
    return forms.BooleanField(
        label=_("I have checked the customer's ID document at the branch."), error_messages={"required": ERR_ID_CHECK}
    )


class OtpRegisterForm(StaffForm):
    customer = forms.ModelChoiceField(label=_("customer"), queryset=Customer.objects.all())
    serial = forms.CharField(
        label=_("serial number"), max_length=30, help_text=_("As printed on the back of the device.")
    )
    id_checked = _id_checked()

    FIELD_BY_CODE = {
        f"otp_{result.value}": "serial"
        for result in (
            token_services.OtpResult.UNKNOWN_SERIAL,
            token_services.OtpResult.NOT_REGISTRABLE,
            token_services.OtpResult.LOCKED,
            token_services.OtpResult.ACCIDENT_REPORTED,
            token_services.OtpResult.WARRANTY_EXPIRED,
            token_services.OtpResult.IN_USE,
            token_services.OtpResult.ALREADY_REGISTERED,
        )
    }

    def __init__(self, *args: Any, admin_site: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if admin_site is not None:
            rel = cast(ManyToOneRel, OtpRegistration._meta.get_field("customer").remote_field)
            self.fields["customer"].widget = ForeignKeyRawIdWidget(rel, admin_site)


class OtpAccidentForm(StaffForm):
    id_checked = _id_checked()


@admin.register(OtpToken)
class OtpTokenAdmin(ReadOnlyAdminMixin, ResidentNumberSafeSearchMixin, admin.ModelAdmin):
    """The registry: serial, kind, issuer, status and the shared error counter; never the seed."""

    list_display = ("serial", "kind", "issuer", "vendor", "status", "error_count", "warranty_until")
    list_filter = ("kind", "status", "issuer")
    search_fields = ("serial",)
    search_help_text = _("Serial number.")
    fields = (
        "serial",
        "vendor",
        "kind",
        "issuer",
        "step_seconds",
        "status",
        "error_count",
        "last_used_at",
        "warranty_until",
        "locked_at",
        "accident_reported_at",
        "created_at",
    )
    readonly_fields = fields

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        serial = token_services.normalise_serial(search_term)
        if serial:
            return queryset.filter(serial__startswith=serial), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(OtpRegistration)
class OtpRegistrationAdmin(StaffPagesMixin, ResidentNumberSafeSearchMixin, admin.ModelAdmin):
    list_display = ("token", "customer", "status", "token_status", "channel", "registered_at", "registered_by")
    list_filter = ("status", "channel")
    list_select_related = ("token", "customer", "registered_by")
    search_fields = ("token__serial", "customer__name")
    search_help_text = _("Serial number or customer name.")
    fields = (
        "customer",
        "token",
        "token_status",
        "token_errors",
        "status",
        "channel",
        "registered_at",
        "registered_by",
        "ended_at",
    )
    readonly_fields = fields
    change_form_template = "admin/otp/otpregistration/change_form.html"
    add_fieldsets = ((None, {"fields": ("customer", "serial", "id_checked")}),)

    @admin.display(description=_("token status"))
    def token_status(self, obj: OtpRegistration) -> str:
        return obj.token.get_status_display()

    @admin.display(description=_("consecutive errors"))
    def token_errors(self, obj: OtpRegistration) -> int:
        return obj.token.error_count

    def has_change_permission(self, request: HttpRequest, obj: OtpRegistration | None = None) -> bool:
        return False  # registrations change only through the services

    def has_delete_permission(self, request: HttpRequest, obj: OtpRegistration | None = None) -> bool:
        return False

    # Register a token to a customer --------------------------------------------------------------

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "POST":
            form = OtpRegisterForm(request.POST, admin_site=self.admin_site)
        else:
            form = OtpRegisterForm(initial={"customer": _int(request.GET.get("customer"))}, admin_site=self.admin_site)

        def perform(data: dict[str, Any], _form: forms.Form) -> OtpRegistration:
            return cast(
                OtpRegistration,
                refusals_on_form(
                    lambda: token_services.otp_register_at_branch(
                        customer=data["customer"], serial=data["serial"], actor=staff_user(request)
                    )
                ),
            )

        return self.service_add_view(
            request,
            form=form,
            perform=perform,
            success_messages=lambda registration, data: [
                (
                    messages.SUCCESS,
                    str(MSG_REGISTERED % {"serial": registration.token.serial, "customer": data["customer"]}),
                )
            ],
            title=_("Register an OTP to a customer"),
            fieldsets=self.add_fieldsets,
            form_url=form_url,
        )

    # A registration's page -----------------------------------------------------------------------

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        registration = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if registration is not None:
            active = registration.status == OtpRegistration.Status.ACTIVE
            extra["can_report_accident"] = active and request.user.has_perm(token_services.ACCIDENT_PERMISSION)
            extra["accident_url"] = self._url("accident", registration.pk)
            extra["can_request_unlock"] = (
                active
                and registration.token.status == OtpToken.Status.LOCKED
                and request.user.has_perm("accounts.add_staffrequest")
            )
            extra["request_unlock_url"] = self._url("request_unlock", registration.pk)
            extra["can_register"] = not active and self.has_add_permission(request)
            extra["register_url"] = f"{self._url('add')}?customer={registration.customer_id}"
            if self.has_view_permission(request, registration):
                record_personal_data_view(
                    request, action="otp_registration.view", obj=registration, customer_id=registration.customer_id
                )
        return super().change_view(request, object_id, form_url, extra)

    def _summary(self, registration: OtpRegistration) -> list[tuple[Any, Any]]:
        return [
            (_("customer"), str(registration.customer)),
            (_("serial number"), registration.token.serial),
            (_("kind"), registration.token.get_kind_display()),
            (_("status"), registration.get_status_display()),
            (_("token status"), registration.token.get_status_display()),
        ]

    def accident_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Record the customer's accident report (사고신고): the token is blocked at once, everywhere."""
        self._require_perm(request, token_services.ACCIDENT_PERMISSION)
        registration = self._get_viewable(request, object_id)
        if registration.status != OtpRegistration.Status.ACTIVE:
            self.message_user(request, str(MSG_NOT_ACTIVE), messages.ERROR)
            return HttpResponseRedirect(self._url("change", registration.pk))

        def perform(_data: dict[str, Any]) -> OtpRegistration:
            return cast(
                OtpRegistration,
                refusals_on_form(
                    lambda: token_services.otp_accident_report(
                        customer=registration.customer,
                        actor=staff_user(request),
                        channel=OtpRegistration.Channel.BRANCH,
                    )
                ),
            )

        return self.staff_task_view(
            request,
            obj=registration,
            form_class=OtpAccidentForm,
            perform=perform,
            success_message=lambda reported, _data: str(MSG_ACCIDENT % {"serial": reported.token.serial}),
            title=_("Record an OTP accident report"),
            submit_label=_("Block the OTP"),
            summary=lambda: self._summary(registration),
        )

    def request_unlock_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Record a request to unlock the token; a branch manager's approval unlocks it."""
        registration = self._get_viewable(request, object_id)
        if registration.status != OtpRegistration.Status.ACTIVE or registration.token.status != OtpToken.Status.LOCKED:
            self.message_user(request, str(MSG_NOT_LOCKED), messages.ERROR)
            return HttpResponseRedirect(self._url("change", registration.pk))
        return record_request_view(
            self,
            request,
            obj=registration,
            kind=StaffRequest.Kind.OTP_UNLOCK,
            form_class=StaffRequestWithIdForm,
            title=_("Request: unlock OTP"),
            summary=self._summary(registration),
            target={"customer": registration.customer},
        )

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/accident/", self._wrap(self.accident_view), name=f"{info}_accident"),
            path(
                "<path:object_id>/request-unlock/", self._wrap(self.request_unlock_view), name=f"{info}_request_unlock"
            ),
            *super().get_urls(),
        ]


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
