"""Staff admin: requests for a manager's approval (책임자 승인) and the approval queue.

Tellers record requests from the customer, account and journal pages (``record_request_view``,
called by those admins). Branch managers work through the queue here: each request's page offers
approve (which carries it out at once), reject with a note, and, to its requester, cancel. Every
step calls ``accounts.services``, which checks the rules again and writes the audit event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.admin.common import record_personal_data_view, staff_user
from accounts.forms import StaffForm
from accounts.models import Account, Agreement, StaffRequest, User
from accounts.services import staff_requests as request_services
from bankportal.admin import Label, ReadOnlyAdminMixin, ResidentNumberSafeSearchMixin, StaffPagesMixin

ERR_ID_CHECK = _("Confirm that you have checked the customer's ID document.")
ERR_NOT_ALLOWED = _("You may not do this.")
MSG_RECORDED = _("Request %(request)s recorded. A branch manager must approve it before it takes effect.")
MSG_EXECUTED = _("Request %(request)s approved and carried out.")
MSG_APPROVED_RESET = _(
    "Request %(request)s approved. The customer can now type the new account password at the counter "
    "(on the account page, today only)."
)
MSG_REJECTED = _("Request %(request)s rejected.")
MSG_CANCELLED = _("Request %(request)s cancelled.")


# --- Forms (input shape only; the services decide) ----------------------------------------------


def _reason_field() -> forms.CharField:
    return forms.CharField(
        label=_("reason"),
        max_length=request_services.REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Why this is needed; the manager sees it and it is kept in the audit trail."),
        error_messages={"required": request_services.ERR_REASON_REQUIRED},
    )


def _id_checked_field() -> forms.BooleanField:
    return forms.BooleanField(
        label=_("I have checked the customer's ID document at the branch."), error_messages={"required": ERR_ID_CHECK}
    )


class StaffRequestReasonForm(StaffForm):
    """A request that needs only its reason (a journal reversal)."""

    reason = _reason_field()

    FIELD_BY_CODE = {"reason_required": "reason", "reason_too_long": "reason"}

    @staticmethod
    def payload(data: Mapping[str, Any]) -> dict[str, Any]:
        """What the service stores besides the reason (never a secret)."""
        return {}


class StaffRequestWithIdForm(StaffRequestReasonForm):
    """A request made with the customer at the counter: the teller confirms the ID check."""

    id_checked = _id_checked_field()


class ContactChangeRequestForm(StaffRequestWithIdForm):
    phone = forms.CharField(
        label=_("new mobile phone"),
        max_length=20,
        help_text=_("e.g. 010-1234-5678"),
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
    )
    email = forms.EmailField(label=_("new email"), required=False)

    field_order = ["phone", "email", "reason", "id_checked"]
    FIELD_BY_CODE = {
        **StaffRequestReasonForm.FIELD_BY_CODE,
        "phone_invalid": "phone",
        "email_invalid": "email",
    }

    @staticmethod
    def payload(data: Mapping[str, Any]) -> dict[str, Any]:
        return {"phone": data["phone"], "email": data.get("email") or ""}


class ApproveForm(StaffForm):
    note = forms.CharField(
        label=_("decision note"),
        max_length=200,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )
    FIELD_BY_CODE = {"note_too_long": "note"}


class RejectForm(StaffForm):
    note = forms.CharField(
        label=_("decision note"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_("Why it is rejected; the teller tells the customer."),
        error_messages={"required": request_services.ERR_REJECT_NOTE},
    )
    FIELD_BY_CODE = {"note_required": "note", "note_too_long": "note"}


class CancelForm(StaffForm):
    """Nothing to enter: the button is the confirmation."""


def refusals_on_form(call: Callable[[], Any]) -> Any:
    """Run a service call; a ``PermissionDenied`` with a message becomes a form error the page shows."""
    try:
        return call()
    except PermissionDenied as exc:
        message = exc.args[0] if exc.args and isinstance(exc.args[0], Promise) else ERR_NOT_ALLOWED
        raise ValidationError(str(message), code="permission_denied") from None


# --- Used by the customer, account and journal admins -------------------------------------------


def record_request_view(
    model_admin: StaffPagesMixin,
    request: HttpRequest,
    *,
    obj: Any,
    kind: str,
    form_class: type[StaffRequestReasonForm],
    title: Label,
    summary: Any = (),
    entries: Any = (),
    target: Mapping[str, Any],
) -> HttpResponse:
    """A page on ``obj`` that records a ``kind`` request with a reason, then returns to ``obj``."""
    if not request.user.has_perm(request_services.REQUEST_PERMISSION):
        raise PermissionDenied

    def perform(data: dict[str, Any]) -> StaffRequest:
        return refusals_on_form(
            lambda: services.staff_request_create(
                kind=kind, reason=data["reason"], payload=form_class.payload(data), actor=staff_user(request), **target
            )
        )

    return model_admin.staff_task_view(
        request,
        obj=obj,
        form_class=form_class,
        perform=perform,
        success_message=lambda staff_request, _data: str(MSG_RECORDED % {"request": staff_request}),
        title=title,
        submit_label=_("Record the request"),
        summary=summary,
        entries=entries,
    )


def open_request(**target: Any) -> StaffRequest | None:
    """The open (waiting or approved, unexpired) request on a record, if any."""
    return (
        StaffRequest.objects.filter(state__in=StaffRequest.OPEN_STATES, expires_at__gt=timezone.now(), **target)
        .order_by("-requested_at")
        .first()
    )


def usable_password_reset(*, account: Account, user: User) -> StaffRequest | None:
    """The approved, unexpired password-reset request on ``account`` that ``user`` may complete."""
    return (
        StaffRequest.objects.filter(
            kind=StaffRequest.Kind.ACCOUNT_PASSWORD_RESET,
            account=account,
            state=StaffRequest.State.APPROVED,
            expires_at__gt=timezone.now(),
        )
        .filter(Q(requested_by_id=user.pk) | Q(decided_by_id=user.pk))
        .order_by("-decided_at")
        .first()
    )


def request_url(staff_request: StaffRequest, site_name: str) -> str:
    return reverse("admin:accounts_staffrequest_change", args=[staff_request.pk], current_app=site_name)


# --- The queue ----------------------------------------------------------------------------------


class QueueFilter(admin.SimpleListFilter):
    """Waiting requests first: the manager's queue is the default view."""

    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("waiting", _("Waiting for approval")),
            ("approved", _("Approved, new password not yet entered")),
            ("closed", _("Executed, rejected, cancelled or expired")),
            ("all", _("All")),
        ]

    def choices(self, changelist: Any) -> Iterator[Any]:
        current = self.value() or "waiting"
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[StaffRequest]) -> QuerySet[StaffRequest]:
        now = timezone.now()
        live = Q(expires_at__gt=now)
        value = self.value() or "waiting"
        if value == "waiting":
            return queryset.filter(live, state=StaffRequest.State.PENDING)
        if value == "approved":
            return queryset.filter(live, state=StaffRequest.State.APPROVED)
        if value == "closed":
            return queryset.exclude(live & Q(state__in=StaffRequest.OPEN_STATES))
        return queryset


