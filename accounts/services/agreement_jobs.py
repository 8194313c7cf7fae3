"""E-banking agreement jobs (issue 7): lapse unregistered applications; dormancy notices and suspension.

Rules live in ``accounts.agreements`` (``dormancy_cutoff``, ``dormancy_notice_cutoff``,
``dormancy_date``; the registration deadline is stored on the row at application). This module
applies them to the whole table **set-based**: bounded chunks of at most ``chunk_size`` agreements
(default 5,000), one transaction per chunk, never one query per agreement. A chunk:

1. picks ids in index order after the previous chunk's last row (a keyset cursor, so no chunk
   re-reads what earlier ones changed): on PostgreSQL ``SELECT … LIMIT n FOR UPDATE SKIP LOCKED``,
   so two copies running at once split the work instead of waiting for or repeating each other,
   and a customer signing in at that moment (who holds the row) is left for the next night; on
   SQLite (one writer: every transaction is ``BEGIN IMMEDIATE``) a plain select;
2. updates exactly those rows with the state predicate repeated, returning the ids it changed;
3. writes the notices for exactly those ids in the same transaction (PostgreSQL: steps 1–3 are one
   statement, the notices an ``INSERT … SELECT``; SQLite: one bulk insert);
4. appends one audit event and commits; the notices are handed to the delivery worker after commit
   (``notification_dispatch_pending`` picks up any lost hand-off).

The loop ends when a chunk changes nothing. A notice is written only by the transaction that makes
the change it reports, so a second run, two runs at once, or a run killed half-way and started
again end in the same state with every notice written once: committed chunks stay done, the rest is
picked up by the next run.

**Audit choice:** one event per chunk, not per agreement (``agreement.lapse_batch``,
``agreement.dormancy_notice_batch``, ``agreement.suspend_batch``), with the system actor, the
``count`` and the sorted agreement ids in ``details["agreements"]``. It keeps each chunk to a
constant number of statements; an agreement's history is found by its id in those details.

**Dormancy:** an active agreement last used (``last_used_at``; ``registered_at`` if it has none,
which registration should never leave) on or before ``dormancy_cutoff(today)`` is suspended
(reason ``dormant``) with one SMS saying how to release it. One last used on or before
``dormancy_notice_cutoff(today)`` but not yet dormant gets one advance SMS naming its suspension
day (``dormancy_date``); ``dormancy_notice_sent_at`` records it and counts for the current cycle
only while it is later than the last use, so a use after the notice starts a new cycle with a new
notice. Suspension runs first and the notice predicate excludes dormant agreements, so one that
is already dormant (say the job was down for a month) is suspended, never told of a past date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from accounts import agreements as rules
from accounts.models import Agreement, Customer
from accounts.services._common import Actor, require_perm
from accounts.services.agreements import LAPSE_PERMISSION, SUSPEND_PERMISSION
from bankportal.actors import SystemActor
from bankportal.audit.services import audit_record
from bankportal.notifications.models import Notification
from bankportal.notifications.services import notification_bulk_row, notifications_dispatch_on_commit
from bankportal.sql import is_postgres, quoted_column
from bankportal.timeutil import KST, kst_today

State = Agreement.State
Reason = Agreement.SuspensionReason

DEFAULT_CHUNK_SIZE = 5_000
MAX_CHUNK_SIZE = 10_000

PURPOSE_DORMANCY_NOTICE = "agreement_dormancy_notice"
PURPOSE_DORMANT_SUSPENSION = "agreement_dormant_suspension"

# Translators: SMS 30 days before a dormancy suspension. Intended Korean: "[%(bank)s] 인터넷뱅킹을
# 12개월 가까이 이용하지 않으셔서 %(date)s에 이용이 일시정지됩니다. 계속 이용하시려면 그 전에 로그인해 주세요."
DORMANCY_NOTICE_SMS = _(
    "[%(bank)s] Internet banking has not been used for almost 12 months and will be suspended on "
    "%(date)s for no use. To keep it, sign in before then."
)
# Translators: SMS on a dormancy suspension. Intended Korean: "[%(bank)s] 12개월간 이용하지 않아
# 인터넷뱅킹 이용이 일시정지되었습니다. 해제는 인터넷뱅킹 보안센터 또는 영업점에서 하실 수 있습니다."
DORMANT_SUSPENSION_SMS = _(
    "[%(bank)s] Internet banking is suspended after 12 months without use. To release it, use the "
    "security centre online or visit a branch."
)

ERR_DORMANCY_SYSTEM_ONLY = "dormancy suspensions are automatic: only a system actor runs the sweep"


@dataclass(frozen=True)
class LapseSummary:
    """What ``agreements_lapse_due`` did (or, with ``dry_run``, would do)."""

    lapsed: int
    chunks: int
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class DormancySummary:
    """What ``agreements_dormancy_sweep`` did (or, with ``dry_run``, would do).

    ``notices``: advance notices written; ``suspended``: agreements suspended as dormant;
    ``suspension_notices``: suspension SMS written (one per suspension with a phone on file).
    """

    notices: int
    suspended: int
    suspension_notices: int
    chunks: int
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


# --- Message bodies (rendered in the bank's language: no request, no customer language) ----------


def dormancy_notice_body(suspension_day: dt.date) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return str(DORMANCY_NOTICE_SMS) % {"bank": settings.BANK_NAME_KO, "date": suspension_day.isoformat()}


def dormant_suspension_body() -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return str(DORMANT_SUSPENSION_SMS) % {"bank": settings.BANK_NAME_KO}


# --- Predicates ----------------------------------------------------------------------------------


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=KST)


@dataclass(frozen=True)
class _DormancyWindow:
    """Last uses before ``dormant_before`` are dormant; from it up to ``notice_before`` a notice is due."""

    dormancy_cutoff: dt.date
    notice_cutoff: dt.date

    @classmethod
    def on(cls, today: dt.date) -> _DormancyWindow:
        return cls(rules.dormancy_cutoff(today), rules.dormancy_notice_cutoff(today))

    @property
    def dormant_before(self) -> dt.datetime:
        return _day_start(self.dormancy_cutoff + dt.timedelta(days=1))

    @property
    def notice_before(self) -> dt.datetime:
        return _day_start(self.notice_cutoff + dt.timedelta(days=1))

    def notice_bodies(self) -> dict[dt.date, str]:
        """The advance-notice text for each last-use day in the notice window (about 30 days)."""
        bodies = {}
        day = self.dormancy_cutoff + dt.timedelta(days=1)
        while day <= self.notice_cutoff:
            bodies[day] = dormancy_notice_body(rules.dormancy_date(day))
            day += dt.timedelta(days=1)
        return bodies


# Every job works through parts that one index serves, each walked in its index order with a
# keyset cursor (a chunk starts after the last row the previous chunk changed, never re-reading it):
# agreements with a last use along (state, last_used_at); defensively, active ones without one
# (registration always sets it) by registered_at, along the primary key; applications along
# (state, registration_deadline).
# A large backlog (the first run, or after an outage) is walked along the primary key instead: in
# index order its rows lie scattered over the whole table, and touching each heap page once in
# physical order costs about half as much as visiting them at random; a nightly run reads only its
# few rows through the index, where a primary-key walk would read the whole table (the planner
# misjudges how few active agreements are old, so it must not choose). See docs/benchmarks.md.
BULK_ROWS = 50_000
BY_LAST_USE = "last_used_at"
BY_DEADLINE = "registration_deadline"
BY_ID = "pk"


@dataclass(frozen=True)
class _Part:
    due: QuerySet[Agreement]
    order: str  # BY_LAST_USE, BY_DEADLINE or BY_ID; ties broken by id


def _lapse_due(now: dt.datetime) -> list[_Part]:
    # registration_deadline is the last valid instant (D+4 23:59:59.999999 KST): due strictly after it.
    return [_Part(Agreement.objects.filter(state=State.APPLIED, registration_deadline__lt=now), BY_DEADLINE)]


def _dormant(window: _DormancyWindow) -> list[_Part]:
    active = Agreement.objects.filter(state=State.ACTIVE)
    before = window.dormant_before
    return [
        _Part(active.filter(last_used_at__lt=before), BY_LAST_USE),
        _Part(active.filter(last_used_at__isnull=True, registered_at__lt=before), BY_ID),
    ]


def _notice_due(window: _DormancyWindow) -> list[_Part]:
    """Not dormant yet, notice day reached, and no notice since the last use (this cycle)."""
    active = Agreement.objects.filter(state=State.ACTIVE)
    start, end = window.dormant_before, window.notice_before
    used = active.filter(last_used_at__gte=start, last_used_at__lt=end).filter(
        Q(dormancy_notice_sent_at__isnull=True) | Q(dormancy_notice_sent_at__lt=F("last_used_at"))
    )
    never_used = active.filter(last_used_at__isnull=True, registered_at__gte=start, registered_at__lt=end).filter(
        Q(dormancy_notice_sent_at__isnull=True) | Q(dormancy_notice_sent_at__lt=F("registered_at"))
    )
    return [_Part(used, BY_LAST_USE), _Part(never_used, BY_ID)]


def _count(parts: list[_Part], *, with_phone: bool = False) -> int:
    return sum((part.due.exclude(customer__phone="") if with_phone else part.due).count() for part in parts)


# --- The chunk loop ------------------------------------------------------------------------------


Cursor = tuple[Any, int]  # (value of the part's order field, id) of the last row changed


@dataclass(frozen=True)
class _Chunk:
    agreements: list[int]
    notifications: list[int]
    last: Cursor | None = None


@dataclass(frozen=True)
class _Step:
    """One kind of change: which rows, what to set, which SMS to write for each changed row."""

    parts: list[_Part]
    state: str  # the state the rows must still be in
    updates: dict[str, Any]
    action: str
    purpose: str = ""
    # Either one text for every row, or a text per KST last-use day.
    body: str = ""
    bodies_by_day: dict[dt.date, str] | None = None
    details: dict[str, Any] | None = None


def _check_chunk_size(chunk_size: int) -> None:
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE}, got {chunk_size}")


def _run(step: _Step, *, actor: Actor, chunk_size: int) -> tuple[int, int, int]:
    """Apply ``step`` part by part, chunk by chunk, until nothing is left; (rows changed, notices
    written, chunks). A row skipped because another run held it is that run's to change."""
    changed = notices = chunks = 0
    for part in step.parts:
        if part.order != BY_ID and part.due.count() >= BULK_ROWS:
            part = _Part(part.due, BY_ID)
        last: Cursor | None = None
        while True:
            chunk = _apply_chunk(step, _after(part, last), chunk_size=chunk_size, actor=actor)
            if not chunk.agreements:
                break
            changed += len(chunk.agreements)
            notices += len(chunk.notifications)
            chunks += 1
            last = chunk.last
    return changed, notices, chunks


