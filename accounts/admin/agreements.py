"""Staff admin: e-banking agreements (전자금융 약정) at the branch.

The add page is the branch application: the teller picks the customer (or comes from the customer
page with ``?customer=<id>``), ticks the customer's own withdrawal accounts and the documents this
customer's kind needs, and sees the customer's security medium; without a usable one the
application is blocked with links to issue a card or register an OTP. Success leads to the
printable receipt with the registration deadline. An agreement's page offers, by state and
permission: print the receipt (applied), suspend (active), request a release for a branch
manager's approval (suspended; 책임자 승인 in the staff request queue) and terminate.

Every change goes through ``accounts.services.agreements``, which checks the rules and the
permission again and writes the audit event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import ForeignKey, ManyToOneRel
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts import ages, services
from accounts import agreements as rules
from accounts.accountnumbers import masked as mask_account_number
from accounts.admin.common import record_personal_data_view, staff_user
from accounts.admin.staff_requests import StaffRequestReasonForm, open_request, record_request_view, refusals_on_form
from accounts.forms import StaffForm
from accounts.models import Account, Agreement, Customer, StaffRequest
from accounts.services import agreements as agreement_services
from accounts.services import staff_requests as request_services
from bankportal.admin import Label, ReadOnlyAdminMixin, ResidentNumberSafeSearchMixin, StaffPagesMixin
from bankportal.forms import add_service_error
from bankportal.timeutil import kst_now, kst_today
from otp.selectors import customer_active_otp, customer_live_security_card, customer_security_media

# The customer's online registration page (built in the web app); printed on the receipt.
EBANKING_REGISTER_PATH = "/ebanking/register/"

VIEW_PERMISSION = "accounts.view_agreement"

DOCUMENT_LABELS: dict[str, Promise] = {
    rules.Document.RESIDENT_CARD: _("resident registration card"),
    rules.Document.DRIVER_LICENCE: _("driver's licence"),
    rules.Document.PASSPORT: _("passport"),
    rules.Document.BUSINESS_REGISTRATION: _("business registration certificate (copy)"),
    rules.Document.REPRESENTATIVE_ID: _("representative's ID"),
    rules.Document.BANKBOOK: _("bankbook"),
    rules.Document.BANKBOOK_SEAL: _("bankbook seal"),
    rules.Document.BASIC_CERTIFICATE: _("minor's basic certificate"),
    rules.Document.FAMILY_RELATION_CERTIFICATE: _("family relation certificate or guardianship proof"),
    rules.Document.MINOR_CONSENT_FORM: _("minor e-finance consent form"),
}
REQUIREMENT_LABELS: dict[str, Promise] = {
    rules.ID_DOCUMENT: _("one ID document (resident registration card, driver's licence or passport)"),
    **DOCUMENT_LABELS,
}

ERR_NO_SECURITY_MEDIUM = _(
    "The customer has no usable security medium. Issue a security card or register an OTP first, "
    "then take the application."
)
ERR_SIGNATURE = _("Confirm that the application form is signed or sealed.")
ERR_IDENTITY_CHECK = _("Confirm that you have verified the customer's identity.")
ERR_NO_SUCH_CUSTOMER = _("No such customer. Choose the customer again.")
MSG_APPLIED = _("E-banking application taken for %(customer)s. Print the receipt and hand it to the customer.")
MSG_APPLIED_ALONE = _(
    "The customer is 18 and applied alone: marked 'minor signed up alone' (transfers capped at 1,000,000 won "
    "each and 3,000,000 won a day)."
)
MSG_SUSPENDED = _("The e-banking agreement is suspended.")
MSG_TERMINATED = _("The e-banking agreement is terminated.")
MSG_RECEIPT_ONLY_APPLIED = _("A receipt is printed only for an application awaiting online registration.")
MSG_NOT_ACTIVE = _("Only an active agreement can be suspended.")
MSG_NOT_SUSPENDED = _("Only a suspended agreement can be released.")
MSG_RELEASE_PENDING = _("A release request (%(request)s) is already waiting for a branch manager.")
MSG_ALREADY_TERMINATED = _("This agreement is already terminated.")


def document_label(value: str) -> str:
    return str(REQUIREMENT_LABELS.get(value, value))


def represented_minor(customer: Customer) -> bool:
    """As ``agreement_apply`` decides it: a minor individual with a legal representative on record."""
    return (
        customer.kind == Customer.Kind.INDIVIDUAL
        and customer.is_minor(kst_today())
        and customer.legal_representative_id is not None
    )


def usable_security_medium(customer: Customer) -> bool:
    """An active OTP here, or an active security card (what online registration will ask for)."""
    if customer_active_otp(customer.pk) is not None:
        return True
    card = customer_live_security_card(customer.pk)
    return card is not None and card.status == card.Status.ACTIVE


# --- Forms (input shape only; the services decide) ----------------------------------------------


class CustomerChoiceForm(StaffForm):
    customer = forms.ModelChoiceField(
        label=_("customer"),
        queryset=Customer.objects.all(),
        error_messages={"invalid_choice": ERR_NO_SUCH_CUSTOMER},
    )

    def __init__(self, *args: Any, admin_site: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if admin_site is not None:
            rel = cast(ManyToOneRel, cast(ForeignKey[Any, Any], Agreement._meta.get_field("customer")).remote_field)
            self.fields["customer"].widget = ForeignKeyRawIdWidget(rel, admin_site)


class AgreementApplyForm(StaffForm):
    """The application for one customer: the account and document choices follow the customer."""

    customer = forms.ModelChoiceField(queryset=Customer.objects.all(), widget=forms.HiddenInput)
    # Validated against every customer account, so a foreign one reaches the service, which
    # refuses it with a message naming the account; only the customer's own are offered.
    withdrawal_accounts = forms.ModelMultipleChoiceField(
        label=_("withdrawal accounts"),
        queryset=Account.objects.filter(kind=Account.Kind.CUSTOMER),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": agreement_services.ERR_NO_WITHDRAWAL_ACCOUNT},
    )
    documents = forms.MultipleChoiceField(
        label=_("documents checked"), widget=forms.CheckboxSelectMultiple, required=False
    )
    one_parent_applies = forms.BooleanField(
        label=_("One parent applies for both parents"),
        required=False,
        help_text=_("Then the minor e-finance consent form is required too."),
    )
    signature_taken = forms.BooleanField(
        label=_("The application form is signed or sealed."), error_messages={"required": ERR_SIGNATURE}
    )

    FIELD_BY_CODE = {
        "no_withdrawal_account": "withdrawal_accounts",
        "account_not_customers": "withdrawal_accounts",
        "account_not_active": "withdrawal_accounts",
        "documents_missing": "documents",
        "document_unknown": "documents",
    }

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"customer": customer.pk})
        super().__init__(*args, **kwargs)
        self.applicant = customer
        self.represented = represented_minor(customer)
        accounts = self.fields["withdrawal_accounts"]
        own = Account.objects.filter(
            kind=Account.Kind.CUSTOMER, holder=customer, status=Account.Status.ACTIVE
        ).order_by("number")
        accounts.widget.choices = [(account.pk, account.number_display) for account in own]
        cast(forms.MultipleChoiceField, self.fields["documents"]).choices = self._document_choices()
        if not self.represented:
            del self.fields["one_parent_applies"]

    def _document_choices(self) -> list[tuple[Any, Any]]:
        def group(values: Sequence[str]) -> list[tuple[str, str]]:
            return [(value, str(DOCUMENT_LABELS[value])) for value in values]

        ids = [rules.Document.RESIDENT_CARD, rules.Document.DRIVER_LICENCE, rules.Document.PASSPORT]
        heading = _("Legal representative's ID (one of)") if self.represented else _("ID document (one of)")
        choices: list[tuple[Any, Any]] = [(str(heading), group(ids))]
        if self.applicant.is_business:
            business = [str(document) for document in rules.required_documents(kind=self.applicant.kind)[1:]]
            choices.append((str(_("Business documents (all required)")), group(business)))
        if self.represented:
            minor = [
                rules.Document.BASIC_CERTIFICATE,
                rules.Document.FAMILY_RELATION_CERTIFICATE,
                rules.Document.MINOR_CONSENT_FORM,
            ]
            choices.append((str(_("Minor's documents")), group(minor)))
        return choices

    def required(self, *, one_parent: bool = False) -> list[str]:
        return rules.required_documents(
            kind=self.applicant.kind, represented_minor=self.represented, one_parent_applies=one_parent
        )


class AgreementSuspendForm(StaffForm):
    reason = forms.ChoiceField(
        label=_("suspension reason"),
        choices=[
            (Agreement.SuspensionReason.CUSTOMER_REQUEST.value, Agreement.SuspensionReason.CUSTOMER_REQUEST.label),
            (Agreement.SuspensionReason.STAFF.value, Agreement.SuspensionReason.STAFF.label),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("note"), max_length=200, required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60})
    )
    FIELD_BY_CODE = {"reason_unknown": "reason", "reason_automatic": "reason"}


class AgreementReleaseRequestForm(StaffRequestReasonForm):
    channel = forms.ChoiceField(
        label=_("how the customer asked"),
        choices=[("branch", _("At the branch, with the agreement documents")), ("phone", _("By phone"))],
        initial="branch",
        widget=forms.RadioSelect,
        help_text=_("A release by phone is only for individual customers aged 14 or more."),
    )
    identity_checked = forms.BooleanField(
        label=_("I have verified the customer's identity (ID document at the branch, or the phone-centre check)."),
        error_messages={"required": ERR_IDENTITY_CHECK},
    )

    field_order = ["channel", "reason", "identity_checked"]
    FIELD_BY_CODE = {
        **StaffRequestReasonForm.FIELD_BY_CODE,
        "release_channel": "channel",
        "phone_release_age": "channel",
    }

    @staticmethod
    def payload(data: Mapping[str, Any]) -> dict[str, Any]:
        return {"channel": data["channel"]}


class AgreementTerminateForm(StaffForm):
    reason = forms.CharField(
        label=_("reason"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_("Why the agreement ends; kept in the audit trail."),
    )


def _readable_documents_missing(exc: ValidationError) -> ValidationError:
    """The service names missing requirements by their stored values; show their labels."""
    if hasattr(exc, "error_dict"):
        return exc
    errors = []
    for error in exc.error_list:
        if error.code == "documents_missing" and error.params:
            names = ", ".join(document_label(value) for value in str(error.params["documents"]).split(", "))
            error = ValidationError(
                agreement_services.ERR_DOCUMENTS_MISSING, code=error.code, params={"documents": names}
            )
        errors.append(error)
    return ValidationError(errors)


# --- The admin ----------------------------------------------------------------------------------


@admin.register(Agreement)
class AgreementAdmin(StaffPagesMixin, ResidentNumberSafeSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "customer",
        "state",
        "suspension_reason",
        "applied_at",
        "registration_deadline",
        "registered_at",
        "last_used_at",
        "wrong_entries",
    )
    list_filter = ("state", "suspension_reason")
    list_select_related = ("customer",)
    search_fields = ("customer__name", "user__username")
    search_help_text = _("Customer name or internet-banking user ID.")
    fieldsets = (
        (None, {"fields": ("customer", "state", "suspension_reason", "accounts_display", "documents_display")}),
        (_("Application"), {"fields": ("minor_signed_up_alone", "applied_at", "applied_by", "deadline_display")}),
        (_("Internet banking"), {"fields": ("user", "registered_at", "last_used_at", "wrong_entries")}),
        (_("Record"), {"fields": ("suspended_at", "lapsed_at", "terminated_at")}),
    )
    readonly_fields = (
        "customer",
        "state",
        "suspension_reason",
        "accounts_display",
        "documents_display",
        "minor_signed_up_alone",
        "applied_at",
        "applied_by",
        "deadline_display",
        "user",
        "registered_at",
        "last_used_at",
        "wrong_entries",
        "suspended_at",
        "lapsed_at",
        "terminated_at",
    )
    change_form_template = "admin/accounts/agreement/change_form.html"

    @admin.display(description=_("withdrawal accounts"))
    def accounts_display(self, obj: Agreement) -> str:
        return ", ".join(account.number_display for account in obj.withdrawal_accounts.order_by("number")) or "—"

    @admin.display(description=_("documents checked"))
    def documents_display(self, obj: Agreement) -> str:
        return ", ".join(document_label(value) for value in obj.documents) or "—"

    @admin.display(description=_("online registration deadline"))
    def deadline_display(self, obj: Agreement) -> str:
        return kst_label(obj.registration_deadline)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(agreement_services.APPLY_PERMISSION)

    # The branch application (the add page) ------------------------------------------------------

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        source = request.POST if request.method == "POST" else request.GET
        choice = CustomerChoiceForm(source if "customer" in source else None, admin_site=self.admin_site)
        if not choice.is_valid():
            return self._render_apply(request, {"choose_form": choice})
        customer: Customer = choice.cleaned_data["customer"]
        form = AgreementApplyForm(request.POST if request.method == "POST" else None, customer=customer)
        if request.method == "POST" and form.is_valid():
            agreement = self._apply(request, form)
            if agreement is not None:
                self.log_addition(request, agreement, [{"added": {}}])
                self.message_user(request, str(MSG_APPLIED % {"customer": customer.name}), messages.SUCCESS)
                if agreement.minor_signed_up_alone:
                    self.message_user(request, str(MSG_APPLIED_ALONE), messages.WARNING)
                return HttpResponseRedirect(self._url("receipt", agreement.pk))
        return self._render_apply(request, self._apply_context(request, form))

    def _apply(self, request: HttpRequest, form: AgreementApplyForm) -> Agreement | None:
        customer = form.applicant
        if not usable_security_medium(customer):
            form.add_error(None, ValidationError(ERR_NO_SECURITY_MEDIUM, code="no_security_medium"))
            return None
        data = form.cleaned_data
        try:
            return cast(
                Agreement,
                refusals_on_form(
                    lambda: services.agreement_apply(
                        customer=customer,
                        withdrawal_accounts=list(data["withdrawal_accounts"]),
                        documents=data["documents"],
                        one_parent_applies=bool(data.get("one_parent_applies")),
                        actor=staff_user(request),
                    )
                ),
            )
        except ValidationError as exc:
            add_service_error(form, _readable_documents_missing(exc), form.FIELD_BY_CODE)
            return None

    def _apply_context(self, request: HttpRequest, form: AgreementApplyForm) -> dict[str, Any]:
        customer = form.applicant
        user = request.user
        open_agreement = Agreement.objects.filter(customer=customer, state__in=Agreement.OPEN_STATES).first()
        today = kst_today()
        has_medium = usable_security_medium(customer)
        blockers: list[tuple[Label, str, Label]] = []
        if open_agreement is not None:
            blockers.append(
                (agreement_services.ERR_AGREEMENT_EXISTS, self._url("change", open_agreement.pk), _("Open it"))
            )
        if (
            customer.kind == Customer.Kind.INDIVIDUAL
            and customer.birth_date is not None
            and customer.legal_representative_id is None
            and ages.needs_legal_representative(customer.birth_date, today)
        ):
            blockers.append((agreement_services.ERR_UNDER_18_ALONE, "", ""))
        if not form.fields["withdrawal_accounts"].widget.choices:
            open_url = reverse("admin:accounts_account_add", current_app=self.admin_site.name)
            link = f"{open_url}?customer={customer.pk}" if user.has_perm("accounts.add_account") else ""
            blockers.append((_("The customer has no active account to designate."), link, _("Open an account")))
        if not has_medium:
            blockers.append((ERR_NO_SECURITY_MEDIUM, "", ""))
        one_parent = bool(form.data.get("one_parent_applies")) if form.is_bound else False
        return {
            "customer": customer,
            "form": form,
            "customer_facts": [
                (_("customer"), customer.name),
                (_("kind"), customer.get_kind_display()),
                (_("real-name number"), customer.id_display),
                (_("age"), customer.age(today) if customer.birth_date else "—"),
                (_("legal representative"), customer.legal_representative or "—"),
            ],
            "required_documents": [document_label(value) for value in form.required(one_parent=one_parent)],
            "security_media": customer_security_media(customer),
            "has_medium": has_medium,
            "issue_card_url": (
                reverse("admin:otp_securitycard_add", current_app=self.admin_site.name) + f"?customer={customer.pk}"
                if user.has_perm("otp.add_securitycard")
                else ""
            ),
            "register_otp_url": (
                reverse("admin:otp_otpregistration_add", current_app=self.admin_site.name) + f"?customer={customer.pk}"
                if user.has_perm("otp.add_otpregistration")
                else ""
            ),
            "blockers": blockers,
            "form_url": f"{self._url('add')}?customer={customer.pk}",
            "customer_url": reverse(
                "admin:accounts_customer_change", args=[customer.pk], current_app=self.admin_site.name
            ),
        }

    def _render_apply(self, request: HttpRequest, context: dict[str, Any]) -> TemplateResponse:
        form = context.get("form") or context["choose_form"]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Apply for e-banking"),
            "subtitle": None,
            "media": self.media + form.media,
            "errors": bool(form.errors),
            **context,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/accounts/agreement/apply.html", context)

    # The receipt -----------------------------------------------------------------------------

    def receipt_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._require_perm(request, VIEW_PERMISSION)
        agreement: Agreement = self._get_viewable(request, object_id)
        if agreement.state != Agreement.State.APPLIED:
            self.message_user(request, str(MSG_RECEIPT_ONLY_APPLIED), messages.ERROR)
            return HttpResponseRedirect(self._url("change", agreement.pk))
        # The receipt shows personal data: an access record, as for the customer's page.
        record_personal_data_view(
            request, action="agreement.receipt_view", obj=agreement, customer_id=agreement.customer_id
        )
        applier = agreement.applied_by
        context = {
            **self.admin_site.each_context(request),
            "title": _("E-banking application receipt"),
            "agreement": agreement,
            "customer": agreement.customer,
            # Staff users carry no branch yet: the portal's branch, as account opening uses.
            "branch": settings.BANK_DEFAULT_BRANCH,
            "staff_name": applier.get_full_name() or applier.get_username(),
            "accounts": [mask_account_number(a.number) for a in agreement.withdrawal_accounts.order_by("number")],
            "documents": [document_label(value) for value in agreement.documents],
            "applied_at": kst_label(agreement.applied_at),
            "deadline": kst_label(agreement.registration_deadline),
            "register_url": request.build_absolute_uri(EBANKING_REGISTER_PATH),
            "change_url": self._url("change", agreement.pk),
        }
        response = TemplateResponse(request, "admin/accounts/agreement/receipt.html", context)
        response["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0, private"
        return response

    # An agreement's page and its tasks ----------------------------------------------------------

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        agreement = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if agreement is not None and self.has_view_permission(request, agreement):
            user = request.user
            state = agreement.state
            pending = (
                open_request(kind=StaffRequest.Kind.AGREEMENT_RELEASE, customer_id=agreement.customer_id)
                if state == Agreement.State.SUSPENDED
                else None
            )
            extra.update(
                can_print_receipt=state == Agreement.State.APPLIED,
                receipt_url=self._url("receipt", agreement.pk),
                can_suspend=state == Agreement.State.ACTIVE and user.has_perm(agreement_services.SUSPEND_PERMISSION),
                suspend_url=self._url("suspend", agreement.pk),
                pending_release=pending,
                pending_release_url=(
                    reverse("admin:accounts_staffrequest_change", args=[pending.pk], current_app=self.admin_site.name)
                    if pending
                    else ""
                ),
                can_request_release=state == Agreement.State.SUSPENDED
                and pending is None
                and user.has_perm(request_services.REQUEST_PERMISSION),
                request_release_url=self._url("request_release", agreement.pk),
                can_terminate=state != Agreement.State.TERMINATED
                and user.has_perm(agreement_services.TERMINATE_PERMISSION),
                terminate_url=self._url("terminate", agreement.pk),
            )
            record_personal_data_view(
                request, action="agreement.view", obj=agreement, customer_id=agreement.customer_id
            )
        return super().change_view(request, object_id, form_url, extra)

    def _summary(self, agreement: Agreement) -> list[tuple[Label, Any]]:
        agreement.refresh_from_db()
        return [
            (_("customer"), str(agreement.customer)),
            (_("state"), agreement.get_state_display()),
            (_("suspension reason"), agreement.get_suspension_reason_display() or "—"),
            (_("withdrawal accounts"), self.accounts_display(agreement)),
            (_("internet-banking user"), agreement.user or "—"),
            (_("applied at"), agreement.applied_at),
        ]

    def _refuse_unless(self, request: HttpRequest, agreement: Agreement, allowed: bool, message: Any) -> Any:
        if allowed:
            return None
        self.message_user(request, str(message), messages.ERROR)
        return HttpResponseRedirect(self._url("change", agreement.pk))

    def suspend_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._require_perm(request, agreement_services.SUSPEND_PERMISSION)
        agreement: Agreement = self._get_viewable(request, object_id)
        refused = self._refuse_unless(request, agreement, agreement.state == Agreement.State.ACTIVE, MSG_NOT_ACTIVE)
        return refused or self.staff_task_view(
            request,
            obj=agreement,
            form_class=AgreementSuspendForm,
            perform=lambda data: refusals_on_form(
                lambda: services.agreement_suspend(
                    agreement=agreement, reason=data["reason"], note=data["note"], actor=staff_user(request)
                )
            ),
            success_message=lambda _result, _data: str(MSG_SUSPENDED),
            title=_("Suspend the e-banking agreement"),
            submit_label=_("Suspend"),
            summary=lambda: self._summary(agreement),
        )

    def request_release_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Record a release request; a branch manager's approval in the queue releases it."""
        agreement: Agreement = self._get_viewable(request, object_id)
        refused = self._refuse_unless(
            request, agreement, agreement.state == Agreement.State.SUSPENDED, MSG_NOT_SUSPENDED
        )
        pending = open_request(kind=StaffRequest.Kind.AGREEMENT_RELEASE, customer_id=agreement.customer_id)
        if refused is None and pending is not None:
            refused = self._refuse_unless(request, agreement, False, MSG_RELEASE_PENDING % {"request": pending})
        return refused or record_request_view(
            self,
            request,
            obj=agreement,
            kind=StaffRequest.Kind.AGREEMENT_RELEASE,
            form_class=AgreementReleaseRequestForm,
            title=_("Request: release the e-banking suspension"),
            summary=self._summary(agreement),
            target={"customer": agreement.customer},
        )

    def terminate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._require_perm(request, agreement_services.TERMINATE_PERMISSION)
        agreement: Agreement = self._get_viewable(request, object_id)
        refused = self._refuse_unless(
            request, agreement, agreement.state != Agreement.State.TERMINATED, MSG_ALREADY_TERMINATED
        )
        return refused or self.staff_task_view(
            request,
            obj=agreement,
            form_class=AgreementTerminateForm,
            perform=lambda data: refusals_on_form(
                lambda: services.agreement_terminate(
                    agreement=agreement, reason=data["reason"], actor=staff_user(request)
                )
            ),
            success_message=lambda _result, _data: str(MSG_TERMINATED),
            title=_("Terminate the e-banking agreement"),
            submit_label=_("Terminate the agreement"),
            summary=lambda: self._summary(agreement),
        )

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/receipt/", self._wrap(self.receipt_view), name=f"{info}_receipt"),
            path("<path:object_id>/suspend/", self._wrap(self.suspend_view), name=f"{info}_suspend"),
            path(
                "<path:object_id>/request-release/",
                self._wrap(self.request_release_view),
                name=f"{info}_request_release",
            ),
            path("<path:object_id>/terminate/", self._wrap(self.terminate_view), name=f"{info}_terminate"),
            *super().get_urls(),
        ]


def kst_label(when: Any) -> str:
    """``YYYY-MM-DD HH:MM:SS KST`` (a deadline's last microsecond shows as 23:59:59)."""
    return f"{kst_now(when):%Y-%m-%d %H:%M:%S} KST" if when is not None else "—"


def customer_agreement_links(customer: Customer, user: Any, site_name: str) -> dict[str, str]:
    """For the customer page: the open agreement's page, or the application page."""
    agreement = Agreement.objects.filter(customer=customer, state__in=Agreement.OPEN_STATES).first()
    if agreement is not None:
        allowed = user.has_perm(VIEW_PERMISSION)
        url = reverse("admin:accounts_agreement_change", args=[agreement.pk], current_app=site_name)
        return {"agreement_url": url if allowed else "", "agreement_state": agreement.get_state_display()}
    if user.has_perm(agreement_services.APPLY_PERMISSION):
        url = reverse("admin:accounts_agreement_add", current_app=site_name) + f"?customer={customer.pk}"
        return {"apply_agreement_url": url}
    return {}
