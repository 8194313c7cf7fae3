"""Registering another institution's financial certificate on the registration flow's last step
(/certificates/other/certificate/): the page lists the customer's cloud certificates from other
institutions, the PIN makes the cloud sign the flow's text, and the registration is recorded here
and in the cloud. Bad input is a clear 400 with the form again, never a 500."""

from __future__ import annotations

import re
import time

import pytest
from django.conf import settings

from bankportal.notifications.models import Notification
from certcenter.cloud.api import financial_cloud
from certcenter.external import EXTERNAL
from certcenter.models import ExternalCertificate
from otp.models import AdditionalAuthChallenge
from otp.services import additional_auth_start, additional_auth_verify
from tests.accounts.transfer_helpers import WEB, Banker, ca_ready, open_banking
from tests.certcenter.test_financial import OTHER_PIN, PIN, T0, _issued_elsewhere, clock  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)

STEP = "/certificates/other/certificate/"
SUBMIT = "/certificates/other/certificate/financial/"


@pytest.fixture
def alice_bank(clock, alice, teller, demand_product) -> Banker:  # type: ignore[no-untyped-def]  # noqa: F811
    ca_ready()
    return open_banking(alice, teller=teller, product=demand_product, username="alice2026", certificate=False)


def _at_certificate_step(client, banker: Banker) -> None:  # type: ignore[no-untyped-def]
    """The flow after the medium and the phone steps: the phone code verified, waiting to be spent."""
    purpose = AdditionalAuthChallenge.Purpose.OTHER_BANK_CERTIFICATE
    additional_auth_start(customer=banker.customer, purpose=purpose, channel="sms", actor=WEB, now=T0)
    code = re.search(r"\d{6}", Notification.objects.latest("id").body)
    assert code is not None
    assert additional_auth_verify(customer=banker.customer, purpose=purpose, answer=code.group(0), actor=WEB).ok
    session = client.session
    session[EXTERNAL.key] = {"agreement": banker.agreement.pk, "step": "certificate", "expires": time.time() + 600}
    session.save()
    assert client.get(STEP).status_code == 200  # the step issues the text to sign


def test_the_step_offers_the_cloud_certificate_and_the_pin_registers_it(client, alice_bank) -> None:
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    cloud_id = _issued_elsewhere(alice_bank)
    _at_certificate_step(client, alice_bank)
    page = client.get(STEP).content.decode()
    assert 'id="cloud-form"' in page and str(cloud_id) in page and "Hanul Bank" in page
    assert "js/pin-keypad.js" in page and "<script>" not in page
    response = client.post(SUBMIT, {"certificate": str(cloud_id), "pin": PIN})
    assert response.status_code == 200 and b'id="external-financial-receipt"' in response.content
    row = ExternalCertificate.objects.get()
    assert row.cloud_id == cloud_id and row.customer_id == alice_bank.customer.pk
    assert settings.BANK_CODE in financial_cloud().status(cloud_id=cloud_id).registered
    challenge = AdditionalAuthChallenge.objects.get(customer=alice_bank.customer)
    assert challenge.state == "used"
    # The flow has ended: the step sends back to the start.
    assert client.get(STEP)["Location"] == "/certificates/other/"


def test_a_wrong_pin_is_said_with_the_tries_left_and_registers_nothing(client, alice_bank) -> None:
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    cloud_id = _issued_elsewhere(alice_bank)
    _at_certificate_step(client, alice_bank)
    response = client.post(SUBMIT, {"certificate": str(cloud_id), "pin": OTHER_PIN})
    assert response.status_code == 400 and b"4 more wrong PINs" in response.content
    assert not ExternalCertificate.objects.exists()
    assert AdditionalAuthChallenge.objects.get(customer=alice_bank.customer).state == "verified"


@pytest.mark.parametrize(
    "data",
    [{}, {"certificate": "not-a-uuid", "pin": PIN}, {"certificate": "", "pin": "12"}, {"pin": "ab" * 3}],
)
def test_garbage_is_a_400_with_the_form_never_a_500(client, alice_bank, data) -> None:
    _issued_elsewhere(alice_bank)
    _at_certificate_step(client, alice_bank)
    response = client.post(SUBMIT, data)
    assert response.status_code == 400 and b'id="cloud-form"' in response.content
    assert not ExternalCertificate.objects.exists()


def test_without_the_flow_the_post_starts_again_and_without_cloud_certificates_no_section(client, alice_bank) -> None:
    assert client.post(SUBMIT, {"certificate": "x", "pin": PIN})["Location"] == "/certificates/other/"
    _at_certificate_step(client, alice_bank)
    assert b'id="cloud-form"' not in client.get(STEP).content


def test_my_financial_certificate_lists_the_registered_one(client, alice_bank) -> None:
    from tests.conftest import banking_login

    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    cloud_id = _issued_elsewhere(alice_bank)
    _at_certificate_step(client, alice_bank)
    client.post(SUBMIT, {"certificate": str(cloud_id), "pin": PIN})
    row = ExternalCertificate.objects.get()
    banking_login(client, alice_bank.user)
    page = client.get("/certificates/financial/mine/").content.decode()
    assert f'<li data-serial="{row.serial}">' in page and "Hanul Bank" in page
    assert 'id="financial-none"' in page  # none issued here
