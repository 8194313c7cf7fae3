"""Writing the audit trail: append an event (no lock), and seal committed events into the signed chain."""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from bankportal.audit.chain import (
    GENESIS_HASH,
    SealKey,
    content_hash,
    leaf,
    merkle_root,
    parse_public_keys,
    parse_seal_key,
    seal_hash,
    sign_seal,
)
from bankportal.audit.models import AuditEvent, AuditSeal
from bankportal.masking import mask_rrns
from bankportal.middleware import current_context
from bankportal.sql import is_postgres

logger = logging.getLogger(__name__)

# Keys whose values never belong in the trail, whatever a caller passes.
_FORBIDDEN_DETAIL_KEYS = {"rrn", "password", "pin", "secret", "otp", "code", "account_password"}

# pg_try_advisory_xact_lock key for the sealer (any fixed 64-bit number; "AUDITSEA" in ASCII).
SEAL_LOCK_KEY = 0x4155444954534541
SEAL_BATCH_SIZE = 5000
SEAL_MAX_BATCHES_PER_RUN = 40


def _clean_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in (details or {}).items():
        if key.lower() in _FORBIDDEN_DETAIL_KEYS:
            raise ValueError(f"audit details must not carry {key!r}")
        cleaned[key] = value
    # Round-trip through JSON (the stored form), then mask any RRN-shaped text in keys and string
    # values. Numbers stay numbers: masking the JSON text itself turned a 13-digit amount (an
    # internal account's net) into "400000-0******", which is no longer JSON.
    return _masked(json.loads(json.dumps(cleaned, ensure_ascii=False, default=str)))


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_rrns(value)
    if isinstance(value, dict):
        return {mask_rrns(key): _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _normalise_ip(value: str | None) -> str | None:
    # Stored in the compressed form every backend returns, so the hash recomputes on read.
    if not value:
        return None
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return None


def audit_record(
    *,
    action: str,
    actor: Any = None,
    customer_id: int | None = None,
    obj: models.Model | None = None,
    details: Mapping[str, Any] | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    channel: str | None = None,
) -> AuditEvent:
    """Insert an event, with the hash of its content, inside the caller's transaction.

    Takes no lock: the row links to nothing, and the database fills in the transaction id
    (PostgreSQL) that ``audit_seal`` uses to seal it once that transaction has ended. IP, user
    agent and channel default to the current request context (see ``bankportal.middleware``);
    commands and tasks set their own. Raises ``ValueError`` for a forbidden detail key.
    """
    context = current_context()
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    event = AuditEvent(
        created_at=timezone.now(),
        actor=actor_obj,
        actor_label=(actor_obj.get_username() if actor_obj else str(actor or "system"))[:150],
        customer_ref=customer_id,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        channel=channel or (context.channel if context else "system"),
        ip=_normalise_ip(ip if ip is not None else (context.ip if context else None)),
        user_agent=(user_agent if user_agent is not None else (context.user_agent if context else ""))[:300],
        details=_clean_details(details),
    )
    event.hash = content_hash(event.chain_content())
    event.save()
    return event


# --- sealing ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _parse_key(value: str) -> SealKey:
    return parse_seal_key(value)


def seal_signing_key() -> SealKey:
    """The current signing key from ``settings.AUDIT_SEAL_KEY`` (validated at start-up)."""
    return _parse_key(settings.AUDIT_SEAL_KEY)


@functools.lru_cache(maxsize=4)
def _parse_public_keys(value: str) -> dict[str, Ed25519PublicKey]:
    return parse_public_keys(value)


def seal_public_keys() -> dict[str, Ed25519PublicKey]:
    """Every key id a seal may carry: the current key and the retired ones (public halves only)."""
    current = seal_signing_key()
    return {**_parse_public_keys(settings.AUDIT_SEAL_PUBLIC_KEYS), current.key_id: current.public_key}


def after_key(key: tuple[int | None, int]) -> Q:
    """Events strictly after ``(txid, id)`` in seal order; on SQLite (txid NULL) after the id."""
    txid, event_id = key
    if txid is None:
        return Q(id__gt=event_id)
    return Q(txid__gt=txid) | Q(txid=txid, id__gt=event_id)


def seal_order() -> tuple[str, ...]:
    return ("txid", "id") if is_postgres() else ("id",)


def _single_flight() -> bool:
    """Take the sealer's transaction-scoped advisory lock on PostgreSQL; False if another sealer has it.

    SQLite runs one writer at a time (``BEGIN IMMEDIATE``), so a second sealer simply waits and
    then finds nothing left to seal; the unique seal number stops a fork either way.
    """
    if not is_postgres():
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def _horizon() -> int | None:
    """The oldest transaction still running anywhere in the cluster (PostgreSQL), or None.

    Every transaction with a smaller id has committed or rolled back, so the events carrying
    such ids are final: none can still appear, and none that is visible can disappear.
    """
    if not is_postgres():
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return int(cursor.fetchone()[0])


def _seal_batch(*, key: SealKey, batch_size: int, now: dt.datetime) -> AuditSeal | None:
    last = AuditSeal.objects.order_by("-number").first()
    events = AuditEvent.objects.all()
    horizon = _horizon()
    if horizon is not None:
        events = events.filter(txid__lt=horizon)
    if last is not None:
        events = events.filter(after_key(last.last_key))
    batch = list(events.order_by(*seal_order()).values_list("txid", "id", "hash")[:batch_size])
    if not batch:
        return None
    (first_txid, first_id, _), (last_txid, last_id, _) = batch[0], batch[-1]
    seal = AuditSeal(
        number=(last.number + 1) if last else 1,
        sealed_at=now,
        first_txid=first_txid,
        first_id=first_id,
        last_txid=last_txid,
        last_id=last_id,
        count=len(batch),
        merkle_root=merkle_root([leaf(event_id, event_hash) for _txid, event_id, event_hash in batch]),
        prev_hash=last.hash if last else GENESIS_HASH,
        key_id=key.key_id,
    )
    seal.hash = seal_hash(seal.chain_content())
    seal.signature = sign_seal(key, seal.hash)
    seal.save()
    return seal


@dataclass(frozen=True)
class SealRun:
    """What one sealer run did; ``busy`` means another sealer held the lock and this one did nothing."""

    seals: int
    events: int
    busy: bool = False
    last_number: int | None = None


def audit_seal(
    *,
    batch_size: int = SEAL_BATCH_SIZE,
    max_batches: int = SEAL_MAX_BATCHES_PER_RUN,
    now: dt.datetime | None = None,
) -> SealRun:
    """Seal, in (transaction id, id) order, every committed event whose transaction has ended.

    Each batch of at most ``batch_size`` events is one seal in its own transaction, so memory
    stays flat and a large backlog is worked off over runs of ``max_batches``. Single-flight: if
    another sealer holds the advisory lock, return ``SealRun(busy=True)`` having written nothing.
    Sealing is bookkeeping, not a security-relevant action, so it writes no audit event.
    """
    key = seal_signing_key()
    seals = events = 0
    last_number: int | None = None
    for _ in range(max_batches):
        with transaction.atomic():
            if not _single_flight():
                return SealRun(seals=seals, events=events, busy=seals == 0, last_number=last_number)
            seal = _seal_batch(key=key, batch_size=batch_size, now=now or timezone.now())
        if seal is None:
            break
        seals, events, last_number = seals + 1, events + seal.count, seal.number
        if seal.count < batch_size:
            break
    if seals:
        logger.info("audit: sealed %s events in %s seals (last #%s)", events, seals, last_number)
    return SealRun(seals=seals, events=events, last_number=last_number)
