"""Security centre forms (보안센터): input shape only; the ``otp`` services decide.

Codes and serials are cleaned of the spaces and hyphens people type; a malformed value gets a
translated message next to its field and never reaches a service (so it is not counted as a wrong
code on the token).
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

ERR_CODE_SHAPE = _("Enter the 6-digit number shown now, digits only.")
ERR_SERIAL_SHAPE = _("Enter the serial number printed on the back of the OTP: 6 to 20 letters and digits.")
ERR_PHONE_CODE_SHAPE = _("Enter the 6-digit code from the text message or call, digits only.")
ERR_CHANNEL = _("Choose a text message (SMS) or an ARS call.")
ERR_CONFIRM_REQUIRED = _("Tick the box to confirm that you want to report your OTP lost.")

_SEPARATORS = re.compile(r"[\s-]")


class _CompactField(forms.CharField):
    """A code or serial as typed: spaces and hyphens dropped, letters upper-cased."""

    def to_python(self, value: Any) -> str:
        return _SEPARATORS.sub("", super().to_python(value) or "").upper()


def _code_field(label: Any, message: Any = ERR_CODE_SHAPE) -> _CompactField:
    return _CompactField(
        label=label,
        max_length=12,  # room for "123 456" typed with separators; the validator wants 6 digits
        validators=[RegexValidator(r"^[0-9]{6}$", message=message, code="otp_code_shape")],
        error_messages={"required": message},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "spellcheck": "false", "size": "8"}
        ),
    )


class DigitalOtpConfirmForm(forms.Form):
    """One code from the authenticator app confirms a digital OTP enrollment."""

    code = _code_field(_("Number shown in the app"))


class PhoneCheckSendForm(forms.Form):
    """Send a phone-check code (추가인증) by text message or, where the bank offers it, an ARS call."""

    channel = forms.ChoiceField(
        choices=[("sms", "sms"), ("ars", "ars")],
        error_messages={"required": ERR_CHANNEL, "invalid_choice": ERR_CHANNEL},
    )


class PhoneCheckCodeForm(forms.Form):
    """The 6-digit code sent to the registered phone."""

    phone_code = _code_field(_("Code sent to your phone"), message=ERR_PHONE_CODE_SHAPE)


class OtpRegisterForm(forms.Form):
    """보안센터 → OTP 이용등록: another institution's integrated OTP, by serial and current code."""

    serial = _CompactField(
        label=_("OTP serial number"),
        max_length=30,
        validators=[RegexValidator(r"^[A-Z0-9]{6,20}$", message=ERR_SERIAL_SHAPE, code="otp_serial_shape")],
        error_messages={"required": ERR_SERIAL_SHAPE},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}),
    )
    code = _code_field(_("Number shown on the OTP now"))


class AccidentReportForm(forms.Form):
    """The customer confirms the accident report (사고신고): it blocks the OTP everywhere at once."""

    confirm = forms.BooleanField(
        label=_("I confirm that my OTP is lost or stolen and want it blocked now."),
        error_messages={"required": ERR_CONFIRM_REQUIRED},
    )
