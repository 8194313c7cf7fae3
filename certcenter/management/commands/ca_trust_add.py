"""Trust another institution's CA, so customers can register the joint certificates it issues."""

from __future__ import annotations

import datetime as dt
import getpass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bankportal.middleware import RequestContext, use_context
from bankportal.timeutil import KST
from certcenter.models import TrustedAuthority
from certcenter.services.authority import colon_hex
from certcenter.services.external import trust_command_actor, trusted_authority_add
from certcenter.services.external_crl import (
    crl_url_clean,
    trusted_authority_crl_status,
    trusted_authority_set_crl_url,
)

MAX_FILE_BYTES = 64 * 1024  # a CA certificate is a few KB


def command_context(command: str) -> RequestContext:
    """The audit context of a ``ca_trust_*`` command: its name and the OS user (best effort)."""
    try:
        operator = getpass.getuser()
    except (KeyError, OSError):
        operator = "unknown"
    return RequestContext(ip=None, user_agent=f"manage.py {command}; os user {operator}"[:300], channel="command")


def describe(command: BaseCommand, authority: TrustedAuthority) -> None:
    state = "trusted" if authority.is_active else f"removed {authority.removed_at:%Y-%m-%d %H:%M:%S %Z}"
    for label, value in (
        ("name", authority.name),
        ("subject", authority.subject),
        ("SHA-256 fingerprint", colon_hex(authority.fingerprint_sha256)),
        ("valid", f"{authority.not_before.isoformat()} to {authority.not_after.isoformat()}"),
        ("state", state),
        *crl_lines(authority),
    ):
        command.stdout.write(f"  {label + ':':<21}{value}")


def _when(moment: dt.datetime | None) -> str:
    return moment.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S KST") if moment else "-"


def crl_lines(authority: TrustedAuthority) -> list[tuple[str, str]]:
    """The CA's CRL as ``describe`` prints it: URL, then what was loaded and whether it is out of date."""
    status = trusted_authority_crl_status(authority)
    lines = [("CRL URL", status.url or "none (load CRL files with ca_trust_crl)")]
    if not status.loaded:
        lines.append(("CRL", "no CRL loaded: its certificates are accepted without a revocation check"))
        return lines
    lines += [
        ("CRL", f"number {status.number or '(none)'}, issued {_when(status.this_update)}, {status.revoked} revoked"),
        ("CRL next update", _when(status.next_update)),
        ("CRL loaded", _when(status.loaded_at)),
    ]
    if status.stale:
        lines.append(
            ("CRL state", "STALE: past its next update, its certificates are refused until a current CRL is loaded")
        )
    else:
        lines.append(("CRL state", "current"))
    return lines


class Command(BaseCommand):
    help = (
        "Trust another bank's or institution's CA certificate (PEM or DER file): customers may then register "
        "the joint certificates it signed directly (타행/타기관 인증서 등록) and log in and sign with them. Give "
        "the CA that signs customers' certificates, not its root. Refused: this bank's own CAs, certificates "
        "that may not sign certificates, expired CAs. Safe to re-run (a trusted CA is left as it is; a removed "
        "one is trusted again). Audited (trusted_authority.add / .restore). --crl-url sets where its CRL is "
        "downloaded nightly (see ca_trust_crl): until a CRL is loaded, its certificates are not checked for "
        "revocation."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the CA certificate, PEM or DER")
        parser.add_argument("--name", default="", help="the name shown to customers (default: the CA's common name)")
        parser.add_argument(
            "--crl-url",
            default=None,
            help="the CA's CRL distribution URL (http or https), downloaded nightly; load it now with "
            "ca_trust_crl FINGERPRINT --fetch",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise CommandError(f"{path}: too large for a CA certificate")
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror or exc}") from None
        try:
            if options["crl_url"]:
                crl_url_clean(options["crl_url"])  # before anything is added
            with use_context(command_context("ca_trust_add")):
                actor = trust_command_actor("ca_trust_add")
                change = trusted_authority_add(certificate=data, name=options["name"], actor=actor)
                if options["crl_url"] is not None:
                    trusted_authority_set_crl_url(authority=change.authority, url=options["crl_url"], actor=actor)
                    change.authority.refresh_from_db()
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        describe(self, change.authority)
        if change.changed:
            self.stdout.write(self.style.SUCCESS("trusted: its certificates can now be registered"))
        else:
            self.stdout.write(self.style.SUCCESS("nothing to do: this CA is trusted already"))
