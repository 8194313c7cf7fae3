"""The whole e-banking agreement journey in Chromium, in Korean: a teller takes the application in the
staff admin, the customer registers online with the security card, signs in and gets a joint
certificate (its two files on disk); five wrong passwords suspend internet banking, and the customer
releases it in the security centre with the card, an SMS code and a signature made in the browser
with the certificate files, then signs in again and finds the user ID."""

from __future__ import annotations

import re

import pytest

from accounts import services
from accounts.management.commands.seed_demo import demo_certificate_issue
from accounts.models import Agreement
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from certcenter import services as certcenter_services
from certcenter.models import SignatureEvidence
from otp.models import SecurityCard
from otp.securitycard import Challenge, expected_answer
from otp.services import security_card_issue
from otp.services.cards import security_card_codes
from tests.browser.conftest import console_problems, staff_admin_login
from tests.conftest import ACCOUNT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

USERNAME = "alicebank7"
PASSWORD = "Alice-web-2026!"
CERTIFICATE_PASSWORD = "Alice-cert-2026!"
CA_ACTOR = system_actor("test:ca_init", [certcenter_services.CA_INIT_PERMISSION])


def _identify(page, customer, account, rrn: str) -> None:  # type: ignore[no-untyped-def]
    form = page.locator("#identify-form")
    form.locator("#id_name").fill(customer.name)
    form.locator("#id_id_number").fill(rrn)
    form.locator("#id_account_number").fill(account.number_display)
    form.locator("#id_account_password").fill(ACCOUNT_PASSWORD)
    form.locator("button[type=submit]").click()


def _answer_card(page, customer) -> None:  # type: ignore[no-untyped-def]
    """Read the two code numbers the page asks for and answer from the customer's card."""
    challenge = page.locator("#card-challenge")
    first, second = int(challenge.get_attribute("data-first")), int(challenge.get_attribute("data-second"))
    card = SecurityCard.objects.get(customer=customer, status=SecurityCard.Status.ACTIVE)
    answer = expected_answer(security_card_codes(card), Challenge(first=first, second=second))
    page.locator("#medium-form input[name=first_half]").fill(answer[:2])
    page.locator("#medium-form input[name=second_half]").fill(answer[2:])
    page.locator("#medium-form button[type=submit]").click()


