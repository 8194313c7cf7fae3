"""Every service states who acts, and checks it: no anonymous path skips the permission check."""

import pytest
from django.core.exceptions import PermissionDenied

from accounts import services
from accounts.models import Account, Customer, User
from bankportal.actors import SystemActor, system_actor
from bankportal.audit.models import AuditEvent
from tests.conftest import ACCOUNT_PASSWORD, rrn_for_age

pytestmark = pytest.mark.django_db


def _new_customer_kwargs() -> dict[str, object]:
    return {"kind": Customer.Kind.INDIVIDUAL, "name": "박무명", "phone": "01055556666", "rrn": rrn_for_age(40)}


@pytest.mark.parametrize("actor", [None, "system", 0])
def test_anonymous_or_made_up_actors_cannot_register_a_customer(actor):
    with pytest.raises(PermissionDenied):
        services.customer_create(**_new_customer_kwargs(), actor=actor)
    assert not Customer.objects.exists()


def test_money_services_refuse_a_missing_actor(alice_account):
    with pytest.raises(PermissionDenied):
        services.cash_deposit(account=alice_account, amount=1_000, actor=None)
    with pytest.raises(PermissionDenied):
        services.cash_withdrawal(account=alice_account, amount=1_000, password=ACCOUNT_PASSWORD, actor=None)
    with pytest.raises(PermissionDenied):
        services.account_password_check(account=alice_account, password="0000", actor=None)
    alice_account.refresh_from_db()
    assert alice_account.balance == 1_000_000 and alice_account.password_failures == 0


def test_an_inactive_teller_is_refused(teller, alice_account):
    teller.is_active = False
    teller.save(update_fields=["is_active"])
    with pytest.raises(PermissionDenied):
        services.cash_deposit(account=alice_account, amount=1_000, actor=teller)


def test_a_system_actor_acts_only_within_the_permissions_it_was_given(alice):
    without = system_actor("job:test")
    with pytest.raises(PermissionDenied):
        services.customer_rrn_reencrypt(actor=without)
    with_perm = system_actor("job:test", ["accounts.reencrypt_customer_rrn"])
    assert services.customer_rrn_reencrypt(actor=with_perm) == 0


def test_a_system_actor_is_named_in_the_audit_trail(demand_product, alice):
    job = system_actor("command:import", ["accounts.add_account"])
    account = services.account_open(customer=alice, product=demand_product, password="3917", actor=job)
    event = AuditEvent.objects.get(action="account.open", object_id=str(account.pk))
    assert event.actor_id is None and event.actor_label == "system:command:import"


def test_a_system_actor_name_must_be_plain():
    with pytest.raises(ValueError):
        system_actor("")
    with pytest.raises(ValueError):
        system_actor("job; drop table")
    assert isinstance(system_actor("job:dormancy"), SystemActor)


def test_staff_never_process_their_own_customer_record(teller, alice_account):
    """A teller who is also a customer cannot take cash on their own account."""
    teller.customer = alice_account.holder
    teller.save(update_fields=["customer"])
    with pytest.raises(PermissionDenied):
        services.cash_deposit(account=alice_account, amount=10_000, actor=teller)
    assert Account.objects.get(pk=alice_account.pk).balance == 1_000_000


def test_a_customer_checks_only_their_own_account_password(alice_account, teller):
    bob = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="최밥", phone="01077778888", rrn=rrn_for_age(45), actor=teller
    )
    alice_user = User.objects.create_user(username="alice01", password="x-Long-pass-123", customer=alice_account.holder)
    bob_user = User.objects.create_user(username="bob01", password="x-Long-pass-123", customer=bob)
    assert (
        services.account_password_check(account=alice_account, password=ACCOUNT_PASSWORD, actor=alice_user)
        is services.PasswordCheck.OK
    )
    with pytest.raises(PermissionDenied):
        services.account_password_check(account=alice_account, password="0000", actor=bob_user)
    alice_account.refresh_from_db()
    assert alice_account.password_failures == 0
