from typing import Any

from django.core.management.base import BaseCommand

from bankportal.audit.services import SEAL_MAX_BATCHES_PER_RUN, audit_seal


class Command(BaseCommand):
    help = (
        "Seal committed audit events into the signed seal chain now (beat does this every few seconds). "
        "Only events whose transaction has ended are sealed; a run while another sealer works does nothing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        while True:
            run = audit_seal()
            total += run.events
            if run.busy:
                self.stdout.write("another sealer is running; nothing done")
                return
            if run.seals < SEAL_MAX_BATCHES_PER_RUN:  # caught up (a full run means a backlog is left)
                break
        self.stdout.write(self.style.SUCCESS(f"{total} events sealed"))
