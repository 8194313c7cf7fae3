"""Appending to the audit trail: one INSERT and no lock, append-only rows, clean details, sign-in events."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from bankportal.audit import verification
from bankportal.audit.chain import content_hash
from bankportal.audit.models import AppendOnlyError, AuditEvent, AuditSeal
from bankportal.audit.services import audit_record
from bankportal.audit.verification import audit_verify
from bankportal.middleware import RequestContext, use_context

pytestmark = pytest.mark.django_db


def test_an_event_is_one_insert_that_locks_nothing(teller):
    """No chain head, no SELECT ... FOR UPDATE: audited writes never wait on each other."""
    with CaptureQueriesContext(connection) as queries:
        event = audit_record(action="test.one", actor=teller, details={"n": 1})
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert queries[0]["sql"].startswith("INSERT") and "FOR UPDATE" not in queries[0]["sql"]
    assert event.hash == content_hash(AuditEvent.objects.get(pk=event.pk).chain_content())


def test_an_event_carries_its_transaction_id_on_postgresql_only():
    """The database fills it in (a column default) in the same INSERT; SQLite leaves it empty."""
    with transaction.atomic():
        event = audit_record(action="test.txid")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_current_xact_id()::text::bigint")
                assert event.txid == cursor.fetchone()[0]
        else:
            assert event.txid is None
    assert AuditEvent.objects.get(pk=event.pk).txid == event.txid


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
    assert audit_verify().ok  # the stored IP hashes the same as the one we hashed


def test_ipv6_is_normalised_so_the_hash_recomputes():
    with use_context(RequestContext(ip="2001:DB8:0:0:0:0:0:1", user_agent="", channel="web")):
        event = audit_record(action="test.v6")
    assert AuditEvent.objects.get(pk=event.pk).ip == "2001:db8::1"
    report = audit_verify()
    assert report.ok and report.unsealed_events == 1


def test_an_invalid_ip_is_stored_as_none():
    with use_context(RequestContext(ip="not-an-ip", user_agent="", channel="web")):
        event = audit_record(action="test.badip")
    assert event.ip is None


def test_secrets_are_refused_and_rrn_shapes_masked():
    with pytest.raises(ValueError, match="must not carry"):
        audit_record(action="test.bad", details={"password": "x"})
    with pytest.raises(ValueError, match="must not carry"):
        audit_record(action="test.bad", details={"RRN": "900101-1234567"})
    event = audit_record(action="test.mask", details={"note": "customer said 900101-1234567"})
    assert event.details == {"note": "customer said 900101-1******"}
    assert AuditEvent.objects.get(pk=event.pk).details == event.details


def test_rrn_shapes_are_masked_deep_inside_the_details_and_numbers_stay_numbers():
    """A 13-digit number (an internal account's net of 4 trillion won) is not text: it is kept as the
    number, and the details stay JSON (masking the JSON text used to break it and the caller)."""
    event = audit_record(
        action="test.mask_deep",
        details={"net": 4_000_000_000_000, "notes": ["id 9001011234567"], "by": {"900101-1234567": "x"}},
    )
    assert event.details == {"net": 4_000_000_000_000, "notes": ["id 900101-1******"], "by": {"900101-1******": "x"}}
    assert AuditEvent.objects.get(pk=event.pk).details == event.details


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


def test_seals_refuse_update_and_delete_too():
    seal = AuditSeal(number=1, first_id=1, last_id=1, count=1, merkle_root="0" * 64, prev_hash="0" * 64)
    with pytest.raises(AppendOnlyError):
        AuditSeal.objects.all().update(count=2)
    with pytest.raises(AppendOnlyError):
        AuditSeal.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        seal.delete()


def test_an_edited_unsealed_row_is_reported():
    """Even before sealing, content that no longer matches its hash is breakage, named by row."""
    events = [audit_record(action=f"test.event{i}", details={"n": i}) for i in range(3)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["test.forged", events[1].pk])
    report = audit_verify()
    assert [(p.kind, p.event_id) for p in report.problems] == [(verification.LEAF, events[1].pk)]


def test_sign_in_sign_out_and_failed_sign_in_are_audited(client, teller):
    from tests.conftest import STAFF_PASSWORD, staff_totp_code

    code = staff_totp_code(teller)  # the admin also asks for the authenticator code
    client.post(
        "/admin/login/",
        {"username": "teller", "password": "wrong-password", "otp_token": code},
        REMOTE_ADDR="198.51.100.7",
    )
    client.post(
        "/admin/login/",
        {"username": "teller", "password": STAFF_PASSWORD, "otp_token": code},
        REMOTE_ADDR="198.51.100.7",
    )
    client.post("/admin/logout/")
    events = list(
        AuditEvent.objects.filter(action__startswith="auth.")
        .order_by("id")
        .values_list("action", "actor_label", "channel", "ip")
    )
    assert events == [
        ("auth.login_failed", "system", "admin", "198.51.100.7"),
        ("auth.login", "teller", "admin", "198.51.100.7"),
        ("auth.logout", "teller", "admin", "127.0.0.1"),
    ]
    failed = AuditEvent.objects.get(action="auth.login_failed")
    assert failed.details == {"username": "teller"}
    assert audit_verify().ok


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET action = 'forged'",
        "DELETE FROM audit_auditevent",
        "UPDATE audit_auditseal SET count = 99",
        "DELETE FROM audit_auditseal",
    ],
)
def test_postgresql_refuses_raw_updates_and_deletes(requires_postgres, sql):
    """Even raw SQL from the application's own role cannot rewrite or remove an event or a seal."""
    audit_record(action="test.one")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditseal (number, sealed_at, first_id, last_id, count, merkle_root, prev_hash, hash,"
            " key_id, signature) VALUES (1, now(), 1, 1, 1, %s, %s, %s, 'k', 's')",
            ["0" * 64, "0" * 64, "1" * 64],
        )
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert AuditEvent.objects.filter(action="test.one").exists()
    assert AuditSeal.objects.filter(count=1).exists()
