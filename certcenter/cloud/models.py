"""The cloud's records: one per key pair it holds (``CloudCertificate``), and where each is registered.

The private key is stored only as its envelope (``envelope.SealedKey``: KEK id, nonces, ciphertexts),
the PIN only as a keyed verifier, the phone number only as a blind index. None of them is shown in
the admin, logged or audited; revocation (and a lock or a renewal, which end the key's use for good)
overwrites them with empty values.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from certcenter.cloud.api import CertificateStatus
from certcenter.cloud.envelope import SealedKey
from certcenter.cloud.pins import MAX_WRONG_PINS

INSTITUTION_PATTERN = r"^[0-9]{3}$"
SERIAL_MAX_DIGITS = 49  # RFC 5280: a positive integer of at most 20 octets, as decimal text


def mask_name(name: str) -> str:
    """The first and last character, the rest masked: 김민수 → 김*수, 김철 → 김*."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    return name[0] + "*" * max(1, len(name) - 2) + (name[-1] if len(name) > 2 else "")


class CloudCertificate(models.Model):
    """A key pair the cloud holds for a holder, and (once issued) its certificate."""

    class Status(models.TextChoices):
        PENDING = CertificateStatus.PENDING.value, _("Waiting for the certificate")
        ACTIVE = CertificateStatus.ACTIVE.value, _("Active")
        LOCKED = CertificateStatus.LOCKED.value, _("Locked (wrong PINs)")
        REVOKED = CertificateStatus.REVOKED.value, _("Revoked")
        SUPERSEDED = CertificateStatus.SUPERSEDED.value, _("Superseded (renewed)")

    cloud_id = models.UUIDField(_("cloud id"), unique=True, default=uuid.uuid4, editable=False)
    institution = models.CharField(_("issuing institution"), max_length=3)
    holder_name = models.CharField(_("holder name"), max_length=100)
    # blind_index(phone digits, BLIND_INDEX_KEY, "fincloud-phone"): found by name + phone, never stored in clear.
    phone_index = models.CharField(max_length=64, editable=False)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)  # for the trivial-PIN rule only
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    wrong_pins = models.PositiveSmallIntegerField(_("consecutive wrong PINs"), default=0)
    locked_at = models.DateTimeField(_("locked at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revocation_reason = models.CharField(_("revocation reason"), max_length=32, blank=True)
    renews = models.ForeignKey(
        "self",
        verbose_name=_("renews"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="renewals",
    )
    # The envelope (certcenter/cloud/envelope.py) and the PIN verifier, both under CLOUD_KEK[kek_id].
    kek_id = models.CharField(max_length=16, editable=False)
    key_nonce = models.BinaryField(editable=False)
    key_ciphertext = models.BinaryField(editable=False)
    dek_nonce = models.BinaryField(editable=False)
    wrapped_dek = models.BinaryField(editable=False)
    pin_verifier = models.BinaryField(editable=False)
    public_key_der = models.BinaryField(_("public key (DER)"), editable=False)
    certificate_der = models.BinaryField(_("certificate (DER)"), default=b"", blank=True)
    serial = models.CharField(_("serial number"), max_length=SERIAL_MAX_DIGITS, blank=True)
    issuer = models.CharField(_("issuer"), max_length=300, blank=True)
    not_before = models.DateTimeField(_("valid from"), null=True, blank=True)
    not_after = models.DateTimeField(_("valid until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("financial certificate (cloud)")
        verbose_name_plural = _("financial certificates (cloud)")
        ordering = ["-created_at", "-id"]
        indexes = [
            # find(): the holder's certificates by phone index and name.
            models.Index(fields=["phone_index", "holder_name"], name="fincloud_cert_holder"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[choice.value for choice in CertificateStatus]), name="fincloud_cert_status"
            ),
            models.CheckConstraint(condition=Q(institution__regex=INSTITUTION_PATTERN), name="fincloud_cert_inst"),
            models.CheckConstraint(
                condition=Q(wrong_pins__gte=0) & Q(wrong_pins__lte=MAX_WRONG_PINS), name="fincloud_cert_wrong_pins"
            ),
            # A certificate that was ever usable has one: serial and validity.
            models.CheckConstraint(
                condition=Q(status__in=["pending", "revoked"]) | (~Q(serial="") & Q(not_after__isnull=False)),
                name="fincloud_cert_issued",
            ),
            models.CheckConstraint(
                condition=~Q(status="locked") | Q(locked_at__isnull=False), name="fincloud_cert_locked_at"
            ),
            models.CheckConstraint(
                condition=~Q(status="revoked") | Q(revoked_at__isnull=False), name="fincloud_cert_revoked_at"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.institution} {mask_name(self.holder_name)} ({self.get_status_display()})"

    def __repr__(self) -> str:
        # Never the key material, even in a debugger or a traceback.
        return f"<CloudCertificate {self.pk} {self.cloud_id} {self.status}>"

    @property
    def holder_masked(self) -> str:
        return mask_name(self.holder_name)

    @property
    def has_key(self) -> bool:
        return bool(self.key_ciphertext)

    def sealed_key(self) -> SealedKey:
        return SealedKey(
            kek_id=self.kek_id,
            key_nonce=bytes(self.key_nonce),
            key_ciphertext=bytes(self.key_ciphertext),
            dek_nonce=bytes(self.dek_nonce),
            wrapped_dek=bytes(self.wrapped_dek),
        )

    def store_sealed_key(self, sealed: SealedKey) -> None:
        self.kek_id = sealed.kek_id
        self.key_nonce = sealed.key_nonce
        self.key_ciphertext = sealed.key_ciphertext
        self.dek_nonce = sealed.dek_nonce
        self.wrapped_dek = sealed.wrapped_dek

    def destroy_key_material(self) -> None:
        """Overwrite the envelope and the PIN verifier: nothing left can sign or test a PIN."""
        self.key_nonce = b""
        self.key_ciphertext = b""
        self.dek_nonce = b""
        self.wrapped_dek = b""
        self.pin_verifier = b""


class CloudRegistration(models.Model):
    """A certificate registered at an institution (타행 등록); the issuing one is registered at enrolment."""

    certificate = models.ForeignKey(
        CloudCertificate, verbose_name=_("certificate"), on_delete=models.CASCADE, related_name="registrations"
    )
    institution = models.CharField(_("institution"), max_length=3)
    registered_at = models.DateTimeField(_("registered at"))

    class Meta:
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        ordering = ["registered_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["certificate", "institution"], name="fincloud_registration_unique"),
            models.CheckConstraint(condition=Q(institution__regex=INSTITUTION_PATTERN), name="fincloud_reg_inst"),
        ]

    def __str__(self) -> str:
        return f"{self.certificate_id} @ {self.institution}"
