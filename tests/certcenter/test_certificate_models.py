"""Certificate centre rows: shapes the database enforces, the staff groups' view rights, and the
read-only admin that never shows a CA's private key."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone

from bankportal.audit.models import AuditEvent
from certcenter import ca
from certcenter.models import Certificate, CertificateAuthority, serial_text
from certcenter.services import CaInitResult, ca_init
from tests.certcenter.test_pki_endpoints import CA_ACTOR, HUGE_SERIAL, authority, certificate_row, issue_leaf
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db

VIEW_CODES = {
    "certcenter.view_certificateauthority",
    "certcenter.view_certificate",
    "certcenter.view_crlstate",
    "certcenter.view_trustedauthority",
    "certcenter.view_externalcertificate",
}


def _codes(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


# --- choices follow the pure module --------------------------------------------------------------------


def test_kinds_and_revocation_reasons_are_the_ca_modules_values():
    assert set(Certificate.Kind.values) == {kind.value for kind in ca.CertificateKind}
    assert set(Certificate.RevocationReason.values) == {reason.value for reason in ca.RevocationReason}


@pytest.mark.parametrize("serial", [0, -1])
def test_a_serial_is_a_positive_integer(serial):
    with pytest.raises(ValueError):
        serial_text(serial)


# --- database shapes ------------------------------------------------------------------------------------


def test_a_160_bit_serial_is_stored_and_found_exactly(pki, alice):
    row = certificate_row(alice, issue_leaf(HUGE_SERIAL))

    found = Certificate.objects.get(serial=serial_text(HUGE_SERIAL))

    assert found.pk == row.pk
    assert found.serial_number == HUGE_SERIAL
    assert len(found.serial) == 48
    assert bytes(found.certificate_der) == bytes(row.certificate_der)


def test_serials_are_unique(pki, alice):
    leaf = issue_leaf(HUGE_SERIAL)
    certificate_row(alice, leaf)

    with pytest.raises(IntegrityError), transaction.atomic():
        certificate_row(alice, leaf)


@pytest.mark.parametrize("serial", ["0123", "12a", "", "-5"])
def test_the_database_refuses_a_serial_that_is_not_canonical_decimal(pki, alice, serial):
    row = certificate_row(alice, issue_leaf(0x5E1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Certificate.objects.filter(pk=row.pk).update(serial=serial)


def test_a_revoked_certificate_needs_a_time_and_a_reason(pki, alice):
    row = certificate_row(alice, issue_leaf(0x5E1))

    with pytest.raises(IntegrityError), transaction.atomic():
        Certificate.objects.filter(pk=row.pk).update(status=Certificate.Status.REVOKED)
    with pytest.raises(IntegrityError), transaction.atomic():
        Certificate.objects.filter(pk=row.pk).update(status=Certificate.Status.REVOKED, revoked_at=timezone.now())
    Certificate.objects.filter(pk=row.pk).update(
        status=Certificate.Status.REVOKED, revoked_at=timezone.now(), revocation_reason="superseded"
    )


def test_a_valid_certificate_carries_no_revocation(pki, alice):
    row = certificate_row(alice, issue_leaf(0x5E1))

    with pytest.raises(IntegrityError), transaction.atomic():
        Certificate.objects.filter(pk=row.pk).update(revoked_at=timezone.now(), revocation_reason="superseded")


def test_a_revoked_certificate_that_expires_keeps_its_revocation(pki, alice):
    row = certificate_row(
        alice, issue_leaf(0x5E1), revoked_at=timezone.now(), reason=Certificate.RevocationReason.SUPERSEDED
    )

    Certificate.objects.filter(pk=row.pk).update(status=Certificate.Status.EXPIRED)

    row.refresh_from_db()
    assert row.is_revoked


def test_validity_must_end_after_it_starts(pki, alice):
    row = certificate_row(alice, issue_leaf(0x5E1))

    with pytest.raises(IntegrityError), transaction.atomic():
        Certificate.objects.filter(pk=row.pk).update(not_after=row.not_before)


def test_only_one_active_ca_per_role(pki):
    root = authority("root")
    duplicate = CertificateAuthority(
        role=root.role,
        name=root.name,
        certificate_pem=root.certificate_pem,
        key_pem=root.key_pem,
        serial="12345",
        fingerprint_sha256="0" * 64,
        not_before=root.not_before,
        not_after=root.not_after,
        created_at=timezone.now(),
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    duplicate.is_active = False
    duplicate.save()  # a retired CA may stay beside the active one


def test_a_ca_with_certificates_cannot_be_deleted(pki, alice):
    certificate_row(alice, issue_leaf(0x5E1))

    with pytest.raises(ProtectedError):
        authority("issuing").delete()


def test_a_customer_with_certificates_cannot_be_deleted(pki, alice):
    certificate_row(alice, issue_leaf(0x5E1))

    with pytest.raises(ProtectedError):
        alice.delete()


# --- staff groups ----------------------------------------------------------------------------------------


def test_tellers_and_managers_may_view_the_three_models_and_change_nothing():
    for group in ("Teller", "Branch manager"):
        codes = {code for code in _codes(group) if code.startswith("certcenter.")}
        assert codes == VIEW_CODES


def test_granting_again_changes_nothing():
    before = (_codes("Teller"), _codes("Branch manager"))
    module = importlib.import_module("certcenter.migrations.0001_initial")

    module.grant_certcenter_view_permissions(django_apps, None)

    assert (_codes("Teller"), _codes("Branch manager")) == before


@pytest.mark.django_db(transaction=True)
def test_the_grant_puts_the_rights_back_after_a_flush():
    """What tests/conftest.py's _reference_data runs for transactional tests."""
    module = importlib.import_module("certcenter.migrations.0001_initial")

    module.grant_certcenter_view_permissions(django_apps, None)

    assert _codes("Teller") >= VIEW_CODES
    assert _codes("Branch manager") >= VIEW_CODES


