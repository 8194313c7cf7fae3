"""The audit trail is append-only and hash-chained; audit_verify finds the first broken row."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from bankportal.audit.models import AppendOnlyError, AuditChainHead, AuditEvent
from bankportal.audit.services import audit_chain_verify, audit_record
from bankportal.middleware import RequestContext, use_context

pytestmark = pytest.mark.django_db


def _tamper(sql: str, params: list) -> None:
    """Edit the table as a privileged intruder would: on PostgreSQL a superuser session that skips
    triggers (for this transaction only), so the append-only trigger does not fire."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)


def _three_events(actor=None):
    return [audit_record(action=f"test.event{i}", actor=actor, details={"n": i}) for i in range(3)]


def test_events_chain_onto_each_other(teller):
    first, second, third = _three_events(teller)
    assert (first.seq, second.seq, third.seq) == (1, 2, 3)
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert AuditChainHead.objects.get().last_hash == third.hash
    assert audit_chain_verify().ok


def test_request_context_supplies_ip_and_user_agent(teller):
    with use_context(RequestContext(ip="203.0.113.9", user_agent="Mozilla/5.0 test", channel="web")):
        event = audit_record(action="test.ctx", actor=teller)
    event.refresh_from_db()
    assert (event.ip, event.user_agent, event.channel, event.actor_label) == (
        "203.0.113.9",
        "Mozilla/5.0 test",
        "web",
        "teller",
    )
    assert audit_chain_verify().ok  # the stored IP hashes the same as the one we hashed


def test_ipv6_is_normalised_so_the_hash_recomputes():
    with use_context(RequestContext(ip="2001:DB8:0:0:0:0:0:1", user_agent="", channel="web")):
        event = audit_record(action="test.v6")
    assert AuditEvent.objects.get(pk=event.pk).ip == "2001:db8::1"
    assert audit_chain_verify().ok


def test_secrets_are_refused_and_rrn_shapes_masked():
    with pytest.raises(ValueError, match="must not carry"):
        audit_record(action="test.bad", details={"password": "x"})
    event = audit_record(action="test.mask", details={"note": "customer said 900101-1234567"})
    assert event.details == {"note": "customer said 900101-1******"}


def test_models_refuse_update_and_delete():
    event = audit_record(action="test.one")
    event.action = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


def test_audit_verify_reports_an_edited_row():
    events = _three_events()
    _tamper("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["test.forged", events[1].pk])
    with pytest.raises(CommandError, match=r"broken at event #2: content does not match"):
        call_command("audit_verify")


def test_audit_verify_reports_a_relinked_row():
    events = _three_events()
    _tamper("UPDATE audit_auditevent SET prev_hash = %s WHERE id = %s", ["f" * 64, events[2].pk])
    report = audit_chain_verify()
    assert (report.broken_seq, report.checked) == (3, 2)


def test_audit_verify_reports_a_deleted_row():
    events = _three_events()
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    assert audit_chain_verify().broken_seq == 2
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    report = audit_chain_verify()  # the tail was cut: the head row still remembers three events
    assert not report.ok and "rows removed" in report.reason


def test_audit_verify_succeeds_on_an_intact_chain():
    _three_events()
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "3 events verified" in out.getvalue()


def test_sign_in_sign_out_and_failed_sign_in_are_audited(client, teller):
    from tests.conftest import STAFF_PASSWORD

    client.post("/admin/login/", {"username": "teller", "password": "wrong-password"}, REMOTE_ADDR="198.51.100.7")
    client.post("/admin/login/", {"username": "teller", "password": STAFF_PASSWORD}, REMOTE_ADDR="198.51.100.7")
    client.post("/admin/logout/")
    events = list(AuditEvent.objects.order_by("seq").values_list("action", "actor_label", "channel", "ip"))
    assert events == [
        ("auth.login_failed", "system", "admin", "198.51.100.7"),
        ("auth.login", "teller", "admin", "198.51.100.7"),
        ("auth.logout", "teller", "admin", "127.0.0.1"),
    ]
    failed = AuditEvent.objects.get(action="auth.login_failed")
    assert failed.details == {"username": "teller"}
    assert audit_chain_verify().ok


def test_audit_verify_reports_a_deleted_chain_head():
    _three_events()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditchainhead")
    report = audit_chain_verify()
    assert not report.ok and report.reason == "chain head row is missing"


def test_events_appended_during_a_walk_are_not_a_broken_tail(monkeypatch):
    """The walk covers the chain as the head stood when it began; later events wait for the next run."""
    _three_events()
    original_iterator = AuditEvent.objects.none().__class__.iterator

    def iterator_then_append(self, *args, **kwargs):
        yield from original_iterator(self, *args, **kwargs)
        audit_record(action="test.concurrent")  # another writer commits just as the walk ends

    monkeypatch.setattr(AuditEvent.objects.none().__class__, "iterator", iterator_then_append)
    report = audit_chain_verify()
    assert report.ok and report.checked == 3


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql", ["UPDATE audit_auditevent SET action = 'forged' WHERE seq = 1", "DELETE FROM audit_auditevent WHERE seq = 1"]
)
def test_postgresql_refuses_raw_updates_and_deletes(requires_postgres, sql):
    """Even raw SQL from the application's own role cannot rewrite or remove an event."""
    _three_events()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert AuditEvent.objects.filter(seq=1).exclude(action="forged").exists()
    assert audit_chain_verify().ok
