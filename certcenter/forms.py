"""Input shapes of the certificate-centre pages (issue and reissue flows). Only shape: the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import EbankingIdentifyForm
from certcenter.services.issuance import ReissueReason

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


ERR_REISSUE_REASON = _("Choose why you reissue the certificate: lost, forgotten password or expired.")
ERR_REISSUE_CONFIRM = _(
    "Tick the box to confirm that your current certificates will be revoked. This cannot be undone."
)
REISSUE_REASONS = (
    (ReissueReason.LOST.value, _("Lost, stolen or possibly copied by someone else")),
    (ReissueReason.FORGOTTEN_PASSWORD.value, _("I forgot the certificate password")),
    (ReissueReason.EXPIRED.value, _("The certificate has expired")),
)


class ReissueReasonForm(forms.Form):
    """Step 2 of the reissue (재발급): why, and the explicit confirmation that every current
    certificate will be revoked (the page lists them)."""

    reason = forms.ChoiceField(
        label=_("Reason for reissue"),
        choices=REISSUE_REASONS,
        widget=forms.RadioSelect,
        error_messages={"required": ERR_REISSUE_REASON, "invalid_choice": ERR_REISSUE_REASON},
    )
    confirm = forms.BooleanField(
        label=_(
            "I understand that my current certificates listed above will be revoked at once and cannot be restored."
        ),
        error_messages={"required": ERR_REISSUE_CONFIRM},
    )
