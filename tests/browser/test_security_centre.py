"""A customer enrolls a digital OTP in the security centre (보안센터), in Korean, as with a phone app:
read the setup key off the page, compute the app's number, confirm, and see the OTP active."""

from __future__ import annotations

import re

import pyotp
import pytest

from accounts.models import User
from bankportal.audit.models import AuditEvent
from otp.models import OtpRegistration, OtpToken

# The live server needs committed data; tests/conftest.py puts the data-migration rows back.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Long-pass-2031!"


def _problems(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Console errors (a CSP violation is one) and uncaught page errors."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


def test_a_customer_enrolls_a_digital_otp_in_korean(page, alice):
    """Sign in at /login/, open the security centre from the menu, start the enrollment, read the key,
    answer with the current number: the centre shows the digital OTP active and the safe tier, and no
    page logged a console error (no CSP violation)."""
    User.objects.create_user(username="alice01", password=PASSWORD, customer=alice)
    problems = _problems(page)

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
    assert problems == []
