"""Staff admin: customers (search by masked or full RRN, registration, name edits, and requests
for a manager's approval: contact changes and lifting the minor cap)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts import services
from accounts.admin.agreements import customer_agreement_links
from accounts.admin.common import (
    RRN_HITS_PARAM,
    record_personal_data_view,
    staff_user,
    won,
)
from accounts.admin.staff_requests import (
    ContactChangeRequestForm,
    StaffRequestWithIdForm,
    record_request_view,
)
from accounts.forms import (
    CustomerCreateForm,
    ResidentNumberLookupForm,
)
from accounts.models import Account, Customer, StaffRequest
from accounts.selectors import customer_search
from accounts.services import staff_requests as request_services
from bankportal.admin import (
    ReadOnlyAdminMixin,
    ResidentNumberSafeSearchMixin,
    StaffPagesMixin,
)
from bankportal.audit.services import audit_record
from bankportal.masking import mask_rrns

# --- Customers ---------------------------------------------------------------------------------


MINOR_CAP_NOTICE = _("A minor who signs up alone is capped at 1,000,000 won per transfer and 3,000,000 won a day.")
_MASKED_RRN_RE = re.compile(r"^\d{6}-\d\*{6}$")


class CustomerAccountInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Account
    fk_name = "holder"
    verbose_name = _("account")
    verbose_name_plural = _("accounts")
    fields = ("number_display", "product", "status", "balance_display", "password_locked_display", "opened_at")
    readonly_fields = fields
    show_change_link = True
    extra = 0

    @admin.display(description=_("account number"))
    def number_display(self, obj: Account) -> str:
        return obj.number_display

    @admin.display(description=_("balance"))
    def balance_display(self, obj: Account) -> str:
        return won(obj.balance)

    @admin.display(description=_("password locked"), boolean=True)
    def password_locked_display(self, obj: Account) -> bool:
        return obj.password_locked


class CustomerNameForm(forms.ModelForm):
    """The name is the only customer field staff edit directly: phone and email route one-time
    codes, so changing them is a request for a manager's approval."""

    class Meta:
        model = Customer
        fields = ["name"]


