"""List the other institutions' CAs trusted for registering their joint certificates."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from certcenter.management.commands.ca_trust_add import describe
from certcenter.services.external import trusted_authorities


class Command(BaseCommand):
    help = (
        "List the other institutions' CAs whose joint certificates customers may register, active ones first, "
        "with their SHA-256 fingerprint (give it to ca_trust_remove and ca_trust_crl), validity, state and CRL: "
        "its URL, the loaded CRL's number, next update and revoked count, and whether it is stale (past its next "
        "update: that CA's certificates are refused until a current CRL is loaded). A CA with no CRL loaded is "
        "shown so: its certificates are accepted without a revocation check."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rows = trusted_authorities()
        if not rows:
            self.stdout.write("no trusted CAs: add one with ca_trust_add FILE")
            return
        for authority in rows:
            self.stdout.write(authority.name)
            describe(self, authority)
