"""Resident registration numbers at rest: encryption, the blind index, decryption for services.

Shared by services (which write) and selectors (which search), so that neither imports the other.

Each ciphertext is bound to its row: the AES-GCM associated data is the purpose label plus the
row's blind index (``rrn_index``, unique and known before the insert). A ciphertext copied onto
another customer's row, with or without its key id, fails to decrypt there.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from accounts.idnumbers import mask_rrn
from bankportal import crypto

if TYPE_CHECKING:
    from accounts.models import Customer

RRN_PURPOSE = "customer.rrn"


class RrnBindingError(crypto.DecryptionError):
    """The stored RRN ciphertext does not belong to this customer row (moved, swapped or corrupt)."""


def rrn_blind_index(digits: str) -> str:
    return crypto.blind_index(digits, key=crypto.current_blind_index_key(), purpose=RRN_PURPOSE)


def _decrypt_unbound(customer: Customer, ring: crypto.KeyRing) -> str:
    """A ciphertext from before row binding (the migration, or an older release mid-deploy).

    Its associated data names only the field, so the row check is the blind index: the number
    must be the one this row is indexed under, never another customer's.
    """
    try:
        digits = crypto.decrypt(customer.rrn_ciphertext, key_id=customer.rrn_key_id, ring=ring, purpose=RRN_PURPOSE)
    except crypto.DecryptionError:
        raise RrnBindingError(
            f"customer {customer.pk}: resident number ciphertext does not belong to this row"
        ) from None
    if not hmac.compare_digest(rrn_blind_index(digits), customer.rrn_index or ""):
        raise RrnBindingError(f"customer {customer.pk}: resident number ciphertext does not belong to this row")
    return digits


def _decrypt(customer: Customer, ring: crypto.KeyRing) -> tuple[str, bool]:
    """``(digits, bound)``: the number and whether the ciphertext is already row-bound."""
    ring.key(customer.rrn_key_id)  # an unknown key id is a configuration error, reported as such
    if customer.rrn_index:
        try:
            digits = crypto.decrypt(
                customer.rrn_ciphertext,
                key_id=customer.rrn_key_id,
                ring=ring,
                purpose=RRN_PURPOSE,
                bound_to=customer.rrn_index,
            )
        except crypto.DecryptionError:
            pass
        else:
            return digits, True
    return _decrypt_unbound(customer, ring), False


def customer_rrn(customer: Customer) -> str:
    """Decrypt the RRN for a service that must compare it. Never render or log the result.

    Raises ``RrnBindingError`` when the ciphertext belongs to another row, and
    ``crypto.DecryptionError`` for a key id missing from ``FIELD_ENCRYPTION_KEYS``.
    """
    return _decrypt(customer, crypto.current_ring())[0]


def rrn_is_current(customer: Customer, ring: crypto.KeyRing) -> bool:
    """Whether the RRN is under the newest key and bound to its row (nothing to re-encrypt)."""
    return customer.rrn_key_id == ring.current_id and _decrypt(customer, ring)[1]


def set_rrn(customer: Customer, digits: str) -> None:
    """Encrypt ``digits`` onto the (unsaved or locked) customer row, with index and masked copy."""
    index = rrn_blind_index(digits)
    key_id, token = crypto.encrypt(digits, ring=crypto.current_ring(), purpose=RRN_PURPOSE, bound_to=index)
    customer.rrn_ciphertext = token
    customer.rrn_key_id = key_id
    customer.rrn_index = index
    customer.rrn_masked = mask_rrn(digits)