def _sign_in(page, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login/")
    page.locator("#id_username").fill(USERNAME)
    page.locator("#id_password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()


def test_branch_application_online_registration_sign_in_suspension_and_release(  # type: ignore[no-untyped-def]
    page, browser, live_server, teller, alice, alice_account, tmp_path
):
    problems = console_problems(page)
    rrn = services.customer_rrn(alice)
    security_card_issue(customer=alice, actor=teller)

    # 1. The teller takes the application at the counter and prints the receipt.
    staff_admin_login(page, "teller")
    page.goto(f"/admin/accounts/agreement/add/?customer={alice.pk}")
    page.locator(f"input[name=withdrawal_accounts][value='{alice_account.pk}']").check()
    page.locator("input[name=documents][value=resident_card]").check()
    page.locator("input[name=signature_taken]").check()
    page.locator("input[name=_save]").click()
    page.wait_for_url("**/receipt/")
    assert page.locator("[data-deadline]").inner_text().endswith("23:59:59 KST")
    assert Agreement.objects.get(customer=alice).state == Agreement.State.APPLIED

    # 2. At home, the customer registers online (a browser of their own: no staff cookies).
    customer_context = browser.new_context(base_url=live_server.url, locale="ko-KR")
    customer_context.set_default_timeout(10_000)
    web = customer_context.new_page()
    problems += console_problems(web)
    web.goto("/ebanking/register/")
    assert web.locator("html").get_attribute("lang") == "ko"
    _identify(web, alice, alice_account, rrn)
    web.wait_for_url("**/ebanking/register/medium/")
    _answer_card(web, alice)
    web.wait_for_url("**/ebanking/register/login/")
    assert web.locator("#user-id-rule").is_visible() and web.locator("#password-rules").is_visible()
    web.locator("#id_username").fill(USERNAME)
    web.locator("#id_password1").fill(PASSWORD)
    web.locator("#id_password2").fill(PASSWORD)
    web.locator("main form button[type=submit]").click()
    web.wait_for_url("**/ebanking/register/done/")
    agreement = Agreement.objects.get(customer=alice)
    assert agreement.state == Agreement.State.ACTIVE and agreement.user.username == USERNAME

    # 3. Sign-in with the new user ID works and shows who is signed in.
    _sign_in(web, PASSWORD)
    assert "/login/" not in web.url
    assert web.locator("header").get_by_text(alice.name).first.is_visible()
    web.locator("header form[action$='/logout/'] button").click()
    web.wait_for_load_state()

    # While internet banking is in normal use, the customer gets a joint certificate kept as two files
    # (issued through the certificate centre's service, as the issue page does).
    certcenter_services.ca_init(actor=CA_ACTOR)
    issued = demo_certificate_issue(
        agreement=agreement,
        account=alice_account,
        password=CERTIFICATE_PASSWORD,
        actor=certcenter_services.certificate_web_actor(),
    )
    issued.write(tmp_path)

    # 4. Five wrong passwords in a row suspend internet banking (and pause sign-in for this name and
    # address); the page that says so links to the release.
    for _ in range(5):
        _sign_in(web, "Wrong-pass-1!")
    agreement.refresh_from_db()
    assert (agreement.state, agreement.suspension_reason) == (Agreement.State.SUSPENDED, "wrong_entries")
    assert Notification.objects.filter(purpose="agreement_wrong_entry_suspension", to=alice.phone).count() == 1
    _sign_in(web, PASSWORD)
    assert "/login/" in web.url  # the right password does not sign in now
    assert web.locator("#release-hint a[href$='/security/release/']").is_visible()

    # 5. Release in the security centre: details, card, SMS code, then the release text signed with
    # the certificate files in the browser.
    web.locator("#release-hint a").click()
    web.wait_for_url("**/security/release/")
    _identify(web, alice, alice_account, rrn)
    web.wait_for_url("**/security/release/medium/")
    _answer_card(web, alice)
    web.wait_for_url("**/security/release/phone/")
    web.locator("#phone-send button[value=sms]").click()
    web.wait_for_load_state()
    body = Notification.objects.filter(purpose="additional_auth").latest("pk").body
    code = re.search(r"\d{6}", body)
    assert code is not None
    web.locator("#phone-verify input[name=phone_code]").fill(code.group(0))
    web.locator("#phone-verify button[type=submit]").click()
    web.wait_for_url("**/security/release/sign/")
    agreement.refresh_from_db()
    assert agreement.state == Agreement.State.SUSPENDED  # not before the signature
    text = web.locator("#release-text").inner_text()
    assert f"customer={alice.name}" in text and "suspension=wrong_entries" in text
    web.locator("#cert-file").set_input_files(str(tmp_path / "signCert.der"))
    web.locator("#key-file").set_input_files(str(tmp_path / "signPri.key"))
    web.locator("#certificate-password").fill("Wrong-cert-2026!")
    web.locator("#release-sign-submit").click()
    status = web.locator("#sign-status")
    status.wait_for(state="visible")
    web.wait_for_function("() => !document.getElementById('release-sign-submit').disabled")
    assert "/security/release/sign/" in web.url  # a wrong password is caught in the browser
    web.locator("#certificate-password").fill(CERTIFICATE_PASSWORD)
    web.locator("#release-sign-submit").click()
    web.wait_for_url("**/security/release/done/")
    agreement.refresh_from_db()
    assert agreement.state == Agreement.State.ACTIVE and agreement.wrong_entries == 0
    evidence = SignatureEvidence.objects.get(purpose=SignatureEvidence.Purpose.SUSPENSION_RELEASE)
    assert evidence.certificate_id == issued.issued.certificate.pk and evidence.text == text
    assert AuditEvent.objects.filter(action="agreement.release", object_id=str(agreement.pk)).exists()

    # 6. The release also lifted the sign-in pause for this customer: signed in again. Find my ID shows
    # the ID masked and texts it in full.
    _sign_in(web, PASSWORD)
    assert "/login/" not in web.url
    customer_context.clear_cookies()
    web.goto("/find-id/")
    form = web.locator("#identify-form")
    form.locator("#id_name").fill(alice.name)
    form.locator("#id_id_number").fill(f"{alice.birth_date:%Y%m%d}")
    form.locator("#id_account_number").fill(alice_account.number_display)
    form.locator("#id_account_password").fill(ACCOUNT_PASSWORD)
    form.locator("button[type=submit]").click()
    web.wait_for_load_state()
    assert web.get_by_text(services.mask_user_id(USERNAME)).first.is_visible()
    assert USERNAME not in web.content()
    assert Notification.objects.filter(to=alice.phone, body__contains=USERNAME).count() == 1
    customer_context.close()
    assert problems == []
