"""A customer enrolls a digital OTP in the security centre (보안센터), in Korean, as with a phone app:
verify the registered phone with the texted code, read the setup key off the page, compute the app's
number, confirm, and see the OTP active."""

from __future__ import annotations

import re

import pyotp
import pytest

from accounts.models import User
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from otp.models import AdditionalAuthChallenge, OtpRegistration, OtpToken
from tests.browser.conftest import console_problems

# The live server needs committed data; tests/conftest.py puts the data-migration rows back.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Long-pass-2031!"


def test_a_customer_enrolls_a_digital_otp_in_korean(page, alice):
    """Sign in at /login/, open the security centre from the menu, verify the phone (a wrong code is
    refused by the field, the texted one passes), start the enrollment, read the key, answer with the
    current number: the centre shows the digital OTP active and the safe tier, and no page logged a
    console error (no CSP violation)."""
    User.objects.create_user(username="alice01", password=PASSWORD, customer=alice)
    problems = console_problems(page)

    page.goto("/login/")
    assert page.locator("html").get_attribute("lang") == "ko"
    page.locator("#id_username").fill("alice01")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="로그인").click()
    page.wait_for_url("**/")

    page.locator("nav.main-nav a[href='/security/']").click()
    page.wait_for_url("**/security/")
    assert page.locator("#security-tier").get_attribute("data-tier") == "none"
    assert page.locator("#security-media-empty").is_visible()

    page.locator("#link-digital-otp").click()
    page.wait_for_url("**/security/otp/digital/")
    assert page.locator("#digital-otp-start").count() == 0  # no start before the phone check
    assert page.locator("#phone-masked").inner_text() == "010-****-9753"
    page.locator("#phone-check-send button[value='sms']").click()
    page.locator("#phone-check[data-phone-check='sent']").wait_for()
    assert "010-****-9753" in page.locator(".message-success").inner_text()
    # The phone's text message (the live server shares the test database).
    sms = Notification.objects.filter(to=alice.phone).latest("id")
    code = re.search(r"\d{6}", sms.body).group(0)  # type: ignore[union-attr]
    page.locator("#id_phone_code").fill(f"{(int(code) + 1) % 10**6:06d}")
    page.locator("#phone-check-verify button").click()
    page.wait_for_url("**/security/otp/digital/phone/verify/")
    assert page.locator("#phone-check-verify .field-invalid").is_visible()
    page.locator("#id_phone_code").fill(code)
    page.locator("#phone-check-verify button").click()
    page.locator("#phone-check[data-phone-check='verified']").wait_for()
    page.locator("#digital-otp-start button").click()
    page.wait_for_load_state()
    qr = page.locator("#otp-qr")
    assert qr.is_visible() and (qr.get_attribute("src") or "").startswith("data:image/svg+xml")
    assert page.evaluate("document.getElementById('otp-qr').naturalWidth") > 0  # the QR image really loaded
    shown = page.locator("#otp-secret").inner_text()
    assert re.fullmatch(r"([A-Z2-7]{4} )*[A-Z2-7]{1,4}", shown.strip()), shown
    secret = re.sub(r"\s", "", shown)
    assert secret not in page.url

    page.locator("#id_code").fill(pyotp.TOTP(secret).now())
    page.locator("#digital-otp-confirm button").click()
    page.wait_for_url("**/security/")
    assert page.locator(".message-success").is_visible()
    digital = page.locator('#security-media tr[data-kind="digital"]')
    assert digital.get_attribute("data-status") == "active"
    assert page.locator("#security-tier").get_attribute("data-tier") == "safe"

    registration = OtpRegistration.objects.get(customer=alice, status=OtpRegistration.Status.ACTIVE)
    assert registration.token.kind == OtpToken.Kind.DIGITAL and registration.channel == "online"
    assert AuditEvent.objects.filter(action="otp.register", actor__customer=alice).exists()
    assert AdditionalAuthChallenge.objects.get(customer=alice).state == AdditionalAuthChallenge.State.USED
    assert problems == []
