"""Certificate centre: our own certificate authority and the joint certificates it issues.

All ``cryptography`` work lives in ``certcenter.ca`` (pure); these rows only keep its results.
A CA's private key is stored as encrypted PKCS#8 PEM (``CA_KEY_PASSPHRASE``) and is decrypted
only inside ``certcenter.services``, never shown in the admin, logged or audited.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from certcenter import ca

# Serials are positive integers of up to 20 octets (RFC 5280 4.1.2.2): at most 49 decimal digits.
# Kept as canonical decimal text: SQLite's NUMERIC affinity would round anything past 64 bits.
SERIAL_MAX_DIGITS = 49
SERIAL_PATTERN = r"^[1-9][0-9]*$"
CRL_NUMBER_MAX_DIGITS = 49
CRL_NUMBER_PATTERN = r"^(0|[1-9][0-9]*)$"


def serial_text(serial: int) -> str:
    """The stored form of a certificate serial number."""
    if serial <= 0:
        raise ValueError("a certificate serial number is a positive integer")
    return str(serial)


class CertificateAuthority(models.Model):
    """A CA certificate of ours with its encrypted private key: the root, or the issuing CA it signed."""

    class Role(models.TextChoices):
        ROOT = "root", _("Root CA")
        ISSUING = "issuing", _("Issuing CA")

    role = models.CharField(_("role"), max_length=8, choices=Role.choices)
    name = models.CharField(_("common name"), max_length=200)
    certificate_pem = models.TextField(_("certificate (PEM)"))
    # Encrypted PKCS#8 PEM; decrypted only by certcenter.services (signing), never displayed.
    key_pem = models.TextField(editable=False)
    serial = models.CharField(_("serial number"), max_length=SERIAL_MAX_DIGITS, unique=True)
    fingerprint_sha256 = models.CharField(_("SHA-256 fingerprint"), max_length=64, unique=True)
    not_before = models.DateTimeField(_("valid from"))
    not_after = models.DateTimeField(_("valid until"))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("certificate authority")
        verbose_name_plural = _("certificate authorities")
        ordering = ["role", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["role"], condition=Q(is_active=True), name="certcenter_one_active_ca_per_role"
            ),
            models.CheckConstraint(condition=Q(role__in=["root", "issuing"]), name="certcenter_ca_role_valid"),
            models.CheckConstraint(condition=Q(serial__regex=SERIAL_PATTERN), name="certcenter_ca_serial_decimal"),
            models.CheckConstraint(condition=Q(not_after__gt=models.F("not_before")), name="certcenter_ca_validity"),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.name}"

    def __repr__(self) -> str:
        # Never the key, even in a debugger or a traceback.
        return f"<CertificateAuthority {self.pk} {self.role} {self.name!r}>"


class CertificateQuerySet(models.QuerySet["Certificate"]):
    def joint(self) -> CertificateQuerySet:
        """Joint certificates only (the browser or a file holds the key): what renewal, reissue,
        copying and "my certificates" deal with."""
        return self.exclude(kind=Certificate.Kind.FINANCIAL)

    def financial(self) -> CertificateQuerySet:
        """Financial certificates only (the cloud holds the key; ``cloud_id`` names it there)."""
        return self.filter(kind=Certificate.Kind.FINANCIAL)


class Certificate(models.Model):
    """A customer's certificate issued by our issuing CA: a joint certificate (공동인증서), whose
    private key and password never reach the server, or a financial certificate (금융인증서), whose
    key the financial certificate cloud (``certcenter.cloud``) holds under the customer's PIN.

    The certificate itself is public. Both kinds share the CA's register, CRL and OCSP.
    """

    class Kind(models.TextChoices):
        RESTRICTED = ca.CertificateKind.RESTRICTED.value, _("Restricted use (banking, insurance, cards)")
        GENERAL = ca.CertificateKind.GENERAL.value, _("General purpose")
        CORPORATE = ca.CertificateKind.CORPORATE.value, _("Corporate general purpose")
        E_TAX = ca.CertificateKind.E_TAX.value, _("Electronic tax invoice")
        FINANCIAL = ca.CertificateKind.FINANCIAL.value, _("Financial certificate")

    class Storage(models.TextChoices):
        BROWSER = "browser", _("This browser")
        FILE = "file", _("File (hard disk or USB)")
        CLOUD = "cloud", _("Financial certificate cloud")

    class Status(models.TextChoices):
        VALID = "valid", _("Valid")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")

    class RevocationReason(models.TextChoices):
        UNSPECIFIED = ca.RevocationReason.UNSPECIFIED.value, _("Unspecified")
        KEY_COMPROMISE = ca.RevocationReason.KEY_COMPROMISE.value, _("Key compromise")
        SUPERSEDED = ca.RevocationReason.SUPERSEDED.value, _("Superseded (renewed or reissued)")
        CESSATION_OF_OPERATION = ca.RevocationReason.CESSATION_OF_OPERATION.value, _("No longer used")
        AFFILIATION_CHANGED = ca.RevocationReason.AFFILIATION_CHANGED.value, _("Affiliation changed")

    customer = models.ForeignKey(
        "accounts.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="joint_certificates",
    )
    issuer = models.ForeignKey(
        CertificateAuthority, verbose_name=_("issuer"), on_delete=models.PROTECT, related_name="certificates"
    )
    serial = models.CharField(_("serial number"), max_length=SERIAL_MAX_DIGITS, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    storage = models.CharField(_("storage"), max_length=8, choices=Storage.choices)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.VALID)
    subject_cn = models.CharField(_("subject name"), max_length=200)
    not_before = models.DateTimeField(_("valid from"))
    not_after = models.DateTimeField(_("valid until"))
    certificate_der = models.BinaryField(_("certificate (DER)"))
    # A financial certificate's id in the cloud (certcenter.cloud.api); NULL for a joint certificate.
    cloud_id = models.UUIDField(_("cloud id"), null=True, blank=True, unique=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revocation_reason = models.CharField(
        _("revocation reason"), max_length=32, choices=RevocationReason.choices, blank=True
    )
    created_at = models.DateTimeField(_("created at"))
    # Set by the daily job (certcenter.services.notices) in the transaction that writes the SMS:
    # each notice goes out once per certificate.
    renewal_notice_sent_at = models.DateTimeField(_("renewal notice sent at"), null=True, blank=True)
    expiry_reminder_sent_at = models.DateTimeField(_("expiry reminder sent at"), null=True, blank=True)

    objects = CertificateQuerySet.as_manager()

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The daily job: valid certificates by expiry (notices, marking expired).
            models.Index(fields=["status", "not_after"], name="certcenter_cert_status_expiry"),
            # "My certificates" and the login's lookup of a customer's current ones.
            models.Index(fields=["customer", "status"], name="certcenter_cert_customer"),
            # The CRL: revoked certificates of one issuer.
            models.Index(fields=["issuer", "revoked_at"], name="certcenter_cert_revoked"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(serial__regex=SERIAL_PATTERN), name="certcenter_cert_serial_decimal"),
            models.CheckConstraint(condition=Q(not_after__gt=models.F("not_before")), name="certcenter_cert_validity"),
            models.CheckConstraint(
                condition=Q(kind__in=[choice.value for choice in ca.CertificateKind]), name="certcenter_cert_kind"
            ),
            models.CheckConstraint(
                condition=Q(storage__in=["browser", "file", "cloud"]), name="certcenter_cert_storage"
            ),
            # The cloud holds exactly the financial certificates, each under its cloud id.
            models.CheckConstraint(
                condition=Q(kind="financial", storage="cloud", cloud_id__isnull=False)
                | (~Q(kind="financial") & ~Q(storage="cloud") & Q(cloud_id__isnull=True)),
                name="certcenter_cert_financial_in_cloud",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["valid", "revoked", "expired"]), name="certcenter_cert_status"
            ),
            # Revoked means a time and a reason; a certificate never revoked has neither. (An
            # expired one keeps its revocation, so the CRL and OCSP keep answering "revoked".)
            models.CheckConstraint(
                condition=~Q(status="revoked") | (Q(revoked_at__isnull=False) & ~Q(revocation_reason="")),
                name="certcenter_cert_revoked_has_time_and_reason",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=False, status__in=["revoked", "expired"])
                | Q(revoked_at__isnull=True, revocation_reason=""),
                name="certcenter_cert_revocation_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_cn} ({self.serial})"

    @property
    def serial_number(self) -> int:
        return int(self.serial)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class CrlState(models.Model):
    """The current certificate revocation list of one issuing CA, served from here at /pki/crl/.

    Regenerated (number + 1) by ``crl_regenerate``: on each revocation, daily, and on a request
    that finds none or an outdated one.
    """

    issuer = models.OneToOneField(
        CertificateAuthority, verbose_name=_("issuer"), on_delete=models.PROTECT, related_name="crl_state"
    )
    number = models.PositiveBigIntegerField(_("CRL number"))
    crl_der = models.BinaryField(_("CRL (DER)"))
    generated_at = models.DateTimeField(_("generated at"))
    next_update = models.DateTimeField(_("next update"))
    revoked_count = models.PositiveIntegerField(_("revoked certificates listed"), default=0)

    class Meta:
        verbose_name = _("certificate revocation list")
        verbose_name_plural = _("certificate revocation lists")
        constraints = [
            models.CheckConstraint(condition=Q(number__gte=1), name="certcenter_crl_number_positive"),
            models.CheckConstraint(
                condition=Q(next_update__gt=models.F("generated_at")), name="certcenter_crl_next_update_later"
            ),
        ]

    def __str__(self) -> str:
        return f"CRL #{self.number} ({self.issuer.name})"


# A login challenge lives 2 minutes: long enough to pick a certificate and type its password.
LOGIN_CHALLENGE_LIFETIME_SECONDS = 120
SHA256_HEX_PATTERN = r"^[0-9a-f]{64}$"


class LoginChallenge(models.Model):
    """A server nonce for one certificate login: single use, 2 minutes, bound to one browser session.

    Only SHA-256 hashes are stored: of the nonce (what the browser signs; it is looked up by its
    hash) and of the session key (never the key itself, which would let a reader of this table
    take over the session). ``used_at`` is set before anything else is checked, so every attempt,
    refused or not, spends its nonce.
    """

    nonce_sha256 = models.CharField(_("nonce (SHA-256)"), max_length=64, unique=True)
    session_sha256 = models.CharField(_("session (SHA-256)"), max_length=64)
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("certificate login challenge")
        verbose_name_plural = _("certificate login challenges")
        indexes = [
            # A purge of old challenges (a later job) deletes by age.
            models.Index(fields=["expires_at"], name="certcenter_challenge_expiry"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(nonce_sha256__regex=SHA256_HEX_PATTERN), name="certcenter_challenge_nonce_hex"
            ),
            models.CheckConstraint(
                condition=Q(session_sha256__regex=SHA256_HEX_PATTERN), name="certcenter_challenge_session_hex"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="certcenter_challenge_expiry_later"
            ),
        ]

    def __str__(self) -> str:
        return f"login challenge {self.pk} ({self.created_at:%Y-%m-%d %H:%M:%S})"


class SignatureEvidence(models.Model):
    """A customer's verified electronic signature (전자서명) with what it proves, kept as evidence.

    ``text`` is exactly what was signed (UTF-8): the login nonce, or a canonical text from
    ``certcenter.signing.canonical_text`` (a transfer's details, a release). The certificate's
    serial is copied so the evidence reads on its own.
    """

    class Purpose(models.TextChoices):
        LOGIN = "login", _("Certificate login")
        TRANSFER = "transfer", _("Transfer")
        SUSPENSION_RELEASE = "suspension_release", _("Release of a suspension")
        EXTERNAL_REGISTRATION = "external_registration", _("Registration of another institution's certificate")

    customer = models.ForeignKey(
        "accounts.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="signatures"
    )
    # Exactly one of: a certificate we issued, or another institution's certificate registered here.
    certificate = models.ForeignKey(
        Certificate,
        verbose_name=_("certificate"),
        on_delete=models.PROTECT,
        related_name="signatures",
        null=True,
        blank=True,
    )
    external_certificate = models.ForeignKey(
        "ExternalCertificate",
        verbose_name=_("other institution's certificate"),
        on_delete=models.PROTECT,
        related_name="signatures",
        null=True,
        blank=True,
    )
    certificate_serial = models.CharField(_("certificate serial number"), max_length=SERIAL_MAX_DIGITS)
    purpose = models.CharField(_("purpose"), max_length=24, choices=Purpose.choices)
    text = models.TextField(_("signed text"))
    text_sha256 = models.CharField(_("signed text (SHA-256)"), max_length=64)
    signature = models.BinaryField(_("signature"))
    verified_at = models.DateTimeField(_("verified at"))

    class Meta:
        verbose_name = _("signature evidence")
        verbose_name_plural = _("signature evidence")
        ordering = ["-verified_at", "-id"]
        indexes = [models.Index(fields=["customer", "verified_at"], name="certcenter_signature_customer")]
        constraints = [
            models.CheckConstraint(
                condition=Q(purpose__in=["login", "transfer", "suspension_release", "external_registration"]),
                name="certcenter_signature_purpose",
            ),
            models.CheckConstraint(
                condition=Q(certificate__isnull=False, external_certificate__isnull=True)
                | Q(certificate__isnull=True, external_certificate__isnull=False),
                name="certcenter_signature_one_certificate",
            ),
            models.CheckConstraint(
                condition=Q(text_sha256__regex=SHA256_HEX_PATTERN), name="certcenter_signature_text_hex"
            ),
            models.CheckConstraint(
                condition=Q(certificate_serial__regex=SERIAL_PATTERN), name="certcenter_signature_serial_decimal"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} signature {self.pk} ({self.certificate_serial})"


class TrustedAuthority(models.Model):
    """Another institution's CA whose joint certificates customers may register here (타행/타기관 인증서).

    Added and removed by operations (``ca_trust_add``), never from the customer pages. A certificate of
    another institution is accepted only if it was signed directly by an active trusted CA certificate.
    Removing a CA (``is_active`` false, ``removed_at``) keeps the row: registrations and signature
    evidence made under it still point at it, but nothing new is accepted under it.

    Its CRL (``ca_trust_crl``, nightly from ``crl_url``): the ``crl_*`` fields describe the one
    loaded (all empty until the first), its revoked serials are the ``revocations`` rows. A certificate
    listed there is refused; once a CRL was loaded, everything under the CA is refused while it is
    past its next update (the status cannot be confirmed). Never loaded: accepted unchecked.
    """

    name = models.CharField(_("name"), max_length=200)
    subject = models.CharField(_("subject"), max_length=1000)
    certificate_der = models.BinaryField(_("certificate (DER)"))
    fingerprint_sha256 = models.CharField(_("SHA-256 fingerprint"), max_length=64, unique=True)
    not_before = models.DateTimeField(_("valid from"))
    not_after = models.DateTimeField(_("valid until"))
    is_active = models.BooleanField(_("trusted"), default=True)
    added_at = models.DateTimeField(_("added at"))
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)
    crl_url = models.URLField(_("CRL distribution URL"), max_length=500, blank=True)
    # Decimal text: a CRL number may have up to 20 octets (RFC 5280 5.2.3), past SQLite's integers.
    # Empty when no CRL was loaded or the loaded one had no number.
    crl_number = models.CharField(_("CRL number"), max_length=CRL_NUMBER_MAX_DIGITS, blank=True)
    crl_this_update = models.DateTimeField(_("CRL issued at"), null=True, blank=True)
    crl_next_update = models.DateTimeField(_("CRL next update"), null=True, blank=True)
    crl_loaded_at = models.DateTimeField(_("CRL loaded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("trusted certificate authority")
        verbose_name_plural = _("trusted certificate authorities")
        ordering = ["name", "-added_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fingerprint_sha256__regex=SHA256_HEX_PATTERN), name="certcenter_trusted_ca_fingerprint_hex"
            ),
            models.CheckConstraint(
                condition=Q(not_after__gt=models.F("not_before")), name="certcenter_trusted_ca_validity"
            ),
            models.CheckConstraint(
                condition=Q(is_active=True, removed_at__isnull=True) | Q(is_active=False, removed_at__isnull=False),
                name="certcenter_trusted_ca_removal_consistent",
            ),
            models.CheckConstraint(
                condition=Q(
                    crl_loaded_at__isnull=True,
                    crl_this_update__isnull=True,
                    crl_next_update__isnull=True,
                    crl_number="",
                )
                | Q(
                    crl_loaded_at__isnull=False,
                    crl_this_update__isnull=False,
                    crl_next_update__gt=models.F("crl_this_update"),
                ),
                name="certcenter_trusted_ca_crl_consistent",
            ),
            models.CheckConstraint(
                condition=Q(crl_number="") | Q(crl_number__regex=CRL_NUMBER_PATTERN),
                name="certcenter_trusted_ca_crl_number_decimal",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def crl_is_stale(self, now: dt.datetime) -> bool:
        """A CRL was loaded and ``now`` is past its next update (the next update itself is still fine)."""
        return self.crl_next_update is not None and now > self.crl_next_update


class ExternalCertificate(models.Model):
    """A certificate issued by another institution and registered here by its owner (타기관 인증서 등록):
    a joint certificate, or a financial certificate the cloud holds (``cloud_id``).

    The other institution revokes and renews it; here it is only registered or deregistered (the
    customer deletes the registration, staff revoke it through a request, or it is re-registered
    elsewhere). Only one customer at a time holds a registration of the same certificate.
    """

    class Status(models.TextChoices):
        REGISTERED = "registered", pgettext_lazy("certificate registration status", "Registered")
        DEREGISTERED = "deregistered", _("Deregistered")

    customer = models.ForeignKey(
        "accounts.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="external_certificates",
    )
    authority = models.ForeignKey(
        TrustedAuthority, verbose_name=_("issuer"), on_delete=models.PROTECT, related_name="certificates"
    )
    serial = models.CharField(_("serial number"), max_length=SERIAL_MAX_DIGITS)
    subject_cn = models.CharField(_("subject name"), max_length=200)
    not_before = models.DateTimeField(_("valid from"))
    not_after = models.DateTimeField(_("valid until"))
    certificate_der = models.BinaryField(_("certificate (DER)"))
    fingerprint_sha256 = models.CharField(_("SHA-256 fingerprint"), max_length=64)
    # Whether the certificate carried an identity hash that was checked against the customer's RRN
    # (with the R value the browser sent); False when the other institution's certificate had none.
    identity_checked = models.BooleanField(_("identity hash checked"), default=False)
    # Another institution's financial certificate: its id in the financial certificate cloud, which
    # holds its key (the certificate is registered there at this bank too). NULL for a joint one.
    cloud_id = models.UUIDField(_("cloud id"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.REGISTERED)
    registered_at = models.DateTimeField(_("registered at"))
    deregistered_at = models.DateTimeField(_("deregistered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("other institution's certificate")
        verbose_name_plural = _("other institutions' certificates")
        ordering = ["-registered_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "status"], name="certcenter_external_customer"),
            models.Index(fields=["fingerprint_sha256"], name="certcenter_external_fpr"),
        ]
        constraints = [
            # One live registration per certificate (an issuer's serial names one certificate).
            models.UniqueConstraint(
                fields=["authority", "serial"],
                condition=Q(status="registered"),
                name="certcenter_external_one_registration",
            ),
            models.CheckConstraint(
                condition=Q(serial__regex=SERIAL_PATTERN), name="certcenter_external_serial_decimal"
            ),
            models.CheckConstraint(
                condition=Q(fingerprint_sha256__regex=SHA256_HEX_PATTERN), name="certcenter_external_fingerprint_hex"
            ),
            models.CheckConstraint(
                condition=Q(not_after__gt=models.F("not_before")), name="certcenter_external_validity"
            ),
            models.CheckConstraint(
                condition=Q(status="registered", deregistered_at__isnull=True)
                | Q(status="deregistered", deregistered_at__isnull=False),
                name="certcenter_external_status_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_cn} ({self.serial})"


class ExternalRevocation(models.Model):
    """A serial number in the loaded CRL of a trusted CA: that certificate was revoked by its issuer.

    Rewritten as a whole, in one transaction, each time a newer CRL of the CA is loaded
    (``certcenter.services.external_crl``); looked up at registration, login and e-signature.
    """

    authority = models.ForeignKey(
        TrustedAuthority, verbose_name=_("issuer"), on_delete=models.CASCADE, related_name="revocations"
    )
    serial = models.CharField(_("serial number"), max_length=SERIAL_MAX_DIGITS)
    revoked_at = models.DateTimeField(_("revoked at"))

    class Meta:
        verbose_name = _("certificate revoked by another institution")
        verbose_name_plural = _("certificates revoked by other institutions")
        ordering = ["-revoked_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["authority", "serial"], name="certcenter_external_revocation_unique"),
            models.CheckConstraint(
                condition=Q(serial__regex=SERIAL_PATTERN), name="certcenter_external_revocation_serial_decimal"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.serial} ({self.authority_id})"


# A copy waits 5 minutes for its sender and receiver.
COPY_LIFETIME_SECONDS = 300


class CertificateCopy(models.Model):
    """One copy of a certificate to another device (인증서 복사), in flight for at most 5 minutes.

    The receiving device asks for it and shows a one-time code; the sending device uploads the
    certificate and its still-encrypted private key under that code; the receiver picks it up.
    The server holds ciphertext only (the key is encrypted PKCS#8 under the certificate password,
    which never leaves the browsers), and only until pickup or expiry: ``payload`` is emptied then,
    and old rows are deleted by the daily housekeeping job.

    Only hashes are stored of the code (keyed with the server secret: a 12-digit code would
    otherwise be guessed from its plain hash) and of the receiver's session.
    """

    code_hmac = models.CharField(_("code (HMAC)"), max_length=64, unique=True)
    receiver_session_sha256 = models.CharField(_("receiver session (SHA-256)"), max_length=64)
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"))
    uploaded_at = models.DateTimeField(_("uploaded at"), null=True, blank=True)
    picked_up_at = models.DateTimeField(_("picked up at"), null=True, blank=True)
    # The certificate (DER) and encrypted key (PKCS#8 DER) as sent; emptied on pickup or expiry.
    payload = models.BinaryField(_("payload"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("certificate copy")
        verbose_name_plural = _("certificate copies")
        indexes = [models.Index(fields=["expires_at"], name="certcenter_copy_expiry")]
        constraints = [
            models.CheckConstraint(condition=Q(code_hmac__regex=SHA256_HEX_PATTERN), name="certcenter_copy_code_hex"),
            models.CheckConstraint(
                condition=Q(receiver_session_sha256__regex=SHA256_HEX_PATTERN), name="certcenter_copy_session_hex"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="certcenter_copy_expiry_later"
            ),
            # Picked up means uploaded first, and nothing kept after.
            models.CheckConstraint(
                condition=Q(picked_up_at__isnull=True) | Q(uploaded_at__isnull=False, payload__isnull=True),
                name="certcenter_copy_pickup_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"certificate copy {self.pk} ({self.created_at:%Y-%m-%d %H:%M:%S})"

    def __repr__(self) -> str:
        return f"<CertificateCopy {self.pk}>"
