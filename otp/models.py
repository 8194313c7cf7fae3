"""Security media (보안매체): security cards, OTP tokens and their registrations, additional authentication."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device

from otp import securitycard, totp

# --- Security cards (보안카드) ---


class CustomerDevice(Device):
    """A security medium of a customer, on django-otp's ``Device``.

    ``Device.user`` is required there; here it is optional and left empty: the medium belongs to
    the customer (often issued before they have an internet-banking login). It is never a
    django-otp login factor: checking it needs an actor, a failure count and an audit event, which
    only the ``otp.services`` functions have, so ``verify_token`` refuses.
    """

    user = models.ForeignKey(  # type: ignore[assignment]  # nullable here, required in Device
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta(Device.Meta):
        abstract = True

    def verify_token(self, token: object) -> bool:
        return False


class SecurityCard(CustomerDevice):
    """A security card (보안카드) issued to a customer: 30 numbered 4-digit codes and a serial.

    A django-otp ``Device``, but it belongs to a *customer*: cards are often issued before the
    customer has an internet-banking user, so ``user`` is optional and left empty by the services.
    The codes are one AES-GCM ciphertext bound to the serial (``otp.services.cards``); they are
    shown once, on the printed card, and never again. The pending challenge lives on the row.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        LOCKED = "locked", _("Locked")
        RETIRED = "retired", _("Retired")

    LIVE_STATUSES = (Status.ACTIVE, Status.LOCKED)

    customer = models.ForeignKey(
        "accounts.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="security_cards"
    )
    serial = models.CharField(_("serial number"), max_length=securitycard.SERIAL_DIGITS, unique=True, editable=False)
    # The 30 codes: AES-GCM ciphertext (associated data: purpose + serial) and the key's id.
    codes_ciphertext = models.TextField(editable=False)
    codes_key_id = models.CharField(max_length=16, editable=False, db_index=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE)
    failures = models.PositiveSmallIntegerField(_("consecutive wrong answers"), default=0)
    issued_at = models.DateTimeField(_("issued at"), db_index=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    locked_at = models.DateTimeField(_("locked at"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)
    # The pending challenge (two code numbers) and until when it stands; empty when none.
    challenge_first = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    challenge_second = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    challenge_issued_at = models.DateTimeField(null=True, blank=True, editable=False)
    challenge_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("security card")
        verbose_name_plural = _("security cards")
        ordering = ["-issued_at", "-id"]
        permissions = [
            ("unlock_securitycard", "Can approve unlocking a locked security card (branch manager)"),
            ("verify_securitycard", "Can check a customer's security card answer on the customer's behalf"),
        ]
        constraints = [
            # At most one usable card per customer: issuing a new one retires the old.
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(status__in=["active", "locked"]),
                name="securitycard_one_live_per_customer",
            ),
            models.CheckConstraint(condition=models.Q(serial__regex=r"^[0-9]{12}$"), name="securitycard_serial_digits"),
            models.CheckConstraint(
                condition=~models.Q(status="locked") | models.Q(locked_at__isnull=False),
                name="securitycard_locked_has_time",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="retired") | models.Q(retired_at__isnull=False),
                name="securitycard_retired_has_time",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    challenge_first__isnull=True,
                    challenge_second__isnull=True,
                    challenge_issued_at__isnull=True,
                    challenge_expires_at__isnull=True,
                )
                | (
                    models.Q(
                        challenge_first__gte=1,
                        challenge_first__lte=securitycard.CODE_COUNT,
                        challenge_second__gte=1,
                        challenge_second__lte=securitycard.CODE_COUNT,
                        challenge_issued_at__isnull=False,
                        challenge_expires_at__isnull=False,
                    )
                    & ~models.Q(challenge_first=models.F("challenge_second"))
                ),
                name="securitycard_challenge_shape",
            ),
        ]

    def __str__(self) -> str:
        return str(_("Security card %(serial)s") % {"serial": self.serial_display})

    @property
    def serial_display(self) -> str:
        return securitycard.format_serial(self.serial)

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE_STATUSES


# --- OTP tokens ---


