"""Staff forms for the branch admin: input shape only.

Business rules (valid numbers, duplicate customers, password strength, balances) are checked by
``accounts.services``; the admin maps the service's ``ValidationError`` back onto these forms
with ``add_service_error`` so each message appears next to its field.
"""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import ValidationError
from django.db.models import ManyToOneRel
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from accounts.agreements import user_id_valid
from accounts.idnumbers import InvalidNumber, normalise_rrn
from accounts.models import Account, Customer, DepositProduct
from accounts.services import customers as customer_services
from accounts.services.web_members import ERR_USER_ID_SHAPE
from bankportal.forms import add_service_error  # noqa: F401 - re-exported for the admin

MAX_CASH_AMOUNT = 999_999_999_999  # under a trillion won: far above any counter transaction, far below BigInteger

ERR_PASSWORDS_DIFFER = _("The two passwords do not match.")
ERR_PASSWORD_DIGITS = _("Enter exactly 4 digits.")
ERR_AMOUNT_WHOLE_WON = _("Enter a whole number of won, e.g. 50,000.")
ERR_ID_CHECK = _("Confirm that you have checked the customer's ID document.")


class StaffForm(forms.Form):
    """Labels reuse the models' lower-case verbose names (one translation each); shown capitalised."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.label = capfirst(field.label)


class WonField(forms.IntegerField):
    """Whole won; accepts ``50,000`` and ``50000원`` as tellers type them."""

    default_error_messages = {"invalid": ERR_AMOUNT_WHOLE_WON}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_value", MAX_CASH_AMOUNT)
        # A text input: a number input would refuse the thousands separators people type.
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str):
            value = re.sub(r"[\s,]|원$|KRW$|won$", "", value.strip(), flags=re.IGNORECASE)
        return super().to_python(value)


def _pin_widget() -> forms.PasswordInput:
    # Never rendered back: a password is typed again after any error.
    return forms.PasswordInput(
        render_value=False,
        attrs={"autocomplete": "off", "inputmode": "numeric", "maxlength": "4", "pattern": "[0-9]{4}", "size": "6"},
    )


class AccountPinField(forms.CharField):
    """The 4-digit account password, as typed by the customer on the counter keypad."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", _pin_widget())
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def validate(self, value: str) -> None:
        super().validate(value)
        if value and not (len(value) == 4 and value.isascii() and value.isdigit()):
            raise ValidationError(ERR_PASSWORD_DIGITS, code="account_password_format")


def _raw_id(model: type[Account] | type[Customer], name: str, admin_site: Any) -> forms.Widget:
    """The admin's lookup-by-id widget (with its search popup) for the foreign key ``model.name``."""
    return ForeignKeyRawIdWidget(cast(ManyToOneRel, model._meta.get_field(name).remote_field), admin_site)


# --- Customers ---------------------------------------------------------------------------------


class CustomerCreateForm(StaffForm):
    """Register a real-name customer. Field names match ``services.customer_create``'s arguments."""

    kind = forms.ChoiceField(label=_("kind"), choices=Customer.Kind.choices, initial=Customer.Kind.INDIVIDUAL)
    name = forms.CharField(label=_("name"), max_length=100)
    phone = forms.CharField(
        label=_("mobile phone"),
        max_length=20,
        help_text=_("e.g. 010-1234-5678"),
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
    )
    email = forms.EmailField(label=_("email"), required=False)
    rrn = forms.CharField(
        label=_("resident registration number"),
        required=False,
        max_length=20,
        strip=True,
        # Shown once as typed; never sent back to the browser, even when another field has an error.
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "inputmode": "numeric", "size": "16"}
        ),
        help_text=_(
            "13 digits (YYMMDD-GNNNNNN) for individuals and individual businesses. For privacy it is never shown "
            "again: type it once more if the form reports an error."
        ),
    )
    brn = forms.CharField(
        label=_("business registration number"),
        required=False,
        max_length=20,
        help_text=_("10 digits (NNN-NN-NNNNN) for individual businesses and corporations."),
    )
    legal_representative = forms.ModelChoiceField(
        label=_("legal representative"),
        queryset=Customer.objects.filter(kind=Customer.Kind.INDIVIDUAL),
        required=False,
        help_text=_("For a minor registered by a parent or guardian: the representative's customer id."),
    )
    representative_relation = forms.ChoiceField(
        label=_("relation of representative"),
        choices=[("", "---------"), *Customer.RepresentativeRelation.choices],
        required=False,
    )

    def __init__(self, *args: Any, admin_site: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if admin_site is not None:
            self.fields["legal_representative"].widget = _raw_id(Customer, "legal_representative", admin_site)

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "name": data["name"],
            "phone": data["phone"],
            "email": data.get("email") or "",
            "rrn": data.get("rrn") or None,
            "brn": data.get("brn") or None,
            "legal_representative": data.get("legal_representative"),
            "representative_relation": data.get("representative_relation") or "",
        }


