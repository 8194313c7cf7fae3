"""Staff forms for the branch admin, and the customer-facing forms: input shape only.

Business rules (valid numbers, duplicate customers, password strength, balances) are checked by
``accounts.services``; the admin maps the service's ``ValidationError`` back onto these forms
with ``add_service_error`` so each message appears next to its field.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from typing import Any, cast

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_credentials
from django import forms
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db.models import ManyToOneRel
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from accounts import accountnumbers
from accounts.agreements import user_id_valid
from accounts.idnumbers import InvalidNumber, normalise_rrn, parse_brn
from accounts.models import Account, Agreement, Customer, DepositProduct, User
from accounts.services import customers as customer_services
from accounts.services.agreement_online import ONLINE_RELEASE_REASONS
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


class UserIdPasswordForm(forms.Form):
    """A new user ID and a password typed twice; the rules are shown before anything is typed and
    the password validators run in the service (web-member sign-up, online registration)."""

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


class WebMemberSignupForm(UserIdPasswordForm):
    """Web-member sign-up (웹회원 가입)."""

    name = forms.CharField(label=_("Name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))


# --- E-banking agreement flows (인터넷뱅킹 등록, 아이디 찾기, 일시정지 해제) ----------------------------
#
# Shape only: a malformed value gets its message here and never reaches a service, so it is not
# counted as a wrong entry. Whether the details match is the service's decision, and it answers
# one message for every mismatch. The identifying number and the account password are never
# rendered back to the browser.

ERR_EBANKING_NAME = _("Enter the account holder's name as registered with the bank.")
ERR_EBANKING_ID_NUMBER = _(
    "Enter your 13-digit resident registration number or 10-digit business registration number, digits only "
    "or with hyphens."
)
ERR_EBANKING_BIRTH_OR_BRN = _(
    "Enter your birth date as 8 digits (e.g. 19900101), or your 10-digit business registration number."
)
ERR_EBANKING_ACCOUNT_NUMBER = _("Enter the 12-digit withdrawal account number (hyphens optional). Check each digit.")
ERR_CARD_HALF = _("Enter 2 digits.")
ERR_OTP_CODE = _("Enter the 6-digit number shown on your OTP now, digits only.")
ERR_SMS_CODE = _("Enter the 6-digit code from the text message or call, digits only.")
ERR_SEND_CHANNEL = _("Choose a text message (SMS) or an ARS call.")
ERR_LOGIN_TERMINATED = _(
    "Your e-banking agreement has ended, so this user ID can no longer log in. To use internet banking "
    "again, apply at a branch with your ID."
)
ERR_LOGIN_SUSPENDED_ONLINE = _(
    "Internet banking is suspended for this user ID (%(reason)s). You can release it online with your "
    "withdrawal account, security medium and a code sent to your phone, then log in."
)
ERR_LOGIN_SUSPENDED_BRANCH = _(
    "Internet banking is suspended for this user ID (%(reason)s). This suspension can only be released at "
    "a branch: please visit one with your ID."
)

_SEPARATORS = re.compile(r"[\s-]")


def _secret_text(**attrs: str) -> forms.PasswordInput:
    # Never rendered back: typed again after any error.
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false", **attrs})


class EbankingIdentifyForm(forms.Form):
    """Step 1 of registration and release: name, RRN or business number, withdrawal account and its password."""

    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        error_messages={"required": ERR_EBANKING_NAME},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    id_number = forms.CharField(
        label=_("Resident or business registration number"),
        max_length=20,
        strip=True,
        help_text=_("13 digits (YYMMDD-NNNNNNN) for individuals, 10 digits for businesses. Never shown again."),
        error_messages={"required": ERR_EBANKING_ID_NUMBER},
        widget=_secret_text(inputmode="numeric"),
    )
    account_number = forms.CharField(
        label=_("Withdrawal account number"),
        max_length=20,
        help_text=_("The account designated at the branch when you signed the agreement."),
        error_messages={"required": ERR_EBANKING_ACCOUNT_NUMBER},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    account_password = AccountPinField(label=_("Account password"), help_text=_("The 4-digit account password."))

    def clean_name(self) -> str:
        return " ".join(str(self.cleaned_data["name"]).split())

    def clean_id_number(self) -> str:
        value = str(self.cleaned_data["id_number"])
        for parse in (normalise_rrn, parse_brn):
            try:
                return parse(value)
            except InvalidNumber:
                continue
        raise ValidationError(ERR_EBANKING_ID_NUMBER, code="id_number_shape")

    def clean_account_number(self) -> str:
        try:
            return accountnumbers.normalise(str(self.cleaned_data["account_number"]))
        except accountnumbers.InvalidAccountNumber:
            raise ValidationError(ERR_EBANKING_ACCOUNT_NUMBER, code="account_number_shape") from None


class FindIdForm(EbankingIdentifyForm):
    """아이디 찾기: the birth date (8 digits) instead of the RRN, or the business registration number."""

    id_number = forms.CharField(
        label=_("Birth date or business registration number"),
        max_length=20,
        strip=True,
        help_text=_("Birth date as 8 digits (e.g. 19900101); businesses: the 10-digit registration number."),
        error_messages={"required": ERR_EBANKING_BIRTH_OR_BRN},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean_id_number(self) -> str:
        value = _SEPARATORS.sub("", str(self.cleaned_data["id_number"])).replace(".", "").replace("/", "")
        if len(value) == 8 and value.isascii() and value.isdigit():
            try:
                dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
            except ValueError:
                raise ValidationError(ERR_EBANKING_BIRTH_OR_BRN, code="id_number_shape") from None
            return value
        try:
            return parse_brn(value)
        except InvalidNumber:
            raise ValidationError(ERR_EBANKING_BIRTH_OR_BRN, code="id_number_shape") from None


class _DigitsField(forms.CharField):
    """Digits as typed: the spaces and hyphens people put between them are dropped first."""

    def to_python(self, value: Any) -> str:
        return _SEPARATORS.sub("", super().to_python(value) or "")


def _digits_field(label: Any, digits: int, message: Any, **attrs: str) -> _DigitsField:
    return _DigitsField(
        label=label,
        max_length=digits + 4,  # room for the spaces typed between digits; the validator wants exactly ``digits``
        validators=[RegexValidator(rf"^[0-9]{{{digits}}}$", message=message, code="digits_shape")],
        error_messages={"required": message, "max_length": message},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false", "size": str(digits + 2)}
            | attrs
        ),
    )


class SecurityCardAnswerForm(forms.Form):
    """A security card challenge: the first two digits of one code and the last two of another."""

    first_half = _digits_field(_("First two digits"), 2, ERR_CARD_HALF)
    second_half = _digits_field(_("Last two digits"), 2, ERR_CARD_HALF)

    def answer(self) -> str:
        return self.cleaned_data["first_half"] + self.cleaned_data["second_half"]


class OtpAnswerForm(forms.Form):
    code = _digits_field(_("Number shown on your OTP"), 6, ERR_OTP_CODE, autocomplete="one-time-code")

    def answer(self) -> str:
        return str(self.cleaned_data["code"])


class AdditionalAuthSendForm(forms.Form):
    """Send the phone code (추가인증) by text message or, where the bank offers it, an ARS call."""

    channel = forms.ChoiceField(
        choices=[("sms", "sms"), ("ars", "ars")],
        error_messages={"required": ERR_SEND_CHANNEL, "invalid_choice": ERR_SEND_CHANNEL},
    )


class AdditionalAuthCodeForm(forms.Form):
    phone_code = _digits_field(_("Code sent to your phone"), 6, ERR_SMS_CODE, autocomplete="one-time-code")


ERR_SIGNATURE_UNREADABLE = _(
    "The signature could not be read. Choose your certificate again, enter its password and sign again."
)
RELEASE_CERTIFICATE_MAX_CHARS = 16 * 1024  # base64 of a certificate of about 1.5 KB, with room to spare
RELEASE_SIGNATURE_MAX_CHARS = 1024  # base64 of an RSA-2048 signature is 344 characters


class _Base64Field(forms.Field):
    """Standard base64 (as the page's script sends it) → bytes; anything else gets one clear message."""

    widget = forms.HiddenInput

    def __init__(self, *, max_chars: int) -> None:
        super().__init__()
        self.max_chars = max_chars

    def to_python(self, value: Any) -> bytes:
        text = value.strip() if isinstance(value, str) else ""
        if len(text) > self.max_chars:
            raise ValidationError(ERR_SIGNATURE_UNREADABLE, code="too_long")
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(ERR_SIGNATURE_UNREADABLE, code="unreadable") from None

    def validate(self, value: Any) -> None:
        if not value:
            raise ValidationError(ERR_SIGNATURE_UNREADABLE, code="required")


class ReleaseSignatureForm(forms.Form):
    """The signing step of the online release: the certificate (DER) and the signature over the shown
    text, both base64, filled in by static/js/release-sign.js. The key and its password stay in the browser."""

    certificate = _Base64Field(max_chars=RELEASE_CERTIFICATE_MAX_CHARS)
    signature = _Base64Field(max_chars=RELEASE_SIGNATURE_MAX_CHARS)

    def refusal(self) -> str:
        """The one message the page shows for unreadable input (both fields are hidden)."""
        return str(ERR_SIGNATURE_UNREADABLE)


class EbankingLoginChoiceForm(UserIdPasswordForm):
    """Step 3 of registration: the user ID and login password."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password1"].label = _("Login password")
        self.fields["password2"].label = _("Login password (again)")


class EbankingAuthenticationForm(AuthenticationForm):
    """The login form, aware of the user's e-banking agreement (shape and state only; the view
    records wrong entries and use through the services).

    - A suspended agreement refuses the sign-in (right password) with the reason, and says
      whether it can be released online (``release_online``).
    - A terminated agreement's user (made inactive) gets a clear message instead of the generic
      one, but only when the password is right, so the message reveals nothing to a guesser.
    - ``wrong_password_agreement``: the active agreement whose login password was just entered
      wrongly (checked, not refused by the sign-in throttle), for the view to count;
      ``active_agreement``: the active agreement of a user allowed in, for the view to record use.
    """

    release_online: bool = False
    wrong_password_agreement: Agreement | None = None
    active_agreement: Agreement | None = None  # the signed-in user's active agreement (to record the use)

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        # Only a password the backends actually checked counts: not one the sign-in throttle refused.
        checked = (
            self.request is not None
            and bool(username and password)
            and AxesProxyHandler.is_allowed(self.request, get_credentials(username))
        )
        try:
            return super().clean()
        except ValidationError as error:
            if not checked or getattr(error, "code", None) != "invalid_login":
                raise
            user = User._default_manager.filter(username=username).first()
            agreement = _agreement_of(user)
            if user is None or agreement is None:
                raise
            terminated = not user.is_active and agreement.state == Agreement.State.TERMINATED
            if terminated and user.check_password(str(password)):
                raise ValidationError(ERR_LOGIN_TERMINATED, code="agreement_terminated") from None
            if user.is_active and agreement.state == Agreement.State.ACTIVE:
                self.wrong_password_agreement = agreement
            raise

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        agreement = _agreement_of(user)
        if agreement is not None and agreement.state == Agreement.State.ACTIVE:
            self.active_agreement = agreement
        if agreement is None or agreement.state != Agreement.State.SUSPENDED:
            return
        self.release_online = agreement.suspension_reason in ONLINE_RELEASE_REASONS
        message = ERR_LOGIN_SUSPENDED_ONLINE if self.release_online else ERR_LOGIN_SUSPENDED_BRANCH
        raise ValidationError(
            message,
            code="agreement_suspended",
            params={"reason": agreement.get_suspension_reason_display()},
        )


def _agreement_of(user: Any) -> Agreement | None:
    if user is None:
        return None
    try:
        return cast(Agreement, user.agreement)
    except Agreement.DoesNotExist:
        return None
