"""Account passwords are stored keyed (HMAC under ACCOUNT_PIN_KEY), bound to the account, rotatable,
and the pre-keyed hashes are wrapped by the migration and upgraded at their next successful check."""

import base64
import hashlib
import importlib
import io

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from accounts import pins, services
from accounts.models import Account, Customer
from accounts.services.passwords import PinStorageError, account_password_wrap_legacy, hash_account_password
from bankportal import crypto
from bankportal.actors import system_actor
from bankportal.audit.models import AuditEvent
from tests.conftest import ACCOUNT_PASSWORD, rrn_for_age

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
NEW_PIN_KEY = "p2new:" + base64.b64encode(b"n" * 32).decode()
MIGRATION = importlib.import_module("accounts.migrations.0005_keyed_account_pins_and_bound_rrn")
CHECK_ACTOR = system_actor("job:test", ["accounts.check_account_password"])

pytestmark = pytest.mark.django_db

# --- The pure functions ------------------------------------------------------------------------


def test_keyed_hash_matches_only_the_same_pin_account_and_key():
    """The hash verifies the right PIN on its own account under its own key, and nothing else."""
    stored = pins.pin_hash("4825", account_number="101010000012", key=KEY)
    assert stored.startswith(pins.KEYED_PREFIX)
    assert pins.pin_hash_matches("4825", stored, account_number="101010000012", key=KEY)
    assert not pins.pin_hash_matches("4826", stored, account_number="101010000012", key=KEY)
    assert not pins.pin_hash_matches("4825", stored, account_number="101010000023", key=KEY)
    assert not pins.pin_hash_matches("4825", stored, account_number="101010000012", key=OTHER_KEY)


def test_keyed_hash_is_not_computable_from_the_pin_alone():
    """Without the key no value derived from the PIN and account number equals the stored one."""
    pin, number = "4825", "101010000012"
    stored = pins.pin_hash(pin, account_number=number, key=KEY)
    digest = stored.removeprefix(pins.KEYED_PREFIX)
    unkeyed = {
        hashlib.sha256(pin.encode()).hexdigest(),
        hashlib.sha256(f"{number}{pin}".encode()).hexdigest(),
        hashlib.sha256(f"{number}\x00{pin}".encode()).hexdigest(),
        pins.pin_hash(pin, account_number=number, key=b"").removeprefix(pins.KEYED_PREFIX),
        pins.pin_hash(pin, account_number=number, key=OTHER_KEY).removeprefix(pins.KEYED_PREFIX),
    }
    assert digest not in unkeyed
    assert all(name not in stored for name in ("argon2", "pbkdf2", "md5", "scrypt"))


def test_a_wrapped_legacy_hash_opens_only_on_its_account_with_its_key():
    legacy = "md5$salt$0123456789abcdef0123456789abcdef"
    wrapped = pins.wrap_legacy_hash(legacy, account_number="101010000012", key=KEY)
    assert wrapped.startswith(pins.WRAPPED_PREFIX)
    assert "0123456789abcdef" not in wrapped and "md5" not in wrapped
    assert pins.unwrap_legacy_hash(wrapped, account_number="101010000012", key=KEY) == legacy
    with pytest.raises(crypto.DecryptionError):
        pins.unwrap_legacy_hash(wrapped, account_number="101010000023", key=KEY)
    with pytest.raises(crypto.DecryptionError):
        pins.unwrap_legacy_hash(wrapped, account_number="101010000012", key=OTHER_KEY)
    with pytest.raises(ValueError, match="legacy"):
        pins.wrap_legacy_hash(wrapped, account_number="101010000012", key=KEY)


# --- The service -------------------------------------------------------------------------------


@pytest.fixture
def bob_account(db, teller, demand_product):  # type: ignore[no-untyped-def]
    bob = services.customer_create(
        kind=Customer.Kind.INDIVIDUAL, name="박밥", phone="010-1212-3434", rrn=rrn_for_age(45), actor=teller
    )
    return services.account_open(customer=bob, product=demand_product, password="7351", actor=teller)


def _check(account: Account, pin: str) -> services.PasswordCheck:
    return services.account_password_check(account=account, password=pin, actor=CHECK_ACTOR)


