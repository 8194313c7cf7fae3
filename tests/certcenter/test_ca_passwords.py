"""The certificate password rule: 10-50 printable ASCII characters with a letter, a digit and a special one."""

from __future__ import annotations

import pytest

from certcenter.ca import CERT_PASSWORD_MAX, CERT_PASSWORD_MIN, certificate_password_problems


def test_bounds_are_10_and_50():
    assert (CERT_PASSWORD_MIN, CERT_PASSWORD_MAX) == (10, 50)


@pytest.mark.parametrize(
    ("password", "problems"),
    [
        ("abcdefgh1!", []),  # 10: shortest accepted
        ("abcdefg1!", ["too_short"]),  # 9
        ("a1!" + "x" * 47, []),  # 50: longest accepted
        ("a1!" + "x" * 48, ["too_long"]),  # 51
        ("abcdefghi1", ["needs_special"]),
        ("ABCDEFGHI!", ["needs_digit"]),
        ("123456789!", ["needs_letter"]),
        ("ABCDEFGH1!", []),  # upper case letters are letters
        ("~`|\\{}[]1Z", []),  # every ASCII punctuation mark is special
        ("", ["too_short", "needs_letter", "needs_digit", "needs_special"]),
        ("abcdefgh 1!", ["whitespace"]),
        ("abcdefgh1!\t", ["whitespace"]),
        ("abcdefgh1!\u3000", ["whitespace"]),  # ideographic space
        # Non-ASCII letters count as no class and are refused: Hangul typed in Korean keyboard mode, accents.
        ("abcdefgh1!한", ["invalid_character"]),
        ("한글비밀번호1234!", ["needs_letter", "invalid_character"]),
        ("abcdéfgh1!", ["invalid_character"]),
        ("abcdefgh1\uff01", ["needs_special", "invalid_character"]),  # full-width "!" is not "!"
        ("abcdefgh1!\x7f", ["invalid_character"]),
    ],
)
def test_password_rule(password: str, problems: list[str]):
    assert certificate_password_problems(password) == problems


def test_length_counts_characters_not_bytes():
    assert certificate_password_problems("é" * 9 + "a1!") == ["invalid_character"]  # 12 characters, 21 bytes
