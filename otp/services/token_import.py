"""The OTP token registry import (vendor files): every row checked first, all rows or none.

Used by ``manage.py import_otp_tokens``. A serial already in the registry with the same content
is left alone, so a file imported twice changes nothing; the same serial with another seed, kind,
issuer or warranty is a bad row. Seeds are sealed with AES-GCM bound to the serial.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.services._common import Actor, require_perm
from bankportal import crypto
from bankportal.audit.services import audit_record
from otp import totp
from otp.models import OtpToken
from otp.services.tokens import _seal_seed, normalise_serial, otp_token_seed

IMPORT_PERMISSION = "otp.add_otptoken"


@dataclass(frozen=True)
class TokenImportSummary:
    created: int
    unchanged: int
    serials: tuple[str, ...] = ()  # the serials created, for the command's summary

    @property
    def total(self) -> int:
        return self.created + self.unchanged


class TokenImportError(ValidationError):
    """The file has bad rows; nothing was imported. ``problems`` = [(line number, reason), ...]."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__(
            [
                ValidationError(_("line %(line)d: %(reason)s") % {"line": line, "reason": reason})
                for line, reason in problems
            ],
            code="otp_import_rows",
        )
        self.problems = problems


# --- Registry import ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _TokenRow:
    line: int
    serial: str
    seed: str
    kind: str
    issuer: str
    warranty: dt.date
    vendor: str


_SERIAL_RE = re.compile(r"^[A-Z0-9]{6,20}$")
_IMPORT_KINDS = (OtpToken.Kind.HARDWARE.value, OtpToken.Kind.CARD_TYPE.value)


def _parse_row(line: int, row: Mapping[str, Any]) -> tuple[_TokenRow | None, list[str]]:
    def text(name: str) -> str:
        value = row.get(name)
        return value.strip() if isinstance(value, str) else ""

    problems: list[str] = []
    serial = normalise_serial(text("serial"))
    if not _SERIAL_RE.match(serial):
        problems.append(str(_("serial must be 6 to 20 letters and digits")))
    seed = ""
    try:
        seed = totp.normalise_seed(text("seed"))
        if totp.seed_bytes(seed) < totp.MIN_SEED_BYTES:
            problems.append(str(_("seed is shorter than 128 bits")))
    except ValueError:
        problems.append(str(_("seed is not base32")))
    kind = text("kind").lower().replace("-", "_")
    if kind not in _IMPORT_KINDS:
        problems.append(str(_("kind must be hardware or card_type (digital OTPs are enrolled, not imported)")))
    issuer = text("issuer")
    if not (len(issuer) == 3 and issuer.isdigit()):
        problems.append(str(_("issuer must be a 3-digit institution code")))
    warranty: dt.date | None = None
    try:
        warranty = dt.date.fromisoformat(text("warranty"))
    except ValueError:
        problems.append(str(_("warranty must be a date YYYY-MM-DD")))
    vendor = text("vendor")[:60]
    if problems or warranty is None:
        return None, problems
    return _TokenRow(
        line=line, serial=serial, seed=seed, kind=kind, issuer=issuer, warranty=warranty, vendor=vendor
    ), []


def _same_content(existing: OtpToken, row: _TokenRow) -> list[str]:
    problems = []
    try:
        same_seed = secrets.compare_digest(otp_token_seed(existing), row.seed)
    except crypto.DecryptionError:
        same_seed = False
    if not same_seed:
        problems.append(
            str(_("serial %(serial)s is already registered with a different seed") % {"serial": row.serial})
        )
    if (existing.kind, existing.issuer, existing.warranty_until) != (row.kind, row.issuer, row.warranty):
        problems.append(
            str(
                _("serial %(serial)s is already registered with a different kind, issuer or warranty")
                % {"serial": row.serial}
            )
        )
    return problems


@transaction.atomic
def otp_tokens_import(
    *,
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    actor: Actor,
    progress: Callable[[], None] | None = None,
) -> TokenImportSummary:
    """Add vendor tokens to the registry: all rows or none.

    ``rows`` are ``(line number, columns)`` with columns serial, seed (base32), kind (hardware or
    card_type), issuer (3 digits), warranty (YYYY-MM-DD) and optionally vendor. Every row is
    checked first; a serial already in the registry with the same content is left as it is (so a
    file imported twice changes nothing), with other content it is a bad row. ``progress`` is called
    once per row checked and once per row written. Raises ``TokenImportError`` naming every bad
    row (nothing is written); ``PermissionDenied`` without ``otp.add_otptoken``.
    """
    require_perm(actor, IMPORT_PERMISSION)
    parsed: list[_TokenRow] = []
    problems: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        token_row, row_problems = _parse_row(line, row)
        if token_row is not None:
            if token_row.serial in first_line:
                row_problems.append(
                    str(_("serial appears again (first on line %(line)d)") % {"line": first_line[token_row.serial]})
                )
            else:
                first_line[token_row.serial] = line
                parsed.append(token_row)
        problems.extend((line, problem) for problem in row_problems)
        if progress is not None:
            progress()
    # Lock the rows already in the registry: a concurrent import must not change them under the check.
    existing = {
        token.serial: token
        for serials in _chunks([row.serial for row in parsed], 500)
        for token in OtpToken.objects.select_for_update().filter(serial__in=serials).order_by("pk")
    }
    new_rows: list[_TokenRow] = []
    for token_row in parsed:
        found = existing.get(token_row.serial)
        if found is None:
            new_rows.append(token_row)
        else:
            problems.extend((token_row.line, problem) for problem in _same_content(found, token_row))
    if problems:
        raise TokenImportError(sorted(problems))
    created: list[OtpToken] = []
    for token_row in new_rows:
        key_id, token = _seal_seed(token_row.seed, token_row.serial)
        created.append(
            OtpToken(
                serial=token_row.serial,
                vendor=token_row.vendor,
                kind=token_row.kind,
                issuer=token_row.issuer,
                seed_ciphertext=token,
                seed_key_id=key_id,
                step_seconds=totp.default_step_seconds(token_row.kind),
                warranty_until=token_row.warranty,
            )
        )
        if progress is not None:
            progress()
    OtpToken.objects.bulk_create(created, batch_size=500)
    unchanged = len(parsed) - len(new_rows)
    if progress is not None:
        for _row in range(unchanged):
            progress()
    audit_record(
        action="otp.tokens_import",
        actor=actor,
        details={
            "created": len(created),
            "unchanged": unchanged,
            "first_serial": created[0].serial if created else None,
            "last_serial": created[-1].serial if created else None,
        },
    )
    return TokenImportSummary(created=len(created), unchanged=unchanged, serials=tuple(t.serial for t in created))


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
