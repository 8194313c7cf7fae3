"""Staff admin: accounts (opening, cash, password reset), journals (reversal) and ledger entries."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path
from django.utils.decorators import method_decorator
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from accounts import pins, services
from accounts.admin.common import (
    RECENT_ENTRIES,
    digits_only,
    entry_holder,
    entry_rows,
    record_personal_data_view,
    signed_won,
    staff_user,
    won,
)
from accounts.admin.staff_requests import (
    StaffRequestReasonForm,
    StaffRequestWithIdForm,
    record_request_view,
    usable_password_reset,
)
from accounts.forms import (
    AccountOpenForm,
    AccountPasswordResetForm,
    CashDepositForm,
    CashWithdrawalForm,
)
from accounts.models import Account, Journal, LedgerEntry, StaffRequest
from accounts.selectors import account_entries, internal_balance_live
from bankportal.admin import (
    Label,
    ReadOnlyAdminMixin,
    ResidentNumberSafeSearchMixin,
    StaffPagesMixin,
)

RESET_NEEDS_APPROVAL = _(
    "Resetting an account password needs a branch manager's approval first: record a reset request, "
    "and once it is approved the customer types the new password here."
)

# --- Accounts ----------------------------------------------------------------------------------


@admin.register(Account)
class AccountAdmin(StaffPagesMixin, ResidentNumberSafeSearchMixin, admin.ModelAdmin):
    list_display = (
        "number_display",
        "holder",
        "product",
        "status",
        "balance_display",
        "password_failures",
        "password_locked_display",
    )
    list_filter = ("status", "kind", "product")
    list_select_related = ("holder", "product")
    search_fields = ("holder__name",)
    search_help_text = _("Account number or holder name.")
    ordering = ("number",)
    fieldsets = (
        (None, {"fields": ("number_display", "kind", "holder", "product", "branch", "status", "balance_display")}),
        (_("Account password"), {"fields": ("password_failures", "password_locked_at")}),
        (_("Record"), {"fields": ("opened_at", "closed_at")}),
    )
    readonly_fields = (
        "number_display",
        "kind",
        "holder",
        "product",
        "branch",
        "status",
        "balance_display",
        "live_balance_display",
        "password_failures",
        "password_locked_at",
        "opened_at",
        "closed_at",
    )
    add_fieldsets = (
        (None, {"fields": ("customer", "product")}),
        (_("Account password"), {"fields": ("password1", "password2")}),
        (None, {"fields": ("opening_deposit",)}),
    )

    @admin.display(description=_("account number"), ordering="number")
    def number_display(self, obj: Account) -> str:
        return obj.number_display

    @admin.display(description=_("balance"), ordering="balance")
    def balance_display(self, obj: Account) -> str:
        if obj.kind == Account.Kind.INTERNAL:
            # Internal legs are appended unlocked; the row holds the figure the roll-up job last made.
            when = date_format(localtime(obj.rolled_up_at), "DATETIME_FORMAT") if obj.rolled_up_at else "—"
            return _("%(amount)s (rolled up %(when)s)") % {"amount": won(obj.balance), "when": when}
        return won(obj.balance)

    @admin.display(description=_("balance with legs not yet rolled up"))
    def live_balance_display(self, obj: Account) -> str:
        return won(internal_balance_live(obj))

    def get_fieldsets(self, request: HttpRequest, obj: Account | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.kind == Account.Kind.INTERNAL:
            # Staff reading a branch's cash want today's figure, not only the last roll-up.
            return [*fieldsets, (_("Internal account"), {"fields": ("live_balance_display",)})]
        return fieldsets

    @admin.display(description=_("password locked"), boolean=True, ordering="password_locked_at")
    def password_locked_display(self, obj: Account) -> bool:
        return obj.password_locked

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Account], search_term: str) -> Any:
        term = search_term.strip()
        if not term:
            return queryset, False
        digits = digits_only(term)
        condition = Q(holder__name__icontains=term)
        if digits.isdigit():
            # Whole number, or its trailing digits as read off a bankbook.
            condition |= Q(number=digits) if len(digits) == 12 else Q(number__endswith=digits)
        return queryset.filter(condition), False

    # The change page is a read-only view; money moves through the pages below.
    def has_change_permission(self, request: HttpRequest, obj: Account | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Account | None = None) -> bool:
        return False

    @method_decorator(sensitive_post_parameters("password1", "password2"))
    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        initial = {"customer": request.GET.get("customer")}
        return self.service_add_view(
            request,
            form=AccountOpenForm(
                request.POST if request.method == "POST" else None, initial=initial, admin_site=self.admin_site
            ),
            perform=lambda data, _form: services.account_open(
                customer=data["customer"],
                product=data["product"],
                password=data["password1"],
                opening_deposit=data.get("opening_deposit") or 0,
                actor=staff_user(request),
            ),
            success_messages=lambda account, data: [
                (
                    messages.SUCCESS,
                    _("Account %(number)s opened for %(customer)s.")
                    % {"number": account.number_display, "customer": data["customer"]},
                )
            ],
            title=_("Open an account"),
            fieldsets=self.add_fieldsets,
            form_url=form_url,
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        account = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if account is not None:
            is_customer = account.kind == Account.Kind.CUSTOMER
            extra.update(
                recent_entries=entry_rows(
                    account_entries(account, limit=RECENT_ENTRIES), admin_site_name=self.admin_site.name
                ),
                can_take_cash=is_customer and request.user.has_perm("accounts.take_cash"),
                # A reset is a request for a manager's approval; the new password is typed after it.
                can_request_password_reset=is_customer and request.user.has_perm("accounts.add_staffrequest"),
                request_password_reset_url=self._url("request_password_reset", account.pk),
                can_reset_password=is_customer
                and request.user.has_perm("accounts.reset_account_password")
                and usable_password_reset(account=account, user=staff_user(request)) is not None,
                deposit_url=self._url("cash_deposit", account.pk),
                withdrawal_url=self._url("cash_withdrawal", account.pk),
                password_reset_url=self._url("password_reset", account.pk),
            )
            if is_customer and self.has_view_or_change_permission(request, account):
                record_personal_data_view(request, action="account.view", obj=account, customer_id=account.holder_id)
        return super().change_view(request, object_id, form_url, extra)

    def _summary(self, account: Account) -> list[tuple[Label, Any]]:
        account.refresh_from_db()
        return [
            (_("account number"), account.number_display),
            (_("holder"), str(account.holder) if account.holder else "—"),
            (_("product"), str(account.product) if account.product else "—"),
            (_("status"), account.get_status_display()),
            (_("balance"), won(account.balance)),
            (
                _("consecutive password failures"),
                f"{account.password_failures} / {pins.MAX_FAILURES}",
            ),
            (_("password locked"), _("yes") if account.password_locked else _("no")),
        ]

    def cash_deposit_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._require_perm(request, "accounts.take_cash")
        account = self._get_viewable(request, object_id)

        def perform(data: dict[str, Any]) -> object:
            return services.cash_deposit(
                account=account, amount=data["amount"], actor=staff_user(request), memo=data["memo"]
            )

        return self.staff_task_view(
            request,
            obj=account,
            form_class=CashDepositForm,
            perform=perform,
            success_message=lambda _journal, data: self._cash_message(
                _("Deposited %(amount)s to %(number)s. Balance: %(balance)s."), account, data["amount"]
            ),
            title=_("Cash deposit"),
            submit_label=_("Deposit"),
            summary=lambda: self._summary(account),
        )

    @method_decorator(sensitive_post_parameters("password"))
    def cash_withdrawal_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._require_perm(request, "accounts.take_cash")
        account = self._get_viewable(request, object_id)

        def perform(data: dict[str, Any]) -> object:
            # staff_task_view adds no transaction: cash_withdrawal commits the password-failure
            # count on its own, so a wrong password still counts when the withdrawal is refused.
            return services.cash_withdrawal(
                account=account,
                amount=data["amount"],
                password=data["password"],
                actor=staff_user(request),
                memo=data["memo"],
            )

        return self.staff_task_view(
            request,
            obj=account,
            form_class=CashWithdrawalForm,
            perform=perform,
            success_message=lambda _journal, data: self._cash_message(
                _("Paid out %(amount)s from %(number)s. Balance: %(balance)s."), account, data["amount"]
            ),
            title=_("Cash withdrawal"),
            submit_label=_("Withdraw"),
            summary=lambda: self._summary(account),
        )

    @staticmethod
    def _cash_message(template: Any, account: Account, amount: int) -> str:
        account.refresh_from_db(fields=["balance"])
        return template % {"amount": won(amount), "number": account.number_display, "balance": won(account.balance)}

    def request_password_reset_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Record a reset request (책임자 승인); once approved, the reset page takes the new password."""
        account = self._get_viewable(request, object_id)
        return record_request_view(
            self,
            request,
            obj=account,
            kind=StaffRequest.Kind.ACCOUNT_PASSWORD_RESET,
            form_class=StaffRequestWithIdForm,
            title=_("Request: reset account password"),
            summary=lambda: self._summary(account),
            target={"account": account},
        )

    @method_decorator(sensitive_post_parameters("new_password1", "new_password2"))
    def password_reset_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The customer types the new password, under an approved request this staff member may complete."""
        self._require_perm(request, "accounts.reset_account_password")
        account = self._get_viewable(request, object_id)
        approved = usable_password_reset(account=account, user=staff_user(request))
        if approved is None:
            self.message_user(request, RESET_NEEDS_APPROVAL, messages.WARNING)
            return HttpResponseRedirect(self._url("change", account.pk))
        return self.staff_task_view(
            request,
            obj=account,
            form_class=AccountPasswordResetForm,
            perform=lambda data: services.account_password_reset(
                request=approved, new_password=data["new_password1"], actor=staff_user(request)
            ),
            success_message=lambda _account, _data: (
                _("The password of %(number)s was reset and unlocked.") % {"number": account.number_display}
            ),
            title=_("Reset account password"),
            submit_label=_("Reset password"),
            summary=lambda: [*self._summary(account), (_("approved request"), str(approved))],
        )

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/deposit/", self._wrap(self.cash_deposit_view), name=f"{info}_cash_deposit"),
            path("<path:object_id>/withdraw/", self._wrap(self.cash_withdrawal_view), name=f"{info}_cash_withdrawal"),
            path(
                "<path:object_id>/reset-password/", self._wrap(self.password_reset_view), name=f"{info}_password_reset"
            ),
            path(
                "<path:object_id>/request-password-reset/",
                self._wrap(self.request_password_reset_view),
                name=f"{info}_request_password_reset",
            ),
            *super().get_urls(),
        ]


# --- Journals and ledger entries ---------------------------------------------------------------


class LedgerEntryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = LedgerEntry
    verbose_name_plural = _("entries")
    fields = ("account", "holder", "amount_display", "balance_after_display")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[LedgerEntry]:
        return super().get_queryset(request).select_related("account__holder").order_by("pk")

    @admin.display(description=_("holder"))
    def holder(self, obj: LedgerEntry) -> str:
        return entry_holder(obj)

    @admin.display(description=_("amount"))
    def amount_display(self, obj: LedgerEntry) -> str:
        return signed_won(obj.amount)

    @admin.display(description=_("balance after"))
    def balance_after_display(self, obj: LedgerEntry) -> str:
        return won(obj.balance_after)


@admin.register(Journal)
class JournalAdmin(StaffPagesMixin, ResidentNumberSafeSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "kind", "amount_display", "memo", "created_at", "created_by", "is_reversed")
    list_filter = ("kind",)
    list_select_related = ("created_by",)
    date_hierarchy = "created_at"
    search_fields = ("memo",)
    search_help_text = _("Journal number, account number or memo.")
    fields = ("kind", "amount_display", "memo", "created_at", "created_by", "reverses", "reversed_by_display")
    readonly_fields = fields
    inlines = [LedgerEntryInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Journal]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                moved=Sum("entries__amount", filter=Q(entries__amount__gt=0)),
                reversed_flag=Exists(Journal.objects.filter(reverses=OuterRef("pk"))),
            )
        )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Journal], search_term: str) -> Any:
        term = search_term.strip()
        if not term:
            return queryset, False
        digits = digits_only(term).lstrip("#")
        condition = Q(memo__icontains=term)
        if digits.isdigit():
            condition |= Q(pk=int(digits)) if len(digits) < 12 else Q(entries__account__number=digits)
        return queryset.filter(condition).distinct(), False

    @admin.display(description=_("amount"), ordering="moved")
    def amount_display(self, obj: Journal) -> str:
        return won(getattr(obj, "moved", None))

    @admin.display(description=_("reversed"), boolean=True, ordering="reversed_flag")
    def is_reversed(self, obj: Journal) -> bool:
        return bool(getattr(obj, "reversed_flag", False))

    @admin.display(description=_("reversed by"))
    def reversed_by_display(self, obj: Journal) -> str:
        reversal = Journal.objects.filter(reverses=obj).first()
        return str(reversal) if reversal else "—"

    def _reversible(self, journal: Journal) -> bool:
        return journal.kind != Journal.Kind.REVERSAL and not Journal.objects.filter(reverses=journal).exists()

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        journal = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if journal is not None:
            # A reversal is a request for a manager's approval (책임자 승인).
            extra["can_reverse"] = request.user.has_perm("accounts.add_staffrequest") and self._reversible(journal)
            extra["reverse_url"] = self._url("reverse", journal.pk)
        return super().change_view(request, object_id, form_url, extra)

    def reverse_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Record a reversal request with its reason; a branch manager's approval posts it."""
        journal = self._get_viewable(request, object_id)
        return record_request_view(
            self,
            request,
            obj=journal,
            kind=StaffRequest.Kind.JOURNAL_REVERSE,
            form_class=StaffRequestReasonForm,
            title=_("Request: reverse journal"),
            summary=[
                (_("journal"), str(journal)),
                (_("posted at"), journal.created_at),
                (_("memo"), journal.memo),
            ],
            entries=entry_rows(
                journal.entries.select_related("journal", "account__holder").order_by("pk"),
                admin_site_name=self.admin_site.name,
            ),
            target={"journal": journal},
        )

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/reverse/", self._wrap(self.reverse_view), name=f"{info}_reverse"),
            *super().get_urls(),
        ]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ResidentNumberSafeSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "created_at", "journal", "account", "amount_display", "balance_after_display")
    list_filter = ("journal__kind",)
    list_select_related = ("journal", "account")
    search_fields = ("journal__memo",)
    search_help_text = _("Account number or journal number.")
    fields = ("journal", "account", "amount_display", "balance_after_display", "created_at")
    readonly_fields = fields

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[LedgerEntry], search_term: str) -> Any:
        digits = digits_only(search_term).lstrip("#")
        if not digits:
            return queryset, False
        if not digits.isdigit():
            return queryset.filter(journal__memo__icontains=search_term.strip()), False
        if len(digits) == 12:
            return queryset.filter(account__number=digits), False
        return queryset.filter(journal_id=int(digits)), False

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj: LedgerEntry) -> str:
        return signed_won(obj.amount)

    @admin.display(description=_("balance after"))
    def balance_after_display(self, obj: LedgerEntry) -> str:
        return won(obj.balance_after)
