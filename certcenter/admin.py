"""Staff admin for the certificate centre: read-only, plus one staff task.

CA rows never show, load or export their private key (``key_pem`` is deferred and in no field
list). Certificates change only through the certcenter services (issue, renew, revoke), so staff
changes are audited like the customer's own; opening one is an access record (customer data).

Other institutions' CAs (``TrustedAuthority``) are read-only here: operations add and remove them with
``ca_trust_add`` / ``ca_trust_remove`` and load their CRLs with ``ca_trust_crl`` (audited, with the
checks those commands make); the loaded CRL's serials (``ExternalRevocation``) are listed read-only.
Other institutions' certificates registered by customers (``ExternalCertificate``) are read-only too.

A teller revokes a customer's certificate (lost device, the customer at the counter) only by
recording a ``certificate_revoke`` staff request (``<id>/request-revoke/``); a branch manager's
approval in the queue revokes it (dual control).
"""

from __future__ import annotations

import base64
import textwrap
from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin.common import record_personal_data_view
from accounts.admin.staff_requests import StaffRequestWithIdForm, open_request, record_request_view
from accounts.models import StaffRequest
from bankportal.admin import ReadOnlyAdminMixin, ResidentNumberSafeSearchMixin, StaffPagesMixin
from certcenter.models import (
    Certificate,
    CertificateAuthority,
    CrlState,
    ExternalCertificate,
    ExternalRevocation,
    TrustedAuthority,
)
from certcenter.services.authority import colon_hex
from certcenter.services.issuance import REVOKE_REASONS

MSG_NOT_REVOCABLE = _("Only a valid certificate can be revoked.")
MSG_CRL_NONE = _("No CRL loaded: certificates accepted without a revocation check")
MSG_CRL_CURRENT = _("Current")
MSG_CRL_STALE = _("Stale: past its next update, this CA's certificates are refused")
MSG_REVOKE_PENDING = _("A revocation request (%(request)s) is already waiting for a branch manager.")


class CertificateRevokeRequestForm(StaffRequestWithIdForm):
    """Why the customer wants the certificate revoked; the teller has checked their ID."""

    revocation_reason = forms.ChoiceField(
        label=_("revocation reason"),
        choices=[(reason.value, reason.label) for reason in REVOKE_REASONS],
        initial=Certificate.RevocationReason.KEY_COMPROMISE,
    )
    field_order = ["revocation_reason", "reason", "id_checked"]


def _revoke_form_for(certificate: Certificate) -> type[CertificateRevokeRequestForm]:
    """The request form bound to ``certificate``: its payload names the certificate and the reason."""

    class Form(CertificateRevokeRequestForm):
        @staticmethod
        def payload(data: Mapping[str, Any]) -> dict[str, Any]:
            return {"certificate": certificate.pk, "reason": data["revocation_reason"]}

    return Form


@admin.register(CertificateAuthority)
class CertificateAuthorityAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Our CA certificates (public); never the private key."""

    list_display = ("name", "role", "is_active", "serial", "not_before", "not_after", "created_at")
    list_filter = ("role", "is_active")
    fields = (
        "role",
        "name",
        "is_active",
        "serial",
        "fingerprint_sha256",
        "not_before",
        "not_after",
        "created_at",
        "certificate",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[CertificateAuthority]:
        # The encrypted key is not even read from the database for these pages.
        return super().get_queryset(request).defer("key_pem")

    @admin.display(description=_("certificate (PEM)"))
    def certificate(self, obj: CertificateAuthority) -> str:
        return format_html("<pre>{}</pre>", obj.certificate_pem)


@admin.register(Certificate)
class CertificateAdmin(StaffPagesMixin, ReadOnlyAdminMixin, ResidentNumberSafeSearchMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Customers' joint certificates: kind, storage, validity, status and revocation."""

    list_display = ("serial", "subject_cn", "customer", "kind", "storage", "status", "not_after", "revoked_at")
    list_filter = ("status", "kind", "storage")
    list_select_related = ("customer",)
    search_fields = ("=serial",)
    search_help_text = _("Serial number (decimal).")
    fields = (
        "customer",
        "subject_cn",
        "serial",
        "kind",
        "storage",
        "status",
        "not_before",
        "not_after",
        "issuer",
        "revoked_at",
        "revocation_reason",
        "created_at",
    )
    readonly_fields = fields

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        certificate = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if certificate is not None:
            extra["can_request_revoke"] = self._revocable(certificate) and request.user.has_perm(
                "accounts.add_staffrequest"
            )
            extra["request_revoke_url"] = self._url("request_revoke", certificate.pk)
        response = super().change_view(request, object_id, form_url, extra)
        if response.status_code == 200 and certificate is not None:
            record_personal_data_view(
                request, action="certificate.view", obj=certificate, customer_id=certificate.customer_id
            )
        return response

    @staticmethod
    def _revocable(certificate: Certificate) -> bool:
        return certificate.status == Certificate.Status.VALID and certificate.not_after >= timezone.now()

    def request_revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Record a request to revoke the certificate; a branch manager's approval revokes it."""
        certificate = self._get_viewable(request, object_id)
        if not self._revocable(certificate):
            self.message_user(request, str(MSG_NOT_REVOCABLE), messages.ERROR)
            return HttpResponseRedirect(self._url("change", certificate.pk))
        pending = open_request(kind=StaffRequest.Kind.CERTIFICATE_REVOKE, customer=certificate.customer)
        if pending is not None:
            self.message_user(request, str(MSG_REVOKE_PENDING % {"request": pending}), messages.WARNING)
            return HttpResponseRedirect(self._url("change", certificate.pk))

        return record_request_view(
            self,
            request,
            obj=certificate,
            kind=StaffRequest.Kind.CERTIFICATE_REVOKE,
            form_class=_revoke_form_for(certificate),
            title=_("Request: revoke joint certificate"),
            summary=[
                (_("customer"), str(certificate.customer)),
                (_("serial number"), certificate.serial),
                (_("kind"), certificate.get_kind_display()),
                (_("valid until"), timezone.localtime(certificate.not_after)),
            ],
            target={"customer": certificate.customer},
        )

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/request-revoke/",
                self._wrap(self.request_revoke_view),
                name=f"{info}_request_revoke",
            ),
            *super().get_urls(),
        ]


