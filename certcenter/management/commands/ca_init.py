"""Set up our certificate authority (root CA + issuing CA); safe to re-run."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from bankportal.actors import system_actor
from bankportal.middleware import RequestContext, use_context
from certcenter.services import CA_INIT_PERMISSION, CaSummary, ca_init, colon_hex

CA_INIT_ACTOR = system_actor("command:ca_init", [CA_INIT_PERMISSION])


def _command_context() -> RequestContext:
    """The audit context of a command: its name and the OS user (best effort)."""
    try:
        operator = getpass.getuser()
    except (KeyError, OSError):
        operator = "unknown"
    return RequestContext(ip=None, user_agent=f"manage.py ca_init; os user {operator}"[:300], channel="command")


class Command(BaseCommand):
    help = (
        "Create the bank's certificate authority for joint certificates: a root CA (20 years) and an "
        "issuing CA it signs (10 years), which signs customers' certificates, the CRL and OCSP answers. "
        "Private keys are stored encrypted with CA_KEY_PASSPHRASE (or CA_KEY_PASSPHRASE_FILE). Safe to "
        "re-run: a CA that exists is never replaced, only checked to open with the passphrase; a wrong "
        "passphrase stops with an error and changes nothing. Creating a CA is audited (ca.init)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with use_context(_command_context()):
                result = ca_init(actor=CA_INIT_ACTOR)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        for summary in (result.root, result.issuing):
            self._describe(summary)
        if result.created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"created: {', '.join(result.created)}. Back up the database now (it holds the encrypted keys)."
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS("nothing to do: both CAs are present and open with the passphrase"))

    def _describe(self, summary: CaSummary) -> None:
        self.stdout.write(f"{summary.role} CA: {'created' if summary.created else 'already present'}")
        for label, value in (
            ("subject", summary.subject),
            ("serial", summary.serial),
            ("SHA-256 fingerprint", colon_hex(summary.fingerprint_sha256)),
            ("valid", f"{summary.not_before.isoformat()} to {summary.not_after.isoformat()}"),
        ):
            self.stdout.write(f"  {label + ':':<21}{value}")
