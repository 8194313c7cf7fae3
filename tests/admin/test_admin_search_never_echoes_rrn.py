"""No admin search box echoes a resident registration number typed into it.

Walks every ModelAdmin registered on the admin site that has search fields, so an admin added
later (ours or a library's) is covered without being listed here.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import User
from bankportal.admin import ResidentNumberSafeSearchMixin

RRN = "850315-2718281"
SERIAL = "2718281"  # the part a mask hides: must never appear, whatever the formatting
TYPED = [RRN, RRN.replace("-", ""), f"고객 {RRN} 문의"]


def _searchable_admins() -> list[admin.ModelAdmin]:  # type: ignore[type-arg]
    request = RequestFactory().get("/admin/")
    request.user = User(is_superuser=True, is_staff=True, is_active=True)
    return sorted(
        (ma for ma in admin.site._registry.values() if ma.get_search_fields(request)),
        key=lambda ma: ma.opts.label,
    )


SEARCHABLE = _searchable_admins()


def test_the_walk_covers_the_admins_we_know_have_search():
    """The walk is not vacuous: it includes customers, audit events and notices."""
    labels = {ma.opts.label for ma in SEARCHABLE}
    assert {"accounts.Customer", "audit.AuditEvent", "content.Notice", "accounts.User"} <= labels


@pytest.mark.django_db
@pytest.mark.parametrize("model_admin", SEARCHABLE, ids=lambda ma: ma.opts.label)
@pytest.mark.parametrize("typed", TYPED, ids=["hyphen", "digits", "in-words"])
def test_searching_a_resident_number_never_echoes_it(admin_client, model_admin, typed):
    """As a superuser, a search for an RRN (with or without hyphen) answers with no trace of it:
    not in a redirect's Location, not in the page it leads to."""
    url = reverse(f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist")

    response = admin_client.get(url, {"q": typed})
    hops = 0
    while response.status_code in (301, 302, 303, 307, 308):
        location = unquote_plus(response["Location"])
        assert SERIAL not in location, f"redirect echoes the number: {location}"
        hops += 1
        assert hops < 5
        response = admin_client.get(response["Location"])

    assert response.status_code == 200
    html = response.content.decode()
    assert SERIAL not in html
    assert SERIAL not in unquote_plus(html)


@pytest.mark.parametrize("model_admin", SEARCHABLE, ids=lambda ma: ma.opts.label)
def test_every_searchable_admin_uses_the_resident_number_safe_search(model_admin):
    """The redirect-before-render guard is the one mechanism; every searchable admin has it."""
    assert isinstance(model_admin, ResidentNumberSafeSearchMixin)
