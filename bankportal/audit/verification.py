"""Verifying the audit trail against its signed seal chain, and exporting the chain as an anchor.

``audit_verify`` walks seals (by number) and events (in seal order) side by side, once each:
every event's content against its hash, every seal's batch (exact membership, count, merkle
root), every link, every seal hash and every signature. Events after the last seal are the
unsealed tail: counted and aged, their hashes checked, but not a breakage. An exported seal file
(``audit_seals_export``) is the anchor outside the database: a database whose seal chain was cut
or rewritten no longer matches it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from bankportal.audit.chain import GENESIS_HASH, content_hash, leaf, merkle_root, public_key_b64, seal_hash
from bankportal.audit.chain import signature_valid as _signature_valid
from bankportal.audit.models import AuditEvent, AuditSeal
from bankportal.audit.services import seal_order, seal_public_keys

EXPORT_FORMAT = "bankportal-audit-seals"
EXPORT_VERSION = 1

# Problem kinds: what broke, for alerting and for tests.
LEAF = "leaf"  # an event's content no longer matches its hash
COUNT = "count"  # a sealed range holds more or fewer events than sealed (rows inserted or removed)
RANGE = "range"  # a seal's first/last event is not what it sealed, or ranges overlap
ROOT = "root"  # the events of a seal no longer give its merkle root (rows rewritten or reordered)
LINK = "link"  # a seal is missing or does not chain onto the one before
SEAL = "seal"  # a seal's fields no longer give its hash
SIGNATURE = "signature"  # the signature does not verify with the key the database does not hold
TXID = "txid"  # an event without a transaction id on PostgreSQL (can never be sealed)
EXPORT = "export"  # the database's seal chain differs from the exported file

Key = tuple[int, int]


@dataclass(frozen=True)
class AuditProblem:
    kind: str
    message: str
    seal_number: int | None = None
    event_id: int | None = None


@dataclass
class AuditVerifyReport:
    """Breakage in ``problems``; the unsealed tail reported on its own (it is not breakage)."""

    checked_at: dt.datetime
    seals: int = 0
    sealed_events: int = 0
    unsealed_events: int = 0
    oldest_unsealed_at: dt.datetime | None = None
    problems: list[AuditProblem] = field(default_factory=list)
    problems_not_listed: int = 0
    max_problems: int = 100

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def oldest_unsealed_age(self) -> dt.timedelta | None:
        return None if self.oldest_unsealed_at is None else self.checked_at - self.oldest_unsealed_at

    def add(self, kind: str, message: str, *, seal: int | None = None, event: int | None = None) -> None:
        if len(self.problems) < self.max_problems:
            self.problems.append(AuditProblem(kind, message, seal, event))
        else:
            self.problems_not_listed += 1

    def tail_summary(self) -> str:
        if not self.unsealed_events:
            return "no unsealed events"
        age = self.oldest_unsealed_age or dt.timedelta()
        return f"{self.unsealed_events} events not sealed yet, the oldest {int(age.total_seconds())} s old"


def _key(txid: int | None, event_id: int) -> Key:
    # SQLite stores no transaction id: ids alone order events there (single writer).
    return (-1 if txid is None else txid, event_id)


def _event_ok(event: AuditEvent, report: AuditVerifyReport) -> None:
    if content_hash(event.chain_content()) != event.hash:
        report.add(LEAF, f"event #{event.pk}: content does not match its hash (row edited)", event=event.pk)


def _check_seal(seal: AuditSeal, prev_hash: str, keys: dict[str, Ed25519PublicKey], report: AuditVerifyReport) -> None:
    number = seal.number
    if seal.prev_hash != prev_hash:
        report.add(LINK, f"seal #{number} does not chain onto the seal before it", seal=number)
    recomputed = seal_hash(seal.chain_content())
    if recomputed != seal.hash:
        report.add(SEAL, f"seal #{number}: fields do not match its hash (seal edited)", seal=number)
    public_key = keys.get(seal.key_id)
    if public_key is None:
        report.add(SIGNATURE, f"seal #{number} names unknown key id {seal.key_id!r}", seal=number)
    elif not _signature_valid(public_key, recomputed, seal.signature):
        report.add(SIGNATURE, f"seal #{number}: signature does not verify (seal forged or re-hashed)", seal=number)


def _check_batch(seal: AuditSeal, events: _Peekable, report: AuditVerifyReport) -> None:
    """Consume every event up to the seal's last key; they must be exactly what it sealed."""
    number, last_key = seal.number, _key(seal.last_txid, seal.last_id)
    leaves: list[bytes] = []
    found = 0
    first: AuditEvent | None = None
    last: AuditEvent | None = None
    while (event := events.take_until(last_key)) is not None:
        found += 1
        first = first or event
        last = event
        _event_ok(event, report)
        if found <= seal.count:  # an inflated range must not make memory grow without bound
            leaves.append(leaf(event.pk, event.hash))
    report.sealed_events += found
    if found != seal.count:
        change = "inserted" if found > seal.count else "removed"
        report.add(
            COUNT, f"seal #{number} sealed {seal.count} events, its range holds {found} (rows {change})", seal=number
        )
        return
    ends = None if first is None or last is None else (_key(first.txid, first.pk), _key(last.txid, last.pk))
    if ends != (_key(seal.first_txid, seal.first_id), last_key):
        report.add(RANGE, f"seal #{number}: first or last event is not the one sealed", seal=number)
    elif merkle_root(leaves) != seal.merkle_root:
        report.add(ROOT, f"seal #{number}: events do not give its merkle root (rows rewritten)", seal=number)


