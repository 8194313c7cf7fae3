"""Staff users (직원): a teller or branch manager with the authenticator that opens the staff admin.

The admin (``bankportal.admin_site``) needs user name, password and the code of a confirmed TOTP
device for every staff user, so creating staff and (re-)enrolling their authenticator are the
operations that hand out admin access: both are audited, and only operations run them (as
management commands, acting as a named ``SystemActor``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import pyotp
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.services._common import Actor, require_perm
from bankportal.audit.services import audit_record

# Role (as operations type it) -> staff group, with the duties the data migrations gave it.
ROLE_GROUPS = {"teller": "Teller", "manager": "Branch manager"}
AUTHENTICATOR_NAME = "staff admin authenticator"

ERR_USERNAME_REQUIRED = _("Enter a user name.")
ERR_USERNAME_TAKEN = _("A user named %(username)s already exists; choose another user name.")
ERR_UNKNOWN_ROLE = _("Unknown role %(role)s: choose one of %(roles)s.")
ERR_NOT_STAFF = _("%(username)s is not a staff user: only staff sign in to the staff admin.")
ERR_INACTIVE = _("%(username)s is deactivated: reactivate the account before enrolling an authenticator.")
ERR_KEY_INVALID = _("An authenticator key is 20 bytes of hex.")


@dataclass(frozen=True)
class StaffEnrolment:
    user: User
    device: TOTPDevice


def staff_totp_secret(device: TOTPDevice) -> str:
    """The device key in base32: what an authenticator app takes for manual entry."""
    return base64.b32encode(device.bin_key).decode("ascii")


def staff_otpauth_uri(device: TOTPDevice) -> str:
    """The otpauth:// URI (the enrolment QR code's content), labelled with the bank's staff admin."""
    return pyotp.TOTP(staff_totp_secret(device), digits=device.digits, interval=device.step).provisioning_uri(
        name=device.user.get_username(), issuer_name=f"{settings.BANK_NAME_EN} staff admin"
    )


def _group_for(role: str) -> Group:
    if role not in ROLE_GROUPS:
        raise ValidationError(
            ERR_UNKNOWN_ROLE, code="unknown_role", params={"role": role, "roles": ", ".join(ROLE_GROUPS)}
        )
    return Group.objects.get(name=ROLE_GROUPS[role])


def _new_device(user: User, key: str | None) -> TOTPDevice:
    device = TOTPDevice(user=user, name=AUTHENTICATOR_NAME, confirmed=True)
    if key is not None:
        try:
            if len(binascii.unhexlify(key)) != 20:
                raise ValueError(key)
        except (ValueError, binascii.Error):
            raise ValidationError(ERR_KEY_INVALID, code="key_invalid") from None
        device.key = key.lower()
    device.save()
    return device


@transaction.atomic
def staff_create(*, username: str, role: str, password: str, name: str = "", actor: Actor) -> StaffEnrolment:
    """Create a staff user in the role's group, with a confirmed authenticator (TOTP device).

    Raises ``ValidationError`` (``username_required``, ``username_invalid``, ``username_taken``,
    ``unknown_role``, or the password validators' codes) and ``PermissionDenied``.
    """
    require_perm(actor, "accounts.add_user")
    require_perm(actor, "otp_totp.add_totpdevice")
    username = username.strip()
    if not username:
        raise ValidationError(ERR_USERNAME_REQUIRED, code="username_required")
    User.username_validator(username)
    group = _group_for(role)
    # Case-insensitively: "Teller01" beside "teller01" is a mix-up waiting at the sign-in page.
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError(ERR_USERNAME_TAKEN, code="username_taken", params={"username": username})
    validate_password(password, user=User(username=username, first_name=name))
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, password=password, first_name=name, is_staff=True)
    except IntegrityError:  # created by someone else since the check above
        raise ValidationError(ERR_USERNAME_TAKEN, code="username_taken", params={"username": username}) from None
    user.groups.add(group)
    device = _new_device(user, None)
    audit_record(
        action="staff.create", actor=actor, obj=user, details={"username": username, "role": role, "device": device.pk}
    )
    return StaffEnrolment(user=user, device=device)


@transaction.atomic
def staff_otp_enrol(*, user: User, actor: Actor, reason: str, key: str | None = None) -> TOTPDevice:
    """Give a staff user a new confirmed authenticator, retiring any they had.

    Sessions verified by a retired device stop opening the admin at their next request. ``key``
    (20 bytes of hex) is for the development demo personas only; everyone else gets a random one.
    Raises ``ValidationError`` (``not_staff``, ``inactive``, ``key_invalid``) and ``PermissionDenied``.
    """
    require_perm(actor, "otp_totp.add_totpdevice")
    require_perm(actor, "otp_totp.delete_totpdevice")
    # Lock the user: two enrolments racing would each retire the other's device and leave two.
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_staff:
        raise ValidationError(ERR_NOT_STAFF, code="not_staff", params={"username": user.get_username()})
    if not user.is_active:
        raise ValidationError(ERR_INACTIVE, code="inactive", params={"username": user.get_username()})
    retired, _by_model = TOTPDevice.objects.filter(user=user).delete()
    device = _new_device(user, key)
    audit_record(
        action="staff.otp_enrol",
        actor=actor,
        obj=user,
        details={"username": user.get_username(), "device": device.pk, "retired_devices": retired, "reason": reason},
    )
    return device
