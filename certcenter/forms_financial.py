"""Input shapes of the financial certificate pages (금융인증서). Only shape: the services decide.

``PinForm`` is the new PIN entered twice on the keypad (issue; the sign-in, renewal and transfer
pages may reuse it). It checks what the service would refuse before anything is spent: 6 ASCII
digits, the same twice, not trivial (``pin_problem`` of the cloud's interface, with the holder's
birth date when the page knows it). The service checks again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from certcenter.cloud.api import PIN_LENGTH, pin_problem
from certcenter.forms import CertificateIdentifyForm
from certcenter.services.financial import ERR_PIN_FORMAT, ERR_PIN_MISMATCH, ERR_PIN_TRIVIAL

ERR_FINANCIAL_TERMS = _("Read the terms of use of financial certificates and tick the box to agree.")
ERR_DETAILS_CONFIRM = _("Tick the box to confirm that your name and mobile number are correct.")
ERR_REPLACE_CONFIRM = _(
    "Tick the box to confirm that your current financial certificate will be revoked when the new one is issued."
)


class FinancialIdentifyForm(CertificateIdentifyForm):
    """Step 1 of the financial certificate issue: the terms, user ID, RRN or business number, the
    withdrawal account and its password (the same identification as the joint certificate's)."""

    terms = forms.BooleanField(
        label=_("I have read and agree to the terms of use of financial certificates."),
        error_messages={"required": ERR_FINANCIAL_TERMS},
    )


class DetailsConfirmForm(forms.Form):
    """Step 4: the registered name, mobile number and email confirmed; with ``replacing``, also that
    the financial certificate in use will be revoked."""

    confirm = forms.BooleanField(
        label=_("My name and mobile number above are correct. I will sign in with them."),
        error_messages={"required": ERR_DETAILS_CONFIRM},
    )

    def __init__(self, *args: Any, replacing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if replacing:
            self.fields["replace"] = forms.BooleanField(
                label=_("I understand that my current financial certificate will be revoked and replaced."),
                error_messages={"required": ERR_REPLACE_CONFIRM},
            )


def _pin_field(label: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        min_length=PIN_LENGTH,
        max_length=PIN_LENGTH,
        strip=False,  # a PIN with a space is not 6 digits
        validators=[RegexValidator(rf"^[0-9]{{{PIN_LENGTH}}}\Z", message=ERR_PIN_FORMAT, code="pin_format")],
        error_messages={"required": ERR_PIN_FORMAT, "min_length": ERR_PIN_FORMAT, "max_length": ERR_PIN_FORMAT},
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


class PinForm(forms.Form):
    """A new 6-digit PIN, entered twice; ``birth_date`` (the holder's) makes a birth-date PIN trivial."""

    pin = _pin_field(_("PIN (6 digits)"))
    pin_again = _pin_field(_("PIN again"))

    def __init__(self, *args: Any, birth_date: dt.date | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.birth_date = birth_date

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        pin, again = cleaned.get("pin"), cleaned.get("pin_again")
        if pin is None or again is None:
            return cleaned
        if pin != again:
            self.add_error("pin_again", forms.ValidationError(ERR_PIN_MISMATCH, code="pin_mismatch"))
        elif pin_problem(pin, self.birth_date) is not None:
            self.add_error("pin", forms.ValidationError(ERR_PIN_TRIVIAL, code="trivial_pin"))
        return cleaned


MSG_CLOUD_CHOOSE = _("Choose the financial certificate to register.")
MSG_CLOUD_PIN = _("Enter the financial certificate's 6-digit PIN.")


class FinancialRegisterForm(forms.Form):
    """Step 4, the cloud's way: one of the customer's financial certificates from other institutions and its PIN."""

    certificate = forms.ChoiceField(
        label=_("Financial certificate"),
        widget=forms.RadioSelect,
        error_messages={"required": MSG_CLOUD_CHOOSE, "invalid_choice": MSG_CLOUD_CHOOSE},
    )
    pin = forms.CharField(
        label=_("Financial certificate PIN (6 digits)"),
        min_length=6,
        max_length=6,
        strip=False,
        error_messages={"required": MSG_CLOUD_PIN, "min_length": MSG_CLOUD_PIN, "max_length": MSG_CLOUD_PIN},
    )

    def __init__(self, choices: list[tuple[str, str]], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["certificate"].choices = choices  # type: ignore[attr-defined]
