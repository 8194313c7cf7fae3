"""Sealing the audit trail into a signed chain, and what audit_verify catches.

Transactional tests: on PostgreSQL only committed events whose transaction has ended can be
sealed, so nothing here may run inside the usual per-test transaction.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from bankportal.audit import verification
from bankportal.audit.chain import content_hash, leaf, merkle_root, parse_seal_key, seal_hash, sign_seal
from bankportal.audit.models import AuditEvent, AuditSeal
from bankportal.audit.services import after_key, audit_record, audit_seal, seal_order, seal_signing_key
from bankportal.audit.tasks import audit_seal_task, audit_verify_task
from bankportal.audit.verification import audit_verify

pytestmark = pytest.mark.django_db(transaction=True)


# --- helpers shared with test_audit_postgres.py ----------------------------------------------------


def unsealed() -> int:
    last = AuditSeal.objects.order_by("-number").first()
    events = AuditEvent.objects.all()
    return events.filter(after_key(last.last_key)).count() if last else events.count()


def seal_all(*, timeout: float = 30.0, **kwargs) -> int:
    """Run the sealer until every committed event is sealed; return how many seals it made.

    On PostgreSQL the seal horizon is the oldest transaction running anywhere in the cluster, so a
    writing transaction in another database (another test run) can hold it back for a moment.
    """
    deadline = time.monotonic() + timeout
    made = 0
    while True:
        made += audit_seal(**kwargs).seals
        if unsealed() == 0:
            return made
        assert time.monotonic() < deadline, f"{unsealed()} events still unsealed after {timeout} s"
        time.sleep(0.05)


def superuser_sql(sql: str, params: list | None = None) -> None:
    """Edit the tables as a database superuser would: on PostgreSQL skipping the append-only triggers."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params or [])


def events(count: int, prefix: str = "test.event") -> list[AuditEvent]:
    return [audit_record(action=f"{prefix}{i}", details={"n": i}) for i in range(count)]


def kinds(report) -> set[str]:
    return {problem.kind for problem in report.problems}


def _seals() -> list[AuditSeal]:
    return list(AuditSeal.objects.order_by("number"))


# --- sealing ----------------------------------------------------------------------------------------


def test_sealing_covers_every_committed_event_exactly_once_in_bounded_batches():
    """Seven events with batches of three: seals of 3, 3 and 1 in order, chained; a second run seals nothing."""
    made = events(7)
    assert seal_all(batch_size=3) == 3
    seals = _seals()
    assert [s.count for s in seals] == [3, 3, 1]
    assert [s.number for s in seals] == [1, 2, 3]
    assert seals[1].prev_hash == seals[0].hash and seals[2].prev_hash == seals[1].hash
    ordered = list(AuditEvent.objects.order_by(*seal_order()).values_list("id", flat=True))
    assert sorted(ordered) == sorted(e.pk for e in made)
    assert [(s.first_id, s.last_id) for s in seals] == [
        (ordered[0], ordered[2]),
        (ordered[3], ordered[5]),
        (ordered[6], ordered[6]),
    ]
    assert audit_seal().seals == 0
    report = audit_verify()
    assert report.ok, report.problems
    assert (report.seals, report.sealed_events, report.unsealed_events) == (3, 7, 0)


def test_a_large_backlog_is_worked_off_over_several_runs():
    """A run makes at most ``max_batches`` seals; the next run carries on where it stopped."""
    events(5)
    first = audit_seal(batch_size=2, max_batches=2)
    assert (first.seals, first.events) == (2, 4)
    second = audit_seal(batch_size=2, max_batches=2)
    assert (second.seals, second.events, second.last_number) == (1, 1, 3)
    assert audit_verify().ok


def test_new_events_are_sealed_onto_the_existing_chain():
    events(2)
    seal_all()
    events(2, prefix="test.later")
    seal_all()
    first, second = _seals()
    assert second.prev_hash == first.hash and second.count == 2
    assert audit_verify().ok


def test_each_seal_is_signed_with_the_configured_key():
    events(1)
    seal_all()
    (seal,) = _seals()
    key = seal_signing_key()
    assert seal.key_id == key.key_id
    assert seal.hash == seal_hash(seal.chain_content())
    assert seal.signature == sign_seal(key, seal.hash)


def test_the_unsealed_tail_is_reported_and_is_not_breakage():
    """Events not sealed yet are counted and aged, and verification still passes."""
    events(2)
    seal_all()
    made = events(3, prefix="test.tail")
    now = made[0].created_at + dt.timedelta(seconds=42)
    report = audit_verify(now=now)
    assert report.ok
    assert (report.sealed_events, report.unsealed_events) == (2, 3)
    assert report.oldest_unsealed_at == made[0].created_at
    assert report.oldest_unsealed_age == dt.timedelta(seconds=42)
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "3 events not sealed yet" in out.getvalue() and "audit trail intact" in out.getvalue()


