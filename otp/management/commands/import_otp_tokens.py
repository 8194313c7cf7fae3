"""Load a vendor's OTP token file into the registry (all rows or none)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from bankportal.actors import system_actor
from bankportal.middleware import RequestContext, use_context
from otp.services import TokenImportError, otp_tokens_import

IMPORT_ACTOR = system_actor("command:import_otp_tokens", ["otp.add_otptoken"])
REQUIRED_COLUMNS = ("serial", "seed", "kind", "issuer", "warranty")
# Below this many rows the import takes a moment: a bar would only flicker.
PROGRESS_THRESHOLD = 1000


class Command(BaseCommand):
    help = (
        "Import OTP tokens from a vendor CSV file with the columns serial, seed (base32), kind "
        "(hardware or card_type), issuer (3-digit institution code) and warranty (YYYY-MM-DD), and "
        "optionally vendor. Every row is checked first: if any row is bad, nothing is imported and "
        "each bad row is named with its line number. A serial already in the registry with the same "
        "content is skipped, so running the same file again changes nothing; the same serial with "
        "another seed is a bad row. Seeds are stored encrypted and never printed."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("file", help="the vendor's CSV file (UTF-8, header row first)")
        parser.add_argument("--vendor", default="", help="vendor name for rows without a vendor column")
        parser.add_argument("--progress", action="store_true", help="show a progress bar whatever the size")
        parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = self._read(Path(options["file"]), vendor=options["vendor"])
        show_bar = not options["no_progress"] and (
            options["progress"] or (len(rows) >= PROGRESS_THRESHOLD and sys.stderr.isatty())
        )
        with (
            tqdm(total=len(rows) * 2, desc="OTP tokens", unit="step", disable=not show_bar, file=sys.stderr) as bar,
            use_context(RequestContext(ip=None, user_agent="", channel="command")),
        ):
            try:
                summary = otp_tokens_import(rows=rows, actor=IMPORT_ACTOR, progress=lambda: bar.update(1))
            except TokenImportError as exc:
                bar.close()
                for line, reason in exc.problems:
                    self.stderr.write(f"line {line}: {reason}")
                bad = len({line for line, _reason in exc.problems})
                raise CommandError(f"{bad} bad row(s) in {options['file']}; nothing was imported.") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{summary.total} row(s): {summary.created} token(s) imported, "
                f"{summary.unchanged} already in the registry unchanged."
            )
        )

    def _read(self, path: Path, *, vendor: str) -> list[tuple[int, dict[str, str]]]:
        try:
            handle = path.open(encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        rows: list[tuple[int, dict[str, str]]] = []
        with handle:
            reader = csv.DictReader(handle)
            columns = [name.strip().lower() for name in reader.fieldnames or []]
            missing = [name for name in REQUIRED_COLUMNS if name not in columns]
            if missing:
                raise CommandError(f"{path}: missing column(s) {', '.join(missing)} in the header row")
            reader.fieldnames = columns
            try:
                for row in reader:
                    fields = {key: (value or "") for key, value in row.items() if isinstance(key, str)}
                    if not any(value.strip() for value in fields.values()):
                        continue  # a blank line
                    if vendor and not fields.get("vendor"):
                        fields["vendor"] = vendor
                    # The line the row ends on: what a text editor shows for a one-line row.
                    rows.append((reader.line_num, fields))
            except (csv.Error, UnicodeDecodeError) as exc:
                raise CommandError(f"{path}, line {reader.line_num}: not a readable CSV file ({exc})") from None
        return rows
