"""Load a trusted CA's CRL (from a file, a URL or its CRL URL), or set the URL it is downloaded from nightly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bankportal.middleware import use_context
from certcenter.management.commands.ca_trust_add import command_context, describe
from certcenter.services.external import trust_command_actor, trusted_authority_by_fingerprint
from certcenter.services.external_crl import (
    CRL_MAX_BYTES,
    CrlLoad,
    trusted_authority_crl_fetch,
    trusted_authority_crl_load,
    trusted_authority_set_crl_url,
)

COMMAND = "ca_trust_crl"


class Command(BaseCommand):
    help = (
        "Load the CRL of a trusted CA (its SHA-256 fingerprint, as ca_trust_list shows) from FILE (PEM or DER), "
        "from --url URL, or with --fetch from the CA's CRL URL; or set that URL with --set-url URL (empty to "
        "clear; the nightly job downloads it). The CRL must be signed by the trusted CA certificate, complete "
        "and current, and not older than the one loaded. Its revoked certificates are then refused at "
        "registration, login and e-signature; once a CRL is loaded, all the CA's certificates are refused "
        "while it is past its next update. Safe to re-run. Audited (trusted_authority.crl_load / .crl_refused "
        "/ .crl_url)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("fingerprint", help="SHA-256 fingerprint, e.g. AB:12:... or ab12...")
        parser.add_argument("file", nargs="?", help="a CRL file, PEM or DER")
        parser.add_argument("--url", help="download the CRL from this http(s) URL (once; the CA's URL is kept)")
        parser.add_argument("--fetch", action="store_true", help="download the CRL from the CA's CRL URL")
        parser.add_argument("--set-url", dest="set_url", help="set the CA's CRL URL (an empty string clears it)")

    def handle(self, *args: Any, **options: Any) -> None:
        chosen = [
            name
            for name, given in (
                ("FILE", options["file"] is not None),
                ("--url", options["url"] is not None),
                ("--fetch", options["fetch"]),
                ("--set-url", options["set_url"] is not None),
            )
            if given
        ]
        if len(chosen) != 1:
            raise CommandError("give exactly one of FILE, --url URL, --fetch or --set-url URL")
        actor = trust_command_actor(COMMAND)
        try:
            with use_context(command_context(COMMAND)):
                authority = trusted_authority_by_fingerprint(options["fingerprint"])
                if options["set_url"] is not None:
                    change = trusted_authority_set_crl_url(authority=authority, url=options["set_url"], actor=actor)
                    describe(self, change.authority)
                    message = "CRL URL set" if change.changed else "nothing to do: the CRL URL is set already"
                    self.stdout.write(self.style.SUCCESS(message))
                    return
                if options["file"] is not None:
                    result = trusted_authority_crl_load(
                        authority=authority, data=self._read(Path(options["file"])), source=options["file"], actor=actor
                    )
                else:
                    result = trusted_authority_crl_fetch(authority=authority, url=options["url"], actor=actor)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self._report(result)

    @staticmethod
    def _read(path: Path) -> bytes:
        try:
            if path.stat().st_size > CRL_MAX_BYTES:
                raise CommandError(f"{path}: too large for a CRL")
            return path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror or exc}") from None

    def _report(self, result: CrlLoad) -> None:
        result.authority.refresh_from_db()
        describe(self, result.authority)
        if result.changed:
            self.stdout.write(self.style.SUCCESS(f"CRL loaded: {result.revoked} revoked certificates listed"))
        else:
            self.stdout.write(self.style.SUCCESS("nothing to do: this CRL is loaded already"))