def test_an_empty_trail_verifies():
    report = audit_verify()
    assert report.ok and (report.seals, report.unsealed_events) == (0, 0)


def test_seals_made_with_a_retired_key_still_verify_when_its_public_key_is_kept(settings):
    """Key rotation: old seals name the old key id; its public half in AUDIT_SEAL_PUBLIC_KEYS verifies them."""
    events(1)
    seal_all()
    old = seal_signing_key()
    settings.AUDIT_SEAL_KEY = "k2:" + base64.b64encode(os.urandom(32)).decode()
    events(1, prefix="test.new-key")
    seal_all()
    assert [s.key_id for s in _seals()] == [old.key_id, "k2"]
    report = audit_verify()
    assert kinds(report) == {verification.SIGNATURE} and "unknown key id" in report.problems[0].message
    settings.AUDIT_SEAL_PUBLIC_KEYS = f"{old.key_id}:{old.public_key_b64}"
    assert audit_verify().ok


# --- tampering ----------------------------------------------------------------------------------------


def test_an_edited_event_is_reported_sealed_or_not():
    """Content changed without its hash: the row is named, in a sealed range and in the tail alike."""
    sealed = events(2)
    seal_all()
    tail = events(1, prefix="test.tail")
    superuser_sql("UPDATE audit_auditevent SET action = %s WHERE id IN (%s, %s)", ["forged", sealed[1].pk, tail[0].pk])
    report = audit_verify()
    assert {(p.kind, p.event_id) for p in report.problems} == {
        (verification.LEAF, sealed[1].pk),
        (verification.LEAF, tail[0].pk),
    }
    with pytest.raises(CommandError, match="audit trail broken"):
        call_command("audit_verify", stdout=io.StringIO(), stderr=io.StringIO())


def test_rewriting_an_event_and_recomputing_every_hash_in_the_database_is_caught_by_the_signatures():
    """A superuser rewrites a sealed event, recomputes its hash, the merkle root of its seal and every
    seal hash after it, and even signs the seals with a key of their own under the same key id:
    leaves, roots and links all hold again, and only the signatures (key outside the database) fail."""
    made = events(6)
    seal_all(batch_size=2)
    victim = made[2]
    superuser_sql(
        "UPDATE audit_auditevent SET action = %s, details = %s WHERE id = %s",
        ["account.view", json.dumps({"n": 999}), victim.pk],
    )
    rewritten = AuditEvent.objects.get(pk=victim.pk)
    superuser_sql(
        "UPDATE audit_auditevent SET hash = %s WHERE id = %s", [content_hash(rewritten.chain_content()), victim.pk]
    )

    forger = parse_seal_key(f"{seal_signing_key().key_id}:" + base64.b64encode(os.urandom(32)).decode())
    prev_hash = None
    ordered = list(AuditEvent.objects.order_by(*seal_order()))
    for seal in _seals():
        members = [e for e in ordered if seal.first_id <= e.pk <= seal.last_id]  # one writer here: ids suffice
        seal.merkle_root = merkle_root([leaf(e.pk, e.hash) for e in members])
        seal.prev_hash = prev_hash or seal.prev_hash
        seal.hash = seal_hash(seal.chain_content())
        seal.signature = sign_seal(forger, seal.hash)
        superuser_sql(
            "UPDATE audit_auditseal SET merkle_root = %s, prev_hash = %s, hash = %s, signature = %s WHERE id = %s",
            [seal.merkle_root, seal.prev_hash, seal.hash, seal.signature, seal.pk],
        )
        prev_hash = seal.hash

    report = audit_verify()
    assert not report.ok
    assert kinds(report) == {verification.SIGNATURE}, report.problems
    assert {p.seal_number for p in report.problems} == {1, 2, 3}


def test_deleting_a_sealed_event_is_caught():
    made = events(3)
    seal_all()
    superuser_sql("DELETE FROM audit_auditevent WHERE id = %s", [made[1].pk])
    report = audit_verify()
    assert kinds(report) == {verification.COUNT}
    assert "sealed 3 events, its range holds 2 (rows removed)" in report.problems[0].message


