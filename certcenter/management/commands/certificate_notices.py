"""Mark expired joint certificates and send the renewal notices (the daily job, by hand)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from accounts.management.commands.lapse_unregistered_agreements import command_context
from bankportal.actors import system_actor
from bankportal.middleware import use_context
from certcenter.services.notices import (
    DEFAULT_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
    NOTICES_PERMISSION,
    certificates_daily,
)

NOTICES_ACTOR = system_actor("command:certificate_notices", [NOTICES_PERMISSION])


class Command(BaseCommand):
    help = (
        "Mark every valid joint certificate past its expiry day (valid through 23:59:59 KST) as "
        "expired; text one notice when a certificate's renewal window opens (00:00 KST, 60 days "
        "before the expiry day) and one reminder 7 days before the expiry day. Each text is sent "
        "once per certificate and stage; a renewed or reissued (revoked) certificate gets nothing "
        "more. The same job runs daily (certificates_daily_task). Chunked, one audit event per "
        "chunk; safe to interrupt and run again, or to run twice at once. --dry-run writes nothing "
        "and reports what would happen."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Write nothing; report what would change.")
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=DEFAULT_CHUNK_SIZE,
            help=f"Certificates per transaction (1-{MAX_CHUNK_SIZE}, default {DEFAULT_CHUNK_SIZE}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        try:
            with use_context(command_context("certificate_notices")):
                summary = certificates_daily(actor=NOTICES_ACTOR, dry_run=dry_run, chunk_size=options["chunk_size"])
        except (ValueError, DatabaseError) as exc:
            raise CommandError(f"the job stopped (committed chunks stay done; run it again): {exc}") from exc
        counts = (
            f"{summary.expired} certificate(s) marked expired; {summary.renewal_notices} renewal notice(s); "
            f"{summary.expiry_reminders} expiry reminder(s)"
        )
        if dry_run:
            self.stdout.write(f"dry run, nothing written: would be {counts}")
        else:
            self.stdout.write(self.style.SUCCESS(f"{counts}; {summary.chunks} chunk(s)"))