class _Peekable:
    def __init__(self, events: Iterator[AuditEvent]) -> None:
        self._events = events
        self._next: AuditEvent | None = next(events, None)

    def take_until(self, key: Key) -> AuditEvent | None:
        """The next event if its key is at most ``key``, else None (and it stays next)."""
        event = self._next
        if event is None or _key(event.txid, event.pk) > key:
            return None
        self._next = next(self._events, None)
        return event

    def rest(self) -> Iterator[AuditEvent]:
        while self._next is not None:
            event, self._next = self._next, next(self._events, None)
            yield event


def audit_verify(
    *,
    exported: Iterable[str] | None = None,
    now: dt.datetime | None = None,
    chunk_size: int = 2000,
    max_problems: int = 100,
) -> AuditVerifyReport:
    """Check every event hash, seal batch, merkle root, link and signature; report the unsealed tail.

    ``exported`` (lines of an ``audit_seals_export`` file) is also compared with the database's
    seal chain. Reads only; never raises for breakage: it is in ``report.problems``.
    """
    report = AuditVerifyReport(checked_at=now or timezone.now(), max_problems=max_problems)
    keys = seal_public_keys()
    # Seals made after this point are left for the next run; their events then count as the tail.
    last_number = AuditSeal.objects.aggregate(last=Max("number"))["last"] or 0
    seals = AuditSeal.objects.filter(number__lte=last_number).order_by("number").iterator(chunk_size=chunk_size)
    events_qs = AuditEvent.objects.all()
    if connection.vendor == "postgresql":
        for event_id in AuditEvent.objects.filter(txid__isnull=True).values_list("id", flat=True)[:max_problems]:
            report.add(
                TXID, f"event #{event_id} has no transaction id (inserted around the column default)", event=event_id
            )
        events_qs = events_qs.filter(txid__isnull=False)
    events = _Peekable(events_qs.order_by(*seal_order()).iterator(chunk_size=chunk_size))

    prev_hash, expected_number = GENESIS_HASH, 1
    prev_key: Key | None = None
    for seal in seals:
        if seal.number != expected_number:
            report.add(LINK, f"seal #{expected_number} is missing (next is #{seal.number})", seal=expected_number)
        _check_seal(seal, prev_hash, keys, report)
        first_key = _key(seal.first_txid, seal.first_id)
        if first_key > _key(seal.last_txid, seal.last_id) or (prev_key is not None and first_key <= prev_key):
            report.add(RANGE, f"seal #{seal.number}: range is reversed or overlaps the seal before", seal=seal.number)
        _check_batch(seal, events, report)
        report.seals += 1
        prev_hash, expected_number, prev_key = seal.hash, seal.number + 1, _key(seal.last_txid, seal.last_id)

    for event in events.rest():
        _event_ok(event, report)
        report.unsealed_events += 1
        if report.oldest_unsealed_at is None or event.created_at < report.oldest_unsealed_at:
            report.oldest_unsealed_at = event.created_at

    if exported is not None:
        _compare_export(exported, keys, report)
    return report


# --- the exported seal chain ---------------------------------------------------------------------


def seal_record(seal: AuditSeal) -> dict[str, Any]:
    return {**seal.chain_content(), "hash": seal.hash, "signature": seal.signature}


def audit_seals_export(*, out: TextIO) -> int:
    """Write the seal chain as JSON lines: a header with the public keys, then one seal per line.

    Returns the number of seals written. Keep the file outside the database (and its backups).
    """
    keys = seal_public_keys()
    header = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": timezone.now().isoformat(),
        "public_keys": {key_id: public_key_b64(key) for key_id, key in sorted(keys.items())},
    }
    out.write(json.dumps(header, sort_keys=True) + "\n")
    written = 0
    for seal in AuditSeal.objects.order_by("number").iterator(chunk_size=2000):
        out.write(json.dumps(seal_record(seal), sort_keys=True) + "\n")
        written += 1
    return written


def _compare_export(lines: Iterable[str], keys: dict[str, Ed25519PublicKey], report: AuditVerifyReport) -> None:
    database = AuditSeal.objects.order_by("number").iterator(chunk_size=2000)
    current = next(database, None)
    prev_hash = GENESIS_HASH
    header_seen = False
    for line_number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if record.get("format") == EXPORT_FORMAT:
                header_seen = True
                for key_id, encoded in record.get("public_keys", {}).items():
                    if key_id in keys and public_key_b64(keys[key_id]) != encoded:
                        report.add(EXPORT, f"export names key {key_id!r} with another public key than configured")
                continue
            number = int(record["number"])
            content = {k: v for k, v in record.items() if k not in ("hash", "signature")}
            exported_hash = seal_hash(content)
        except (ValueError, KeyError, TypeError, AttributeError):
            report.add(EXPORT, f"export line {line_number} is not a seal record")
            continue
        public_key = keys.get(str(record.get("key_id")))
        if (
            exported_hash != record.get("hash")
            or record.get("prev_hash") != prev_hash
            or public_key is None
            or not _signature_valid(public_key, exported_hash, str(record.get("signature")))
        ):
            report.add(EXPORT, f"export line {line_number} (seal #{number}) is not a valid signed seal", seal=number)
        prev_hash = str(record.get("hash"))
        while current is not None and current.number < number:
            current = next(database, None)
        if current is None or current.number != number:
            report.add(EXPORT, f"seal #{number} of the export is not in the database (seal chain cut)", seal=number)
        elif seal_record(current) != record:
            report.add(EXPORT, f"seal #{number} in the database differs from the exported copy", seal=number)
    if not header_seen:
        report.add(EXPORT, f"the export has no {EXPORT_FORMAT} header line (not an export file?)")
