"""The customer admin: registration through the service, masked numbers, RRN search, and contact
changes and the minor cap as requests a branch manager approves (책임자 승인)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import Customer, StaffRequest
from bankportal.audit.models import AuditEvent
from bankportal.notifications.models import Notification
from tests.conftest import rrn_for_age, staff_login

pytestmark = pytest.mark.django_db

ADD_URL = "admin:accounts_customer_add"
CHANGELIST_URL = "admin:accounts_customer_changelist"


def _secret_forms(rrn: str) -> list[str]:
    """The full number, with and without its dash. (The trailing digits alone are too short to
    check: alice's serial also occurs in her phone number.)"""
    digits = rrn.replace("-", "")
    return [digits, f"{digits[:6]}-{digits[6:]}"]


def _assert_no_rrn(text: str, rrn: str) -> None:
    for secret in _secret_forms(rrn):
        assert secret not in text, f"unmasked resident number {secret!r} in the response"


def _add_payload(**overrides: str) -> dict[str, str]:
    data = {
        "kind": Customer.Kind.INDIVIDUAL,
        "name": "박보검",
        "phone": "010-9876-5432",
        "email": "bogum@example.com",
        "rrn": rrn_for_age(40, serial="187654"),
        "brn": "",
        "legal_representative": "",
        "representative_relation": "",
    }
    data.update(overrides)
    return data


def test_teller_registers_customer_through_admin_and_it_is_audited(client, teller):
    """A teller registers an adult through the add form; the customer exists and `customer.create` is audited."""
    staff_login(client, teller)
    data = _add_payload()

    response = client.post(reverse(ADD_URL), data)

    customer = Customer.objects.get(name="박보검")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:accounts_customer_change", args=[customer.pk])
    assert customer.phone == "01098765432"
    assert customer.rrn_masked == data["rrn"][:8] + "******"
    event = AuditEvent.objects.get(action="customer.create", object_id=str(customer.pk))
    assert event.actor == teller
    assert event.channel == "admin"


def test_add_form_does_not_show_the_rrn_back(client, teller):
    """A form re-shown for another error (bad phone) never carries the RRN the teller typed."""
    staff_login(client, teller)
    data = _add_payload(phone="12345")

    response = client.post(reverse(ADD_URL), data)

    assert response.status_code == 200
    assert "phone" in response.context["adminform"].form.errors
    _assert_no_rrn(response.content.decode(), data["rrn"])
    assert not Customer.objects.filter(name="박보검").exists()


def test_bad_rrn_is_a_field_error_and_nothing_is_written(client, teller):
    """An RRN that is not a date of birth is refused on the rrn field (Korean page by default); nothing is written."""
    staff_login(client, teller)
    events_before = AuditEvent.objects.count()

    response = client.post(reverse(ADD_URL), _add_payload(rrn="901341-1234567"))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert [e.code for e in form.errors.as_data()["rrn"]] == ["rrn_birth_date"]
    assert 'lang="ko"' in response.content.decode()
    assert not Customer.objects.exists()
    assert AuditEvent.objects.count() == events_before


def test_bad_rrn_error_is_in_english_when_asked(client, teller):
    """With an English browser the malformed-RRN message is the English one, next to the field."""
    staff_login(client, teller)

    response = client.post(reverse(ADD_URL), _add_payload(rrn="90010112"), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert [e.code for e in response.context["adminform"].form.errors.as_data()["rrn"]] == ["rrn_format"]
    assert "Enter the resident registration number as 13 digits" in response.content.decode()
    assert not Customer.objects.exists()


def test_duplicate_rrn_is_refused_on_the_rrn_field(client, teller, alice):
    """Registering a second customer with alice's RRN puts the duplicate error on the rrn field."""
    staff_login(client, teller)
    rrn = rrn_for_age(34, serial="234567")

    response = client.post(reverse(ADD_URL), _add_payload(rrn=rrn), HTTP_ACCEPT_LANGUAGE="en")

    assert [e.code for e in response.context["adminform"].form.errors.as_data()["rrn"]] == ["duplicate_rrn"]
    assert Customer.objects.count() == 1
    _assert_no_rrn(response.content.decode(), rrn)


def test_child_without_representative_is_refused_on_that_field(client, teller):
    """A 10-year-old cannot be registered without a legal representative."""
    staff_login(client, teller)

    response = client.post(reverse(ADD_URL), _add_payload(rrn=rrn_for_age(10, serial="312345")))

    errors = response.context["adminform"].form.errors.as_data()
    assert [e.code for e in errors["legal_representative"]] == ["minor_needs_representative"]
    assert not Customer.objects.exists()


def test_minor_registered_by_parent_is_linked_to_the_representative(client, teller, alice):
    """A parent registers a 10-year-old: the child is linked to alice and carries no solo cap."""
    staff_login(client, teller)

    response = client.post(
        reverse(ADD_URL),
        _add_payload(
            name="김어린",
            rrn=rrn_for_age(10, serial="312345"),
            legal_representative=str(alice.pk),
            representative_relation=Customer.RepresentativeRelation.PARENT,
        ),
    )

    assert response.status_code == 302
    child = Customer.objects.get(name="김어린")
    assert child.legal_representative == alice
    assert child.solo_minor_cap is False


def test_corporation_is_registered_with_its_business_number(client, teller):
    """A corporation needs a valid BRN and no RRN."""
    from tests.conftest import valid_brn

    staff_login(client, teller)
    brn = valid_brn("105874321")

    response = client.post(
        reverse(ADD_URL), _add_payload(kind=Customer.Kind.CORPORATION, name="(주)다솜", rrn="", brn=brn)
    )

    assert response.status_code == 302
    assert Customer.objects.get(name="(주)다솜").brn == brn.replace("-", "")


def test_search_by_full_rrn_finds_alice_without_echoing_the_number(client, teller, alice):
    """Typing alice's full RRN in the search box finds her; no response in the chain contains the number."""
    staff_login(client, teller)
    rrn = rrn_for_age(34, serial="234567")

    first = client.get(reverse(CHANGELIST_URL), {"q": rrn})

    assert first.status_code == 302
    _assert_no_rrn(first["Location"], rrn)
    page = client.get(first["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [alice]
    assert "김앨리스" in html
    assert alice.rrn_masked in html  # the box shows the masked number back
    _assert_no_rrn(html, rrn)


def test_search_by_rrn_without_dash_or_with_spaces_is_not_echoed(client, teller, alice):
    """The digits typed without a dash, or with spaces, are redirected away just the same."""
    staff_login(client, teller)
    rrn = rrn_for_age(34, serial="234567")

    for term in (rrn.replace("-", ""), rrn.replace("-", " - ")):
        response = client.get(reverse(CHANGELIST_URL), {"q": term}, follow=True)

        assert list(response.context["cl"].result_list) == [alice]
        _assert_no_rrn(response.content.decode(), rrn)
        for url, _status in response.redirect_chain:
            _assert_no_rrn(url, rrn)


def test_search_by_unknown_rrn_finds_nobody(client, teller, alice):
    """An RRN of no customer lists nobody, not everyone born on that date."""
    staff_login(client, teller)
    other = alice.rrn_masked[:8] + "999999"  # same birth date and gender digit as alice

    response = client.get(reverse(CHANGELIST_URL), {"q": other}, follow=True)

    assert list(response.context["cl"].result_list) == []
    _assert_no_rrn(response.content.decode(), other)


def test_rrn_lookup_over_post_finds_alice_and_is_audited(client, teller, alice):
    """The POST lookup box finds alice by RRN, keeps the number out of the URL and logs the lookup."""
    staff_login(client, teller)
    rrn = rrn_for_age(34, serial="234567")

    response = client.post(reverse("admin:accounts_customer_find_by_rrn"), {"rrn": rrn})

    assert response.status_code == 302
    _assert_no_rrn(response["Location"], rrn)
    page = client.get(response["Location"])
    assert list(page.context["cl"].result_list) == [alice]
    _assert_no_rrn(page.content.decode(), rrn)
    event = AuditEvent.objects.get(action="customer.rrn_lookup")
    assert event.actor == teller
    assert event.customer_ref == alice.pk
    assert event.details == {"matches": 1}


def test_rrn_lookup_with_malformed_number_reports_it(client, teller):
    """A malformed number in the lookup box gives an error message and no results page by number."""
    staff_login(client, teller)

    response = client.post(reverse("admin:accounts_customer_find_by_rrn"), {"rrn": "1234"}, follow=True)

    assert response.status_code == 200
    assert any(m.level_tag == "error" for m in response.context["messages"])


def test_search_by_name_phone_and_account_number(client, teller, alice, acme, alice_account):
    """The search box also finds customers by name, mobile number and account number."""
    staff_login(client, teller)
    url = reverse(CHANGELIST_URL)

    assert list(client.get(url, {"q": "앨리스"}).context["cl"].result_list) == [alice]
    assert list(client.get(url, {"q": "010-8642-9753"}).context["cl"].result_list) == [alice]
    assert list(client.get(url, {"q": alice_account.number_display}).context["cl"].result_list) == [alice]
    assert list(client.get(url, {"q": acme.brn}).context["cl"].result_list) == [acme]


def test_changelist_and_change_page_never_show_the_rrn(client, teller, alice, alice_account):
    """The list and the customer page show the masked number only, and none of the encrypted columns."""
    staff_login(client, teller)
    rrn = rrn_for_age(34, serial="234567")
    alice.refresh_from_db()

    pages = [
        client.get(reverse(CHANGELIST_URL)),
        client.get(reverse("admin:accounts_customer_change", args=[alice.pk])),
        client.get(reverse("admin:accounts_customer_history", args=[alice.pk])),
    ]

    for page in pages:
        html = page.content.decode()
        assert page.status_code == 200
        assert alice.rrn_masked in html or page is pages[2]
        _assert_no_rrn(html, rrn)
        assert alice.rrn_ciphertext not in html
        assert alice.rrn_index not in html
        assert not re.search(r"rrn_(ciphertext|index|key_id)", html)


def test_change_page_lists_the_customers_accounts(client, teller, alice, alice_account):
    """The customer page shows the customer's accounts, read-only, with their balances."""
    staff_login(client, teller)

    html = client.get(reverse("admin:accounts_customer_change", args=[alice.pk])).content.decode()

    assert alice_account.number_display in html
    assert "1,000,000" in html


def _approve(client, manager, request: StaffRequest, **data: str):  # type: ignore[no-untyped-def]
    staff_login(client, manager)
    return client.post(reverse("admin:accounts_staffrequest_approve", args=[request.pk]), data)


def test_teller_edits_the_name_directly_but_a_posted_phone_is_ignored(client, teller, alice):
    """The change form saves the name through the service; phone and email are read-only there."""
    staff_login(client, teller)
    url = reverse("admin:accounts_customer_change", args=[alice.pk])

    response = client.post(
        url, {"name": "김앨리스B", "phone": "010 5555 0000", "email": "new@example.com", **_empty_inline()}
    )

    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.name, alice.phone, alice.email) == ("김앨리스B", "01086429753", "alice@example.com")
    event = AuditEvent.objects.get(action="customer.update_contact")
    assert event.details == {"fields": ["name"]}
    assert event.actor == teller


def test_contact_change_is_requested_by_a_teller_and_applied_on_a_managers_approval(client, teller, manager, alice):
    """The teller's request changes nothing; the manager's approval changes the phone and tells the old one."""
    staff_login(client, teller)
    page = client.get(reverse("admin:accounts_customer_change", args=[alice.pk]))
    url = reverse("admin:accounts_customer_request_contact_change", args=[alice.pk])
    assert url in page.content.decode()

    response = client.post(
        url, {"phone": "010 5555 0000", "email": "alice@example.com", "reason": "번호 변경", "id_checked": "on"}
    )

    assert response.status_code == 302
    request = StaffRequest.objects.get(kind=StaffRequest.Kind.CONTACT_CHANGE)
    assert request.state == StaffRequest.State.PENDING and request.requested_by == teller
    alice.refresh_from_db()
    assert alice.phone == "01086429753"
    queue = client.get(reverse("admin:accounts_staffrequest_changelist"))
    assert list(queue.context["cl"].result_list) == [request]
    assert client.post(reverse("admin:accounts_staffrequest_approve", args=[request.pk]), {}).status_code == 403

    approved = _approve(client, manager, request, note="확인")

    assert approved.status_code == 302
    alice.refresh_from_db()
    assert alice.phone == "01055550000"
    assert Notification.objects.filter(channel="sms", to="01086429753").exists()
    assert Notification.objects.filter(channel="sms", to="01055550000").exists()
    assert AuditEvent.objects.get(action="customer.update_contact").actor == manager


def test_contact_change_request_with_bad_phone_is_refused_next_to_the_field(client, teller, alice):
    """A malformed mobile number is an error on the phone field; no request is recorded."""
    staff_login(client, teller)
    url = reverse("admin:accounts_customer_request_contact_change", args=[alice.pk])

    response = client.post(url, {"phone": "02-123-4567", "email": "", "reason": "변경", "id_checked": "on"})

    assert response.status_code == 200
    assert [e.code for e in response.context["form"].errors.as_data()["phone"]] == ["phone_invalid"]
    assert not StaffRequest.objects.exists()


def test_contact_change_request_without_a_reason_is_refused_with_a_clear_message(client, teller, alice):
    staff_login(client, teller)
    url = reverse("admin:accounts_customer_request_contact_change", args=[alice.pk])

    response = client.post(
        url, {"phone": "010-5555-0000", "email": "", "reason": "  ", "id_checked": "on"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 200
    assert "Give the reason for this request" in response.content.decode()
    assert not StaffRequest.objects.exists()


def test_identity_fields_cannot_be_changed_through_the_change_form(client, teller, alice):
    """Posting kind or solo-cap values to the change form has no effect: they are read-only."""
    staff_login(client, teller)
    url = reverse("admin:accounts_customer_change", args=[alice.pk])

    client.post(
        url,
        {"name": "김앨리스", "phone": "01086429753", "kind": "corporation", "solo_minor_cap": "on", **_empty_inline()},
    )

    alice.refresh_from_db()
    assert alice.kind == Customer.Kind.INDIVIDUAL
    assert alice.solo_minor_cap is False


def test_nobody_deletes_customers_in_the_admin(client, manager, alice):
    """Even a branch manager gets 403 on the delete page and no bulk-delete action."""
    staff_login(client, manager)

    assert client.get(reverse("admin:accounts_customer_delete", args=[alice.pk])).status_code == 403
    assert client.post(reverse("admin:accounts_customer_delete", args=[alice.pk]), {"post": "yes"}).status_code == 403
    page = client.get(reverse(CHANGELIST_URL))
    assert "delete_selected" not in page.content.decode()
    assert Customer.objects.filter(pk=alice.pk).exists()


def test_a_tellers_cap_lift_page_records_a_request_and_the_cap_stays(client, teller, manager):
    """A teller asks for the lift (ID checked, with a reason); nothing changes until a manager approves."""
    former = _former_minor(teller)
    staff_login(client, teller)
    url = reverse("admin:accounts_customer_lift_minor_cap", args=[former.pk])

    unchecked = client.post(url, {"reason": "성년 확인"})
    response = client.post(url, {"reason": "성년 확인", "id_checked": "on"})

    assert [e.code for e in unchecked.context["form"].errors.as_data()["id_checked"]] == ["required"]
    assert response.status_code == 302
    former.refresh_from_db()
    assert former.solo_minor_cap is True
    request = StaffRequest.objects.get(kind=StaffRequest.Kind.MINOR_CAP_LIFT, customer=former)

    _approve(client, manager, request)

    former.refresh_from_db()
    assert former.solo_minor_cap is False
    assert AuditEvent.objects.get(action="customer.lift_minor_cap").actor == manager


def test_a_cap_lift_for_a_customer_not_yet_19_is_refused_when_requested(client, teller, minnie):
    """The request page shows the service's refusal for an 18-year-old; no request is recorded."""
    staff_login(client, teller)
    url = reverse("admin:accounts_customer_lift_minor_cap", args=[minnie.pk])

    response = client.post(url, {"reason": "성년", "id_checked": "on"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert [e.code for e in response.context["form"].non_field_errors().as_data()] == ["minor_cap_still_minor"]
    assert "19th birthday" in response.content.decode()
    minnie.refresh_from_db()
    assert minnie.solo_minor_cap is True
    assert not StaffRequest.objects.exists()


def test_a_manager_cannot_approve_their_own_cap_lift_request(client, manager, teller):
    """A manager's own request: the approve page shows why and the cap stays."""
    former = _former_minor(teller)
    staff_login(client, manager)
    client.post(
        reverse("admin:accounts_customer_lift_minor_cap", args=[former.pk]), {"reason": "성년", "id_checked": "on"}
    )
    request = StaffRequest.objects.get()

    response = client.post(
        reverse("admin:accounts_staffrequest_approve", args=[request.pk]), {}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 200
    assert "You cannot decide your own request" in response.content.decode()
    former.refresh_from_db()
    assert former.solo_minor_cap is True
    page = client.get(reverse("admin:accounts_staffrequest_change", args=[request.pk]))
    assert reverse("admin:accounts_staffrequest_approve", args=[request.pk]) not in page.content.decode()


def test_there_is_no_bulk_cap_lift_for_anyone(client, manager, minnie):
    """The old direct bulk action is gone: posting it changes nothing."""
    staff_login(client, manager)

    page = client.get(reverse(CHANGELIST_URL))
    client.post(
        reverse(CHANGELIST_URL), {"action": "lift_minor_cap", "_selected_action": [str(minnie.pk)], "index": "0"}
    )

    assert 'value="lift_minor_cap"' not in page.content.decode()
    minnie.refresh_from_db()
    assert minnie.solo_minor_cap is True


def _former_minor(teller) -> Customer:  # type: ignore[no-untyped-def]
    """A customer who signed up alone at 18 (so carries the cap) and is now well past 19."""
    import time_machine

    from accounts import services

    with time_machine.travel("2021-06-01 12:00 +09:00", tick=False):
        former = services.customer_create(
            kind=Customer.Kind.INDIVIDUAL, name="최성년", phone="01033334444", rrn="030101-3123456", actor=teller
        )
    assert former.solo_minor_cap is True
    return former


def _empty_inline() -> dict[str, str]:
    # The read-only accounts inline still posts its management form.
    return {
        "accounts-TOTAL_FORMS": "0",
        "accounts-INITIAL_FORMS": "0",
        "accounts-MIN_NUM_FORMS": "0",
        "accounts-MAX_NUM_FORMS": "0",
    }