def _after(part: _Part, last: Cursor | None) -> _Part:
    """The part's rows after ``last`` in its order (``>=`` on the field first, so the index range starts there)."""
    due = part.due
    if last is not None:
        value, pk = last
        if part.order == BY_ID:
            due = due.filter(pk__gt=pk)
        else:
            due = due.filter(**{f"{part.order}__gte": value}).filter(Q(**{f"{part.order}__gt": value}) | Q(pk__gt=pk))
    return _Part(due.order_by(part.order, "pk") if part.order != BY_ID else due.order_by("pk"), part.order)


@transaction.atomic
def _apply_chunk(step: _Step, part: _Part, *, chunk_size: int, actor: Actor) -> _Chunk:
    apply = _apply_chunk_postgres if is_postgres() else _apply_chunk_portable
    chunk = apply(step, part, chunk_size)
    if not chunk.agreements:
        return chunk
    audit_record(
        action=step.action,
        actor=actor,
        details={**(step.details or {}), "count": len(chunk.agreements), "agreements": chunk.agreements},
    )
    notifications_dispatch_on_commit(chunk.notifications)
    return chunk


def _apply_chunk_postgres(step: _Step, part: _Part, chunk_size: int) -> _Chunk:
    """Pick and lock, update, write the notices: one statement, so one round trip per chunk.

    The pick is ``FOR UPDATE SKIP LOCKED``: rows another run (or a sign-in) holds are left to it;
    a row changed and committed by someone else after this statement's snapshot is re-checked
    against the predicate by PostgreSQL before it is locked. The UPDATE repeats the state.
    """
    qn = connection.ops.quote_name
    picked = part.due.values("pk")[:chunk_size].select_for_update(skip_locked=True)
    picked_sql, picked_params = picked.query.sql_with_params()
    pk, state, customer = (
        quoted_column(Agreement, "id"),
        quoted_column(Agreement, "state"),
        quoted_column(Agreement, "customer"),
    )
    order = quoted_column(Agreement, "id" if part.order == BY_ID else part.order)
    sets = ", ".join(f"{quoted_column(Agreement, name)} = %s" for name in step.updates)
    last_use = f"COALESCE(a.{quoted_column(Agreement, 'last_used_at')}, a.{quoted_column(Agreement, 'registered_at')})"
    # Only quoted identifiers and the ORM's own SQL are formatted in; every value is a parameter.
    sql = [
        f"WITH picked (id) AS MATERIALIZED ({picked_sql}),",
        f" changed AS (UPDATE {qn(Agreement._meta.db_table)} AS a SET {sets} FROM picked",  # noqa: S608
        f" WHERE a.{pk} = picked.id AND a.{state} = %s",
        f" RETURNING a.{pk} AS id, a.{customer} AS customer_id, a.{order} AS order_key,",
        f" ({last_use} AT TIME ZONE %s)::date AS last_use_day)",
    ]
    params: list[Any] = [*picked_params, *step.updates.values(), step.state, str(KST)]
    if step.purpose:
        values = notification_bulk_row(now=timezone.now())
        columns = ", ".join(quoted_column(Notification, name) for name in ["key", "to", "body", "purpose", *values])
        # Parameters in the order their placeholders appear: the SELECT list, then the JOIN.
        body_sql, body_join, select_params, join_params = "%s", "", [step.body], []
        if step.bodies_by_day is not None:
            # LEFT JOIN: a day without a text would insert a NULL body, which the NOT NULL column
            # refuses, rolling the chunk back, rather than silently skipping a notice.
            rows = ", ".join(["(%s::date, %s)"] * len(step.bodies_by_day)) or "(NULL::date, NULL)"
            body_join = f" LEFT JOIN (VALUES {rows}) AS bodies(day, body) ON bodies.day = changed.last_use_day"
            body_sql, select_params = "bodies.body", []
            join_params = [p for item in step.bodies_by_day.items() for p in item]
        phone = quoted_column(Customer, "phone")
        sql += [
            f", sent AS (INSERT INTO {qn(Notification._meta.db_table)} ({columns})",
            f" SELECT gen_random_uuid(), c.{phone}, {body_sql}, %s, {', '.join(['%s'] * len(values))}",
            f" FROM changed JOIN {qn(Customer._meta.db_table)} AS c",
            f" ON c.{quoted_column(Customer, 'id')} = changed.customer_id",
            f"{body_join} WHERE c.{phone} <> '' RETURNING {quoted_column(Notification, 'id')} AS id)",
            " SELECT ARRAY(SELECT id FROM changed ORDER BY id), ARRAY(SELECT id FROM sent ORDER BY id),",
        ]
        params += [*select_params, step.purpose, *values.values(), *join_params]
    else:
        sql.append(" SELECT ARRAY(SELECT id FROM changed ORDER BY id), ARRAY[]::bigint[],")
    # The cursor: the last changed row in the part's order.
    sql.append(
        " (SELECT order_key FROM changed ORDER BY order_key DESC, id DESC LIMIT 1),"
        " (SELECT id FROM changed ORDER BY order_key DESC, id DESC LIMIT 1)"
    )
    with connection.cursor() as cursor:
        cursor.execute("".join(sql), params)
        agreements, notifications, last_key, last_id = cursor.fetchone()
    last = (last_key, last_id) if last_id is not None else None
    return _Chunk(list(agreements), list(notifications), last)


