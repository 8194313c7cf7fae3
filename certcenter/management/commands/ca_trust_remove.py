"""Stop trusting another institution's CA: its certificates are no longer registered or accepted."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bankportal.middleware import use_context
from certcenter.management.commands.ca_trust_add import command_context, describe
from certcenter.services.external import trust_command_actor, trusted_authority_remove


class Command(BaseCommand):
    help = (
        "Stop trusting another institution's CA (its SHA-256 fingerprint, colon or plain hex, as ca_trust_list "
        "shows): its certificates can no longer be registered, and registered ones no longer log in or sign. "
        "The registrations stay on record. Safe to re-run. Audited (trusted_authority.remove)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("fingerprint", help="SHA-256 fingerprint, e.g. AB:12:... or ab12...")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with use_context(command_context("ca_trust_remove")):
                change = trusted_authority_remove(
                    fingerprint=options["fingerprint"], actor=trust_command_actor("ca_trust_remove")
                )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        describe(self, change.authority)
        if change.changed:
            self.stdout.write(self.style.SUCCESS("removed: its certificates are no longer accepted"))
        else:
            self.stdout.write(self.style.SUCCESS("nothing to do: this CA was removed already"))
