"""The certificate centre's daily job (issue 8): mark expired certificates, send renewal notices.

Rules live in ``certcenter.rules`` (``renewal_opens_at``: 00:00 KST of the day 60 days before the
expiry day; validity to the second, so the whole second 23:59:59 of the expiry day still counts).
In order, for the KST day of ``now``:

1. **expire**: a valid certificate whose ``not_after`` lies before ``now`` (to the second) becomes
   ``expired``; no SMS (the reminder said so);
2. **renewal notice**: a valid, unexpired certificate whose renewal window is open and that has had
   no notice gets one SMS naming its expiry day (``renewal_notice_sent_at``);
3. **expiry reminder**: a valid, unexpired certificate whose expiry day is at most 7 days away and
   that has had no reminder gets one SMS (``expiry_reminder_sent_at``).

A certificate already inside the 7-day stage when first seen without a notice (say the job was
down for weeks) gets only the reminder, never a stale "the window has opened". A renewed or
reissued certificate is revoked (superseded), so it is no longer valid and gets nothing more; its
successor counts from its own expiry.

The design is that of ``accounts.services.agreement_jobs``: bounded chunks of at most
``chunk_size`` certificates, one transaction each, walked along the (status, not_after) index with
a keyset cursor. On PostgreSQL a chunk is one statement: ``SELECT … FOR UPDATE SKIP LOCKED`` (two
runs at once split the work), an UPDATE repeating the predicate (status still valid, stage column
still empty), and an ``INSERT … SELECT`` of the SMS outbox rows for exactly the changed ids. On
SQLite (one writer) a plain select, the same UPDATE, one bulk insert. One audit event per chunk
(``certificate.expire_batch``, ``certificate.renewal_notice_batch``,
``certificate.expiry_reminder_batch``) lists the certificate ids; the SMS are handed to the
delivery worker after commit. An SMS is written only by the transaction that sets its stage
column, so a rerun, two runs at once or a run killed half-way send each SMS once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer
from accounts.services._common import Actor, require_perm
from bankportal.actors import SystemActor
from bankportal.audit.services import audit_record
from bankportal.notifications.models import Notification
from bankportal.notifications.services import notification_bulk_row, notifications_dispatch_on_commit
from bankportal.sql import is_postgres, quoted_column
from bankportal.timeutil import KST, kst_today
from certcenter import rules
from certcenter.models import Certificate

Status = Certificate.Status

NOTICES_PERMISSION = "certcenter.change_certificate"
DEFAULT_CHUNK_SIZE = 5_000
MAX_CHUNK_SIZE = 10_000
REMINDER_DAYS_BEFORE = 7

PURPOSE_RENEWAL_NOTICE = "certificate_renewal_notice"
PURPOSE_EXPIRY_REMINDER = "certificate_expiry_reminder"

# Translators: SMS when a joint certificate's renewal window opens (60 days before expiry). Intended
# Korean: "[%(bank)s] 공동인증서 갱신 기간이 시작되었습니다. 인증센터에서 갱신해 주세요. 만료일 %(date)s"
RENEWAL_NOTICE_SMS = _(
    "[%(bank)s] The renewal period of your joint certificate has started. Renew it in the certificate "
    "centre. Expiry date %(date)s"
)
# Translators: SMS 7 days before a joint certificate expires. Intended Korean: "[%(bank)s] 공동인증서가
# %(date)s에 만료됩니다. 만료일까지 인증센터에서 갱신해 주세요. 만료 후에는 재발급해야 합니다."
EXPIRY_REMINDER_SMS = _(
    "[%(bank)s] Your joint certificate expires on %(date)s. Renew it in the certificate centre by then; "
    "after expiry it must be reissued."
)

# Translators: SMS when a financial certificate's renewal window opens (one month before expiry).
# Intended Korean: "[%(bank)s] 금융인증서 갱신 기간이 시작되었습니다. 인증센터에서 비밀번호 6자리로
# 갱신해 주세요. 만료일 %(date)s"
FINANCIAL_RENEWAL_NOTICE_SMS = _(
    "[%(bank)s] The renewal period of your financial certificate has started. Renew it in the certificate "
    "centre with your 6-digit PIN. Expiry date %(date)s"
)
# Translators: SMS 7 days before a financial certificate expires.
FINANCIAL_EXPIRY_REMINDER_SMS = _(
    "[%(bank)s] Your financial certificate expires on %(date)s. Renew it in the certificate centre by then; "
    "after expiry a new one must be issued."
)

ERR_SYSTEM_ONLY = "the certificate notices are automatic: only a system actor runs the daily job"


@dataclass(frozen=True)
class CertificateJobSummary:
    """What ``certificates_daily`` did (or, with ``dry_run``, would do).

    ``renewal_notices`` and ``expiry_reminders`` count SMS written (certificates of customers with a
    phone on file); ``expired`` counts certificates marked expired.
    """

    expired: int
    renewal_notices: int
    expiry_reminders: int
    chunks: int
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


# --- Message bodies (rendered in the bank's language: no request, no customer language) ----------


def renewal_notice_body(expiry_day: dt.date, *, financial: bool = False) -> str:
    text = FINANCIAL_RENEWAL_NOTICE_SMS if financial else RENEWAL_NOTICE_SMS
    with translation.override(settings.LANGUAGE_CODE):
        return str(text) % {"bank": settings.BANK_NAME_KO, "date": expiry_day.isoformat()}


def expiry_reminder_body(expiry_day: dt.date, *, financial: bool = False) -> str:
    text = FINANCIAL_EXPIRY_REMINDER_SMS if financial else EXPIRY_REMINDER_SMS
    with translation.override(settings.LANGUAGE_CODE):
        return str(text) % {"bank": settings.BANK_NAME_KO, "date": expiry_day.isoformat()}


# --- Predicates ----------------------------------------------------------------------------------


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=KST)


def _valid(*, financial: bool | None = None) -> QuerySet[Certificate]:
    """Valid certificates: of one family (joint or financial), or of both (``None``)."""
    certificates = Certificate.objects.all()
    if financial is not None:
        certificates = certificates.financial() if financial else certificates.joint()
    return certificates.filter(status=Status.VALID)


def _expired(as_of: dt.datetime) -> QuerySet[Certificate]:
    # Valid through the whole second not_after (rules.renewal_closes_at): expired once past it.
    return _valid().filter(not_after__lt=as_of)


def _window_open_through(today: dt.date, *, financial: bool) -> dt.date:
    """The latest expiry day whose renewal window is open today: 60 days ahead for a joint
    certificate, one calendar month for a financial one."""
    if financial:
        return rules.financial_window_open_through(today)
    return today + dt.timedelta(days=rules.RENEWAL_DAYS_BEFORE)


def _renewal_due(as_of: dt.datetime, today: dt.date, *, financial: bool = False) -> QuerySet[Certificate]:
    """Window open, not yet in the reminder stage, no notice yet."""
    window_open_before = _day_start(_window_open_through(today, financial=financial) + dt.timedelta(days=1))
    reminder_from = _day_start(today + dt.timedelta(days=REMINDER_DAYS_BEFORE + 1))
    return _valid(financial=financial).filter(
        not_after__gte=max(as_of, reminder_from),
        not_after__lt=window_open_before,
        renewal_notice_sent_at__isnull=True,
    )


def _reminder_due(as_of: dt.datetime, today: dt.date, *, financial: bool = False) -> QuerySet[Certificate]:
    """Expiry day - 7 <= today, not expired, no reminder yet."""
    return _valid(financial=financial).filter(
        not_after__gte=as_of,
        not_after__lt=_day_start(today + dt.timedelta(days=REMINDER_DAYS_BEFORE + 1)),
        expiry_reminder_sent_at__isnull=True,
    )


def _bodies(today: dt.date, days: int, render: Any, *, financial: bool = False) -> dict[dt.date, str]:
    """The text for every expiry day from ``today`` to ``today + days``."""
    return {
        today + dt.timedelta(days=n): render(today + dt.timedelta(days=n), financial=financial) for n in range(days + 1)
    }


# --- The chunk loop ------------------------------------------------------------------------------


Cursor = tuple[dt.datetime, int]  # (not_after, id) of the last row changed


@dataclass(frozen=True)
class _Chunk:
    certificates: list[int]
    notifications: list[int]
    last: Cursor | None = None


@dataclass(frozen=True)
class _Step:
    """One kind of change: which rows, what to set, which SMS to write for each changed row."""

    due: QuerySet[Certificate]
    updates: dict[str, Any]
    action: str
    # The stage column that must still be empty when the row is updated ("" for none).
    unset: str = ""
    purpose: str = ""
    bodies_by_day: dict[dt.date, str] | None = None  # the text per KST expiry day
    details: dict[str, Any] | None = None


def _check_chunk_size(chunk_size: int) -> None:
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE}, got {chunk_size}")


def _run(step: _Step, *, actor: Actor, chunk_size: int) -> tuple[int, int, int]:
    """Apply ``step`` chunk by chunk until nothing is left; (rows changed, SMS written, chunks)."""
    changed = notices = chunks = 0
    last: Cursor | None = None
    while True:
        chunk = _apply_chunk(step, _after(step.due, last), chunk_size=chunk_size, actor=actor)
        if not chunk.certificates:
            break
        changed += len(chunk.certificates)
        notices += len(chunk.notifications)
        chunks += 1
        last = chunk.last
    return changed, notices, chunks


def _after(due: QuerySet[Certificate], last: Cursor | None) -> QuerySet[Certificate]:
    """The rows after ``last`` in (not_after, id) order (``>=`` first, so the index range starts there)."""
    if last is not None:
        value, pk = last
        due = due.filter(not_after__gte=value).filter(Q(not_after__gt=value) | Q(pk__gt=pk))
    return due.order_by("not_after", "pk")


@transaction.atomic
def _apply_chunk(step: _Step, due: QuerySet[Certificate], *, chunk_size: int, actor: Actor) -> _Chunk:
    apply = _apply_chunk_postgres if is_postgres() else _apply_chunk_portable
    chunk = apply(step, due, chunk_size)
    if not chunk.certificates:
        return chunk
    audit_record(
        action=step.action,
        actor=actor,
        details={**(step.details or {}), "count": len(chunk.certificates), "certificates": chunk.certificates},
    )
    notifications_dispatch_on_commit(chunk.notifications)
    return chunk


def _apply_chunk_postgres(step: _Step, due: QuerySet[Certificate], chunk_size: int) -> _Chunk:
    """Pick and lock (``SKIP LOCKED``), update with the predicate repeated, write the SMS: one statement."""
    qn = connection.ops.quote_name
    picked = due.values("pk")[:chunk_size].select_for_update(skip_locked=True)
    picked_sql, picked_params = picked.query.sql_with_params()
    pk, status, customer = (
        quoted_column(Certificate, "id"),
        quoted_column(Certificate, "status"),
        quoted_column(Certificate, "customer"),
    )
    not_after = quoted_column(Certificate, "not_after")
    sets = ", ".join(f"{quoted_column(Certificate, name)} = %s" for name in step.updates)
    unset = f" AND c.{quoted_column(Certificate, step.unset)} IS NULL" if step.unset else ""
    # Only quoted identifiers and the ORM's own SQL are formatted in; every value is a parameter.
    sql = [
        f"WITH picked (id) AS MATERIALIZED ({picked_sql}),",
        f" changed AS (UPDATE {qn(Certificate._meta.db_table)} AS c SET {sets} FROM picked",  # noqa: S608
        f" WHERE c.{pk} = picked.id AND c.{status} = %s{unset}",
        f" RETURNING c.{pk} AS id, c.{customer} AS customer_id, c.{not_after} AS order_key,",
        f" (c.{not_after} AT TIME ZONE %s)::date AS expiry_day)",
    ]
    params: list[Any] = [*picked_params, *step.updates.values(), Status.VALID, str(KST)]
    if step.purpose and step.bodies_by_day is not None:
        values = notification_bulk_row(now=timezone.now())
        columns = ", ".join(quoted_column(Notification, name) for name in ["key", "to", "body", "purpose", *values])
        # LEFT JOIN: a day without a text would insert a NULL body, which the NOT NULL column
        # refuses, rolling the chunk back, rather than silently skipping a notice.
        rows = ", ".join(["(%s::date, %s)"] * len(step.bodies_by_day)) or "(NULL::date, NULL)"
        phone = quoted_column(Customer, "phone")
        sql += [
            f", sent AS (INSERT INTO {qn(Notification._meta.db_table)} ({columns})",
            f" SELECT gen_random_uuid(), cu.{phone}, bodies.body, %s, {', '.join(['%s'] * len(values))}",
            f" FROM changed JOIN {qn(Customer._meta.db_table)} AS cu",
            f" ON cu.{quoted_column(Customer, 'id')} = changed.customer_id",
            f" LEFT JOIN (VALUES {rows}) AS bodies(day, body) ON bodies.day = changed.expiry_day",
            f" WHERE cu.{phone} <> '' RETURNING {quoted_column(Notification, 'id')} AS id)",
            " SELECT ARRAY(SELECT id FROM changed ORDER BY id), ARRAY(SELECT id FROM sent ORDER BY id),",
        ]
        params += [step.purpose, *values.values(), *[p for item in step.bodies_by_day.items() for p in item]]
    else:
        sql.append(" SELECT ARRAY(SELECT id FROM changed ORDER BY id), ARRAY[]::bigint[],")
    sql.append(
        " (SELECT order_key FROM changed ORDER BY order_key DESC, id DESC LIMIT 1),"
        " (SELECT id FROM changed ORDER BY order_key DESC, id DESC LIMIT 1)"
    )
    with connection.cursor() as cursor:
        cursor.execute("".join(sql), params)
        certificates, notifications, last_key, last_id = cursor.fetchone()
    last = (last_key, last_id) if last_id is not None else None
    return _Chunk(list(certificates), list(notifications), last)


def _apply_chunk_portable(step: _Step, due: QuerySet[Certificate], chunk_size: int) -> _Chunk:
    """SQLite: this transaction is the only writer, so the rows read are the rows updated; the
    update repeats the predicate and any difference rolls the chunk back."""
    rows = list(due.values_list("pk", "customer__phone", "not_after")[:chunk_size])
    if not rows:
        return _Chunk([], [])
    ids = [row[0] for row in rows]
    still = Certificate.objects.filter(pk__in=ids, status=Status.VALID)
    if step.unset:
        still = still.filter(**{f"{step.unset}__isnull": True})
    updated = still.order_by().update(**step.updates)
    if updated != len(ids):
        raise RuntimeError(f"{updated} of {len(ids)} certificates changed while the chunk was being written")
    notifications: list[int] = []
    if step.purpose and step.bodies_by_day is not None:
        values = notification_bulk_row(now=timezone.now())
        batch = [
            Notification(to=phone, body=step.bodies_by_day[kst_today(not_after)], purpose=step.purpose, **values)
            for _pk, phone, not_after in rows
            if phone
        ]
        notifications = [n.pk for n in Notification.objects.bulk_create(batch)]
    return _Chunk(sorted(ids), notifications, (rows[-1][2], rows[-1][0]))


def _chunks(due: QuerySet[Certificate], chunk_size: int) -> int:
    return -(-due.count() // chunk_size)


# --- The job -------------------------------------------------------------------------------------


def certificates_daily(
    *, actor: Actor, now: dt.datetime | None = None, dry_run: bool = False, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> CertificateJobSummary:
    """Mark expired certificates, then send the renewal-window notices and the 7-day reminders.

    Each SMS is written in the transaction that records its stage, so it is sent exactly once per
    certificate and stage (see the module docstring). ``dry_run`` writes nothing and counts what
    would happen. Raises ``PermissionDenied`` unless the actor is a system actor holding
    ``certcenter.change_certificate``; ``ValueError`` for a chunk size outside 1–10,000.
    """
    require_perm(actor, NOTICES_PERMISSION)
    if not isinstance(actor, SystemActor):
        raise PermissionDenied(ERR_SYSTEM_ONLY)
    _check_chunk_size(chunk_size)
    now = now or timezone.now()
    as_of = now.replace(microsecond=0)
    today = kst_today(now)
    expired = _expired(as_of)
    families = (False, True)  # joint certificates, then financial ones
    renewal = {financial: _renewal_due(as_of, today, financial=financial) for financial in families}
    reminder = {financial: _reminder_due(as_of, today, financial=financial) for financial in families}
    if dry_run:
        return CertificateJobSummary(
            expired=expired.count(),
            # Dry run: what would be expired is not in the notice sets (not_after >= as_of) either.
            renewal_notices=sum(due.exclude(customer__phone="").count() for due in renewal.values()),
            expiry_reminders=sum(due.exclude(customer__phone="").count() for due in reminder.values()),
            chunks=_chunks(expired, chunk_size)
            + sum(_chunks(due, chunk_size) for due in [*renewal.values(), *reminder.values()]),
            dry_run=True,
        )
    details = {"today": today.isoformat()}
    expire = _Step(
        due=expired,
        updates={"status": Status.EXPIRED},
        action="certificate.expire_batch",
        details={**details, "expired_before": as_of.isoformat()},
    )
    steps = [
        _Step(
            due=renewal[financial],
            updates={"renewal_notice_sent_at": now},
            unset="renewal_notice_sent_at",
            action="certificate.renewal_notice_batch",
            purpose=PURPOSE_RENEWAL_NOTICE,
            bodies_by_day=_bodies(
                today,
                (_window_open_through(today, financial=financial) - today).days,
                renewal_notice_body,
                financial=financial,
            ),
            details={**details, "financial": financial},
        )
        for financial in families
    ]
    steps += [
        _Step(
            due=reminder[financial],
            updates={"expiry_reminder_sent_at": now},
            unset="expiry_reminder_sent_at",
            action="certificate.expiry_reminder_batch",
            purpose=PURPOSE_EXPIRY_REMINDER,
            bodies_by_day=_bodies(today, REMINDER_DAYS_BEFORE, expiry_reminder_body, financial=financial),
            details={**details, "financial": financial},
        )
        for financial in families
    ]
    expired_count, _none, chunks = _run(expire, actor=actor, chunk_size=chunk_size)
    notices = reminders = 0
    for step in steps:
        _changed, written, step_chunks = _run(step, actor=actor, chunk_size=chunk_size)
        chunks += step_chunks
        if step.purpose == PURPOSE_RENEWAL_NOTICE:
            notices += written
        else:
            reminders += written
    return CertificateJobSummary(
        expired=expired_count, renewal_notices=notices, expiry_reminders=reminders, chunks=chunks
    )
