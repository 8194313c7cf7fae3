"""Lapse e-banking applications not registered online within 5 days (the nightly job, by hand)."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from accounts.services.agreement_jobs import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, agreements_lapse_due
from accounts.services.agreements import LAPSE_PERMISSION
from bankportal.actors import system_actor
from bankportal.middleware import RequestContext, use_context

LAPSE_ACTOR = system_actor("command:lapse_unregistered_agreements", [LAPSE_PERMISSION])


def command_context(command: str) -> RequestContext:
    """The audit context of a job run by hand: the command and the OS user (best effort)."""
    try:
        operator = getpass.getuser()
    except (KeyError, OSError):
        operator = "unknown"
    return RequestContext(ip=None, user_agent=f"manage.py {command}; os user {operator}"[:300], channel="command")


def add_job_arguments(parser: CommandParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="Write nothing; report what would change.")
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=DEFAULT_CHUNK_SIZE,
        help=f"Agreements per transaction (1-{MAX_CHUNK_SIZE}, default {DEFAULT_CHUNK_SIZE}).",
    )


class Command(BaseCommand):
    help = (
        "Lapse every e-banking application not registered online within 5 days counting the "
        "application day (applied on D: registrable until D+4 23:59:59 KST, lapsed from D+5 00:00). "
        "The customer must then apply at a branch again. The same job runs nightly "
        "(agreements_lapse_task). Chunked, one audit event per chunk; safe to interrupt and run "
        "again. --dry-run writes nothing and reports what would lapse."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_job_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        try:
            with use_context(command_context("lapse_unregistered_agreements")):
                summary = agreements_lapse_due(actor=LAPSE_ACTOR, dry_run=dry_run, chunk_size=options["chunk_size"])
        except (ValueError, DatabaseError) as exc:
            raise CommandError(f"nothing more was lapsed: {exc}") from exc
        if dry_run:
            self.stdout.write(f"dry run, nothing written: {summary.lapsed} application(s) would lapse")
        else:
            self.stdout.write(
                self.style.SUCCESS(f"lapsed {summary.lapsed} application(s) in {summary.chunks} chunk(s)")
            )
