"""The staff admin site: Django's admin behind a password and an authenticator (TOTP) code.

Every staff user, superusers included, signs in with user name, password and the 6-digit code
of the authenticator app that operations enrolled (``staff_create`` / ``staff_otp_reset``, a
confirmed django-otp ``TOTPDevice``). ``bankportal.apps.BankAdminConfig`` makes this the default
admin site, so the apps keep registering on ``django.contrib.admin.site`` with
``@admin.register``. Imports no app.

A wrong password, a wrong code and an account with no authenticator all get the same answer,
so the page never tells which factor was wrong; each of them is a failed sign-in
(``user_login_failed``), counted by the sign-in throttle and written to the audit trail.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminSite
from django_otp.plugins.otp_totp.models import TOTPDevice

_CODE = re.compile(r"[0-9]{6}")

ERR_INVALID_LOGIN = _(
    "Please enter the correct %(username)s, password and authenticator code for a staff account. "
    "The user name and password are case-sensitive."
)
ERR_CODE_FORMAT = _("Enter the 6-digit code shown in your authenticator app.")
CODE_HELP = _(
    "The 6-digit code your authenticator app shows for this bank's staff admin. "
    "No authenticator enrolled yet? Ask operations or your branch manager to enrol you."
)
NOT_ENROLLED_NOTICE = _(
    "You are signed in as %(username)s, but no authenticator is enrolled for your account, so the staff "
    "admin stays closed. Ask operations or your branch manager to enrol you (staff_otp_reset)."
)
NOT_VERIFIED_NOTICE = _(
    "You are signed in as %(username)s, but this session has not been confirmed with your authenticator "
    "code. Sign in again with your user name, password and code."
)


def staff_authenticator(user: Any) -> TOTPDevice | None:
    """The staff member's confirmed admin authenticator, if one is enrolled."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def verify_staff_code(user: Any, code: str) -> TOTPDevice | None:
    """The device that accepts ``code`` now, or None (no device, throttled, wrong or already used).

    A failed check is recorded on the device (django-otp's back-off), so it commits with the
    caller's transaction, never rolled back.
    """
    with transaction.atomic():
        # Lock the device row: two sign-ins racing with the same code would otherwise both pass
        # the "newer than the last used step" check, and a code must never work twice.
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).order_by("-pk").first()
        if device is None:
            return None
        return device if device.verify_token(code) else None


class StaffAuthenticationForm(AdminAuthenticationForm):
    """User name, password and authenticator code, checked in one step."""

    error_messages = {**AdminAuthenticationForm.error_messages, "invalid_login": ERR_INVALID_LOGIN}

    otp_token = forms.CharField(
        label=_("Authenticator code"),
        help_text=CODE_HELP,
        max_length=12,  # room for "123 456" as some apps show it
        strip=True,
        error_messages={"required": ERR_CODE_FORMAT, "max_length": ERR_CODE_FORMAT},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}),
    )

    def clean_otp_token(self) -> str:
        code = "".join(self.cleaned_data["otp_token"].split())
        if not _CODE.fullmatch(code):
            raise ValidationError(ERR_CODE_FORMAT, code="otp_format")
        return code

    def clean(self) -> dict[str, Any]:
        if "otp_token" not in self.cleaned_data:
            # No password check without a well-formed code: otherwise a missing code would tell
            # whether the password was right, and that attempt would count as no failure.
            return self.cleaned_data
        super().clean()  # the password (a failure is signalled by authenticate) and is_staff
        user = self.get_user()
        if user is not None:
            device = verify_staff_code(user, self.cleaned_data["otp_token"])
            if device is None:
                self.user_cache = None
                user_login_failed.send(
                    sender=__name__, credentials={"username": user.get_username()}, request=self.request
                )
                raise self.get_invalid_login_error()
            # django_otp's user_logged_in receiver stores this device in the session (verified).
            user.otp_device = device  # type: ignore[attr-defined]
        return self.cleaned_data


class BankAdminSite(OTPAdminSite):
    """The staff admin ("admin" namespace): our branding, and a session verified by a TOTP device."""

    site_header = _("Branch administration")
    site_title = _("Branch administration")
    index_title = _("Branch work")
    # Not django-otp's form, which asks for the device on a second submission and counts no failure.
    login_form = StaffAuthenticationForm  # type: ignore[assignment]
    login_template = "admin/login.html"

    def __init__(self, name: str = "admin") -> None:
        # OTPAdminSite defaults to the "otpadmin" namespace; every reverse() here uses "admin".
        super().__init__(name)

    def has_permission(self, request: HttpRequest) -> bool:
        # Only the staff authenticator opens the admin: a device verified for some other purpose
        # (a customer's security medium on the public site) never does.
        return super().has_permission(request) and isinstance(getattr(request.user, "otp_device", None), TOTPDevice)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = dict(extra_context or {})
        user = request.user
        if user.is_authenticated and user.is_staff:
            # Already past the password (here no factor is being guessed): say what is missing.
            notice = NOT_VERIFIED_NOTICE if staff_authenticator(user) else NOT_ENROLLED_NOTICE
            context["staff_otp_notice"] = notice % {"username": user.get_username()}
        return super().login(request, context)
