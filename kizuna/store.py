"""The SQL store: what the planner and the dispatcher need, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kizuna.core.status import DeliveryStatus, SubscriberStatus
from kizuna.dispatcher import Claimed, Outcome
from kizuna.models import Child, Delivery, Follow, Municipality, Subscriber
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

    def _insert(self):
        dialect = self._dialect()
        module = postgresql if dialect == "postgresql" else sqlite
        return module.insert(DELIVERY)

    def _dialect(self) -> str:
        engine = self._bind if isinstance(self._bind, sa.Engine) else self._bind.engine
        return engine.dialect.name

    # -- planning ---------------------------------------------------------------------------

    def follows_to_plan(self, *, after_id: int, limit: int, scope: PlanScope) -> list[FollowRow]:
        s, c, f, m = SUBSCRIBER.c, CHILD.c, FOLLOW.c, MUNICIPALITY.c
        zone = sa.func.coalesce(s.timezone, m.timezone)
        query = (
            sa.select(
                f.id, f.subscriber_id, f.child_id, f.role, s.variant,
                zone,
                sa.func.coalesce(s.delivery_hour, m.delivery_hour),
                c.due_date, c.birth_date, c.loss_date, f.loss_support, f.since,
            )
            .select_from(FOLLOW.join(SUBSCRIBER).join(CHILD).outerjoin(MUNICIPALITY))
            .where(f.id > after_id, s.status == SubscriberStatus.ACTIVE)
            .order_by(f.id)
            .limit(limit)
        )  # fmt: skip
        if scope.timezone is not None:
            query = query.where(sa.func.coalesce(zone, scope.default_timezone) == scope.timezone)
        if scope.child_id is not None:
            query = query.where(f.child_id == scope.child_id)
        if scope.dates is not None:
            query = query.where(
                sa.or_(
                    c.due_date.in_(scope.dates.due_dates),
                    c.birth_date.in_(scope.dates.birth_dates),
                    c.loss_date.in_(scope.dates.loss_dates),
                )
            )
        with self._tx() as connection:
            return [FollowRow(*row) for row in connection.execute(query)]

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
        rows = [
            {**_as_dict(d), "status": DeliveryStatus.PLANNED, "attempts": 0,
             "next_attempt_at": d.due_at, "created_at": now}
            for d in deliveries
        ]  # fmt: skip
        # RETURNING tells what was new on every database (executemany's rowcount is -1 on
        # psycopg); rows that met a conflict return nothing.
        statement = self._insert().on_conflict_do_nothing().returning(DELIVERY.c.idempotency_key)
        with self._tx() as connection:
            added = set(connection.execute(statement, rows).scalars())
            if len(added) < len(rows):
                _note_already_sent(
                    connection, [r for r in rows if r["idempotency_key"] not in added]
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
    ) -> list[Claimed]:
        """Mark up to `limit` due deliveries as ours until `until`, and return them."""
        d = DELIVERY.c
        due = sa.and_(d.status == DeliveryStatus.PLANNED, d.next_attempt_at <= now)
        if through_local_date is not None:  # a manual run: the whole day, whatever the hour
            first_try = _first_try(through_local_date)
            due = sa.and_(
                d.status == DeliveryStatus.PLANNED, sa.or_(first_try, d.next_attempt_at <= now)
            )
        expired = sa.and_(d.status == DeliveryStatus.SENDING, d.claimed_until < now)
        chosen = (
            sa.select(d.id)
            .where(sa.or_(due, expired))
            .order_by(d.next_attempt_at, d.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claim = (
            DELIVERY.update()
            .where(d.id.in_(chosen.scalar_subquery()))
            .values(status=DeliveryStatus.SENDING, claimed_by=worker, claimed_until=until)
            .returning(d.id)
        )
        with self._tx() as connection:
            ids = [row[0] for row in connection.execute(claim)]
            if not ids:
                return []
            return [Claimed(*row) for row in connection.execute(_claimed_query(ids))]

    def record(self, outcomes: list[Outcome], *, worker: str, now: datetime) -> None:
        """Record what became of claimed deliveries, in one transaction."""
        d, s = DELIVERY.c, SUBSCRIBER.c
        with self._tx() as connection:
            for outcome in outcomes:
                values = {
                    "status": outcome.status, "attempts": outcome.attempts,
                    "last_error": outcome.error, "skip_reason": outcome.skip_reason,
                    "claimed_by": None, "claimed_until": None,
                }  # fmt: skip
                if outcome.next_attempt_at is not None:
                    values["next_attempt_at"] = outcome.next_attempt_at
                if outcome.status == DeliveryStatus.SENT:
                    values["sent_at"] = now
                # Only the worker holding the claim may record: a claim that expired and was
                # taken by another worker belongs to that worker now.
                connection.execute(
                    DELIVERY.update()
                    .where(d.id == outcome.delivery_id, d.claimed_by == worker)
                    .values(**values)
                )
                failures = (
                    0 if outcome.status == DeliveryStatus.SENT else s.consecutive_failures + 1
                )
                if outcome.status in (DeliveryStatus.SENT, DeliveryStatus.FAILED):
                    connection.execute(
                        SUBSCRIBER.update()
                        .where(s.id == outcome.subscriber_id)
                        .values(consecutive_failures=failures)
                    )
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

    def count_due(self, *, now: datetime, through_local_date: date | None, channel: str) -> int:
        """Planned deliveries of one channel that a run at `now` would send."""
        d, s = DELIVERY.c, SUBSCRIBER.c
        due = d.next_attempt_at <= now
        if through_local_date is not None:
            due = sa.or_(due, _first_try(through_local_date))
        query = (
            sa.select(sa.func.count())
            .select_from(DELIVERY.join(SUBSCRIBER))
            .where(d.status == DeliveryStatus.PLANNED, s.channel == channel, due)
        )
        with self._tx() as connection:
            return connection.execute(query).scalar_one()

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


def _note_already_sent(connection: sa.Connection, conflicts: list[dict]) -> None:
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
        {"s": r["subscriber_id"], "c": r["child_id"], "m": r["message_id"],
         "day": r["local_date"], "reason": f"due again on {r['local_date']}: not sent twice"}
        for r in conflicts
    ])  # fmt: skip


def _first_try(through_local_date: date) -> sa.ColumnElement[bool]:
    """A manual run sends a day's deliveries whatever their hour, but only those never tried
    nor deferred (their next attempt is still their due time)."""
    d = DELIVERY.c
    return sa.and_(
        d.attempts == 0, d.next_attempt_at == d.due_at, d.local_date <= through_local_date
    )


NEW_DELIVERY_FIELDS = tuple(f.name for f in fields(NewDelivery))


def _as_dict(delivery: NewDelivery) -> dict[str, object]:
    return {name: getattr(delivery, name) for name in NEW_DELIVERY_FIELDS}


def _claimed_query(ids: list[int]) -> sa.Select:
    d, s, f, m = DELIVERY.c, SUBSCRIBER.c, FOLLOW.c, MUNICIPALITY.c
    return (
        sa.select(
            d.id, d.subscriber_id, d.idempotency_key, d.message_id, d.variant, d.stage_label,
            d.attempts, s.channel, s.address, s.status, sa.func.coalesce(s.nickname, ""),
            sa.func.coalesce(m.name, ""), sa.func.coalesce(f.receives_local_info, False),
            s.consecutive_failures, s.locale,
        )
        .select_from(
            DELIVERY.join(SUBSCRIBER)
            .outerjoin(FOLLOW, (f.subscriber_id == d.subscriber_id) & (f.child_id == d.child_id))
            .outerjoin(MUNICIPALITY)
        )
        .where(d.id.in_(ids))
        .order_by(d.id)
    )  # fmt: skip


def set_subscriber_status(
    connection: sa.Connection,
    subscriber_id: int,
    status: SubscriberStatus,
    *,
    reason: str,
    now: datetime,
) -> int:
    """Change a subscriber's status; leaving `active` cancels everything still planned."""
    s, d = SUBSCRIBER.c, DELIVERY.c
    connection.execute(
        SUBSCRIBER.update()
        .where(s.id == subscriber_id)
        .values(status=status, status_reason=reason, status_changed_at=now)
    )
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
