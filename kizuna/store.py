"""The SQL store: what the planner and the dispatcher need, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

import sqlalchemy as sa

from kizuna import claims, consent, driver_rows
from kizuna.bulk_insert import insert_deliveries
from kizuna.consent import ConsentEvent
from kizuna.core.due import DueDates
from kizuna.core.stage import latest_preterm_birth
from kizuna.core.status import DeliveryStatus, SubscriberStatus
from kizuna.dispatcher import Claimed, Outcome
from kizuna.models import Child, Delivery, Follow, Municipality, Subscriber, UTCDateTime
from kizuna.municipalities import local_info_by_code, sender_labels
from kizuna.planner import FollowRow, NewDelivery, PlanScope

DELIVERY = Delivery.__table__
SUBSCRIBER = Subscriber.__table__
CHILD = Child.__table__
FOLLOW = Follow.__table__
MUNICIPALITY = Municipality.__table__


class SqlStore:
    """Planner and dispatcher storage over one engine (or one connection, for a dry run)."""

    def __init__(self, bind: sa.Engine | sa.Connection) -> None:
        self._bind = bind

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        if isinstance(self._bind, sa.Engine):
            with self._bind.begin() as connection:
                yield connection
        else:  # the caller owns the transaction (a dry run rolls it back)
            yield self._bind

    # -- planning ---------------------------------------------------------------------------

    @property
    def reads_apart(self) -> bool:
        """True when long reads have a connection of their own (an engine, not a caller's
        connection): planning may then read ahead in a thread while it writes."""
        return isinstance(self._bind, sa.Engine)

    def follows_to_plan(self, *, scope: PlanScope, batch_size: int) -> Iterator[list[FollowRow]]:
        """Active follows in scope, streamed in batches (never the whole table in memory).

        With a date filter the database starts from the few children whose dates can make a
        message due (indexed) and joins their follows; it never reads every follow.
        """
        query = follows_query(scope)
        with self._read() as connection:
            if connection.dialect.name == "postgresql":
                # A cursor is planned for its first rows by default (cursor_tuple_fraction
                # 0.1): a nested loop over every follow. All rows are read: plan for that.
                connection.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1.0")
            for rows in driver_rows.stream(connection, query, batch_size):
                yield list(map(FollowRow._make, rows))

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        """A connection of its own for a long read, so writes meanwhile commit as they go."""
        if isinstance(self._bind, sa.Engine):
            with self._bind.connect() as connection:
                yield connection
        else:
            yield self._bind

    def last_follow_id(self) -> int:
        with self._tx() as connection:
            return connection.execute(sa.select(sa.func.max(FOLLOW.c.id))).scalar() or 0

    def timezones(self, *, default: str, child_id: int | None = None) -> list[str]:
        """The effective time zones of active subscribers (theirs, their municipality's, else
        the deployment's), of all or of one child's followers."""
        s, m, f = SUBSCRIBER.c, MUNICIPALITY.c, FOLLOW.c
        zone = sa.func.coalesce(s.timezone, m.timezone, default)
        query = (
            sa.select(zone)
            .select_from(SUBSCRIBER.outerjoin(MUNICIPALITY))
            .where(s.status == SubscriberStatus.ACTIVE)
            .distinct()
        )
        if child_id is not None:
            query = query.where(s.id.in_(sa.select(f.subscriber_id).where(f.child_id == child_id)))
        with self._tx() as connection:
            return sorted(row[0] for row in connection.execute(query))

    def add_deliveries(self, deliveries: list[NewDelivery], *, now: datetime) -> int:
        planned = DeliveryStatus.PLANNED.value
        rows = [
            (
                d.subscriber_id,
                d.child_id,
                d.message_id,
                d.track,
                d.variant,
                d.fallback_from,
                d.stage_label,
                d.local_date,
                d.due_at,
                planned,
                d.idempotency_key,
                0,
                d.due_at,
                now,
                d.from_municipality,
            )
            for d in deliveries
        ]  # fmt: skip  (in the order of bulk_insert.INSERT_COLUMNS)
        with self._tx() as connection:
            added = insert_deliveries(connection, rows)
            if len(added) < len(rows):
                _note_already_sent(
                    connection, [d for d in deliveries if d.idempotency_key not in added]
                )
        return len(added)

    # -- dispatching ------------------------------------------------------------------------

    def claim(
        self,
        *,
        now: datetime,
        through_local_date: date | None,
        limit: int,
        worker: str,
        until: datetime,
        by_content: bool = False,
    ) -> list[Claimed]:
        """Mark up to `limit` due deliveries as ours until `until`, and return them.

        `by_content` (multicast mode) claims the same message, variant and stage together,
        so that identical texts meet in one batch; it sorts what is due, where the plain claim
        walks the claim index and stops at `limit`."""
        d = DELIVERY.c
        due = sa.and_(d.status == DeliveryStatus.PLANNED, d.next_attempt_at <= now)
        if through_local_date is not None:  # a manual run: the whole day, whatever the hour
            first_try = claims.first_try(through_local_date)
            due = sa.and_(
                d.status == DeliveryStatus.PLANNED, sa.or_(first_try, d.next_attempt_at <= now)
            )
        expired = sa.and_(d.status == DeliveryStatus.SENDING, d.claimed_until < now)
        # Expired claims first, then what is due: one condition per query, so that each walks
        # the claim index in order and stops at `limit` (with the two ORed, every claim read
        # and sorted all the day's due rows: BENCHMARKS.md).
        with self._tx() as connection:

            def read(chosen: list[int]) -> list[sa.Row]:
                if not chosen:
                    return []
                query = claims.claimed_query(chosen, dialect=connection.dialect.name)
                return list(connection.execute(query).all())

            ids = claims.claim(connection, expired, limit=limit, worker=worker, until=until)
            fresh: set[int] = set()
            if len(ids) < limit:
                left = limit - len(ids)
                fresh.update(claims.claim(connection, due, limit=left, worker=worker,
                                          until=until, by_content=by_content))  # fmt: skip
                ids += fresh
            if not ids:
                return []
            rows = read(ids)
            contents = [(row.message_id, row.variant, row.stage_label) for row in rows
                        if row.id in fresh and row.push_key is None]  # fmt: skip
            if by_content and contents and len(ids) >= limit:
                more = claims.claim_same_content(connection, due, max(contents), worker=worker,
                                                 until=until)  # fmt: skip
                fresh.update(more)
                rows += read(more)
            keys = {row.push_key for row in rows if row.push_key is not None}
            if keys:  # a group goes again whole, even if the claim's limit cut it
                rest = claims.claim_group(connection, keys, worker=worker, until=until, now=now)
                rows += read(rest)
                held = claims.held_elsewhere(connection, keys, worker=worker, now=now)
                if held:  # sent in part, its key would make LINE drop the other part as sent
                    rows = [row for row in rows if row.push_key not in held]
                    claims.hand_back(connection, held, worker=worker)
        return [
            Claimed(*row, fresh=row.id in fresh and row.attempts == 0 and row.push_key is None)
            for row in rows
        ]

    def set_push_keys(self, groups: list[tuple[str, bool, list[int]]]) -> None:
        d = DELIVERY.c
        statement = (
            DELIVERY.update()
            .where(d.id == sa.bindparam("b_id"))
            .values(push_key=sa.bindparam("b_key"), multicast=sa.bindparam("b_multicast"))
        )
        rows = [{"b_id": i, "b_key": key, "b_multicast": multicast}
                for key, multicast, ids in groups for i in ids]  # fmt: skip
        with self._tx() as connection:
            connection.execute(statement, rows)

    def record(self, outcomes: list[Outcome], *, worker: str, now: datetime) -> None:
        """Record what became of claimed deliveries, in one transaction.

        One executemany per statement, not two statements per delivery: recording a batch
        costs about what sending it does otherwise (see BENCHMARKS.md).
        """
        if not outcomes:
            return
        sent = [o.delivery_id for o in outcomes if _plainly_sent(o)]
        rest = [_recorded(o, worker, now) for o in outcomes if not _plainly_sent(o)]
        with self._tx() as connection:
            # Most of a batch went out at its first try: one statement for all of those.
            if sent:
                connection.execute(RECORD_SENT, {"b_ids": sent, "b_worker": worker, "b_now": now})
            if rest:
                connection.execute(RECORD_DELIVERY, rest)
            reset, added = _failure_counts(outcomes)
            if reset:
                connection.execute(SET_FAILURES, [{"b_id": k, "b_n": n} for k, n in reset.items()])
            if added:
                connection.execute(ADD_FAILURES, [{"b_id": k, "b_n": n} for k, n in added.items()])
            for outcome in outcomes:
                stopped = (
                    SubscriberStatus.GONE if outcome.subscriber_gone
                    else SubscriberStatus.PAUSED if outcome.subscriber_paused
                    else None
                )  # fmt: skip
                if stopped is not None:
                    set_subscriber_status(
                        connection, outcome.subscriber_id, stopped,
                        reason=outcome.error or str(stopped), now=now,
                    )  # fmt: skip

    def release(self, delivery_ids: list[int], *, worker: str) -> None:
        d = DELIVERY.c
        with self._tx() as connection:
            connection.execute(
                DELIVERY.update()
                .where(d.id.in_(delivery_ids), d.claimed_by == worker,
                       d.status == DeliveryStatus.SENDING)
                .values(status=DeliveryStatus.PLANNED, claimed_by=None, claimed_until=None)
            )  # fmt: skip

    def count_due(self, *, now: datetime, through_local_date: date | None, channel: str) -> int:
        """Planned deliveries of one channel that a run at `now` would send."""
        d, s = DELIVERY.c, SUBSCRIBER.c
        due = d.next_attempt_at <= now
        if through_local_date is not None:
            due = sa.or_(due, claims.first_try(through_local_date))
        query = (
            sa.select(sa.func.count())
            .select_from(DELIVERY.join(SUBSCRIBER))
            .where(d.status == DeliveryStatus.PLANNED, s.channel == channel, due)
        )
        with self._tx() as connection:
            return connection.execute(query).scalar_one()

    def local_info(self, codes: set[str]) -> dict[str, dict[str, str]]:
        with self._tx() as connection:
            return local_info_by_code(connection, codes)

    def senders(self, codes: set[str]) -> dict[str, str]:
        with self._tx() as connection:
            return sender_labels(connection, codes)

    def skip_stale(self, *, due_before: datetime, reason: str) -> int:
        """Skip what is too late to send: after downtime, catch up without a flood."""
        d = DELIVERY.c
        statement = (
            DELIVERY.update()
            .where(d.status == DeliveryStatus.PLANNED, d.due_at < due_before)
            .values(status=DeliveryStatus.SKIPPED, skip_reason=reason)
        )
        with self._tx() as connection:
            return connection.execute(statement).rowcount


def _note_already_sent(connection: sa.Connection, conflicts: list[NewDelivery]) -> None:
    """A message due again after a date change was sent before: it is not sent twice, and
    the skip is recorded on the delivery that went out."""
    d = DELIVERY.c
    statement = (
        DELIVERY.update()
        .where(
            d.subscriber_id == sa.bindparam("s"), d.child_id == sa.bindparam("c"),
            d.message_id == sa.bindparam("m"), d.local_date != sa.bindparam("day"),
            d.status == DeliveryStatus.SENT,
        )
        .values(skip_reason=sa.bindparam("reason"))
    )  # fmt: skip
    connection.execute(statement, [
        {"s": r.subscriber_id, "c": r.child_id, "m": r.message_id,
         "day": r.local_date, "reason": f"due again on {r.local_date}: not sent twice"}
        for r in conflicts
    ])  # fmt: skip


# Only the worker holding the claim may record: a claim that expired and was taken by
# another worker belongs to that worker now. A next attempt or a sent time, when given,
# replaces the stored one.
RECORD_DELIVERY = (
    DELIVERY.update()
    .where(DELIVERY.c.id == sa.bindparam("b_id"), DELIVERY.c.claimed_by == sa.bindparam("b_worker"))
    .values(
        status=sa.bindparam("b_status"), attempts=sa.bindparam("b_attempts"),
        last_error=sa.bindparam("b_error"), skip_reason=sa.bindparam("b_skip"),
        claimed_by=None, claimed_until=None,
        next_attempt_at=sa.func.coalesce(
            sa.bindparam("b_next", type_=UTCDateTime()), DELIVERY.c.next_attempt_at
        ),
        sent_at=sa.func.coalesce(sa.bindparam("b_sent", type_=UTCDateTime()), DELIVERY.c.sent_at),
    )
)  # fmt: skip
RECORD_SENT = (
    DELIVERY.update()
    .where(
        DELIVERY.c.id.in_(sa.bindparam("b_ids", expanding=True)),
        DELIVERY.c.claimed_by == sa.bindparam("b_worker"),
    )
    .values(
        status=DeliveryStatus.SENT, attempts=DELIVERY.c.attempts + 1, last_error=None,
        skip_reason=None, claimed_by=None, claimed_until=None,
        sent_at=sa.bindparam("b_now", type_=UTCDateTime()),
    )
)  # fmt: skip
SET_FAILURES = (
    SUBSCRIBER.update()
    .where(SUBSCRIBER.c.id == sa.bindparam("b_id"))
    .values(consecutive_failures=sa.bindparam("b_n"))
)
ADD_FAILURES = (
    SUBSCRIBER.update()
    .where(SUBSCRIBER.c.id == sa.bindparam("b_id"))
    .values(consecutive_failures=SUBSCRIBER.c.consecutive_failures + sa.bindparam("b_n"))
)


def _plainly_sent(outcome: Outcome) -> bool:
    """Sent, with nothing else to record: the claim's attempt count plus one, as stored."""
    return outcome.status == DeliveryStatus.SENT and outcome.error is None


def _recorded(outcome: Outcome, worker: str, now: datetime) -> dict[str, object]:
    return {
        "b_id": outcome.delivery_id, "b_worker": worker, "b_status": outcome.status,
        "b_attempts": outcome.attempts, "b_error": outcome.error,
        "b_skip": outcome.skip_reason, "b_next": outcome.next_attempt_at,
        "b_sent": now if outcome.status == DeliveryStatus.SENT else None,
    }  # fmt: skip


def _failure_counts(outcomes: list[Outcome]) -> tuple[dict[int, int], dict[int, int]]:
    """Failures in a row per subscriber after this batch, as if recorded one by one: a sent
    delivery resets the count to 0, a failed one adds 1. Returns (subscribers whose count is
    now exactly n, subscribers whose count grows by n)."""
    reset: dict[int, int] = {}
    added: dict[int, int] = {}
    for outcome in outcomes:
        sid = outcome.subscriber_id
        if outcome.status == DeliveryStatus.SENT:
            reset[sid] = 0
            added.pop(sid, None)
        elif outcome.status == DeliveryStatus.FAILED:
            if sid in reset:
                reset[sid] += 1
            else:
                added[sid] = added.get(sid, 0) + 1
    return reset, added


def follows_query(scope: PlanScope) -> sa.Select:
    """The select of `SqlStore.follows_to_plan`."""
    s, c, f, m = SUBSCRIBER.c, CHILD.c, FOLLOW.c, MUNICIPALITY.c
    zone = sa.func.coalesce(s.timezone, m.timezone)
    query = (
        sa.select(
            f.id, f.subscriber_id, f.child_id, f.role, s.variant,
            zone,
            sa.func.coalesce(s.delivery_hour, m.delivery_hour),
            c.due_date, c.birth_date, c.loss_date, f.loss_support, _since(f.since, scope),
            s.municipality_code, f.receives_local_info,
        )
        .select_from(CHILD.join(FOLLOW).join(SUBSCRIBER).outerjoin(MUNICIPALITY))
        # Without statistics SQLite would start from the status index and read every
        # active subscriber, not the few children with a date today.
        .where(_filter_only(s.status) == SubscriberStatus.ACTIVE)
    )  # fmt: skip
    if scope.after_follow_id:
        query = query.where(f.id > scope.after_follow_id)
    if scope.timezone is not None:
        query = query.where(sa.func.coalesce(zone, scope.default_timezone) == scope.timezone)
    if scope.child_id is not None:
        query = query.where(f.child_id == scope.child_id)
    if scope.dates is not None:
        query = query.where(_due_children(scope.dates))
        if scope.dates.roles_of_due_dates:
            query = query.where(_role_may_be_due(scope.dates))
    return query


def _filter_only(column: sa.ColumnElement) -> sa.ColumnElement:
    """The column's value, which no index can serve: a condition on it is a filter, never
    where the database starts reading (`coalesce(x, x)` is `x`)."""
    return sa.func.coalesce(column, column)


def _since(since: sa.ColumnElement, scope: PlanScope) -> sa.ColumnElement:
    """A follow's start, only where planning needs it: reading a time costs more than the
    comparison (planning's profile)."""
    if scope.since_after is None:
        return since
    later = since > sa.bindparam("since_after", scope.since_after, type_=UTCDateTime())
    return sa.type_coerce(sa.case((later, since), else_=sa.null()), UTCDateTime())


def _due_children(dates: DueDates) -> sa.ColumnElement[bool]:
    """Children with a date in `dates`, each term by its own index. (No other condition on
    the child is a bare column: without statistics SQLite would read `birth_date IS NULL`
    by the birth date index, every unborn child.)"""
    c = CHILD.c
    birth = _filter_only(c.birth_date)
    terms: list[sa.ColumnElement[bool]] = []
    if dates.due_dates:
        terms.append(sa.and_(c.due_date.in_(dates.due_dates), birth.is_(None)))
    # Corrected age counts only for a child born preterm: per due date, the births before it.
    terms += [sa.and_(c.due_date == due, birth <= latest_preterm_birth(due))
              for due in sorted(dates.corrected_dates)]  # fmt: skip
    # An empty IN is no index lookup at all: such a term is left out.
    for values, column in [(dates.birth_dates, c.birth_date), (dates.loss_dates, c.loss_date)]:
        if values:
            terms.append(column.in_(values))
    return sa.or_(sa.false(), *terms)


def _role_may_be_due(dates: DueDates) -> sa.ColumnElement[bool]:
    """Leaves out the followers of an unborn child whose role has nothing due on its due date
    (a partner's message: not the grandparents). A filter after the join, never an index;
    false rather than NULL for a missing date."""
    c, f = CHILD.c, FOLLOW.c
    unborn = sa.and_(_filter_only(c.birth_date).is_(None), _filter_only(c.loss_date).is_(None))
    idle = sa.or_(*(sa.and_(_filter_only(c.due_date).in_(sorted(days)),
                            f.role.not_in(sorted(role.value for role in roles)))
                    for roles, days in dates.roles_of_due_dates))  # fmt: skip
    return sa.not_(sa.func.coalesce(sa.and_(unborn, idle), sa.false()))


def set_subscriber_status(
    connection: sa.Connection,
    subscriber_id: int,
    status: SubscriberStatus,
    *,
    reason: str,
    now: datetime,
) -> int:
    """Change a subscriber's status; leaving `active` cancels everything still planned.

    Stopping withdraws consent, and resuming after a stop gives it again: both are recorded.
    """
    s, d = SUBSCRIBER.c, DELIVERY.c
    before = connection.execute(
        sa.select(s.status, s.consent_version).where(s.id == subscriber_id)
    ).first()
    connection.execute(
        SUBSCRIBER.update()
        .where(s.id == subscriber_id)
        .values(status=status, status_reason=reason, status_changed_at=now)
    )
    if before is not None and before.status != status:
        if status == SubscriberStatus.STOPPED:
            consent.record(connection, subscriber_id, ConsentEvent.WITHDRAWN, at=now)
        elif status == SubscriberStatus.ACTIVE and before.status == SubscriberStatus.STOPPED:
            consent.record(connection, subscriber_id, ConsentEvent.GIVEN, at=now,
                           version=before.consent_version)  # fmt: skip
    if status == SubscriberStatus.ACTIVE:
        return 0
    return connection.execute(
        DELIVERY.update()
        .where(d.subscriber_id == subscriber_id, d.status == DeliveryStatus.PLANNED)
        .values(status=DeliveryStatus.CANCELLED, skip_reason=f"subscriber {status}")
    ).rowcount


def cancel_planned(
    connection: sa.Connection, *, child_id: int, reason: str, track: str | None = None
) -> int:
    """Cancel a child's deliveries not yet sent (of one track, or all); returns how many."""
    d = DELIVERY.c
    condition = sa.and_(d.child_id == child_id, d.status == DeliveryStatus.PLANNED)
    if track is not None:
        condition = sa.and_(condition, d.track == track)
    statement = (
        DELIVERY.update()
        .where(condition)
        .values(status=DeliveryStatus.CANCELLED, skip_reason=reason)
    )
    return connection.execute(statement).rowcount
