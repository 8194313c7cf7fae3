"""Input shapes of the certificate-centre pages (issue flow). Only shape: the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import EbankingIdentifyForm

ERR_TERMS = _("Read the terms of use of joint certificates and tick the box to agree.")
ERR_USER_ID = _("Enter your internet banking user ID.")
USER_ID_MAX = 20  # accounts: 6 to 20 lowercase letters and digits


class CertificateIdentifyForm(EbankingIdentifyForm):
    """Step 1 of the issue (인증서 발급): the terms, the user ID, the RRN or business number, the
    withdrawal account and its password. The holder's name comes from the agreement of the user ID."""

    field_order = ["terms", "user_id", "id_number", "account_number", "account_password"]

    name = None  # type: ignore[assignment]  # the user ID names the customer
    terms = forms.BooleanField(
        label=_("I have read and agree to the terms of use of joint certificates."),
        error_messages={"required": ERR_TERMS},
    )
    user_id = forms.CharField(
        label=_("User ID"),
        max_length=USER_ID_MAX,
        strip=True,
        error_messages={"required": ERR_USER_ID, "max_length": ERR_USER_ID},
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}),
    )

    def clean_user_id(self) -> str:
        return str(self.cleaned_data["user_id"]).strip()
