"""Resident registration numbers typed into any of our admin search boxes are never echoed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bankportal.masking import contains_rrn, mask_rrns
from tests.conftest import staff_login

RRN = "900101-1234567"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("900101-1234567", "900101-1******"),
        ("9001011234567", "900101-1******"),
        ("900101 - 1234567", "900101-1******"),
        ("고객 900101-1234567 문의", "고객 900101-1****** 문의"),
        ("101-01-000001-5", "101-01-000001-5"),  # an account number is not a resident number
        ("01012345678", "01012345678"),
    ],
)
def test_mask_resident_numbers(text, masked):
    """Only RRN-shaped runs are masked: birth date and gender digit stay, the rest become stars."""
    assert mask_rrns(text) == masked
    assert contains_rrn(text) is (text != masked)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changelist",
    [
        "accounts_account",
        "accounts_journal",
        "accounts_ledgerentry",
        "accounts_depositproduct",
        "content_notice",
        "content_faqentry",
    ],
)
def test_other_changelists_redirect_a_resident_number_search_to_the_masked_term(client, teller, changelist):
    """A teller searching accounts, journals, entries, products, notices or FAQ by an RRN is
    redirected to the masked term; nothing echoes it. (Every searchable admin, as a superuser:
    test_admin_search_never_echoes_rrn.py.)"""
    staff_login(client, teller)

    response = client.get(reverse(f"admin:{changelist}_changelist"), {"q": RRN}, follow=True)

    assert response.redirect_chain
    assert response.context["cl"].query == "900101-1******"
    html = response.content.decode()
    assert RRN not in html
    assert RRN.replace("-", "") not in html