def test_a_forged_event_inserted_into_a_sealed_range_is_caught():
    """A row slipped into a gap inside a sealed range, with a correct content hash, does not fit the seal."""
    first, gap, last = events(3)
    superuser_sql("DELETE FROM audit_auditevent WHERE id = %s", [gap.pk])  # before sealing: an id gap
    seal_all()
    assert _seals()[0].count == 2
    forged = AuditEvent(id=gap.pk, txid=first.txid, created_at=timezone.now(), actor_label="teller", action="forged")
    forged.hash = content_hash(forged.chain_content())
    forged.save()
    report = audit_verify()
    assert kinds(report) == {verification.COUNT}
    assert "rows inserted" in report.problems[0].message


def test_deleting_the_latest_seals_and_their_events_is_caught_only_by_the_exported_file(tmp_path):
    """Cutting the chain's tail leaves a shorter chain that is consistent in the database; the exported
    seal file, kept elsewhere, still shows it."""
    events(4)
    seal_all(batch_size=2)
    export = tmp_path / "seals.jsonl"
    call_command("audit_export_seals", str(export), stdout=io.StringIO())
    out = io.StringIO()
    call_command("audit_verify", "--seals", str(export), stdout=out)
    assert "matches the exported seal file" in out.getvalue()

    last = _seals()[-1]
    superuser_sql("DELETE FROM audit_auditevent WHERE id >= %s", [last.first_id])
    superuser_sql("DELETE FROM audit_auditseal WHERE number = %s", [last.number])
    assert audit_verify().ok  # the database alone cannot tell
    with export.open() as handle:
        report = audit_verify(exported=handle)
    assert kinds(report) == {verification.EXPORT}
    assert "seal #2 of the export is not in the database" in report.problems[0].message
    with pytest.raises(CommandError):
        call_command("audit_verify", "--seals", str(export), stdout=io.StringIO(), stderr=io.StringIO())


def test_a_database_seal_that_differs_from_the_exported_copy_is_caught(tmp_path):
    events(2)
    seal_all()
    export = tmp_path / "seals.jsonl"
    call_command("audit_export_seals", str(export), stdout=io.StringIO())
    superuser_sql("UPDATE audit_auditseal SET sealed_at = %s", [timezone.now() + dt.timedelta(days=1)])
    with export.open() as handle:
        report = audit_verify(exported=handle)
    assert verification.EXPORT in kinds(report)
    assert any("differs from the exported copy" in p.message for p in report.problems)


def test_an_edited_export_file_is_reported(tmp_path):
    events(2)
    seal_all()
    lines = io.StringIO()
    verification.audit_seals_export(out=lines)
    header, seal_line = lines.getvalue().splitlines()
    record = json.loads(seal_line)
    record["count"] = 3
    report = audit_verify(exported=[header, json.dumps(record)])
    assert {p.message for p in report.problems} >= {"export line 2 (seal #1) is not a valid signed seal"}
    assert audit_verify(exported=["not json"]).problems[0].kind == verification.EXPORT


def test_the_export_names_the_public_keys_and_every_seal(tmp_path):
    events(3)
    seal_all(batch_size=2)
    export = tmp_path / "seals.jsonl"
    out = io.StringIO()
    call_command("audit_export_seals", str(export), stdout=out)
    assert "2 seals written" in out.getvalue()
    header, *seal_lines = export.read_text().splitlines()
    key = seal_signing_key()
    assert json.loads(header)["public_keys"] == {key.key_id: key.public_key_b64}
    assert [json.loads(line)["number"] for line in seal_lines] == [1, 2]
    assert {"hash", "signature", "merkle_root", "first_id", "last_id", "count", "key_id"} <= set(
        json.loads(seal_lines[0])
    )


def test_the_export_command_refuses_an_unwritable_path(tmp_path):
    with pytest.raises(CommandError, match="cannot write"):
        call_command("audit_export_seals", str(tmp_path / "missing-dir" / "seals.jsonl"))


def test_audit_verify_refuses_an_unreadable_seal_file(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("audit_verify", "--seals", str(tmp_path / "nope.jsonl"))


# --- commands and tasks --------------------------------------------------------------------------------


def test_the_seal_command_and_task_seal_and_the_verify_task_reports(caplog):
    events(2)
    out = io.StringIO()
    call_command("audit_seal", stdout=out)
    assert "events sealed" in out.getvalue()
    events(1, prefix="test.task")
    result = audit_seal_task.apply().get()
    assert result["busy"] is False
    seal_all()
    assert audit_verify_task.apply().get() == {
        "ok": True,
        "seals": len(_seals()),
        "sealed_events": 3,
        "unsealed_events": 0,
        "problems": 0,
    }
    superuser_sql("UPDATE audit_auditevent SET action = 'forged'")
    assert audit_verify_task.apply().get()["ok"] is False
    assert "audit trail broken (leaf)" in caplog.text
