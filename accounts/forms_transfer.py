"""The transfer pages' forms (이체): input shape only.

The rules (limits, balances, who may receive, what a memo may hold) are the transfer service's
(``accounts.services.transfers``); these forms turn typed text into the values it takes and say
clearly what is missing. The account password is never kept: it is typed on the confirmation
step and checked there.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.forms import AccountPinField, ReleaseSignatureForm, WonField
from accounts.models import Transfer
from accounts.services.transfers import ERR_AMOUNT, ERR_DESTINATION, ERR_FORM_KEY, ERR_MEMO, MEMO_MAX

ERR_FROM_ACCOUNT_CHOICE = _("Choose the account to send from.")
ERR_OWN_ACCOUNT_CHOICE = _("Choose which of your accounts receives the money.")
ERR_BANK_CHOICE = _("Choose the receiving bank from the list.")
ERR_TO_NUMBER_REQUIRED = _("Enter the receiving account number.")
ERR_ACCOUNT_PASSWORD_REQUIRED = _("Enter the 4-digit password of the account you send from.")
ERR_FINANCIAL_PIN = _("Enter the 6-digit PIN of your financial certificate.")

# How the confirmation step is signed: the joint certificate in the browser (the default), or the
# financial certificate in the cloud with its PIN. The financial form posts ``method=financial``.
SIGN_JOINT = "joint"
SIGN_FINANCIAL = "financial"


class _KeyField(forms.UUIDField):
    """The form's idempotency key (hidden); a missing or tampered one refuses the submission."""

    widget = forms.HiddenInput
    default_error_messages = {"invalid": ERR_FORM_KEY, "required": ERR_FORM_KEY}


def _memo_field(label: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=MEMO_MAX,
        error_messages={"max_length": ERR_MEMO},
        widget=forms.TextInput(attrs={"maxlength": str(MEMO_MAX), "autocomplete": "off"}),
    )


def clean_memo(value: str) -> str:
    """What the service keeps: stripped, NFC, at most 20 characters, no control characters."""
    memo = unicodedata.normalize("NFC", (value or "").strip())
    if len(memo) > MEMO_MAX or any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in memo):
        raise ValidationError(ERR_MEMO, code="memo")
    return memo


class TransferForm(forms.Form):
    """Step 1: from which account, to where, how much, and a memo for each side."""

    key = _KeyField()
    from_account = forms.TypedChoiceField(
        label=_("From account"),
        coerce=int,
        error_messages={"required": ERR_FROM_ACCOUNT_CHOICE, "invalid_choice": ERR_FROM_ACCOUNT_CHOICE},
    )
    destination = forms.ChoiceField(
        label=_("Send to"),
        choices=Transfer.Destination.choices,
        widget=forms.RadioSelect,
        error_messages={"required": ERR_DESTINATION, "invalid_choice": ERR_DESTINATION},
    )
    own_account = forms.TypedChoiceField(
        label=_("My account"),
        coerce=int,
        required=False,
        error_messages={"invalid_choice": ERR_OWN_ACCOUNT_CHOICE},
    )
    to_bank_code = forms.ChoiceField(
        label=_("Receiving bank"),
        required=False,
        error_messages={"invalid_choice": ERR_BANK_CHOICE},
    )
    to_account_number = forms.CharField(
        label=_("Receiving account number"),
        required=False,
        max_length=40,
        help_text=_("Digits only; hyphens and spaces are ignored."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}),
    )
    amount = WonField(
        label=_("Amount (won)"),
        min_value=1,
        error_messages={"required": ERR_AMOUNT, "min_value": ERR_AMOUNT},
    )
    memo_sender = _memo_field(_("Memo in my history"))
    memo_recipient = _memo_field(_("Memo in the recipient's history"))

    def __init__(
        self,
        *args: Any,
        from_choices: Iterable[tuple[int, str]] = (),
        own_choices: Iterable[tuple[int, str]] = (),
        bank_choices: Iterable[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from_account"].choices = [("", _("Choose an account")), *from_choices]  # type: ignore[attr-defined]
        self.fields["own_account"].choices = [("", _("Choose an account")), *own_choices]  # type: ignore[attr-defined]
        bank_choices = list(bank_choices)
        self.fields["to_bank_code"].choices = [("", _("Choose a bank")), *bank_choices]  # type: ignore[attr-defined]
        if not bank_choices:  # no interbank gateway: this bank only
            self.fields["destination"].choices = [  # type: ignore[attr-defined]
                choice for choice in Transfer.Destination.choices if choice[0] != Transfer.Destination.OTHER_BANK
            ]
            del self.fields["to_bank_code"]

    def clean_memo_sender(self) -> str:
        return clean_memo(self.cleaned_data.get("memo_sender", ""))

    def clean_memo_recipient(self) -> str:
        return clean_memo(self.cleaned_data.get("memo_recipient", ""))

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        destination = data.get("destination")
        if destination == Transfer.Destination.OWN:
            if not data.get("own_account"):
                self.add_error("own_account", ValidationError(ERR_OWN_ACCOUNT_CHOICE, code="own_account"))
        elif destination in (Transfer.Destination.SAME_BANK, Transfer.Destination.OTHER_BANK):
            if destination == Transfer.Destination.OTHER_BANK and not data.get("to_bank_code"):
                self.add_error("to_bank_code", ValidationError(ERR_BANK_CHOICE, code="bank_code"))
            if not (data.get("to_account_number") or "").strip():
                self.add_error("to_account_number", ValidationError(ERR_TO_NUMBER_REQUIRED, code="account_number"))
        return data


class TransferConfirmForm(ReleaseSignatureForm):
    """Step 2: the form's key, the account password, and the certificate and signature over the
    shown text (both base64, filled in by static/js/transfer-sign.js). The security medium's
    answer comes with it in its own form (``SecurityCardAnswerForm`` or ``OtpAnswerForm``)."""

    key = _KeyField()
    account_password = AccountPinField(
        label=_("Account password"), error_messages={"required": ERR_ACCOUNT_PASSWORD_REQUIRED}
    )

    def key_matches(self, key: uuid.UUID) -> bool:
        return self.is_bound and self.data.get("key", "") == str(key)


class TransferFinancialConfirmForm(forms.Form):
    """Step 2 signed with the financial certificate: the form's key, the account password and the
    certificate's 6-digit PIN (on the on-screen keypad), which the cloud checks. The security
    medium's answer comes with it as for the joint certificate."""

    key = _KeyField()
    account_password = AccountPinField(
        label=_("Account password"), error_messages={"required": ERR_ACCOUNT_PASSWORD_REQUIRED}
    )
    pin = forms.CharField(
        label=_("Financial certificate PIN"),
        min_length=6,
        max_length=6,
        strip=False,
        error_messages={key: ERR_FINANCIAL_PIN for key in ("required", "min_length", "max_length")},
    )

    def clean_pin(self) -> str:
        pin = str(self.cleaned_data.get("pin", ""))
        if not (pin.isascii() and pin.isdigit()):
            raise ValidationError(ERR_FINANCIAL_PIN, code="pin_format")
        return pin
