"""Suspend dormant e-banking agreements and send the 30-day notices (the nightly job, by hand)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from accounts.management.commands.lapse_unregistered_agreements import add_job_arguments, command_context
from accounts.services.agreement_jobs import agreements_dormancy_sweep
from accounts.services.agreements import SUSPEND_PERMISSION
from bankportal.actors import system_actor
from bankportal.middleware import use_context

DORMANCY_ACTOR = system_actor("command:suspend_dormant_agreements", [SUSPEND_PERMISSION])


class Command(BaseCommand):
    help = (
        "Suspend every active e-banking agreement with no internet or mobile banking use for 12 "
        "calendar months (reason: dormant) and text the customer how to release it (security centre "
        "online, or a branch); text one notice 30 days before, naming the suspension day and asking "
        "the customer to sign in before then. Each text is sent once per dormancy cycle. The same "
        "job runs nightly (agreements_dormancy_task). Chunked, one audit event per chunk; safe to "
        "interrupt and run again, or to run twice at once. --dry-run writes nothing and reports "
        "what would happen."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_job_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        try:
            with use_context(command_context("suspend_dormant_agreements")):
                summary = agreements_dormancy_sweep(
                    actor=DORMANCY_ACTOR, dry_run=dry_run, chunk_size=options["chunk_size"]
                )
        except (ValueError, DatabaseError) as exc:
            raise CommandError(f"the sweep stopped (committed chunks stay done; run it again): {exc}") from exc
        counts = (
            f"{summary.suspended} agreement(s) suspended as dormant with {summary.suspension_notices} "
            f"suspension text(s); {summary.notices} advance notice(s)"
        )
        if dry_run:
            self.stdout.write(f"dry run, nothing written: would be {counts}")
        else:
            self.stdout.write(self.style.SUCCESS(f"{counts}; {summary.chunks} chunk(s)"))