class ResidentNumberLookupForm(StaffForm):
    """Find a customer by full RRN without the number ever appearing in a URL."""

    rrn = forms.CharField(label=_("resident registration number"), max_length=20)

    def clean_rrn(self) -> str:
        try:
            return normalise_rrn(self.cleaned_data["rrn"])
        except InvalidNumber:
            raise ValidationError(customer_services.ERR_RRN_FORMAT, code="rrn_format") from None


# --- Accounts ----------------------------------------------------------------------------------


class AccountOpenForm(StaffForm):
    customer = forms.ModelChoiceField(label=_("customer"), queryset=Customer.objects.all())
    product = forms.ModelChoiceField(label=_("product"), queryset=DepositProduct.objects.filter(is_active=True))
    password1 = AccountPinField(
        label=_("account password"), help_text=_("4 digits, chosen by the customer on the keypad.")
    )
    password2 = AccountPinField(label=_("account password (again)"))
    opening_deposit = WonField(label=_("opening deposit (won)"), min_value=0, initial=0, required=False)

    # Service error codes → the field they belong to.
    FIELD_BY_CODE = {
        "account_password_format": "password1",
        "account_password_weak": "password1",
        "product_not_on_sale": "product",
        "opening_amount": "opening_deposit",
        "amount_positive": "opening_deposit",
    }

    def __init__(self, *args: Any, admin_site: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if admin_site is not None:
            self.fields["customer"].widget = _raw_id(Account, "holder", admin_site)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", ValidationError(ERR_PASSWORDS_DIFFER, code="password_mismatch"))
        return data


class CashDepositForm(StaffForm):
    amount = WonField(label=_("amount (won)"), min_value=1)
    memo = forms.CharField(label=_("memo"), max_length=100, required=False)

    FIELD_BY_CODE = {"amount_positive": "amount"}


class CashWithdrawalForm(StaffForm):
    amount = WonField(label=_("amount (won)"), min_value=1)
    password = AccountPinField(label=_("account password"), help_text=_("Entered by the customer on the keypad."))
    memo = forms.CharField(label=_("memo"), max_length=100, required=False)

    FIELD_BY_CODE = {
        "amount_positive": "amount",
        "insufficient_funds": "amount",
        "account_password_wrong": "password",
        "account_password_locked": "password",
    }


class AccountPasswordResetForm(StaffForm):
    new_password1 = AccountPinField(label=_("new account password"), help_text=_("4 digits, chosen by the customer."))
    new_password2 = AccountPinField(label=_("new account password (again)"))
    id_checked = forms.BooleanField(
        label=_("I have checked the customer's ID document at the branch."),
        error_messages={"required": ERR_ID_CHECK},
    )

    FIELD_BY_CODE = {"account_password_format": "new_password1", "account_password_weak": "new_password1"}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("new_password1") and data.get("new_password2") and data["new_password1"] != data["new_password2"]:
            self.add_error("new_password2", ValidationError(ERR_PASSWORDS_DIFFER, code="password_mismatch"))
        return data


# --- Customer-facing forms -----------------------------------------------------------------


class WebMemberSignupForm(forms.Form):
    """Web-member sign-up (웹회원 가입): the password rules are shown before anything is typed."""

    username = forms.CharField(
        label=_("User ID"),
        max_length=20,
        help_text=ERR_USER_ID_SHAPE,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none", "maxlength": "20"}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password (again)"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    name = forms.CharField(label=_("Name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    def clean_username(self) -> str:
        username = str(self.cleaned_data["username"]).strip().lower()
        if not user_id_valid(username):
            raise ValidationError(ERR_USER_ID_SHAPE, code="user_id_shape")
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", ValidationError(ERR_PASSWORDS_DIFFER, code="password_mismatch"))
        return cleaned