def test_a_new_account_stores_a_keyed_hash_under_the_newest_key(alice_account, settings):
    """Opening an account stores HMAC under the newest key with its id; no slow-hash digest."""
    alice_account.refresh_from_db()
    assert alice_account.password_key_id == crypto.current_pin_ring().current_id
    assert pins.is_keyed(alice_account.password_hash)
    assert ACCOUNT_PASSWORD not in alice_account.password_hash
    assert _check(alice_account, ACCOUNT_PASSWORD) is services.PasswordCheck.OK
    assert _check(alice_account, "0000") is services.PasswordCheck.WRONG


def test_a_hash_copied_to_another_account_does_not_verify_there(alice_account, bob_account):
    """Alice's stored hash and key id pasted onto Bob's account do not accept Alice's password."""
    alice_account.refresh_from_db()
    Account.objects.filter(pk=bob_account.pk).update(
        password_hash=alice_account.password_hash, password_key_id=alice_account.password_key_id
    )
    assert _check(bob_account, ACCOUNT_PASSWORD) is services.PasswordCheck.WRONG
    assert _check(bob_account, "7351") is services.PasswordCheck.WRONG


def test_a_success_under_an_old_key_rehashes_under_the_newest(alice_account, settings):
    """After a key is prepended, a wrong entry changes nothing; the next right one moves the row."""
    alice_account.refresh_from_db()
    old_key_id, old_hash = alice_account.password_key_id, alice_account.password_hash
    settings.ACCOUNT_PIN_KEY = f"{NEW_PIN_KEY},{settings.ACCOUNT_PIN_KEY}"

    assert _check(alice_account, "0000") is services.PasswordCheck.WRONG
    alice_account.refresh_from_db()
    assert (alice_account.password_key_id, alice_account.password_hash) == (old_key_id, old_hash)

    assert _check(alice_account, ACCOUNT_PASSWORD) is services.PasswordCheck.OK
    alice_account.refresh_from_db()
    assert alice_account.password_key_id == "p2new" != old_key_id
    assert pins.is_keyed(alice_account.password_hash) and alice_account.password_hash != old_hash
    assert alice_account.password_failures == 0
    event = AuditEvent.objects.get(action="account.password_rehashed")
    assert event.details["to_key"] == "p2new"
    # The old key can now go for this row.
    settings.ACCOUNT_PIN_KEY = NEW_PIN_KEY
    assert _check(alice_account, ACCOUNT_PASSWORD) is services.PasswordCheck.OK
    assert AuditEvent.objects.filter(action="account.password_rehashed").count() == 1


def test_a_row_under_a_dropped_key_fails_loudly_and_counts_nothing(alice_account, settings):
    """Dropping a key still in use is an operator error: raised, not counted against the customer."""
    settings.ACCOUNT_PIN_KEY = NEW_PIN_KEY
    with pytest.raises(crypto.DecryptionError, match="unknown"):
        _check(alice_account, ACCOUNT_PASSWORD)
    alice_account.refresh_from_db()
    assert alice_account.password_failures == 0


def test_new_hashes_use_the_newest_key(settings):
    """Opening and the branch reset both store ``hash_account_password``: the newest key, keyed form."""
    settings.ACCOUNT_PIN_KEY = f"{NEW_PIN_KEY},{settings.ACCOUNT_PIN_KEY}"
    key_id, stored = hash_account_password("3917", account_number="101010000012")
    assert key_id == "p2new" and pins.is_keyed(stored)
    assert pins.pin_hash_matches("3917", stored, account_number="101010000012", key=b"n" * 32)


# --- Migrating the pre-keyed hashes ------------------------------------------------------------


def _make_legacy(account: Account, pin: str, hasher: str) -> str:
    """Put the row back in its pre-migration shape: a Django hasher string, no key id."""
    legacy = make_password(pin, hasher=hasher)
    Account.objects.filter(pk=account.pk).update(password_hash=legacy, password_key_id="")
    return legacy


