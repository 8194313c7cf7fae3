"""The security card admin: a teller issues a card and sees the printable grid once; no later page
shows the codes; reissue guards against a double submit; a locked card gets an unlock request."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from accounts.models import StaffRequest, User
from otp.admin.cards import ERR_CARDS_CHANGED, ERR_ID_CHECK, MSG_WILL_RETIRE
from otp.models import SecurityCard
from otp.services import security_card_challenge, security_card_issue, security_card_verify
from otp.services.cards import ANTI_PHISHING_NOTICE, security_card_codes
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db

CODE_CELL = re.compile(r"<td data-code>(\d{4})</td>")


def _add_url() -> str:
    return reverse("admin:otp_securitycard_add")


def _change_url(card: SecurityCard) -> str:
    return reverse("admin:otp_securitycard_change", args=[card.pk])


def _shown(message, response) -> str:
    """``message`` as the page renders it, in the response's language."""
    with translation.override(response["Content-Language"]):
        return escape(str(message))


def _issue_via_admin(client, customer, replaces: str = ""):
    return client.post(_add_url(), {"customer": customer.pk, "id_checked": "on", "replaces": replaces})


def _assert_no_codes(text: str, codes: tuple[str, ...]) -> None:
    assert "data-code" not in text
    for code in codes:
        assert f">{code}<" not in text
    pairs = [codes[i] + codes[i + 1] for i in range(len(codes) - 1)]
    assert not [pair for pair in pairs if pair in text]


def test_teller_issues_a_card_and_sees_the_printable_grid_once(client, teller, alice):
    """The POST answers with the card: 30 numbered codes, serial, name, the anti-phishing line,
    a print button from static files only; the page is not cacheable."""
    staff_login(client, teller)
    form = client.get(f"{_add_url()}?customer={alice.pk}")
    assert form.status_code == 200

    response = _issue_via_admin(client, alice)

    assert response.status_code == 200
    card = SecurityCard.objects.get(customer=alice)
    html = response.content.decode()
    shown = tuple(CODE_CELL.findall(html))
    assert shown == security_card_codes(card)
    assert [int(n) for n in re.findall(r'<th scope="row">(\d+)</th><td data-code>', html)] == list(range(1, 31))
    assert card.serial_display in html and alice.name in html
    assert _shown(ANTI_PHISHING_NOTICE, response) in html
    assert "data-print" in html and "security-card-print.js" in html and "security-card.css" in html
    assert "<script>" not in html and "style=" not in html and "<style" not in html
    assert "no-store" in response["Cache-Control"]

    # Afterwards: the card page, the list and the history never show the codes.
    for url in (
        _change_url(card),
        reverse("admin:otp_securitycard_changelist"),
        reverse("admin:otp_securitycard_history", args=[card.pk]),
    ):
        later = client.get(url)
        assert later.status_code == 200
        _assert_no_codes(later.content.decode(), shown)
    # A second GET of the issue page is a fresh form, not the card.
    again = client.get(f"{_add_url()}?customer={alice.pk}")
    _assert_no_codes(again.content.decode(), shown)


def test_a_resubmitted_issue_does_not_retire_the_card_just_printed(client, teller, alice):
    """The form carries the card it saw: posting it again is refused until the teller confirms."""
    staff_login(client, teller)
    _issue_via_admin(client, alice)
    first = SecurityCard.objects.get(customer=alice)

    resubmit = _issue_via_admin(client, alice, replaces="")

    assert resubmit.status_code == 200
    assert _shown(ERR_CARDS_CHANGED, resubmit) in resubmit.content.decode()
    assert SecurityCard.objects.filter(customer=alice).count() == 1
    # Deliberate reissue: the form now names the current card, and the old one is retired.
    reissue = _issue_via_admin(client, alice, replaces=first.serial)
    assert reissue.status_code == 200 and "data-code" in reissue.content.decode()
    first.refresh_from_db()
    assert first.status == SecurityCard.Status.RETIRED


def test_issue_form_warns_that_the_current_card_will_be_retired(client, teller, alice):
    security_card_issue(customer=alice, actor=teller)
    staff_login(client, teller)
    card = SecurityCard.objects.get(customer=alice)
    response = client.get(f"{_add_url()}?customer={alice.pk}")
    with translation.override(response["Content-Language"]):
        notice = MSG_WILL_RETIRE % {"card": card.serial_display, "status": card.get_status_display()}
    assert escape(notice) in response.content.decode()


def test_issue_without_the_id_check_is_refused_on_the_form(client, teller, alice):
    staff_login(client, teller)
    response = client.post(_add_url(), {"customer": alice.pk, "replaces": ""})
    assert response.status_code == 200
    assert _shown(ERR_ID_CHECK, response) in response.content.decode()
    assert not SecurityCard.objects.exists()


def test_a_staff_member_without_the_permission_cannot_issue(client, alice):
    clerk = User.objects.create_user(username="clerk", password="Staff-pass-2026!", is_staff=True)
    staff_login(client, clerk)
    assert client.get(_add_url()).status_code == 403
    assert _issue_via_admin(client, alice).status_code == 403
    assert not SecurityCard.objects.exists()


def test_teller_records_an_unlock_request_for_a_locked_card(client, teller, alice):
    issued = security_card_issue(customer=alice, actor=teller)
    owner = User.objects.create_user(username="alice01", password="Long-pass-2031!", customer=alice)
    security_card_challenge(card=issued.card, actor=owner)
    for _ in range(5):
        security_card_verify(card=issued.card, answer="xx", actor=owner)
    staff_login(client, teller)
    page = client.get(_change_url(issued.card)).content.decode()
    assert "request-unlock/" in page

    url = reverse("admin:otp_securitycard_request_unlock", args=[issued.card.pk])
    response = client.post(url, {"reason": "분실 아님, 본인 확인", "id_checked": "on"})

    assert response.status_code == 302
    request = StaffRequest.objects.get(kind=StaffRequest.Kind.SECURITY_CARD_UNLOCK)
    assert request.customer == alice and request.requested_by == teller
    issued.card.refresh_from_db()
    assert issued.card.status == SecurityCard.Status.LOCKED  # until a manager approves


def test_an_active_card_offers_no_unlock_request(client, teller, alice):
    card = security_card_issue(customer=alice, actor=teller).card
    staff_login(client, teller)
    assert "request-unlock/" not in client.get(_change_url(card)).content.decode()
    url = reverse("admin:otp_securitycard_request_unlock", args=[card.pk])
    assert client.get(url).status_code == 302
    assert not StaffRequest.objects.exists()


def test_customer_page_links_to_issuing_a_card(client, teller, alice):
    staff_login(client, teller)
    page = client.get(reverse("admin:accounts_customer_change", args=[alice.pk])).content.decode()
    assert f"{_add_url()}?customer={alice.pk}" in page
