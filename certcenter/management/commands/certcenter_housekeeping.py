"""Empty expired certificate copies and delete old copies and login challenges (the daily job, by hand)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from accounts.management.commands.lapse_unregistered_agreements import command_context
from bankportal.actors import system_actor
from bankportal.middleware import use_context
from certcenter.services.housekeeping import (
    DEFAULT_CHUNK_SIZE,
    HOUSEKEEPING_PERMISSIONS,
    MAX_CHUNK_SIZE,
    certcenter_housekeeping,
)

HOUSEKEEPING_ACTOR = system_actor("command:certcenter_housekeeping", HOUSEKEEPING_PERMISSIONS)


class Command(BaseCommand):
    help = (
        "Empty the payload (certificate and encrypted key) of every certificate copy past its 5-minute "
        "expiry, then delete certificate copies and certificate login challenges that expired more "
        "than a day ago (exactly one day after expiry a row is kept). The same job runs daily at "
        "00:50 KST (certcenter_housekeeping_task). Chunked, one audit event per chunk; safe to "
        "interrupt and run again, or to run twice at once. --dry-run writes nothing and reports what "
        "would happen."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Write nothing; report what would change.")
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=DEFAULT_CHUNK_SIZE,
            help=f"Rows per transaction (1-{MAX_CHUNK_SIZE}, default {DEFAULT_CHUNK_SIZE}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        try:
            with use_context(command_context("certcenter_housekeeping")):
                summary = certcenter_housekeeping(
                    actor=HOUSEKEEPING_ACTOR, dry_run=dry_run, chunk_size=options["chunk_size"]
                )
        except (ValueError, DatabaseError) as exc:
            raise CommandError(f"the job stopped (committed chunks stay done; run it again): {exc}") from exc
        counts = (
            f"{summary.copies_emptied} expired copy payload(s) emptied; {summary.copies_deleted} old "
            f"copy row(s) deleted; {summary.challenges_deleted} old login challenge(s) deleted"
        )
        if dry_run:
            self.stdout.write(f"dry run, nothing written: would be {counts}")
        else:
            self.stdout.write(self.style.SUCCESS(f"{counts}; {summary.chunks} chunk(s)"))
