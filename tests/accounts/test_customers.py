"""Registering customers: validation, minors, duplicates, and the RRN kept only encrypted."""

import datetime as dt
import io

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from accounts import services
from accounts.models import Customer
from accounts.selectors import customer_search
from bankportal import crypto
from bankportal.audit.models import AuditEvent
from tests.conftest import rrn_for_age, valid_brn

pytestmark = pytest.mark.django_db


def _codes(exc: ValidationError) -> dict[str, list[str]]:
    return {field: [e.code for e in errors] for field, errors in exc.error_dict.items()}


def test_individual_customer_is_created_with_masked_and_encrypted_rrn(teller):
    """The RRN is stored encrypted with its key id, shown masked, and its birth date derived."""
    rrn = rrn_for_age(40, serial="234567")
    customer = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name=" 김철수 ", phone="010-9876-5432", rrn=rrn, actor=teller
    )
    customer.refresh_from_db()
    assert customer.name == "김철수"
    assert customer.phone == "01098765432"
    assert customer.rrn_masked == rrn[:8] + "******"
    assert customer.id_display == customer.rrn_masked
    assert customer.rrn_key_id == crypto.current_ring().current_id
    assert rrn.replace("-", "") not in customer.rrn_ciphertext
    assert services.customer_rrn(customer) == rrn.replace("-", "")
    assert customer.age(customer.birth_date.replace(year=customer.birth_date.year + 40)) == 40
    event = AuditEvent.objects.get(action="customer.create")
    assert event.actor == teller and event.customer_ref == customer.pk
    assert rrn.replace("-", "")[6:] not in str(event.details)


def test_bad_input_gives_field_errors_and_writes_nothing(teller):
    with pytest.raises(ValidationError) as exc:
        services.customer_create(
            kind=Customer.Kind.INDIVIDUAL, name="", phone="02-123-4567", rrn="900230-1234567", actor=teller
        )
    assert _codes(exc.value) == {"name": ["name_required"], "phone": ["phone_invalid"], "rrn": ["rrn_birth_date"]}
    assert Customer.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_kind_specific_numbers(teller):
    with pytest.raises(ValidationError) as exc:
        services.customer_create(
            kind=Customer.Kind.CORPORATION, name="X", phone="01012345678", rrn="9001011234567", actor=teller
        )
    assert _codes(exc.value) == {"rrn": ["rrn_not_allowed"], "brn": ["brn_required"]}
    with pytest.raises(ValidationError) as exc:
        services.customer_create(
            kind=Customer.Kind.INDIVIDUAL_BUSINESS,
            name="X",
            phone="01012345678",
            rrn=rrn_for_age(30),
            brn="220-81-12342",
            actor=teller,
        )
    assert _codes(exc.value) == {"brn": ["brn_check_digit"]}
    business = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL_BUSINESS,
        name="X",
        phone="01012345678",
        rrn=rrn_for_age(30),
        brn=valid_brn("220811234"),
        actor=teller,
    )
    assert business.brn == "2208112341" and business.rrn_masked


def test_duplicate_rrn_and_brn_are_refused(alice, acme, teller):
    rrn = services.customer_rrn(alice)
    with pytest.raises(ValidationError) as exc:
        services.customer_create(
            kind=Customer.Kind.INDIVIDUAL, name="Other", phone="01011112222", rrn=rrn, actor=teller
        )
    assert _codes(exc.value) == {"rrn": ["duplicate_rrn"]}
    with pytest.raises(ValidationError) as exc:
        services.customer_create(
            kind=Customer.Kind.CORPORATION, name="Other", phone="01011112222", brn=acme.brn, actor=teller
        )
    assert _codes(exc.value) == {"brn": ["duplicate_brn"]}


@pytest.mark.parametrize(("age", "allowed"), [(17, False), (18, True)])
def test_minor_alone_needs_age_18_and_is_capped(teller, age, allowed):
    """A minor under 18 needs a legal representative; at 18 a minor may sign up alone but is capped."""
    kwargs = {
        "kind": Customer.Kind.INDIVIDUAL,
        "name": "미성년",
        "phone": "01033334444",
        "rrn": rrn_for_age(age),
        "actor": teller,
    }
    if allowed:
        assert services.customer_create(**kwargs).solo_minor_cap is True
    else:
        with pytest.raises(ValidationError) as exc:
            services.customer_create(**kwargs)
        assert _codes(exc.value) == {"legal_representative": ["minor_needs_representative"]}


@pytest.mark.parametrize(("age", "capped"), [(18, True), (19, False)])
def test_cap_applies_below_19_only(teller, age, capped):
    """Adulthood is 19: an 18-year-old signing up alone is capped, a 19-year-old is not."""
    customer = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="청년", phone="01033334444", rrn=rrn_for_age(age), actor=teller
    )
    assert customer.solo_minor_cap is capped


