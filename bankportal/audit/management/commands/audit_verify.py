from django.core.management.base import BaseCommand, CommandError

from bankportal.audit.services import audit_chain_verify


class Command(BaseCommand):
    help = (
        "Walk the audit hash chain from the first event and report the first row whose content or link "
        "to the previous row no longer matches. Exits non-zero when the chain is broken."
    )

    def handle(self, *args: object, **options: object) -> None:
        report = audit_chain_verify()
        if not report.ok:
            raise CommandError(
                f"audit chain broken at event #{report.broken_seq}: {report.reason} "
                f"({report.checked} rows verified before it)"
            )
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {report.checked} events verified"))
