"""Staff admin for the financial certificate cloud: read-only, and never the key material.

The list and the record show the institution, the masked holder name, the status and the count;
the envelope, the PIN verifier, the phone's blind index and the birth date are in no field list
and are deferred, so they are not even loaded. State changes go through the cloud's interface
(the portal's revoke for a lost phone), so they are audited.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from bankportal.admin import ReadOnlyAdminMixin
from certcenter.cloud.models import CloudCertificate

# Loaded for no page: key material, PIN verifier, phone index, birth date, the certificate bytes.
_NEVER_LOADED = (
    "key_nonce",
    "key_ciphertext",
    "dek_nonce",
    "wrapped_dek",
    "pin_verifier",
    "phone_index",
    "birth_date",
    "public_key_der",
    "certificate_der",
)

# Everything a record page shows: ids, status and the certificate's public facts.
_SHOWN = (
    "cloud_id",
    "institution",
    "holder",
    "status",
    "wrong_pins",
    "serial",
    "issuer",
    "not_before",
    "not_after",
    "locked_at",
    "revoked_at",
    "revocation_reason",
    "created_at",
)


@admin.register(CloudCertificate)
class CloudCertificateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["institution", "holder", "status", "wrong_pins", "not_after"]
    list_filter = ["status", "institution"]
    fields = _SHOWN
    readonly_fields = _SHOWN

    def get_queryset(self, request: HttpRequest) -> QuerySet[CloudCertificate]:
        return super().get_queryset(request).defer(*_NEVER_LOADED)

    @admin.display(description=_("holder"))
    def holder(self, obj: CloudCertificate) -> str:
        return obj.holder_masked
