"""Reads for the certificate centre's views, tasks and commands. Never the CA's private key."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from certcenter import ca
from certcenter.models import CertificateAuthority, CrlState

# The daily job regenerates the CRL; a request that finds one older than this (the job did not
# run) regenerates it too, well before its next update (certcenter.services.CRL_LIFETIME) passes.
CRL_REFRESH_AFTER = dt.timedelta(days=1)


def pki_urls() -> ca.PkiUrls:
    """The public URLs written into customer certificates, from ``settings.PKI_BASE_URL``."""
    base = settings.PKI_BASE_URL
    return ca.PkiUrls(
        crl=base + reverse("pki:crl"),
        ocsp=base + reverse("pki:ocsp"),
        ca_issuer=base + reverse("pki:ca_certificate", kwargs={"role": "issuing", "encoding": "der"}),
    )


def active_authority(role: str) -> CertificateAuthority | None:
    """The active CA of ``role`` (root or issuing), without its key; None before ``ca_init``."""
    return CertificateAuthority.objects.defer("key_pem").filter(role=role, is_active=True).first()


def ca_certificate_bytes(role: str, *, encoding: str) -> bytes | None:
    """The active CA certificate of ``role`` as DER or PEM (``encoding``); None before ``ca_init``."""
    authority = active_authority(role)
    if authority is None:
        return None
    pem = authority.certificate_pem.encode("ascii")
    return pem if encoding == "pem" else ca.certificate_der(ca.load_certificate(pem))


def active_authorities() -> list[CertificateAuthority]:
    """The active root and issuing CA (those that exist), root first, without their keys."""
    return sorted(
        CertificateAuthority.objects.defer("key_pem").filter(is_active=True),
        key=lambda authority: authority.role != CertificateAuthority.Role.ROOT,
    )


def crl_current(*, now: dt.datetime | None = None) -> CrlState | None:
    """The active issuing CA's CRL if it is current at ``now``; None if there is none yet or it is
    out of date (older than ``CRL_REFRESH_AFTER``, or dated after ``now``), so it is regenerated."""
    now = now or timezone.now()
    state = (
        CrlState.objects.select_related("issuer")
        .defer("issuer__key_pem")
        .filter(issuer__role=CertificateAuthority.Role.ISSUING, issuer__is_active=True)
        .first()
    )
    return state if state is not None and crl_is_current(state, now=now) else None


def crl_is_current(state: CrlState, *, now: dt.datetime) -> bool:
    return state.generated_at <= now < state.generated_at + CRL_REFRESH_AFTER
