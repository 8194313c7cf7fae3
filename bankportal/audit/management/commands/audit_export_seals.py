import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bankportal.audit.verification import audit_seals_export


class Command(BaseCommand):
    help = (
        "Write the audit seal chain (JSON lines: a header with the public keys, then every seal with its "
        "hash and signature) to FILE, or to stdout with '-'. Keep the file outside the database and its "
        "backups: it is the anchor 'audit_verify --seals FILE' compares the database with."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        if path == "-":
            count = audit_seals_export(out=sys.stdout)
            self.stderr.write(f"{count} seals written")
            return
        target = Path(path)
        try:
            # Written next to the target and renamed, so a reader never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                count = audit_seals_export(out=handle)
            os.replace(tmp, target)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror}") from None
        self.stdout.write(self.style.SUCCESS(f"{count} seals written to {target}"))
