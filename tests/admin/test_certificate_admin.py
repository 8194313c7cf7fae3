"""Staff revoke a customer's certificate only through a request a branch manager approves."""

# ruff: noqa: F811 - the certificate fixtures are imported from tests/certcenter/test_issuance.py

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import StaffRequest
from bankportal.audit.models import AuditEvent
from certcenter.models import Certificate
from tests.certcenter.test_issuance import (  # noqa: F401 - fixtures
    agreement,
    alice_user,
    clock,
    crl_serials,
    issue,
    pki,
)
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db


def _url(name: str, certificate: Certificate) -> str:
    return reverse(f"admin:certcenter_certificate_{name}", args=[certificate.pk])


def _request(client, certificate: Certificate, **data: str):  # type: ignore[no-untyped-def]
    form = {"revocation_reason": "key_compromise", "reason": "분실 신고 (본인 내점)", "id_checked": "on"} | data
    return client.post(_url("request_revoke", certificate), form)


def test_a_teller_records_the_request_and_a_managers_approval_revokes(  # type: ignore[no-untyped-def]
    client, agreement, alice_account, teller, manager, django_capture_on_commit_callbacks
):
    certificate = issue(agreement, alice_account).certificate
    staff_login(client, teller)
    page = client.get(_url("change", certificate)).content.decode()
    assert _url("request_revoke", certificate) in page

    assert _request(client, certificate).status_code == 302

    request = StaffRequest.objects.get(kind=StaffRequest.Kind.CERTIFICATE_REVOKE)
    assert request.payload["certificate"] == certificate.pk and request.payload["reason"] == "key_compromise"
    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.VALID  # nothing happens before the approval
    approve = reverse("admin:accounts_staffrequest_approve", args=[request.pk])
    assert client.post(approve, {"note": ""}).status_code == 403  # not the teller's own request

    staff_login(client, manager)
    queue_url = reverse("admin:accounts_staffrequest_change", args=[request.pk])
    queue = client.get(queue_url, headers={"accept-language": "en"})
    assert f"certificate {certificate.serial}; reason: key_compromise" in queue.content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # the CRL is made again after the commit
        assert client.post(approve, {"note": "확인"}).status_code == 302

    certificate.refresh_from_db()
    assert (certificate.status, certificate.revocation_reason) == ("revoked", "key_compromise")
    assert certificate.serial_number in crl_serials()
    assert AuditEvent.objects.get(action="certificate.revoke").actor == manager


def test_a_second_request_while_one_waits_is_not_recorded(client, agreement, alice_account, teller):  # type: ignore[no-untyped-def]
    certificate = issue(agreement, alice_account).certificate
    staff_login(client, teller)
    _request(client, certificate)

    again = client.get(_url("request_revoke", certificate))

    assert again.status_code == 302 and StaffRequest.objects.count() == 1


def test_a_revoked_certificate_offers_no_request(client, agreement, alice_account, alice_user, teller):  # type: ignore[no-untyped-def]
    from certcenter import services

    certificate = issue(agreement, alice_account).certificate
    services.certificate_revoke(certificate=certificate, reason="unspecified", actor=alice_user)
    staff_login(client, teller)

    assert _url("request_revoke", certificate) not in client.get(_url("change", certificate)).content.decode()
    refused = _request(client, certificate)

    assert refused.status_code == 302 and not StaffRequest.objects.exists()


def test_the_id_check_and_a_known_reason_are_required(client, agreement, alice_account, teller):  # type: ignore[no-untyped-def]
    certificate = issue(agreement, alice_account).certificate
    staff_login(client, teller)

    no_id = _request(client, certificate, id_checked="")
    bad_reason = _request(client, certificate, revocation_reason="superseded")

    assert no_id.status_code == 200 and bad_reason.status_code == 200
    assert "revocation_reason" in bad_reason.context["form"].errors
    assert not StaffRequest.objects.exists()
