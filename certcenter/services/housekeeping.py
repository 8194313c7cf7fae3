"""The certificate centre's daily housekeeping (00:50 KST): forget what only mattered for minutes.

In order, for ``now``:

1. **copies, payload**: every certificate copy past its expiry (``expires_at < now``) that still
   holds a payload has it emptied (normally the pickup or the receiver's page already did);
2. **copies, rows**: copies whose expiry is more than a day past (``expires_at < now - 1 day``) are
   deleted, picked up or not;
3. **login challenges**: certificate login challenges whose expiry is more than a day past are
   deleted, used or not (the login's evidence is ``SignatureEvidence`` and the audit trail).

Exactly one day after expiry a row is kept; a second later it goes. Set based and chunked: each
chunk picks at most ``chunk_size`` ids (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so a pickup holding
a row or a second run at once is skipped, not waited for), changes them with the predicate repeated,
and writes one audit event with the count, all in one transaction. A rerun finds nothing more to do;
a run killed half-way leaves whole chunks done.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.utils import timezone

from accounts.services._common import Actor, require_perm
from bankportal.actors import SystemActor
from bankportal.audit.services import audit_record
from certcenter.models import CertificateCopy, LoginChallenge
from certcenter.services.copying import PURGE_PERMISSION, copy_purge

HOUSEKEEPING_PERMISSIONS = frozenset(
    {PURGE_PERMISSION, "certcenter.delete_certificatecopy", "certcenter.delete_loginchallenge"}
)
KEEP_AFTER_EXPIRY = dt.timedelta(days=1)
DEFAULT_CHUNK_SIZE = 5_000
MAX_CHUNK_SIZE = 10_000

ERR_SYSTEM_ONLY = "the certificate centre housekeeping is automatic: only a system actor runs it"


@dataclass(frozen=True)
class HousekeepingSummary:
    """What ``certcenter_housekeeping`` did (or, with ``dry_run``, would do)."""

    copies_emptied: int
    copies_deleted: int
    challenges_deleted: int
    chunks: int
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _delete_chunk(due: models.QuerySet[models.Model], *, chunk_size: int, action: str, actor: Actor) -> int:
    with transaction.atomic():
        # SKIP LOCKED: rows another run holds are its to delete.
        picked = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True)[:chunk_size])
        if not picked:
            return 0
        # The predicate is repeated: only rows still due go.
        deleted, _by_model = due.filter(pk__in=picked).delete()
        if deleted:
            audit_record(action=action, actor=actor, details={"count": deleted})
    return deleted


def _delete_all(due: models.QuerySet[models.Model], *, chunk_size: int, action: str, actor: Actor) -> tuple[int, int]:
    total = chunks = 0
    while deleted := _delete_chunk(due, chunk_size=chunk_size, action=action, actor=actor):
        total += deleted
        chunks += 1
    return total, chunks


def certcenter_housekeeping(
    *, actor: Actor, now: dt.datetime | None = None, dry_run: bool = False, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> HousekeepingSummary:
    """Empty expired copies, delete copies and login challenges expired more than a day ago.

    ``dry_run`` writes nothing and counts what would change. Audited per chunk
    (``certificate.copy_purge``, ``certificate.copy_delete_batch``, ``certificate.challenge_delete_batch``).
    Raises ``PermissionDenied`` unless the actor is a system actor holding the housekeeping
    permissions; ``ValueError`` for a chunk size outside 1–10,000."""
    for permission in sorted(HOUSEKEEPING_PERMISSIONS):
        require_perm(actor, permission)
    if not isinstance(actor, SystemActor):
        raise PermissionDenied(ERR_SYSTEM_ONLY)
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE}, got {chunk_size}")
    now = now or timezone.now()
    cutoff = now - KEEP_AFTER_EXPIRY
    old_copies = CertificateCopy.objects.filter(expires_at__lt=cutoff)
    old_challenges = LoginChallenge.objects.filter(expires_at__lt=cutoff)
    if dry_run:
        return HousekeepingSummary(
            copies_emptied=CertificateCopy.objects.filter(expires_at__lt=now, payload__isnull=False).count(),
            copies_deleted=old_copies.count(),
            challenges_deleted=old_challenges.count(),
            chunks=0,
            dry_run=True,
        )
    emptied = chunks = 0
    while count := copy_purge(actor=actor, now=now, chunk_size=chunk_size):
        emptied += count
        chunks += 1
    copies, copy_chunks = _delete_all(
        old_copies, chunk_size=chunk_size, action="certificate.copy_delete_batch", actor=actor
    )
    challenges, challenge_chunks = _delete_all(
        old_challenges, chunk_size=chunk_size, action="certificate.challenge_delete_batch", actor=actor
    )
    return HousekeepingSummary(
        copies_emptied=emptied,
        copies_deleted=copies,
        challenges_deleted=challenges,
        chunks=chunks + copy_chunks + challenge_chunks,
    )