class OtpToken(models.Model):
    """An OTP generator in the registry (통합OTP): hardware, card-type, or a digital OTP in an app.

    The token, not a registration, carries what every institution shares: its status and the
    consecutive-error counter (10 errors lock it everywhere), and the last time step used (a code
    is accepted once). The seed is AES-GCM ciphertext whose associated data names the serial, so
    it decrypts on this row only; it is never shown.
    """

    class Kind(models.TextChoices):
        HARDWARE = "hardware", _("Hardware OTP")
        CARD_TYPE = "card_type", _("Card-type OTP")
        DIGITAL = "digital", _("Digital OTP")

    class Status(models.TextChoices):
        # A digital OTP between enrollment start and the confirming code.
        PENDING = "pending", _("Waiting for the first code")
        ACTIVE = "active", _("Active")
        ACCIDENT_REPORTED = "accident_reported", _("Accident reported")
        LOCKED = "locked", _("Locked")
        RETIRED = "retired", _("Retired")

    serial = models.CharField(_("serial number"), max_length=20, unique=True)
    vendor = models.CharField(_("vendor"), max_length=60, blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    issuer = models.CharField(
        _("issuing institution"), max_length=3, help_text=_("Three-digit institution code; ours is BANK_CODE")
    )
    seed_ciphertext = models.TextField(editable=False)
    seed_key_id = models.CharField(max_length=16, editable=False, db_index=True)
    step_seconds = models.PositiveSmallIntegerField(_("time step (seconds)"), default=totp.HARDWARE_STEP_SECONDS)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    error_count = models.PositiveSmallIntegerField(_("consecutive errors"), default=0)
    last_used_step = models.BigIntegerField(_("last time step used"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    warranty_until = models.DateField(_("warranty end"), null=True, blank=True)
    locked_at = models.DateTimeField(_("locked at"), null=True, blank=True)
    accident_reported_at = models.DateTimeField(_("accident reported at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("OTP token")
        verbose_name_plural = _("OTP tokens")
        ordering = ["serial"]
        permissions = [("unlock_otptoken", "Can approve unlocking a locked OTP token (branch manager)")]
        constraints = [
            models.CheckConstraint(condition=models.Q(serial__regex=r"^[A-Z0-9]{6,20}$"), name="otptoken_serial_shape"),
            models.CheckConstraint(condition=models.Q(issuer__regex=r"^[0-9]{3}$"), name="otptoken_issuer_code"),
            models.CheckConstraint(condition=models.Q(step_seconds__gte=1), name="otptoken_step_positive"),
            models.CheckConstraint(
                condition=models.Q(error_count__lte=totp.MAX_CONSECUTIVE_ERRORS), name="otptoken_errors_capped"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="locked") | models.Q(locked_at__isnull=False),
                name="otptoken_locked_has_time",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="accident_reported") | models.Q(accident_reported_at__isnull=False),
                name="otptoken_accident_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.serial_masked}"

    @property
    def serial_masked(self) -> str:
        return totp.mask_serial(self.serial)


class OtpRegistration(CustomerDevice):
    """A customer's use of an OTP token at this bank (이용등록), at a branch or online.

    A django-otp ``Device`` that belongs to a *customer* (``user`` stays empty, so it is never a
    staff login factor); codes are checked only by ``otp.services.tokens.otp_verify``, which
    counts errors on the shared token. At most one active registration per customer, and per token.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the first code")
        ACTIVE = "active", _("Active")
        ACCIDENT_REPORTED = "accident_reported", _("Accident reported")
        RETIRED = "retired", _("Retired")

    class Channel(models.TextChoices):
        BRANCH = "branch", _("Branch")
        ONLINE = "online", _("Online")

    customer = models.ForeignKey(
        "accounts.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="otp_registrations"
    )
    token = models.ForeignKey(
        OtpToken, verbose_name=_("OTP token"), on_delete=models.PROTECT, related_name="registrations"
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    registered_at = models.DateTimeField(_("registered at"), db_index=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registered by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("OTP registration")
        verbose_name_plural = _("OTP registrations")
        ordering = ["-registered_at", "-id"]
        permissions = [
            ("record_otp_accident", "Can record an OTP accident report (사고신고) for a customer"),
            ("verify_otpregistration", "Can check a customer's OTP code on the customer's behalf"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=models.Q(status="active"), name="otpregistration_one_active_per_customer"
            ),
            models.UniqueConstraint(
                fields=["token"], condition=models.Q(status="active"), name="otpregistration_one_active_per_token"
            ),
        ]

    def __str__(self) -> str:
        return str(_("OTP %(serial)s") % {"serial": totp.mask_serial(self.token.serial)})


# --- Additional authentication (추가인증) ---


class AdditionalAuthChallenge(models.Model):
    """A 6-digit code sent to the customer's registered phone for one purpose (``otp.additionalauth``).

    Only a keyed MAC of the code is stored, bound to this row's random nonce.
    """

    class Purpose(models.TextChoices):
        CERTIFICATE_REISSUE = "certificate_reissue", _("Certificate reissue")
        OTHER_BANK_CERTIFICATE = "other_bank_certificate", _("Registering another bank's certificate")
        FINANCIAL_CERTIFICATE_ISSUE = "financial_certificate_issue", _("Financial certificate issue")
        DIGITAL_OTP_ENROLL = "digital_otp_enroll", _("Digital OTP enrollment")
        SUSPENSION_RELEASE = "suspension_release", _("Releasing an internet banking suspension")

    class Channel(models.TextChoices):
        SMS = "sms", _("Text message (SMS)")
        ARS = "ars", _("ARS call")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the code")
        VERIFIED = "verified", _("Verified")
        FAILED = "failed", _("Too many wrong codes")
        EXPIRED = "expired", _("Expired")
        SUPERSEDED = "superseded", _("Replaced by a newer code")
        USED = "used", _("Verified and used")

    customer = models.ForeignKey(
        "accounts.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+"
    )
    purpose = models.CharField(_("purpose"), max_length=32, choices=Purpose.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.PENDING)
    nonce = models.CharField(max_length=32, editable=False)
    code_mac = models.CharField(max_length=64, editable=False)
    attempts = models.PositiveSmallIntegerField(_("wrong tries"), default=0)
    created_at = models.DateTimeField(_("sent at"), db_index=True)
    expires_at = models.DateTimeField(_("expires at"))
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    # When the verification was spent on the action it allowed (state USED); it allows only one.
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("additional authentication")
        verbose_name_plural = _("additional authentications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "purpose", "state"], name="additional_auth_lookup_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(state="verified") | models.Q(verified_at__isnull=False),
                name="additional_auth_verified_has_time",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="used") | models.Q(verified_at__isnull=False, used_at__isnull=False),
                name="additional_auth_used_has_times",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} ({self.get_state_display()})"
