"""The registration pages (/certificates/other/...), My certificates' list of other institutions'
certificates with "delete registration", and the read-only admin of trusted CAs: each step opens
only in order, bad input is a clear 4xx (never a 500), pages work in Korean and English."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import time

import pytest
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import Agreement
from bankportal.audit.models import AuditEvent
from certcenter import ca, services
from certcenter.external import EXTERNAL
from certcenter.models import ExternalCertificate
from certcenter.services import external
from tests.certcenter.external_pki import other_bank_ca, other_bank_certificate
from tests.certcenter.test_login import CA_ACTOR, browser_key
from tests.certcenter.test_pages import register
from tests.conftest import banking_login, rrn_for_age

pytestmark = pytest.mark.django_db

REQUEST_URL = "/certificates/other/certificate/request/"


@pytest.fixture
def agreement(teller, alice, alice_account) -> Agreement:  # type: ignore[no-untyped-def]
    services.ca_init(actor=CA_ACTOR)
    return register(alice, alice_account, "alice2026", teller)


@pytest.fixture
def registered(agreement, alice) -> ExternalCertificate:  # type: ignore[no-untyped-def]
    now = timezone.now()
    other = other_bank_ca(now - dt.timedelta(days=30))
    external.trusted_authority_add(
        certificate=ca.certificate_pem(other.certificate), actor=external.trust_command_actor("test")
    )
    random_value = os.urandom(20)
    cert = other_bank_certificate(
        other,
        browser_key("pages-other"),
        serial=777,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=100),
        identity="bank",
        id_number=accounts_services.customer_rrn(alice),
        random_value=random_value,
    )
    text = external.external_registration_text(user_id="alice2026", nonce="n", issued_at=now)
    from tests.certcenter.test_login import sign

    return external.external_certificate_register(
        agreement=agreement,
        certificate_der=ca.certificate_der(cert),
        text=text,
        signature=sign(browser_key("pages-other"), text.encode()),
        identity_random=random_value,
        medium_verified=True,
        additional_auth=lambda: object(),
        actor=external.external_web_actor(),
    )


def _at_step(client, agreement: Agreement, step: str) -> None:  # type: ignore[no-untyped-def]
    session = client.session
    session[EXTERNAL.key] = {"agreement": agreement.pk, "step": step, "expires": time.time() + 600}
    session.save()


@pytest.mark.parametrize("language", ["ko", "en"])
def test_the_first_step_renders_in_both_languages(client, language) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/certificates/other/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    assert b'id="identify-form"' in response.content and b"id_user_id" in response.content


def test_later_steps_send_back_to_the_start_and_the_request_is_refused_without_the_flow(client, agreement) -> None:  # type: ignore[no-untyped-def]
    for url in ("/certificates/other/medium/", "/certificates/other/phone/", "/certificates/other/certificate/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == "/certificates/other/"
    response = client.post(REQUEST_URL, data="{}", content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "start_again"
    # Posting at the medium step does not open the certificate step.
    _at_step(client, agreement, "medium")
    assert client.post(REQUEST_URL, data="{}", content_type="application/json").status_code == 409


def test_the_certificate_step_issues_one_text_bound_to_the_flow(client, agreement) -> None:  # type: ignore[no-untyped-def]
    _at_step(client, agreement, "certificate")
    first = client.get("/certificates/other/certificate/")
    again = client.get("/certificates/other/certificate/")
    assert first.status_code == again.status_code == 200
    text = first.context["sign_text"]
    assert (
        text == again.context["sign_text"] and "user_id=alice2026" in text and "purpose=external_registration" in text
    )
    assert b'id="external-messages"' in first.content and b"<script>" not in first.content


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"certificate": "!!", "signature": "AAAA"}).encode(),
        json.dumps({"certificate": "AAAA"}).encode(),
        json.dumps({"certificate": "AAAA", "signature": "AAAA", "identity_random": 5}).encode(),
    ],
)
def test_an_unreadable_request_is_a_clear_400(client, agreement, body) -> None:  # type: ignore[no-untyped-def]
    _at_step(client, agreement, "certificate")
    client.get("/certificates/other/certificate/")
    response = client.post(REQUEST_URL, data=body, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "bad_request"


def test_a_certificate_no_one_trusts_is_refused_with_what_to_do(client, agreement) -> None:  # type: ignore[no-untyped-def]
    _at_step(client, agreement, "certificate")
    client.get("/certificates/other/certificate/")
    stranger = other_bank_ca(timezone.now() - dt.timedelta(days=1), name="Stranger CA")
    now = timezone.now()
    cert = other_bank_certificate(
        stranger,
        browser_key("x"),
        serial=5,
        not_before=now - dt.timedelta(hours=1),
        not_after=now + dt.timedelta(days=9),
    )
    body = {
        "certificate": base64.b64encode(ca.certificate_der(cert)).decode(),
        "signature": base64.b64encode(b"\x00" * 256).decode(),
    }
    # No phone verification was spent in this test: the service refuses that first.
    response = client.post(REQUEST_URL, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "additional_auth_required"
    assert not ExternalCertificate.objects.exists()


def test_my_certificates_lists_the_registration_and_deletes_it(client, registered, agreement) -> None:  # type: ignore[no-untyped-def]
    banking_login(client, agreement.user)
    page = client.get("/certificates/mine/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    content = page.content.decode()
    assert f'id="external-{registered.pk}"' in content and registered.authority.name in content
    assert f"/certificates/other/{registered.pk}/delete/" in content

    confirm = client.get(f"/certificates/other/{registered.pk}/delete/")
    assert confirm.status_code == 200 and b"external-delete-form" in confirm.content
    done = client.post(f"/certificates/other/{registered.pk}/delete/")
    assert done.status_code == 302 and done["Location"] == "/certificates/mine/"
    registered.refresh_from_db()
    assert registered.status == "deregistered"
    assert AuditEvent.objects.filter(action="external_certificate.deregister").count() == 1
    # Gone from the list; deleting again is a 404, not an error page.
    assert f'id="external-{registered.pk}"' not in client.get("/certificates/mine/").content.decode()
    assert client.post(f"/certificates/other/{registered.pk}/delete/").status_code == 404


def test_another_customers_registration_is_a_404(client, registered, teller, demand_product) -> None:  # type: ignore[no-untyped-def]
    bob = accounts_services.customer_create(
        kind="individual", name="박보브", phone="010-1111-2222", rrn=rrn_for_age(40, serial="134567"), actor=teller
    )
    account = accounts_services.account_open(
        customer=bob, product=demand_product, password="4825", opening_deposit=1000, actor=teller
    )
    bob_agreement = register(bob, account, "bob2026", teller)
    assert bob_agreement.user is not None
    banking_login(client, bob_agreement.user)
    assert client.get(f"/certificates/other/{registered.pk}/delete/").status_code == 404
    assert client.post(f"/certificates/other/{registered.pk}/delete/").status_code == 404
    registered.refresh_from_db()
    assert registered.status == "registered"


def test_the_delete_page_needs_a_certificate_session(client, registered) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"/certificates/other/{registered.pk}/delete/")
    assert response.status_code in (302, 403)


def test_the_admin_lists_trusted_cas_read_only_with_colon_fingerprints(admin_client, registered) -> None:  # type: ignore[no-untyped-def]
    listing = admin_client.get("/admin/certcenter/trustedauthority/")
    assert listing.status_code == 200
    assert services.colon_hex(registered.authority.fingerprint_sha256) in listing.content.decode()
    assert admin_client.get("/admin/certcenter/trustedauthority/add/").status_code == 403
    detail = admin_client.get(f"/admin/certcenter/trustedauthority/{registered.authority.pk}/change/")
    assert detail.status_code == 200 and b"BEGIN CERTIFICATE" in detail.content
    assert admin_client.get("/admin/certcenter/externalcertificate/").status_code == 200
    assert admin_client.get(f"/admin/certcenter/externalcertificate/{registered.pk}/change/").status_code == 200
    assert admin_client.get("/admin/certcenter/externalcertificate/add/").status_code == 403
