"""Our bank's deposit account numbers: pure functions, no ORM.

Format ``BBB-PP-SSSSSS-C`` (12 digits): branch, product code, serial within branch and product,
and a Luhn check digit over the first eleven digits, so a single mistyped digit or most
swapped neighbours are caught before any lookup.
"""

from __future__ import annotations

import re

_NUMBER_RE = re.compile(r"^(\d{3})-?(\d{2})-?(\d{6})-?(\d)$")
SERIAL_MAX = 999_999


class InvalidAccountNumber(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code  # "format" or "check_digit"


def luhn_check_digit(payload: str) -> int:
    total = 0
    # Double every second digit from the right of the payload (the check digit will sit right of it).
    for index, char in enumerate(reversed(payload)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def build(branch: str, product_code: str, serial: int) -> str:
    if not (len(branch) == 3 and branch.isdigit() and len(product_code) == 2 and product_code.isdigit()):
        raise ValueError("branch must be 3 digits and product code 2 digits")
    if not 0 < serial <= SERIAL_MAX:
        raise ValueError("serial out of range")
    payload = f"{branch}{product_code}{serial:06d}"
    return payload + str(luhn_check_digit(payload))


def normalise(value: str) -> str:
    """Return the 12 digits of a well-formed number with a correct check digit."""
    match = _NUMBER_RE.match((value or "").strip().replace(" ", ""))
    if not match:
        raise InvalidAccountNumber("format")
    digits = "".join(match.groups())
    if luhn_check_digit(digits[:11]) != int(digits[11]):
        raise InvalidAccountNumber("check_digit")
    return digits


def display(digits: str) -> str:
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:11]}-{digits[11]}"


def masked(digits: str) -> str:
    """``101-01-***456-7``: branch, product and the last digits a customer recognises (receipts, SMS)."""
    shown = display(digits)
    return f"{shown[:7]}***{shown[10:]}"