@admin.register(Customer)
class CustomerAdmin(StaffPagesMixin, ResidentNumberSafeSearchMixin, admin.ModelAdmin):
    form = CustomerNameForm
    list_display = ("name", "kind", "id_display", "phone_display", "solo_minor_cap", "created_at")
    list_filter = ("kind", "solo_minor_cap")
    # The real search is ``get_search_results``; a search field must be named for the box to show.
    search_fields = ("name",)
    search_help_text = _(
        "Name, account number, business registration number, mobile number or full resident registration number."
    )
    ordering = ("-id",)
    readonly_fields = (
        "phone_display",
        "email",
        "kind",
        "id_display",
        "brn_display",
        "birth_date",
        "legal_representative",
        "representative_relation",
        "solo_minor_cap",
        "created_at",
        "updated_at",
    )
    inlines = [CustomerAccountInline]
    add_fieldsets = (
        (None, {"fields": ("kind", "name", "phone", "email")}),
        (_("Real-name identity"), {"fields": ("rrn", "brn")}),
        (
            _("Minor registered by a legal representative"),
            {"fields": ("legal_representative", "representative_relation")},
        ),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Customer | None = None) -> Any:
        identity = ["kind", "id_display"]
        if obj is not None and obj.kind == Customer.Kind.INDIVIDUAL_BUSINESS:
            identity.append("brn_display")
        identity.append("birth_date")
        return (
            (None, {"fields": ("name", "phone_display", "email")}),
            (_("Real-name identity"), {"fields": identity}),
            (_("Minor"), {"fields": ("legal_representative", "representative_relation", "solo_minor_cap")}),
            (_("Record"), {"fields": ("created_at", "updated_at")}),
        )

    @admin.display(description=_("real-name number"))
    def id_display(self, obj: Customer) -> str:
        return obj.id_display

    @admin.display(description=_("business registration number"))
    def brn_display(self, obj: Customer) -> str:
        return obj.brn_display

    @admin.display(description=_("mobile phone"), ordering="phone")
    def phone_display(self, obj: Customer) -> str:
        phone = obj.phone
        return f"{phone[:3]}-{phone[3:-4]}-{phone[-4:]}" if len(phone) >= 10 else phone

    def has_delete_permission(self, request: HttpRequest, obj: Customer | None = None) -> bool:
        return False

    def has_staff_request_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(request_services.REQUEST_PERMISSION)

    # Search ---------------------------------------------------------------------------------

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Customer], search_term: str) -> Any:
        term = search_term.strip()
        if _MASKED_RRN_RE.match(term):
            # The masked number left in the box after an RRN search: birth date and gender digit only.
            return queryset.filter(rrn_masked=term), False
        return customer_search(term, queryset), False

    def resident_number_search_redirect(self, request: HttpRequest, term: str) -> HttpResponseRedirect:
        return self._rrn_hits_redirect(request, request.GET.copy(), term)

    def _rrn_hits_redirect(self, request: HttpRequest, params: QueryDict, term: str) -> HttpResponseRedirect:
        """Look the number up through the blind index, then show the hits by id under the masked number."""
        hits = list(customer_search(term, self.get_queryset(request)).values_list("pk", flat=True)[:50])
        audit_record(
            action="customer.rrn_lookup",
            actor=staff_user(request),
            customer_id=hits[0] if len(hits) == 1 else None,
            details={"matches": len(hits)},
        )
        for key in ("p", "e", RRN_HITS_PARAM):
            params.pop(key, None)
        params[SEARCH_VAR] = mask_rrns(term)
        # No customer has id 0: "no match" stays an empty list instead of everyone with that birth date.
        params[RRN_HITS_PARAM] = ",".join(str(pk) for pk in hits) or "0"
        return HttpResponseRedirect(f"{self._url('changelist')}?{params.urlencode()}")

    def find_by_rrn_view(self, request: HttpRequest) -> HttpResponse:
        """POST-only lookup, so the number is not in any URL, browser history or access log."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ResidentNumberLookupForm(request.POST)
        # The other changelist parameters (filters, popup) ride along as hidden fields.
        params = request.POST.copy()
        for key in ("csrfmiddlewaretoken", "rrn"):
            params.pop(key, None)
        if form.is_valid():
            return self._rrn_hits_redirect(request, params, form.cleaned_data["rrn"])
        for message in form.errors.get("rrn", []):
            self.message_user(request, str(message), messages.ERROR)
        params.pop(RRN_HITS_PARAM, None)
        return HttpResponseRedirect(f"{self._url('changelist')}?{params.urlencode()}")

    # Add and change -------------------------------------------------------------------------

    @method_decorator(sensitive_post_parameters("rrn"))
    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        def messages_for(customer: Customer, _data: dict[str, Any]) -> list[tuple[int, str]]:
            registered = _("Customer %(customer)s registered.") % {"customer": customer}
            notices = [(messages.SUCCESS, registered)]
            if customer.solo_minor_cap:
                notices.append((messages.WARNING, str(MINOR_CAP_NOTICE)))
            return notices

        return self.service_add_view(
            request,
            form=CustomerCreateForm(request.POST if request.method == "POST" else None, admin_site=self.admin_site),
            perform=lambda _data, form: services.customer_create(**form.service_kwargs(), actor=staff_user(request)),
            success_messages=messages_for,
            title=_("Register a customer"),
            fieldsets=self.add_fieldsets,
            form_url=form_url,
        )

    def save_model(self, request: HttpRequest, obj: Customer, form: forms.ModelForm, change: bool) -> None:
        if not change:  # registration is ``add_view``, through customer_create
            raise PermissionDenied
        services.customer_update_name(customer=obj, name=form.cleaned_data["name"], actor=staff_user(request))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        customer = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if customer is not None:
            extra["can_open_account"] = request.user.has_perm("accounts.add_account")
            extra["open_account_url"] = (
                reverse("admin:accounts_account_add", current_app=self.admin_site.name) + f"?customer={customer.pk}"
            )
            may_request = self.has_staff_request_permission(request)
            extra["can_request_contact_change"] = may_request
            extra["request_contact_change_url"] = self._url("request_contact_change", customer.pk)
            extra["can_lift_minor_cap"] = customer.solo_minor_cap and may_request
            extra["lift_minor_cap_url"] = self._url("lift_minor_cap", customer.pk)
            extra.update(customer_agreement_links(customer, request.user, self.admin_site.name))
            if self.has_view_or_change_permission(request, customer):
                record_personal_data_view(request, action="customer.view", obj=customer, customer_id=customer.pk)
        return super().change_view(request, object_id, form_url, extra)

    # Requests for a manager's approval (책임자 승인) -------------------------------------------

    def _request_summary(self, customer: Customer) -> list[tuple[Any, Any]]:
        return [
            (_("customer"), str(customer)),
            (_("mobile phone"), self.phone_display(customer)),
            (_("email"), customer.email or "—"),
        ]

    def lift_minor_cap_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Record a request to lift the cap; a branch manager's approval lifts it."""
        customer = self._get_viewable(request, object_id)
        return record_request_view(
            self,
            request,
            obj=customer,
            kind=StaffRequest.Kind.MINOR_CAP_LIFT,
            form_class=StaffRequestWithIdForm,
            title=_("Request: lift minor sign-up cap"),
            summary=[
                *self._request_summary(customer),
                (_("birth date"), customer.birth_date),
                (_("minor sign-up cap"), _("yes") if customer.solo_minor_cap else _("no")),
            ],
            target={"customer": customer},
        )

    def request_contact_change_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Record a request for a new mobile number or email; a branch manager's approval applies it."""
        customer = self._get_viewable(request, object_id)
        return record_request_view(
            self,
            request,
            obj=customer,
            kind=StaffRequest.Kind.CONTACT_CHANGE,
            form_class=ContactChangeRequestForm,
            title=_("Request: change mobile phone or email"),
            summary=self._request_summary(customer),
            target={"customer": customer},
        )

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("find-by-rrn/", self._wrap(require_POST(self.find_by_rrn_view)), name=f"{info}_find_by_rrn"),
            path(
                "<path:object_id>/lift-minor-cap/",
                self._wrap(self.lift_minor_cap_view),
                name=f"{info}_lift_minor_cap",
            ),
            path(
                "<path:object_id>/request-contact-change/",
                self._wrap(self.request_contact_change_view),
                name=f"{info}_request_contact_change",
            ),
            *super().get_urls(),
        ]