@admin.register(CrlState)
class CrlStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """The current CRL per issuing CA (served at /pki/crl/)."""

    list_display = ("issuer", "number", "revoked_count", "generated_at", "next_update")
    fields = ("issuer", "number", "revoked_count", "generated_at", "next_update")
    readonly_fields = fields


@admin.register(TrustedAuthority)
class TrustedAuthorityAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Other institutions' CAs trusted for registering their certificates, with their loaded CRL;
    managed with the ca_trust_* commands (ca_trust_crl loads a CRL or sets its URL)."""

    list_display = (
        "name",
        "fingerprint",
        "not_after",
        "is_active",
        "crl_number",
        "crl_next_update",
        "crl_state",
        "added_at",
    )
    list_filter = ("is_active",)
    fields = (
        "name",
        "subject",
        "fingerprint",
        "not_before",
        "not_after",
        "is_active",
        "added_at",
        "removed_at",
        "registered_certificates",
        "crl_url",
        "crl_number",
        "crl_this_update",
        "crl_next_update",
        "crl_loaded_at",
        "crl_state",
        "revoked_certificates",
        "certificate",
    )
    readonly_fields = fields

    @admin.display(description=_("SHA-256 fingerprint"))
    def fingerprint(self, obj: TrustedAuthority) -> str:
        return colon_hex(obj.fingerprint_sha256)

    @admin.display(description=_("CRL state"))
    def crl_state(self, obj: TrustedAuthority) -> str:
        if obj.crl_loaded_at is None:
            return str(MSG_CRL_NONE)
        return str(MSG_CRL_STALE if obj.crl_is_stale(timezone.now()) else MSG_CRL_CURRENT)

    @admin.display(description=_("revoked certificates (CRL)"))
    def revoked_certificates(self, obj: TrustedAuthority) -> str:
        url = reverse("admin:certcenter_externalrevocation_changelist")
        return format_html('<a href="{}?authority__id__exact={}">{}</a>', url, obj.pk, obj.revocations.count())

    @admin.display(description=_("registered certificates"))
    def registered_certificates(self, obj: TrustedAuthority) -> int:
        return obj.certificates.filter(status=ExternalCertificate.Status.REGISTERED).count()

    @admin.display(description=_("certificate (PEM)"))
    def certificate(self, obj: TrustedAuthority) -> str:
        body = "\n".join(textwrap.wrap(base64.b64encode(bytes(obj.certificate_der)).decode("ascii"), 64))
        return format_html("<pre>-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----</pre>", body)


@admin.register(ExternalRevocation)
class ExternalRevocationAdmin(ReadOnlyAdminMixin, ResidentNumberSafeSearchMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """The serials listed in the loaded CRLs of other institutions' CAs (replaced by each newer CRL).
    Whoever may view the trusted CAs may view these: they are public lists."""

    list_display = ("serial", "authority", "revoked_at")
    list_filter = ("authority",)
    list_select_related = ("authority",)
    search_fields = ("=serial",)
    search_help_text = _("Serial number (decimal).")
    fields = ("authority", "serial", "revoked_at")
    readonly_fields = fields

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("certcenter.view_trustedauthority")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or self.has_view_permission(request)


@admin.register(ExternalCertificate)
class ExternalCertificateAdmin(StaffPagesMixin, ReadOnlyAdminMixin, ResidentNumberSafeSearchMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Other institutions' certificates registered by customers (타기관 인증서): issuer, validity, status."""

    list_display = ("serial", "subject_cn", "customer", "authority", "status", "not_after", "registered_at")
    list_filter = ("status", "authority")
    list_select_related = ("customer", "authority")
    search_fields = ("=serial",)
    search_help_text = _("Serial number (decimal).")
    fields = (
        "customer",
        "authority",
        "subject_cn",
        "serial",
        "fingerprint",
        "not_before",
        "not_after",
        "identity_checked",
        "status",
        "registered_at",
        "deregistered_at",
    )
    readonly_fields = fields

    @admin.display(description=_("SHA-256 fingerprint"))
    def fingerprint(self, obj: ExternalCertificate) -> str:
        return colon_hex(obj.fingerprint_sha256)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        certificate = self.get_object(request, object_id)
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200 and certificate is not None:
            record_personal_data_view(
                request, action="external_certificate.view", obj=certificate, customer_id=certificate.customer_id
            )
        return response
