from django.core.management.base import BaseCommand

from accounts.services import customer_rrn_reencrypt
from bankportal.actors import system_actor
from bankportal.crypto import current_ring
from bankportal.middleware import RequestContext, use_context


REENCRYPT_ACTOR = system_actor("command:reencrypt_fields", ["accounts.reencrypt_customer_rrn"])


class Command(BaseCommand):
    help = (
        "Re-encrypt every resident registration number that is not under the newest key in "
        "FIELD_ENCRYPTION_KEYS (the first one). Run after prepending a new key; once it reports 0 left, "
        "the old key can be removed. Safe to interrupt and run again."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: object, **options: object) -> None:
        batch_size = int(options["batch_size"])  # type: ignore[call-overload]
        with use_context(RequestContext(ip=None, user_agent="", channel="command")):
            count = customer_rrn_reencrypt(actor=REENCRYPT_ACTOR, batch_size=max(1, batch_size))
        self.stdout.write(
            self.style.SUCCESS(f"re-encrypted {count} resident numbers under key {current_ring().current_id!r}")
        )
