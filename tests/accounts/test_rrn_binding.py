"""Each RRN ciphertext is bound to its row (the blind index is in the associated data): swapped between
customers it decrypts for neither; rows from before the binding are migrated and re-encrypted."""

import importlib
import io

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command

from accounts import services
from accounts.identity import RRN_PURPOSE, RrnBindingError, rrn_is_current
from accounts.models import Customer
from accounts.selectors import customer_search
from bankportal import crypto
from tests.conftest import rrn_for_age

MIGRATION = importlib.import_module("accounts.migrations.0005_keyed_account_pins_and_bound_rrn")

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob(teller) -> Customer:  # type: ignore[no-untyped-def]
    return services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박밥", phone="010-1212-3434", rrn=rrn_for_age(45), actor=teller
    )


def _fresh(customer: Customer) -> Customer:
    return Customer.objects.get(pk=customer.pk)


def _unbind(customer: Customer, digits: str) -> None:
    """Rewrite the row as it was before the binding: associated data = the purpose label only."""
    key_id, token = crypto.encrypt(digits, ring=crypto.current_ring(), purpose=RRN_PURPOSE)
    Customer.objects.filter(pk=customer.pk).update(rrn_ciphertext=token, rrn_key_id=key_id)


def test_rrn_round_trips_on_its_own_row(alice, bob):
    alice_rrn, bob_rrn = services.customer_rrn(_fresh(alice)), services.customer_rrn(_fresh(bob))
    assert alice_rrn != bob_rrn
    assert alice_rrn == rrn_for_age(34, serial="234567").replace("-", "")
    assert rrn_is_current(_fresh(alice), crypto.current_ring())


def test_the_ciphertext_is_bound_to_the_blind_index(alice):
    """It decrypts with the row's blind index in the associated data and without it does not."""
    row = _fresh(alice)
    ring = crypto.current_ring()
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(row.rrn_ciphertext, key_id=row.rrn_key_id, ring=ring, purpose=RRN_PURPOSE)
    assert crypto.decrypt(
        row.rrn_ciphertext, key_id=row.rrn_key_id, ring=ring, purpose=RRN_PURPOSE, bound_to=row.rrn_index
    ) == services.customer_rrn(row)


def test_swapped_ciphertexts_decrypt_for_neither_customer(alice, bob):
    """Ciphertext and key id exchanged between Alice and Bob: both reads fail, neither sees the other."""
    a, b = _fresh(alice), _fresh(bob)
    Customer.objects.filter(pk=a.pk).update(rrn_ciphertext=b.rrn_ciphertext, rrn_key_id=b.rrn_key_id)
    Customer.objects.filter(pk=b.pk).update(rrn_ciphertext=a.rrn_ciphertext, rrn_key_id=a.rrn_key_id)
    for customer in (alice, bob):
        with pytest.raises(RrnBindingError, match="does not belong to this row"):
            services.customer_rrn(_fresh(customer))
    # Re-encryption refuses to launder them onto the wrong rows.
    with pytest.raises(RrnBindingError):
        call_command("reencrypt_fields", stdout=io.StringIO())


def test_an_unbound_ciphertext_from_another_row_is_refused(alice, bob):
    """Bob's number in the old, unbound form pasted on Alice's row is caught by the blind index."""
    _unbind(alice, services.customer_rrn(_fresh(bob)))
    with pytest.raises(RrnBindingError):
        services.customer_rrn(_fresh(alice))
    with pytest.raises(RuntimeError, match="does not match the row's blind index"):
        MIGRATION.bind_rrn_ciphertexts(django_apps, None)


def test_migration_binds_rows_written_before_the_binding(alice, bob):
    digits = services.customer_rrn(_fresh(alice))
    _unbind(alice, digits)
    old = _fresh(alice)
    assert not rrn_is_current(old, crypto.current_ring())
    assert services.customer_rrn(old) == digits  # still readable, checked against its blind index

    MIGRATION.bind_rrn_ciphertexts(django_apps, None)

    new = _fresh(alice)
    assert new.rrn_ciphertext != old.rrn_ciphertext
    assert rrn_is_current(new, crypto.current_ring())
    assert services.customer_rrn(new) == digits
    assert list(customer_search(digits)) == [alice]
    # Bob was bound already and is left as he was.
    assert _fresh(bob).rrn_ciphertext == bob.rrn_ciphertext


def test_migration_reverse_restores_the_unbound_form(alice):
    digits = services.customer_rrn(_fresh(alice))
    MIGRATION.unbind_rrn_ciphertexts(django_apps, None)
    row = _fresh(alice)
    assert (
        crypto.decrypt(row.rrn_ciphertext, key_id=row.rrn_key_id, ring=crypto.current_ring(), purpose=RRN_PURPOSE)
        == digits
    )
    MIGRATION.bind_rrn_ciphertexts(django_apps, None)
    assert rrn_is_current(_fresh(alice), crypto.current_ring())


def test_reencrypt_fields_also_binds_old_rows(alice, bob):
    digits = services.customer_rrn(_fresh(bob))
    _unbind(bob, digits)
    out = io.StringIO()
    call_command("reencrypt_fields", "--batch-size", "1", stdout=out)
    assert "re-encrypted 1 resident numbers" in out.getvalue()
    assert rrn_is_current(_fresh(bob), crypto.current_ring())
    assert services.customer_rrn(_fresh(bob)) == digits
    call_command("reencrypt_fields", stdout=out)
    assert "re-encrypted 0 resident numbers" in out.getvalue()