@pytest.mark.parametrize("hasher", ["argon2", "pbkdf2_sha256"])
def test_migration_wraps_old_hashes_which_verify_then_upgrade(alice_account, settings, hasher):
    """The migrated row holds no old digest; a wrong PIN is refused and leaves it wrapped; the right
    one is accepted and rewrites it in the keyed form."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    legacy = _make_legacy(alice_account, ACCOUNT_PASSWORD, hasher)
    old_digest = legacy.rsplit("$", 1)[1]

    MIGRATION.wrap_account_passwords(django_apps, None)

    alice_account.refresh_from_db()
    stored = alice_account.password_hash
    assert pins.is_wrapped(stored) and alice_account.password_key_id == crypto.current_pin_ring().current_id
    assert old_digest not in stored and hasher not in stored and legacy.split("$")[2] not in stored

    assert _check(alice_account, "0000") is services.PasswordCheck.WRONG
    alice_account.refresh_from_db()
    assert alice_account.password_hash == stored

    assert _check(alice_account, ACCOUNT_PASSWORD) is services.PasswordCheck.OK
    alice_account.refresh_from_db()
    assert pins.is_keyed(alice_account.password_hash)
    assert alice_account.password_failures == 0
    assert AuditEvent.objects.get(action="account.password_rehashed").details["from"]["form"] == "wrapped"
    assert _check(alice_account, ACCOUNT_PASSWORD) is services.PasswordCheck.OK


def test_migration_is_idempotent_and_reversible_before_any_upgrade(alice_account, bob_account):
    legacy = _make_legacy(alice_account, ACCOUNT_PASSWORD, "md5")
    MIGRATION.wrap_account_passwords(django_apps, None)
    MIGRATION.wrap_account_passwords(django_apps, None)  # a re-run leaves wrapped and keyed rows alone
    alice_account.refresh_from_db()
    bob_keyed = Account.objects.get(pk=bob_account.pk).password_hash
    assert pins.is_wrapped(alice_account.password_hash)

    Account.objects.filter(pk=bob_account.pk).update(password_hash="")  # no keyed rows: reversible
    MIGRATION.unwrap_account_passwords(django_apps, None)
    alice_account.refresh_from_db()
    assert alice_account.password_hash == legacy and alice_account.password_key_id == ""

    Account.objects.filter(pk=bob_account.pk).update(password_hash=bob_keyed)
    with pytest.raises(RuntimeError, match="keyed form"):
        MIGRATION.unwrap_account_passwords(django_apps, None)


def test_a_wrapped_hash_copied_to_another_account_does_not_verify_there(alice_account, bob_account):
    _make_legacy(alice_account, ACCOUNT_PASSWORD, "md5")
    MIGRATION.wrap_account_passwords(django_apps, None)
    alice_account.refresh_from_db()
    Account.objects.filter(pk=bob_account.pk).update(
        password_hash=alice_account.password_hash, password_key_id=alice_account.password_key_id
    )
    assert _check(bob_account, ACCOUNT_PASSWORD) is services.PasswordCheck.WRONG


def test_a_bare_hash_is_never_accepted_until_reencrypt_fields_wraps_it(alice_account):
    """A hasher string planted (or left by an older release) is refused loudly; the command seals it."""
    _make_legacy(alice_account, ACCOUNT_PASSWORD, "md5")
    with pytest.raises(PinStorageError, match="reencrypt_fields"):
        _check(alice_account, ACCOUNT_PASSWORD)
    alice_account.refresh_from_db()
    assert alice_account.password_failures == 0

    out = io.StringIO()
    call_command("reencrypt_fields", stdout=out)
    assert "sealed 1 unkeyed account passwords" in out.getvalue()
    assert AuditEvent.objects.filter(action="account.password_wrap_legacy").count() == 1
    assert _check(alice_account, ACCOUNT_PASSWORD) is services.PasswordCheck.OK
    call_command("reencrypt_fields", stdout=out)
    assert "sealed 0 unkeyed" in out.getvalue()


def test_reencrypt_fields_reports_rows_left_under_older_pin_keys(alice_account, bob_account, settings):
    settings.ACCOUNT_PIN_KEY = f"{NEW_PIN_KEY},{settings.ACCOUNT_PIN_KEY}"
    old_id = Account.objects.get(pk=alice_account.pk).password_key_id
    assert _check(alice_account, ACCOUNT_PASSWORD) is services.PasswordCheck.OK
    out = io.StringIO()
    call_command("reencrypt_fields", stdout=out)
    assert f"older ACCOUNT_PIN_KEY ids: {old_id}: 1" in out.getvalue()


def test_wrapping_needs_its_permission(alice_account):
    with pytest.raises(PermissionDenied):
        account_password_wrap_legacy(actor=system_actor("job:test", ["accounts.reencrypt_customer_rrn"]))
