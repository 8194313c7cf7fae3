from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bankportal.audit.verification import audit_verify


class Command(BaseCommand):
    help = (
        "Check every audit event against its hash and every seal (its events, merkle root, link to the "
        "seal before and Ed25519 signature); with --seals also compare the database's seal chain with an "
        "exported file. Events not sealed yet are reported separately and are not a failure. Exits "
        "non-zero when anything is broken."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seals", metavar="FILE", help="a file written by audit_export_seals to compare with")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options.get("seals")
        if path:
            try:
                with Path(path).open(encoding="utf-8") as handle:
                    report = audit_verify(exported=handle)
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        else:
            report = audit_verify()
        self.stdout.write(f"unsealed tail: {report.tail_summary()}")
        if not report.ok:
            for problem in report.problems:
                self.stderr.write(f"BROKEN [{problem.kind}] {problem.message}")
            more = f" (+{report.problems_not_listed} not listed)" if report.problems_not_listed else ""
            raise CommandError(f"audit trail broken: {len(report.problems)} problems{more}")
        self.stdout.write(
            self.style.SUCCESS(
                f"audit trail intact: {report.seals} seals, {report.sealed_events} sealed events verified"
                + (", matches the exported seal file" if path else "")
            )
        )
