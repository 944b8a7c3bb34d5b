"""The SQL of claiming: which due deliveries a worker takes, and whole groups with them.

Each claim marks rows as one worker's until a time; rows another worker is claiming right now
are skipped (SKIP LOCKED on PostgreSQL), never waited for.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from kizuna.core.status import DeliveryStatus
from kizuna.models import Delivery, Follow, Municipality, Subscriber

DELIVERY = Delivery.__table__
SUBSCRIBER = Subscriber.__table__
FOLLOW = Follow.__table__
MUNICIPALITY = Municipality.__table__
CONTENT = (DELIVERY.c.message_id, DELIVERY.c.variant, DELIVERY.c.stage_label)  # one text, mostly


def claim(
    connection: sa.Connection,
    condition: sa.ColumnElement[bool],
    *,
    limit: int,
    worker: str,
    until: datetime,
    by_content: bool = False,
) -> list[int]:
    """Mark up to `limit` deliveries meeting `condition` as this worker's, oldest first (or,
    `by_content`, message by message: everything claimed is due already, and identical texts
    then meet in one batch); rows another worker is claiming now are skipped, never waited for."""
    d = DELIVERY.c
    order = (*CONTENT, d.next_attempt_at) if by_content else (d.next_attempt_at,)
    chosen = (
        sa.select(d.id)
        .where(condition)
        .order_by(*order, d.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claim = (
        DELIVERY.update()
        .where(d.id.in_(chosen.scalar_subquery()))
        .values(status=DeliveryStatus.SENDING, claimed_by=worker, claimed_until=until)
        .returning(d.id)
    )
    return [row[0] for row in connection.execute(claim)]


def claim_same_content(
    connection: sa.Connection,
    condition: sa.ColumnElement[bool],
    content: tuple[str, str, str],
    *,
    worker: str,
    until: datetime,
) -> list[int]:
    """Claim the rest of one message, variant and stage that meet `condition`: a batch's last
    content, so that its identical texts are not cut in two requests by the batch's end."""
    d = DELIVERY.c
    same = sa.and_(*(column == value for column, value in zip(CONTENT, content, strict=True)))
    chosen = sa.select(d.id).where(condition, same).with_for_update(skip_locked=True)
    claim = (
        DELIVERY.update()
        .where(d.id.in_(chosen.scalar_subquery()))
        .values(status=DeliveryStatus.SENDING, claimed_by=worker, claimed_until=until)
        .returning(d.id)
    )
    return [row[0] for row in connection.execute(claim)]


def claim_group(
    connection: sa.Connection, keys: set[str], *, worker: str, until: datetime, now: datetime
) -> list[int]:
    """Claim the deliveries of these groups that the claim itself did not reach: planned, or
    claimed by a worker whose claim expired."""
    d = DELIVERY.c
    free = sa.or_(
        d.status == DeliveryStatus.PLANNED,
        sa.and_(d.status == DeliveryStatus.SENDING, d.claimed_until < now),
    )
    claim = (
        DELIVERY.update()
        .where(d.push_key.in_(sorted(keys)), free)
        .values(status=DeliveryStatus.SENDING, claimed_by=worker, claimed_until=until)
        .returning(d.id)
    )
    return [row[0] for row in connection.execute(claim)]


def held_elsewhere(
    connection: sa.Connection, keys: set[str], *, worker: str, now: datetime
) -> set[str]:
    """The groups of which another worker holds a part right now (two claims met mid-group)."""
    d = DELIVERY.c
    query = sa.select(d.push_key).where(
        d.push_key.in_(sorted(keys)), d.status == DeliveryStatus.SENDING,
        d.claimed_by != worker, d.claimed_until >= now,
    )  # fmt: skip
    return set(connection.execute(query).scalars())


def hand_back(connection: sa.Connection, keys: set[str], *, worker: str) -> None:
    """Our part of those groups goes back to planned, untried: a later claim takes it whole."""
    d = DELIVERY.c
    connection.execute(
        DELIVERY.update()
        .where(d.push_key.in_(sorted(keys)), d.claimed_by == worker)
        .values(status=DeliveryStatus.PLANNED, claimed_by=None, claimed_until=None)
    )


def first_try(through_local_date: date) -> sa.ColumnElement[bool]:
    """A manual run sends a day's deliveries whatever their hour, but only those never tried
    nor deferred (their next attempt is still their due time)."""
    d = DELIVERY.c
    return sa.and_(
        d.attempts == 0, d.next_attempt_at == d.due_at, d.local_date <= through_local_date
    )


def claimed_query(ids: list[int], *, dialect: str = "sqlite") -> sa.Select:
    """The claimed deliveries with what sending needs of their subscriber, follow and
    municipality.

    On PostgreSQL the ids drive the join, one array parameter unnested: given as a list
    (`id IN (...)`), the planner read the whole delivery table for every batch of 500, in a
    parallel scan (28 ms a batch at 1,000,000 subscribers, 7-11 ms this way; BENCHMARKS.md)."""
    d, s, f, m = DELIVERY.c, SUBSCRIBER.c, FOLLOW.c, MUNICIPALITY.c
    deliveries: sa.FromClause = DELIVERY
    chosen: list[sa.ColumnElement[bool]] = []
    if dialect == "postgresql":
        array = postgresql.ARRAY(sa.Integer)
        claimed = (
            sa.func.unnest(sa.bindparam("claimed_ids", ids, type_=array))
            .table_valued("id")
            .render_derived(name="claimed")
        )
        deliveries = claimed.join(DELIVERY, d.id == claimed.c.id)
    else:
        chosen.append(d.id.in_(ids))
    return (
        sa.select(
            d.id, d.subscriber_id, d.idempotency_key, d.message_id, d.variant, d.stage_label,
            d.attempts, s.channel, s.address, s.status, sa.func.coalesce(s.nickname, ""),
            sa.func.coalesce(m.name, ""), sa.func.coalesce(f.receives_local_info, False),
            s.consecutive_failures, s.locale, s.municipality_code,
            d.child_id, d.from_municipality, d.push_key, d.multicast,
        )
        .select_from(
            deliveries.join(SUBSCRIBER, s.id == d.subscriber_id)
            .outerjoin(FOLLOW, (f.subscriber_id == d.subscriber_id) & (f.child_id == d.child_id))
            .outerjoin(MUNICIPALITY)
        )
        .where(*chosen)
        .order_by(d.id)
    )  # fmt: skip