# --- admin -------------------------------------------------------------------------------------------------


@pytest.fixture
def pki(db) -> CaInitResult:  # type: ignore[no-untyped-def]
    return ca_init(actor=CA_ACTOR)


@pytest.mark.parametrize(
    "model", ["certificateauthority", "certificate", "crlstate", "trustedauthority", "externalcertificate"]
)
def test_a_teller_reads_the_certcenter_lists(client, teller, pki, model):
    staff_login(client, teller)

    assert client.get(reverse(f"admin:certcenter_{model}_changelist")).status_code == 200


def test_the_ca_admin_page_shows_the_certificate_and_never_the_key(client, manager, pki):
    staff_login(client, manager)
    issuing = authority("issuing")

    html = client.get(reverse("admin:certcenter_certificateauthority_change", args=[issuing.pk])).content.decode()

    assert issuing.fingerprint_sha256 in html
    assert "BEGIN CERTIFICATE" in html
    assert "PRIVATE KEY" not in html
    assert issuing.key_pem.splitlines()[1] not in html


def test_nobody_adds_changes_or_deletes_certcenter_rows_in_the_admin(admin_client, pki, alice):
    row = certificate_row(alice, issue_leaf(0x5E1))
    issuing = authority("issuing")

    assert admin_client.get(reverse("admin:certcenter_certificateauthority_add")).status_code == 403
    assert admin_client.get(reverse("admin:certcenter_certificate_add")).status_code == 403
    assert admin_client.post(reverse("admin:certcenter_certificate_delete", args=[row.pk])).status_code == 403
    assert (
        admin_client.post(reverse("admin:certcenter_certificateauthority_delete", args=[issuing.pk])).status_code == 403
    )
    html = admin_client.get(reverse("admin:certcenter_certificate_change", args=[row.pk])).content.decode()
    assert 'name="_save"' not in html


def test_opening_a_customers_certificate_is_an_access_record(client, teller, pki, alice):
    row = certificate_row(alice, issue_leaf(0x5E1))
    staff_login(client, teller)

    response = client.get(reverse("admin:certcenter_certificate_change", args=[row.pk]))

    assert response.status_code == 200
    event = AuditEvent.objects.get(action="certificate.view")
    assert event.customer_ref == alice.pk
    assert event.actor == teller


def test_the_certificate_list_filters_by_status_and_kind(client, teller, pki, alice):
    certificate_row(alice, issue_leaf(0x5E1))
    certificate_row(
        alice, issue_leaf(0x5E2), revoked_at=timezone.now() - dt.timedelta(hours=1), reason="key_compromise"
    )
    staff_login(client, teller)
    url = reverse("admin:certcenter_certificate_changelist")

    revoked = client.get(url, {"status__exact": "revoked", "kind__exact": "restricted"})

    assert revoked.status_code == 200
    assert list(revoked.context["cl"].result_list) == [Certificate.objects.get(serial=serial_text(0x5E2))]
