"""Deposit products: branch managers edit them (audited), tellers only read them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import DepositProduct
from bankportal.audit.models import AuditEvent
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db


def _payload(product: DepositProduct, **overrides: str) -> dict[str, str]:
    data = {
        "kind": product.kind,
        "name_ko": product.name_ko,
        "name_en": product.name_en,
        "summary_ko": "",
        "summary_en": "",
        "interest_rate_bp": "150",
        "min_opening_amount": "0",
        "is_active": "on",
        "display_order": "0",
    }
    data.update(overrides)
    return data


def test_manager_edits_a_product_and_the_change_is_audited(client, manager, demand_product):
    """A manager changes the rate; the code stays read-only; a product.change event names the fields."""
    staff_login(client, manager)
    url = reverse("admin:accounts_depositproduct_change", args=[demand_product.pk])

    response = client.post(url, _payload(demand_product, code="77"))

    assert response.status_code == 302
    demand_product.refresh_from_db()
    assert demand_product.interest_rate_bp == 150
    assert demand_product.code == "01"
    event = AuditEvent.objects.get(action="product.change")
    assert event.actor == manager
    assert "interest_rate_bp" in event.details["fields"]


def test_teller_reads_but_cannot_edit_products(client, teller, demand_product):
    """A teller sees the product but a POST to its page is 403 and nothing changes."""
    staff_login(client, teller)
    url = reverse("admin:accounts_depositproduct_change", args=[demand_product.pk])

    assert client.get(url).status_code == 200
    assert client.post(url, _payload(demand_product)).status_code == 403
    demand_product.refresh_from_db()
    assert demand_product.interest_rate_bp == 0


def test_products_are_never_deleted(client, manager, demand_product):
    """Products are taken off sale, not deleted."""
    staff_login(client, manager)

    response = client.post(reverse("admin:accounts_depositproduct_delete", args=[demand_product.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert DepositProduct.objects.filter(pk=demand_product.pk).exists()