def _apply_chunk_portable(step: _Step, part: _Part, chunk_size: int) -> _Chunk:
    """SQLite: this transaction is the only writer (``BEGIN IMMEDIATE``), so the rows read are the
    rows updated; the update repeats the predicate and any difference rolls the chunk back."""
    rows = list(part.due.values_list("pk", "customer__phone", "last_used_at", "registered_at", part.order)[:chunk_size])
    if not rows:
        return _Chunk([], [])
    ids = [row[0] for row in rows]
    updated = part.due.filter(pk__in=ids, state=step.state).order_by().update(**step.updates)
    if updated != len(ids):
        raise RuntimeError(f"{updated} of {len(ids)} agreements changed while the chunk was being written")
    notifications: list[int] = []
    if step.purpose:
        values = notification_bulk_row(now=timezone.now())
        batch = []
        for _pk, phone, last_used_at, registered_at, _key in rows:
            if not phone:
                continue
            if step.bodies_by_day is not None:
                body = step.bodies_by_day[kst_today(last_used_at or registered_at)]
            else:
                body = step.body
            batch.append(Notification(to=phone, body=body, purpose=step.purpose, **values))
        notifications = [n.pk for n in Notification.objects.bulk_create(batch)]
    return _Chunk(sorted(ids), notifications, (rows[-1][4], rows[-1][0]))


