"""Keyed account passwords and row-bound RRN ciphertexts (issue 5, §5).

1. Every existing account password hash (a Django hasher string: algorithm, parameters, salt,
   digest) is sealed under the newest ``ACCOUNT_PIN_KEY`` and bound to its account number
   (``accounts.pins.wrap_legacy_hash``). The plaintext passwords are unknown, so they cannot be
   rehashed here; each is replaced by the plain keyed form at its next successful check. After
   this migration no row holds a digest that can be searched offline without the key.
2. Every RRN ciphertext is decrypted with the old associated data (the purpose label only),
   checked against the row's blind index, and encrypted again under the newest key with the
   blind index added to the associated data, so it decrypts only on its own row.

Both steps are reversible while no password has been rehashed into the keyed form. The frozen
constants and the pure helpers below (``accounts.pins``, ``bankportal.crypto``) are no-ORM
modules whose stored formats are versioned.
"""

import hmac

from django.conf import settings
from django.db import migrations, models

from accounts import pins
from bankportal import crypto

RRN_PURPOSE = "customer.rrn"


def _pin_ring() -> crypto.KeyRing:
    return crypto.parse_key_ring(settings.ACCOUNT_PIN_KEY, name="ACCOUNT_PIN_KEY")


def wrap_account_passwords(apps, schema_editor):  # type: ignore[no-untyped-def]
    Account = apps.get_model("accounts", "Account")
    ring = _pin_ring()
    key = ring.key(ring.current_id)
    bare = (
        Account.objects.exclude(password_hash="")
        .exclude(password_hash__startswith=pins.KEYED_PREFIX)
        .exclude(password_hash__startswith=pins.WRAPPED_PREFIX)
    )
    for account in bare.only("pk", "number", "password_hash").order_by("pk").iterator(chunk_size=1000):
        account.password_hash = pins.wrap_legacy_hash(account.password_hash, account_number=account.number, key=key)
        account.password_key_id = ring.current_id
        account.save(update_fields=["password_hash", "password_key_id"])


def unwrap_account_passwords(apps, schema_editor):  # type: ignore[no-untyped-def]
    Account = apps.get_model("accounts", "Account")
    if Account.objects.filter(password_hash__startswith=pins.KEYED_PREFIX).exists():
        raise RuntimeError(
            "Some account passwords are already in the keyed form, which has no unkeyed equivalent; "
            "this migration cannot be reversed without resetting them."
        )
    ring = _pin_ring()
    for account in Account.objects.filter(password_hash__startswith=pins.WRAPPED_PREFIX).iterator(chunk_size=1000):
        account.password_hash = pins.unwrap_legacy_hash(
            account.password_hash, account_number=account.number, key=ring.key(account.password_key_id)
        )
        account.password_key_id = ""
        account.save(update_fields=["password_hash", "password_key_id"])


def _blind_index(digits: str) -> str:
    key = crypto.check_blind_index_key(settings.BLIND_INDEX_KEY)
    return crypto.blind_index(digits, key=key, purpose=RRN_PURPOSE)


def bind_rrn_ciphertexts(apps, schema_editor):  # type: ignore[no-untyped-def]
    Customer = apps.get_model("accounts", "Customer")
    ring = crypto.parse_key_ring(settings.FIELD_ENCRYPTION_KEYS)
    rows = Customer.objects.exclude(rrn_ciphertext="").only("pk", "rrn_ciphertext", "rrn_key_id", "rrn_index")
    for customer in rows.order_by("pk").iterator(chunk_size=1000):
        index = customer.rrn_index or ""
        try:
            crypto.decrypt(
                customer.rrn_ciphertext, key_id=customer.rrn_key_id, ring=ring, purpose=RRN_PURPOSE, bound_to=index
            )
        except crypto.DecryptionError:
            pass
        else:
            continue  # already bound (a re-run)
        digits = crypto.decrypt(customer.rrn_ciphertext, key_id=customer.rrn_key_id, ring=ring, purpose=RRN_PURPOSE)
        if not index or not hmac.compare_digest(_blind_index(digits), index):
            # Never bind a number to a row it does not belong to; this needs a person to look.
            raise RuntimeError(f"customer {customer.pk}: the RRN ciphertext does not match the row's blind index")
        customer.rrn_key_id, customer.rrn_ciphertext = crypto.encrypt(
            digits, ring=ring, purpose=RRN_PURPOSE, bound_to=index
        )
        customer.save(update_fields=["rrn_ciphertext", "rrn_key_id"])


def unbind_rrn_ciphertexts(apps, schema_editor):  # type: ignore[no-untyped-def]
    Customer = apps.get_model("accounts", "Customer")
    ring = crypto.parse_key_ring(settings.FIELD_ENCRYPTION_KEYS)
    rows = Customer.objects.exclude(rrn_ciphertext="").exclude(rrn_index=None)
    for customer in rows.order_by("pk").iterator(chunk_size=1000):
        try:
            digits = crypto.decrypt(
                customer.rrn_ciphertext,
                key_id=customer.rrn_key_id,
                ring=ring,
                purpose=RRN_PURPOSE,
                bound_to=customer.rrn_index,
            )
        except crypto.DecryptionError:
            continue  # not bound: already in the old form
        customer.rrn_key_id, customer.rrn_ciphertext = crypto.encrypt(digits, ring=ring, purpose=RRN_PURPOSE)
        customer.save(update_fields=["rrn_ciphertext", "rrn_key_id"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_ledger_internal_accounts")]

    operations = [
        migrations.AddField(
            model_name="account",
            name="password_key_id",
            field=models.CharField(blank=True, db_index=True, editable=False, max_length=16),
        ),
        migrations.AlterField(
            model_name="account",
            name="password_hash",
            field=models.CharField(blank=True, editable=False, max_length=255),
        ),
        migrations.RunPython(wrap_account_passwords, unwrap_account_passwords),
        migrations.RunPython(bind_rrn_ciphertexts, unbind_rrn_ciphertexts),
    ]
