"""Resident registration numbers at rest: encryption, the blind index, decryption for services.

Shared by services (which write) and selectors (which search), so that neither imports the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accounts.idnumbers import mask_rrn
from bankportal import crypto

if TYPE_CHECKING:
    from accounts.models import Customer

RRN_PURPOSE = "customer.rrn"


def rrn_blind_index(digits: str) -> str:
    return crypto.blind_index(digits, key=crypto.current_blind_index_key(), purpose=RRN_PURPOSE)


def customer_rrn(customer: Customer) -> str:
    """Decrypt the RRN for a service that must compare it. Never render or log the result."""
    return crypto.decrypt(
        customer.rrn_ciphertext, key_id=customer.rrn_key_id, ring=crypto.current_ring(), purpose=RRN_PURPOSE
    )


def set_rrn(customer: Customer, digits: str) -> None:
    """Encrypt ``digits`` onto the (unsaved or locked) customer row, with index and masked copy."""
    key_id, token = crypto.encrypt(digits, ring=crypto.current_ring(), purpose=RRN_PURPOSE)
    customer.rrn_ciphertext = token
    customer.rrn_key_id = key_id
    customer.rrn_index = rrn_blind_index(digits)
    customer.rrn_masked = mask_rrn(digits)