def test_minor_with_legal_representative(alice, minnie, teller):
    child = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL,
        name="아이",
        phone="01055556666",
        rrn=rrn_for_age(8),
        legal_representative=alice,
        representative_relation="parent",
        actor=teller,
    )
    assert child.legal_representative == alice and child.solo_minor_cap is False
    with pytest.raises(ValidationError) as exc:
        services.customer_create(
            kind=Customer.Kind.INDIVIDUAL,
            name="아이2",
            phone="01055556666",
            rrn=rrn_for_age(8, serial="999999"),
            legal_representative=minnie,
            representative_relation="",
            actor=teller,
        )
    assert _codes(exc.value) == {
        "legal_representative": ["representative_invalid"],
        "representative_relation": ["representative_relation"],
    }
    with pytest.raises(ValidationError) as exc:
        services.customer_create(
            kind=Customer.Kind.INDIVIDUAL,
            name="어른",
            phone="01055556666",
            rrn=rrn_for_age(30, serial="888888"),
            legal_representative=alice,
            representative_relation="parent",
            actor=teller,
        )
    assert _codes(exc.value) == {"legal_representative": ["representative_not_minor"]}


def test_minor_cap_is_lifted_only_by_a_manager_once_adult(minnie, manager, teller):
    """The lift is a staff request (책임자 승인): refused before the 19th birthday, approved from it."""
    from django.core.exceptions import PermissionDenied

    from accounts.models import StaffRequest

    def request_lift() -> StaffRequest:
        return services.staff_request_create(
            kind=StaffRequest.Kind.MINOR_CAP_LIFT, customer=minnie, reason="ID checked", actor=teller
        )

    with pytest.raises(ValidationError) as exc:
        request_lift()
    assert exc.value.code == "minor_cap_still_minor"
    # Still refused on the last day before the 19th birthday (23:59:59 KST) ...
    adult_day = minnie.birth_date.replace(year=minnie.birth_date.year + 19)
    eve = adult_day - dt.timedelta(days=1)
    with time_machine.travel(f"{eve.isoformat()}T23:59:59+09:00", tick=False), pytest.raises(ValidationError) as exc:
        request_lift()
    assert exc.value.code == "minor_cap_still_minor"
    # ... and the cap stays after the 19th birthday until the branch lifts it, by approval only.
    with time_machine.travel(f"{adult_day.isoformat()}T00:00:00+09:00", tick=False):
        minnie.refresh_from_db()
        assert minnie.solo_minor_cap is True
        request = request_lift()
        with pytest.raises(PermissionDenied):
            services.staff_request_approve(request=request, actor=teller)
        services.staff_request_approve(request=request, actor=manager)
    minnie.refresh_from_db()
    assert minnie.solo_minor_cap is False
    assert AuditEvent.objects.filter(action="customer.lift_minor_cap", actor=manager).count() == 1


def test_search_by_full_rrn_uses_the_blind_index(alice, acme, alice_account):
    rrn = services.customer_rrn(alice)
    assert list(customer_search(f"{rrn[:6]}-{rrn[6:]}")) == [alice]
    assert list(customer_search(rrn)) == [alice]
    assert list(customer_search(rrn[:-1] + str((int(rrn[-1]) + 1) % 10))) == []
    assert list(customer_search("앨리스")) == [alice]
    assert list(customer_search(alice_account.number_display)) == [alice]
    assert list(customer_search(acme.brn_display)) == [acme]


def _all_database_text() -> str:
    """Every row of every table, as text: what a database dump would contain."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - table names from introspection
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_database_dump_contains_no_plaintext_rrn(alice, minnie, alice_account, teller):
    rrns = [services.customer_rrn(c) for c in (alice, minnie)]
    raw = _all_database_text()
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    for rrn in rrns:
        for shape in (rrn, f"{rrn[:6]}-{rrn[6:]}"):
            assert shape not in raw
            assert shape not in out.getvalue()
    assert alice.rrn_masked in raw  # the masked form is what is kept in clear


def test_key_rotation_reencrypts_and_keeps_search_working(alice, minnie, settings):
    old_key_id = alice.rrn_key_id
    rrn = services.customer_rrn(alice)
    new_key = "k2new:" + __import__("base64").b64encode(b"n" * 32).decode()
    settings.FIELD_ENCRYPTION_KEYS = f"{new_key},{settings.FIELD_ENCRYPTION_KEYS}"
    out = io.StringIO()
    call_command("reencrypt_fields", "--batch-size", "1", stdout=out)
    assert "re-encrypted 2" in out.getvalue()
    alice.refresh_from_db()
    assert alice.rrn_key_id == "k2new" != old_key_id
    assert services.customer_rrn(alice) == rrn
    assert list(customer_search(rrn)) == [alice]
    # Once everything is re-encrypted the old key can go.
    settings.FIELD_ENCRYPTION_KEYS = new_key
    assert services.customer_rrn(alice) == rrn
    call_command("reencrypt_fields", stdout=out)
    assert "re-encrypted 0" in out.getvalue()
    assert AuditEvent.objects.filter(action="customer.rrn_reencrypt").count() == 1


def test_contact_update_is_audited_with_field_names_only(alice, teller, manager):
    """A contact change (a staff request approved by a manager) is audited with field names, not values."""
    from accounts.models import StaffRequest

    request = services.staff_request_create(
        kind=StaffRequest.Kind.CONTACT_CHANGE,
        customer=alice,
        payload={"phone": "010-7777-8888", "email": "new@example.com"},
        reason="ID checked",
        actor=teller,
    )
    services.staff_request_approve(request=request, actor=manager)
    alice.refresh_from_db()
    assert alice.phone == "01077778888"
    event = AuditEvent.objects.get(action="customer.update_contact")
    assert event.details == {"fields": ["phone", "email"], "staff_request": request.pk}
    with pytest.raises(ValidationError):
        services.customer_update_name(customer=alice, name="", actor=teller)
