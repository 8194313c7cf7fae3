"""Writing and verifying the audit trail."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from bankportal.audit.chain import GENESIS_HASH, event_hash
from bankportal.audit.models import AuditChainHead, AuditEvent
from bankportal.masking import mask_rrns
from bankportal.middleware import current_context

# Keys whose values never belong in the trail, whatever a caller passes.
_FORBIDDEN_DETAIL_KEYS = {"rrn", "password", "pin", "secret", "otp", "code", "account_password"}


def _clean_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in (details or {}).items():
        if key.lower() in _FORBIDDEN_DETAIL_KEYS:
            raise ValueError(f"audit details must not carry {key!r}")
        cleaned[key] = value
    # Round-trip through JSON (the stored form) with any RRN-shaped text masked.
    return json.loads(mask_rrns(json.dumps(cleaned, ensure_ascii=False, default=str)))


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
    """Append an event to the chain inside the caller's transaction.

    IP, user agent and channel default to the current request context (see
    ``bankportal.middleware``); commands and tasks set their own.
    """
    context = current_context()
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        # Locking the head serialises appends, so two writers never chain onto the same tip.
        head, _created = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        event = AuditEvent(
            seq=head.last_seq + 1,
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
            prev_hash=head.last_hash,
        )
        event.hash = event_hash(event.prev_hash, event.chain_content())
        event.save()
        head.last_seq = event.seq
        head.last_hash = event.hash
        head.save(update_fields=["last_seq", "last_hash"])
    return event


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_seq: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def audit_chain_verify(*, batch_size: int = 2000) -> ChainReport:
    """Walk the chain in order; report the first row whose link or hash does not hold.

    The chain head is read first, so events appended while we walk are left for the next run
    instead of being mistaken for a broken tail.
    """
    head = AuditChainHead.objects.filter(id=1).first()
    if head is None:
        if AuditEvent.objects.exists():
            return ChainReport(0, 1, "chain head row is missing")
        return ChainReport(0, None, "ok")
    last_seq = head.last_seq
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    events = AuditEvent.objects.filter(seq__lte=last_seq).order_by("seq").iterator(chunk_size=batch_size)
    for event in events:
        if event.seq != expected_seq:
            return ChainReport(checked, expected_seq, f"row {expected_seq} is missing (next is {event.seq})")
        if event.prev_hash != expected_prev:
            return ChainReport(checked, event.seq, "previous-hash link does not match the row before")
        if event_hash(event.prev_hash, event.chain_content()) != event.hash:
            return ChainReport(checked, event.seq, "content does not match its hash (row edited)")
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
    if checked != last_seq:
        return ChainReport(checked, checked + 1, f"chain head says {last_seq} rows, found {checked} (rows removed)")
    if head.last_hash != expected_prev:
        return ChainReport(checked, last_seq, "chain head hash does not match the last row")
    return ChainReport(checked, None, "ok")
