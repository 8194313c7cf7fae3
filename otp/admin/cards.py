"""Staff admin: security cards (보안카드).

Tellers issue a card from the customer (``add/?customer=<id>``): the POST that issues it answers
with the printable card, the only page that ever shows the 30 codes (they are not stored in clear
and no later page can show them). Reissuing is issuing again: the old card is retired. A locked
card is unlocked only by a request that a branch manager approves (책임자 승인).
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import ManyToOneRel
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _

from accounts.admin.common import record_personal_data_view, staff_user
from accounts.admin.staff_requests import StaffRequestWithIdForm, record_request_view, refusals_on_form
from accounts.forms import StaffForm
from accounts.models import Customer, StaffRequest
from bankportal.admin import ResidentNumberSafeSearchMixin, StaffPagesMixin
from otp import securitycard as rules
from otp.models import SecurityCard
from otp.services import cards as card_services

ERR_ID_CHECK = _("Confirm that you have checked the customer's ID document.")
ERR_CARDS_CHANGED = _(
    "The customer's security card changed after this page was opened (perhaps issued twice). "
    "Check the card shown and submit again."
)
MSG_WILL_RETIRE = _("Issuing a new card retires the customer's current card %(card)s (%(status)s).")
MSG_UNLOCK_NOT_LOCKED = _("Only a locked card can be unlocked.")


class SecurityCardIssueForm(StaffForm):
    customer = forms.ModelChoiceField(label=_("customer"), queryset=Customer.objects.all())
    id_checked = forms.BooleanField(
        label=_("I have checked the customer's ID document at the branch."), error_messages={"required": ERR_ID_CHECK}
    )
    # The serial of the card the teller saw as current ("" for none): a resubmitted or
    # concurrent issue is refused instead of silently retiring the card just printed.
    replaces = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, admin_site: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if admin_site is not None:
            rel = cast(ManyToOneRel, SecurityCard._meta.get_field("customer").remote_field)
            self.fields["customer"].widget = ForeignKeyRawIdWidget(rel, admin_site)


def live_card(customer: Customer | None) -> SecurityCard | None:
    if customer is None:
        return None
    return SecurityCard.objects.filter(customer=customer, status__in=SecurityCard.LIVE_STATUSES).first()


@admin.register(SecurityCard)
class SecurityCardAdmin(StaffPagesMixin, ResidentNumberSafeSearchMixin, admin.ModelAdmin):
    list_display = ("serial_display", "customer", "status", "failures", "issued_at", "issued_by")
    list_filter = ("status",)
    list_select_related = ("customer", "issued_by")
    search_fields = ("serial", "customer__name")
    search_help_text = _("Serial number (digits only) or customer name.")
    ordering = ("-issued_at", "-id")
    # Never the codes, their ciphertext or the pending challenge.
    fields = (
        "serial_display",
        "customer",
        "status",
        "failures",
        "issued_at",
        "issued_by",
        "locked_at",
        "retired_at",
    )
    readonly_fields = fields
    change_form_template = "admin/otp/securitycard/change_form.html"
    add_fieldsets = ((None, {"fields": ("customer", "id_checked", "replaces")}),)

    @admin.display(description=_("serial number"), ordering="serial")
    def serial_display(self, obj: SecurityCard) -> str:
        return obj.serial_display

    def has_change_permission(self, request: HttpRequest, obj: SecurityCard | None = None) -> bool:
        return False  # cards change only through the services (issue, verify, unlock)

    def has_delete_permission(self, request: HttpRequest, obj: SecurityCard | None = None) -> bool:
        return False

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        # Serials are printed with hyphens; search by the digits.
        digits = search_term.replace("-", "").strip()
        if digits.isdigit():
            return queryset.filter(serial__startswith=digits), False
        return super().get_search_results(request, queryset, search_term)

    # Issue (and reissue) -------------------------------------------------------------------------

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = SecurityCardIssueForm(request.POST, admin_site=self.admin_site)
            if form.is_valid():
                issued = self._issue(request, form)
                if issued is not None:
                    return self._printable(request, issued)
            customer = form.cleaned_data.get("customer")
        else:
            customer_id = _int(request.GET.get("customer"))
            customer = Customer.objects.filter(pk=customer_id).first() if customer_id else None
            current = live_card(customer)
            form = SecurityCardIssueForm(
                initial={"customer": customer, "replaces": current.serial if current else ""},
                admin_site=self.admin_site,
            )
        current = live_card(customer)
        if current is not None:
            notice = MSG_WILL_RETIRE % {"card": current.serial_display, "status": current.get_status_display()}
            self.message_user(request, str(notice), messages.WARNING)
        return self.render_add_form(request, form, self.add_fieldsets, _("Issue a security card"), form_url)

    def _issue(self, request: HttpRequest, form: SecurityCardIssueForm) -> card_services.IssuedSecurityCard | None:
        customer = form.cleaned_data["customer"]
        current = live_card(customer)
        if (current.serial if current else "") != form.cleaned_data.get("replaces", ""):
            form.add_error(None, ValidationError(ERR_CARDS_CHANGED, code="security_card_changed"))
            # Show the card as it is now, so a second submit is a deliberate reissue.
            data = cast(QueryDict, form.data).copy()
            data["replaces"] = current.serial if current else ""
            form.data = data
            return None
        try:
            return cast(
                card_services.IssuedSecurityCard,
                refusals_on_form(
                    lambda: card_services.security_card_issue(customer=customer, actor=staff_user(request))
                ),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return None

    def _printable(self, request: HttpRequest, issued: card_services.IssuedSecurityCard) -> HttpResponse:
        """The one page with the codes: the POST response itself, never cached, never repeated."""
        card = issued.card
        self.log_addition(request, card, [{"added": {}}])
        codes = list(enumerate(issued.codes, start=1))
        rows = [codes[i : i + 5] for i in range(0, rules.CODE_COUNT, 5)]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Security card %(serial)s") % {"serial": card.serial_display},
            "card": card,
            "customer_name": card.customer.name,
            "retired": issued.retired,
            "rows": rows,
            "notice": card_services.ANTI_PHISHING_NOTICE,
            "change_url": self._url("change", card.pk),
        }
        response = TemplateResponse(request, "otp/security_card_print.html", context)
        # admin_view already adds never_cache; say it plainly for proxies and the back button too.
        response["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0, private"
        return response

    # Card page ---------------------------------------------------------------------------------

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        card = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if card is not None:
            may_issue = self.has_add_permission(request)
            extra["can_reissue"] = may_issue and card.is_live
            extra["reissue_url"] = f"{self._url('add')}?customer={card.customer_id}"
            extra["can_request_unlock"] = card.status == SecurityCard.Status.LOCKED and request.user.has_perm(
                "accounts.add_staffrequest"
            )
            extra["request_unlock_url"] = self._url("request_unlock", card.pk)
            if self.has_view_permission(request, card):
                record_personal_data_view(request, action="security_card.view", obj=card, customer_id=card.customer_id)
        return super().change_view(request, object_id, form_url, extra)

    def request_unlock_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Record a request to unlock the card; a branch manager's approval unlocks it."""
        card = self._get_viewable(request, object_id)
        if card.status != SecurityCard.Status.LOCKED:
            self.message_user(request, str(MSG_UNLOCK_NOT_LOCKED), messages.ERROR)
            return HttpResponseRedirect(self._url("change", card.pk))
        return record_request_view(
            self,
            request,
            obj=card,
            kind=StaffRequest.Kind.SECURITY_CARD_UNLOCK,
            form_class=StaffRequestWithIdForm,
            title=_("Request: unlock security card"),
            summary=[
                (_("customer"), str(card.customer)),
                (_("serial number"), card.serial_display),
                (_("status"), card.get_status_display()),
                (_("locked at"), card.locked_at),
            ],
            target={"customer": card.customer},
        )

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/request-unlock/",
                self._wrap(self.request_unlock_view),
                name=f"{info}_request_unlock",
            ),
            *super().get_urls(),
        ]


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def customer_issue_url(customer: Customer, site_name: str = "admin") -> str:
    """The issue page for ``customer`` (for links from other admin pages)."""
    return reverse("admin:otp_securitycard_add", current_app=site_name) + f"?customer={customer.pk}"
