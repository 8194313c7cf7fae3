"""The OTP admin: the registry never shows a seed; a teller registers a token to a customer, records
an accident report and requests an unlock that only a manager's approval carries out."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from accounts.models import StaffRequest
from bankportal.actors import system_actor
from otp.models import OtpRegistration, OtpToken
from otp.services import OtpResult, otp_register_at_branch, otp_token_record_external_failure, otp_tokens_import
from otp.services.tokens import OTP_RESULT_MESSAGES
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db

SEED = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
OTHER_SEED = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U"
CENTRE = system_actor("test:integrated_otp_centre", ["otp.change_otptoken"])


@pytest.fixture
def tokens(db) -> None:
    otp_tokens_import(
        rows=[
            (
                2,
                {
                    "serial": "OTP2000000001",
                    "seed": SEED,
                    "kind": "hardware",
                    "issuer": "088",
                    "warranty": "2036-01-31",
                },
            ),
            (
                3,
                {
                    "serial": "OTP2000000002",
                    "seed": OTHER_SEED,
                    "kind": "hardware",
                    "issuer": "997",
                    "warranty": "2036-01-31",
                },
            ),
        ],
        actor=system_actor("test:import", ["otp.add_otptoken"]),
    )


def _shown(message, response) -> str:
    with translation.override(response["Content-Language"]):
        return escape(str(message))


def test_the_registry_never_shows_a_seed(client, teller, tokens):
    """List and token page show serial and status; neither the seed nor its ciphertext appears."""
    staff_login(client, teller)
    token = OtpToken.objects.get(serial="OTP2000000001")
    pages = [
        client.get(reverse("admin:otp_otptoken_changelist")),
        client.get(reverse("admin:otp_otptoken_change", args=[token.pk])),
        client.get(reverse("admin:otp_otptoken_changelist") + "?q=otp-2000"),
    ]
    for page in pages:
        assert page.status_code == 200
        text = page.content.decode()
        assert "OTP2000000001" in text
        assert SEED not in text and token.seed_ciphertext not in text
    assert client.get(reverse("admin:otp_otptoken_add")).status_code == 403


def test_teller_registers_a_token_to_a_customer(client, teller, alice, tokens):
    """The add page registers through the service: the registration is the teller's, at the branch."""
    staff_login(client, teller)
    assert client.get(reverse("admin:otp_otpregistration_add") + f"?customer={alice.pk}").status_code == 200
    response = client.post(
        reverse("admin:otp_otpregistration_add"), {"customer": alice.pk, "serial": "otp-2000000001", "id_checked": "on"}
    )
    registration = OtpRegistration.objects.get(customer=alice)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:otp_otpregistration_change", args=[registration.pk])
    assert registration.registered_by == teller and registration.channel == "branch"


def test_a_refused_registration_is_shown_next_to_the_serial(client, teller, alice, minnie, tokens):
    """A token already registered to another customer is refused with its reason; nothing is created."""
    otp_register_at_branch(customer=minnie, serial="OTP2000000001", actor=teller)
    staff_login(client, teller)
    response = client.post(
        reverse("admin:otp_otpregistration_add"), {"customer": alice.pk, "serial": "OTP2000000001", "id_checked": "on"}
    )
    assert response.status_code == 200
    assert _shown(OTP_RESULT_MESSAGES[OtpResult.IN_USE], response) in response.content.decode()
    assert not OtpRegistration.objects.filter(customer=alice).exists()


def test_teller_records_an_accident_report(client, teller, alice, tokens):
    """The accident page blocks the token at once."""
    registration = otp_register_at_branch(customer=alice, serial="OTP2000000001", actor=teller)
    staff_login(client, teller)
    url = reverse("admin:otp_otpregistration_accident", args=[registration.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"id_checked": "on"})
    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.status == OtpRegistration.Status.ACCIDENT_REPORTED
    assert registration.token.status == OtpToken.Status.ACCIDENT_REPORTED


def test_unlock_is_a_request_the_manager_approves(client, teller, manager, alice, tokens):
    """A teller's request does not unlock; the manager's approval in the queue does."""
    registration = otp_register_at_branch(customer=alice, serial="OTP2000000001", actor=teller)
    for _ in range(10):
        otp_token_record_external_failure(
            serial="OTP2000000001", institution="088", actor=CENTRE, now=dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
        )
    staff_login(client, teller)
    page = client.get(reverse("admin:otp_otpregistration_change", args=[registration.pk]))
    assert reverse("admin:otp_otpregistration_request_unlock", args=[registration.pk]) in page.content.decode()
    response = client.post(
        reverse("admin:otp_otpregistration_request_unlock", args=[registration.pk]),
        {"reason": "customer at the counter", "id_checked": "on"},
    )
    assert response.status_code == 302
    request = StaffRequest.objects.get(kind=StaffRequest.Kind.OTP_UNLOCK)
    assert OtpToken.objects.get(serial="OTP2000000001").status == OtpToken.Status.LOCKED

    client.logout()
    staff_login(client, manager)
    approve = client.post(reverse("admin:accounts_staffrequest_approve", args=[request.pk]), {"note": ""})
    assert approve.status_code == 302
    unlocked = OtpToken.objects.get(serial="OTP2000000001")
    assert unlocked.status == OtpToken.Status.ACTIVE and unlocked.error_count == 0


def test_unlock_page_refuses_a_token_that_is_not_locked(client, teller, alice, tokens):
    """No request can be recorded for an OTP that works."""
    registration = otp_register_at_branch(customer=alice, serial="OTP2000000001", actor=teller)
    staff_login(client, teller)
    response = client.get(reverse("admin:otp_otpregistration_request_unlock", args=[registration.pk]))
    assert response.status_code == 302
    assert not StaffRequest.objects.exists()