def _chunks(parts: list[_Part], chunk_size: int) -> int:
    """How many chunks a run would take (each part in whole chunks)."""
    return sum(-(-part.due.count() // chunk_size) for part in parts)


# --- The jobs ------------------------------------------------------------------------------------


def agreements_lapse_due(
    *, actor: Actor, now: dt.datetime | None = None, dry_run: bool = False, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> LapseSummary:
    """Lapse every application not registered online by its deadline (D+4 23:59:59.999999 KST).

    From D+5 00:00 KST the customer must apply at a branch again. Set-based in chunks (see the
    module docstring); ``dry_run`` writes nothing and counts what would lapse. Raises
    ``PermissionDenied`` without ``accounts.change_agreement``; ``ValueError`` for a chunk size
    outside 1–10,000.
    """
    require_perm(actor, LAPSE_PERMISSION)
    _check_chunk_size(chunk_size)
    now = now or timezone.now()
    if dry_run:
        parts = _lapse_due(now)
        return LapseSummary(lapsed=_count(parts), chunks=_chunks(parts, chunk_size), dry_run=True)
    step = _Step(
        parts=_lapse_due(now),
        state=State.APPLIED,
        updates={"state": State.LAPSED, "lapsed_at": now},
        action="agreement.lapse_batch",
        details={"as_of": now.isoformat()},
    )
    lapsed, _notices, chunks = _run(step, actor=actor, chunk_size=chunk_size)
    return LapseSummary(lapsed=lapsed, chunks=chunks)


def agreements_dormancy_sweep(
    *, actor: Actor, now: dt.datetime | None = None, dry_run: bool = False, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> DormancySummary:
    """Suspend dormant agreements (12 calendar months without use) and send the advance notices.

    First every active agreement dormant on the KST day of ``now`` is suspended (reason
    ``dormant``, SMS on how to release it); then every active one whose notice day (30 days before
    its dormancy day) has come and that has had no notice since its last use gets the advance
    SMS naming the suspension day. Each SMS is written in the transaction of the change it reports,
    so it is sent exactly once. ``dry_run`` writes nothing and counts what would happen. Raises
    ``PermissionDenied`` unless the actor is a system actor holding ``accounts.suspend_agreement``
    (dormancy is automatic); ``ValueError`` for a chunk size outside 1–10,000.
    """
    require_perm(actor, SUSPEND_PERMISSION)
    if not isinstance(actor, SystemActor):
        raise PermissionDenied(ERR_DORMANCY_SYSTEM_ONLY)
    _check_chunk_size(chunk_size)
    now = now or timezone.now()
    window = _DormancyWindow.on(kst_today(now))
    if dry_run:
        return _dormancy_dry_run(window, chunk_size)
    today = kst_today(now).isoformat()
    suspend = _Step(
        parts=_dormant(window),
        state=State.ACTIVE,
        updates={"state": State.SUSPENDED, "suspension_reason": Reason.DORMANT, "suspended_at": now},
        action="agreement.suspend_batch",
        purpose=PURPOSE_DORMANT_SUSPENSION,
        body=dormant_suspension_body(),
        details={
            "reason": Reason.DORMANT,
            "today": today,
            "last_used_on_or_before": window.dormancy_cutoff.isoformat(),
        },
    )
    notice = _Step(
        parts=_notice_due(window),
        state=State.ACTIVE,
        updates={"dormancy_notice_sent_at": now},
        action="agreement.dormancy_notice_batch",
        purpose=PURPOSE_DORMANCY_NOTICE,
        bodies_by_day=window.notice_bodies(),
        details={"today": today, "last_used_on_or_before": window.notice_cutoff.isoformat()},
    )
    suspended, suspension_notices, suspend_chunks = _run(suspend, actor=actor, chunk_size=chunk_size)
    _noticed, notices, notice_chunks = _run(notice, actor=actor, chunk_size=chunk_size)
    return DormancySummary(
        notices=notices,
        suspended=suspended,
        suspension_notices=suspension_notices,
        chunks=suspend_chunks + notice_chunks,
    )


def _dormancy_dry_run(window: _DormancyWindow, chunk_size: int) -> DormancySummary:
    return DormancySummary(
        notices=_count(_notice_due(window), with_phone=True),
        suspended=_count(_dormant(window)),
        suspension_notices=_count(_dormant(window), with_phone=True),
        chunks=_chunks(_dormant(window), chunk_size) + _chunks(_notice_due(window), chunk_size),
        dry_run=True,
    )
