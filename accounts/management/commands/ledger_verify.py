from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account, Journal
from accounts.selectors import ledger_problems


class Command(BaseCommand):
    help = (
        "Recompute every account balance from its ledger entries, check that every journal's entries "
        "sum to zero and that no customer balance is negative. Exits non-zero on any mismatch."
    )

    def handle(self, *args: object, **options: object) -> None:
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