@admin.register(StaffRequest)
class StaffRequestAdmin(StaffPagesMixin, ResidentNumberSafeSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "state_display",
        "customer",
        "target_display",
        "reason",
        "requested_by",
        "requested_at",
        "decided_by",
    )
    list_filter = (QueueFilter, "kind")
    list_select_related = ("customer", "account", "journal", "requested_by", "decided_by")
    search_fields = ("customer__name", "reason")
    search_help_text = _("Customer name or reason.")
    fields = (
        "kind",
        "state_display",
        "customer",
        "target_display",
        "payload_display",
        "reason",
        "requested_by",
        "requested_at",
        "expires_at",
        "decided_by",
        "decided_at",
        "decision_note",
        "executed_by",
        "executed_at",
        "closed_at",
    )
    readonly_fields = fields

    @admin.display(description=_("state"), ordering="state")
    def state_display(self, obj: StaffRequest) -> str:
        return str(StaffRequest.State(obj.effective_state(timezone.now())).label)

    @admin.display(description=_("record"))
    def target_display(self, obj: StaffRequest) -> str:
        if obj.account_id:
            return str(obj.account)
        if obj.journal_id:
            return str(obj.journal)
        return str(obj.customer) if obj.customer_id else "—"

    @admin.display(description=_("details"))
    def payload_display(self, obj: StaffRequest) -> str:
        if obj.kind == StaffRequest.Kind.CONTACT_CHANGE and obj.payload:
            return str(
                _("mobile phone %(phone)s, email %(email)s")
                % {"phone": obj.payload.get("phone", ""), "email": obj.payload.get("email") or "—"}
            )
        if obj.kind == StaffRequest.Kind.AGREEMENT_RELEASE and obj.payload:
            # The manager must see how the release was asked for: a phone release has no ID check at the counter.
            channel = {"branch": _("at the branch"), "phone": _("by phone")}.get(obj.payload.get("channel", ""), "—")
            reasons = dict(Agreement.SuspensionReason.choices)
            reason = reasons.get(obj.payload.get("suspension_reason", ""), "—")
            return str(_("asked %(channel)s; suspended for: %(reason)s") % {"channel": channel, "reason": reason})
        if obj.kind == StaffRequest.Kind.CERTIFICATE_REVOKE and obj.payload:
            # The certificate's serial and the RFC 5280 reason code the CRL will carry.
            return str(
                _("certificate %(serial)s; reason: %(reason)s")
                % {"serial": obj.payload.get("serial", "—"), "reason": obj.payload.get("reason", "—")}
            )
        return "—"

    def _flags(self, request: HttpRequest, obj: StaffRequest) -> dict[str, Any]:
        user = staff_user(request)
        now = timezone.now()
        is_open = obj.is_open(now)
        pending = is_open and obj.state == StaffRequest.State.PENDING
        reset_ready = (
            is_open
            and obj.state == StaffRequest.State.APPROVED
            and obj.kind == StaffRequest.Kind.ACCOUNT_PASSWORD_RESET
            and user.pk in (obj.requested_by_id, obj.decided_by_id)
            and user.has_perm("accounts.reset_account_password")
        )
        return {
            "can_decide": pending
            and user.has_perm(request_services.APPROVE_PERMISSION)
            and obj.requested_by_id != user.pk,
            "can_cancel": is_open and obj.requested_by_id == user.pk,
            "can_set_password": reset_ready,
            "approve_url": self._url("approve", obj.pk),
            "reject_url": self._url("reject", obj.pk),
            "cancel_url": self._url("cancel", obj.pk),
            "set_password_url": (
                reverse(
                    "admin:accounts_account_password_reset", args=[obj.account_id], current_app=self.admin_site.name
                )
                if obj.account_id
                else ""
            ),
        }

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if obj is not None and self.has_view_permission(request, obj):
            extra.update(self._flags(request, obj))
            record_personal_data_view(request, action="staff_request.view", obj=obj, customer_id=obj.customer_id)
        return super().change_view(request, object_id, form_url, extra)

    def _summary(self, obj: StaffRequest) -> list[tuple[Label, Any]]:
        obj.refresh_from_db()
        return [
            (_("kind"), obj.get_kind_display()),
            (_("state"), self.state_display(obj)),
            (_("customer"), str(obj.customer) if obj.customer_id else "—"),
            (_("record"), self.target_display(obj)),
            (_("details"), self.payload_display(obj)),
            (_("reason"), obj.reason),
            (_("requested by"), obj.requested_by),
            (_("requested at"), obj.requested_at),
            (_("expires at"), obj.expires_at),
        ]

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._require_perm(request, request_services.APPROVE_PERMISSION)
        obj = self._get_viewable(request, object_id)

        def message(result: StaffRequest, _data: dict[str, Any]) -> str:
            template = MSG_EXECUTED if result.state == StaffRequest.State.EXECUTED else MSG_APPROVED_RESET
            return str(template % {"request": result})

        return self.staff_task_view(
            request,
            obj=obj,
            form_class=ApproveForm,
            perform=lambda data: refusals_on_form(
                lambda: services.staff_request_approve(request=obj, note=data["note"], actor=staff_user(request))
            ),
            success_message=message,
            title=_("Approve request"),
            submit_label=_("Approve and carry out"),
            summary=lambda: self._summary(obj),
        )

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._require_perm(request, request_services.APPROVE_PERMISSION)
        obj = self._get_viewable(request, object_id)
        return self.staff_task_view(
            request,
            obj=obj,
            form_class=RejectForm,
            perform=lambda data: refusals_on_form(
                lambda: services.staff_request_reject(request=obj, note=data["note"], actor=staff_user(request))
            ),
            success_message=lambda result, _data: str(MSG_REJECTED % {"request": result}),
            title=_("Reject request"),
            submit_label=_("Reject"),
            summary=lambda: self._summary(obj),
        )

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._require_perm(request, request_services.REQUEST_PERMISSION)
        obj = self._get_viewable(request, object_id)
        return self.staff_task_view(
            request,
            obj=obj,
            form_class=CancelForm,
            perform=lambda _data: refusals_on_form(
                lambda: services.staff_request_cancel(request=obj, actor=staff_user(request))
            ),
            success_message=lambda result, _data: str(MSG_CANCELLED % {"request": result}),
            title=_("Cancel request"),
            submit_label=_("Cancel the request"),
            summary=lambda: self._summary(obj),
        )

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/approve/", self._wrap(self.approve_view), name=f"{info}_approve"),
            path("<path:object_id>/reject/", self._wrap(self.reject_view), name=f"{info}_reject"),
            path("<path:object_id>/cancel/", self._wrap(self.cancel_view), name=f"{info}_cancel"),
            *super().get_urls(),
        ]
