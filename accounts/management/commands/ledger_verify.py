from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account, Journal
from accounts.selectors import ledger_problems
from accounts.services.ledger import internal_balances_roll_up
from bankportal.actors import system_actor


class Command(BaseCommand):
    help = (
        "Prove the ledger: every customer balance equals the sum of its entries and each entry's "
        "balance-after runs on from the one before; every internal account's rolled-up balance equals "
        "the entries it covers; every journal and the whole ledger sum to zero; no customer balance is "
        "negative. Reads in chunks. Exits non-zero on any problem."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--roll-up",
            action="store_true",
            help="First fold finished internal legs into the internal balances (what the minute job does).",
        )

    def handle(self, *args: object, **options: object) -> None:
        if options["roll_up"]:
            moved = internal_balances_roll_up(actor=system_actor("ledger_verify", ["accounts.change_account"]))
            self.stdout.write(f"internal balances rolled up: {moved} moved")
        problems = ledger_problems()
        for problem in problems:
            self.stderr.write(f"{problem.kind}: {problem.ref}: {problem.detail}")
        if problems:
            raise CommandError(f"ledger verification failed: {len(problems)} problem(s)")
        self.stdout.write(
            self.style.SUCCESS(
                f"ledger balanced: {Account.objects.count()} accounts and {Journal.objects.count()} journals verified"
            )
        )
