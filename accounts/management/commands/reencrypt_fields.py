from django.core.management.base import BaseCommand

from accounts.services import customer_rrn_reencrypt
from accounts.services.passwords import account_password_key_counts, account_password_wrap_legacy
from bankportal.actors import system_actor
from bankportal.crypto import current_pin_ring, current_ring
from bankportal.middleware import RequestContext, use_context

REENCRYPT_ACTOR = system_actor(
    "command:reencrypt_fields", ["accounts.reencrypt_customer_rrn", "accounts.wrap_legacy_account_passwords"]
)


class Command(BaseCommand):
    help = (
        "Re-encrypt every resident registration number that is not under the newest key in "
        "FIELD_ENCRYPTION_KEYS (the first one) or not yet bound to its row, and seal any bare "
        "account password hash under the newest ACCOUNT_PIN_KEY. Run after prepending a new key; "
        "once it reports 0 left, the old field key can be removed. Account passwords move to a new "
        "ACCOUNT_PIN_KEY only at their next successful check or reset, so the counts per key id "
        "show when an old one may go. Safe to interrupt and run again."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: object, **options: object) -> None:
        batch_size = max(1, int(options["batch_size"]))  # type: ignore[call-overload]
        with use_context(RequestContext(ip=None, user_agent="", channel="command")):
            count = customer_rrn_reencrypt(actor=REENCRYPT_ACTOR, batch_size=batch_size)
            wrapped = account_password_wrap_legacy(actor=REENCRYPT_ACTOR, batch_size=batch_size)
        self.stdout.write(
            self.style.SUCCESS(f"re-encrypted {count} resident numbers under key {current_ring().current_id!r}")
        )
        pin_key = current_pin_ring().current_id
        self.stdout.write(self.style.SUCCESS(f"sealed {wrapped} unkeyed account passwords under key {pin_key!r}"))
        by_key = account_password_key_counts()
        older = {key_id: n for key_id, n in by_key.items() if key_id != pin_key}
        summary = ", ".join(f"{key_id or '(none)'}: {n}" for key_id, n in older.items()) or "none"
        self.stdout.write(f"account passwords under older ACCOUNT_PIN_KEY ids: {summary}")
