"""Staff admin for the certificate centre: read-only.

CA rows never show, load or export their private key (``key_pem`` is deferred and in no field
list). Certificates change only through the certcenter services (issue, renew, revoke), so staff
changes are audited like the customer's own; opening one is an access record (customer data).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin.common import record_personal_data_view
from bankportal.admin import ReadOnlyAdminMixin, ResidentNumberSafeSearchMixin
from certcenter.models import Certificate, CertificateAuthority, CrlState


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
class CertificateAdmin(ReadOnlyAdminMixin, ResidentNumberSafeSearchMixin, admin.ModelAdmin):  # type: ignore[type-arg]
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
        response = super().change_view(request, object_id, form_url, extra_context)
        certificate = self.get_object(request, object_id)
        if response.status_code == 200 and certificate is not None:
            record_personal_data_view(
                request, action="certificate.view", obj=certificate, customer_id=certificate.customer_id
            )
        return response


@admin.register(CrlState)
class CrlStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """The current CRL per issuing CA (served at /pki/crl/)."""

    list_display = ("issuer", "number", "revoked_count", "generated_at", "next_update")
    fields = ("issuer", "number", "revoked_count", "generated_at", "next_update")
    readonly_fields = fields
