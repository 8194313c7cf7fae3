"""The certificate password rule: 10-50 characters mixing letters, digits and special characters.

The page checks it before encrypting the private key (the password never reaches the server); this is the
reference rule the page mirrors and the tests pin. Case-sensitive and never normalised: the exact characters
typed are the PKCS#8 password.

Only printable ASCII is allowed: letters A-Z a-z, digits 0-9 and the 32 ASCII punctuation characters. Anything
else -- Hangul typed with the keyboard left in Korean mode, other non-ASCII letters such as "é", control
characters -- is refused as ``invalid_character`` rather than counted in any class: the same password must give
the same bytes on every device and in ``openssl pkey``, and Unicode (NFC vs NFD, IME input) does not promise that.
Whitespace has its own code.
"""

from __future__ import annotations

import string

CERT_PASSWORD_MIN, CERT_PASSWORD_MAX = 10, 50

_LETTERS = frozenset(string.ascii_letters)
_DIGITS = frozenset(string.digits)
_SPECIAL = frozenset(string.punctuation)


def certificate_password_problems(password: str) -> list[str]:
    """Every rule ``password`` breaks, in a fixed order; empty if it is acceptable.

    Codes: too_short, too_long, needs_letter, needs_digit, needs_special, whitespace, invalid_character."""
    problems: list[str] = []
    if len(password) < CERT_PASSWORD_MIN:
        problems.append("too_short")
    if len(password) > CERT_PASSWORD_MAX:
        problems.append("too_long")
    characters = set(password)
    if not characters & _LETTERS:
        problems.append("needs_letter")
    if not characters & _DIGITS:
        problems.append("needs_digit")
    if not characters & _SPECIAL:
        problems.append("needs_special")
    if any(ch.isspace() for ch in characters):
        problems.append("whitespace")
    if any(not ch.isspace() and ch not in _LETTERS | _DIGITS | _SPECIAL for ch in characters):
        problems.append("invalid_character")
    return problems
