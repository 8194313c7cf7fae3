"""A teller takes an e-banking application in the real staff admin and prints the receipt."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from accounts.admin.agreements import mask_account_number
from accounts.agreements import registration_deadline
from accounts.models import Agreement
from bankportal.audit.models import AuditEvent
from bankportal.timeutil import KST
from otp.services import security_card_issue
from otp.totp import mask_serial
from tests.browser.conftest import console_problems, staff_admin_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Where to keep screenshots for a person to look at (unset: none are kept).
SHOTS = os.environ.get("AGREEMENT_SHOTS_DIR", "")


def _shot(page, name: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"branch_{name}.png"), full_page=True, **kwargs)


def test_teller_applies_from_the_customer_page_and_prints_the_receipt(page, teller, alice, alice_account):
    """Customer page → application (accounts, documents, security card shown) → receipt with the
    deadline; no console or CSP errors; the staff bar is hidden when printing."""
    problems = console_problems(page)
    card = security_card_issue(customer=alice, actor=teller).card
    staff_admin_login(page, "teller")

    page.goto(f"/admin/accounts/customer/{alice.pk}/change/")
    page.locator("#agreement-link").click()
    page.wait_for_url("**/admin/accounts/agreement/add/?customer=*")
    assert page.locator("#agreement-media tbody tr").count() == 1
    assert page.locator("#agreement-media").get_by_text(mask_serial(card.serial)).is_visible()
    page.locator(f"input[name=withdrawal_accounts][value='{alice_account.pk}']").check()
    page.locator("input[name=documents][value=resident_card]").check()
    page.locator("input[name=signature_taken]").check()
    _shot(page, "apply")
    page.locator("input[name=_save]").click()

    page.wait_for_url("**/receipt/")
    agreement = Agreement.objects.get(customer=alice)
    deadline = f"{registration_deadline(agreement.applied_at).astimezone(KST):%Y-%m-%d} 23:59:59 KST"
    assert page.locator("[data-deadline]").inner_text() == deadline
    assert page.locator("[data-account]").inner_text() == mask_account_number(alice_account.number)
    assert page.locator(".staff-only").is_visible()
    _shot(page, "receipt")
    page.emulate_media(media="print")
    assert not page.locator(".staff-only").is_visible()
    assert page.locator("[data-deadline]").is_visible()
    _shot(page, "receipt_print")
    assert AuditEvent.objects.filter(action="agreement.apply", actor=teller, channel="admin").exists()
    assert problems == []


def test_the_application_page_blocks_a_customer_without_a_security_medium(page, teller, alice, alice_account):
    problems = console_problems(page)
    staff_admin_login(page, "teller")
    page.goto(f"/admin/accounts/agreement/add/?customer={alice.pk}")
    assert page.locator("#agreement-blockers").is_visible()
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator(f"a[href$='/otp/securitycard/add/?customer={alice.pk}']").is_visible()
    _shot(page, "apply_blocked")
    assert problems == []


def test_an_individual_business_is_asked_for_the_business_documents(page, teller, demand_product):
    """The checklist groups the ID documents (one of) and the four business documents (all required)."""
    from accounts import services
    from accounts.models import Customer
    from tests.conftest import ACCOUNT_PASSWORD, rrn_for_age, valid_brn

    shop = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL_BUSINESS,
        name="가게주인",
        phone="010-3333-4444",
        rrn=rrn_for_age(45, serial="145678"),
        brn=valid_brn("123451234"),
        actor=teller,
    )
    services.account_open(customer=shop, product=demand_product, password=ACCOUNT_PASSWORD, actor=teller)
    security_card_issue(customer=shop, actor=teller)
    problems = console_problems(page)
    staff_admin_login(page, "teller")
    page.goto(f"/admin/accounts/agreement/add/?customer={shop.pk}")
    assert page.locator("input[name=documents]").count() == 7
    assert page.locator("#required-documents li").count() == 5
    _shot(page, "apply_business")
    assert problems == []
