"""Hand queued transfers to the other banks now (the every-minute job, by hand)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from accounts.management.commands.lapse_unregistered_agreements import command_context
from accounts.services.clearing import CLEARING_PERMISSION, interbank_clearing_run
from bankportal.actors import system_actor
from bankportal.middleware import use_context

CLEARING_ACTOR = system_actor("command:interbank_clearing", [CLEARING_PERMISSION])


class Command(BaseCommand):
    help = (
        "Send every queued transfer to another bank through the interbank gateway (INTERBANK_GATEWAY): "
        "an accepted one is marked sent; a refused one is returned, the money posted back from the "
        "bank's clearing account to the customer's account with a text message, and marked returned. "
        "The same job runs every minute (interbank_clearing_task). Chunked, one transaction and one "
        "audit event per chunk; two runs at once never send a transfer twice. With no gateway configured "
        "(INTERBANK_GATEWAY empty, the default with DEBUG off) nothing is sent and the queue stays as it is. "
        "--dry-run only counts the queue."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Send nothing; count the queue.")
        parser.add_argument(
            "--chunk-size", type=int, default=None, help="Transfers per transaction (default INTERBANK_CLEARING_CHUNK)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        if options["chunk_size"] is not None and not 1 <= options["chunk_size"] <= 5000:
            raise CommandError("--chunk-size must be 1-5000")
        try:
            with use_context(command_context("interbank_clearing")):
                result = interbank_clearing_run(actor=CLEARING_ACTOR, dry_run=dry_run, chunk_size=options["chunk_size"])
        except (ValueError, DatabaseError) as exc:
            raise CommandError(f"clearing stopped (committed chunks stay done; run it again): {exc}") from exc
        if dry_run:
            self.stdout.write(f"dry run, nothing sent: {result.queued} transfer(s) queued")
            return
        if result.skipped:
            self.stdout.write(
                self.style.WARNING(f"nothing sent: {result.skipped}; {result.queued} transfer(s) stay queued")
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.sent} transfer(s) sent, {result.returned} returned, in {result.chunks} chunk(s)"
            )
        )
        for failure in result.failed:
            self.stderr.write(f"refused by the other bank but not returned (staff must look): {failure}")
