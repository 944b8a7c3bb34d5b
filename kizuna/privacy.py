"""A parent's data: everything held about a subscriber (export), and erasing it (forget).

Erasing keeps the subscriber row as an empty shell (no address, nickname or settings), so that
counts stay right and an old link's subscriber id never opens someone else's page; consent
records stay, bound to a keyed hash of the address instead of the address.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, datetime
from functools import cache

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kizuna import audit, consent, family
from kizuna.consent import ConsentEvent
from kizuna.core.status import ChannelName, DeliveryStatus, SubscriberStatus
from kizuna.models import (
    Child,
    ConsentRecord,
    Delivery,
    DeliveryCount,
    Follow,
    LineConversation,
    LineInvitation,
    Municipality,
    Subscriber,
)

log = logging.getLogger(__name__)
SUBSCRIBER, CHILD, FOLLOW = Subscriber.__table__, Child.__table__, Follow.__table__
DELIVERY, COUNTS = Delivery.__table__, DeliveryCount.__table__
CONSENTS, INVITATION = ConsentRecord.__table__, LineInvitation.__table__
CONVERSATION, MUNICIPALITY = LineConversation.__table__, Municipality.__table__
EXPORT_FORMAT = "kizuna-export-1"
COUNT_KEY = ("day", "channel", "track", "variant", "status", "municipality_code")
BATCH = 5000
FINISHED = (
    DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED, DeliveryStatus.CANCELLED,
)  # fmt: skip


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _rows(connection: sa.Connection, query: sa.Select) -> list[dict[str, object]]:
    return [
        {key: _plain(value) for key, value in row.items()}
        for row in connection.execute(query).mappings()
    ]


def export_subscriber(engine: sa.Engine, subscriber_id: int) -> dict:
    """Everything held about one subscriber, as JSON-ready data; nothing about anyone else
    (another follower of the same child appears in no part of it). LookupError if unknown."""
    followed = sa.select(FOLLOW.c.child_id).where(FOLLOW.c.subscriber_id == subscriber_id)
    with engine.connect() as connection:

        def rows(table: sa.Table, condition) -> list[dict[str, object]]:
            return _rows(connection, sa.select(table).where(condition).order_by(*table.primary_key))

        found = rows(SUBSCRIBER, SUBSCRIBER.c.id == subscriber_id)
        if not found:
            raise LookupError(f"no subscriber {subscriber_id}")
        subscriber = found[0]
        place = sa.select(MUNICIPALITY.c.code, MUNICIPALITY.c.name)
        line = subscriber["channel"] == ChannelName.LINE
        return {
            "format": EXPORT_FORMAT,
            "subscriber": subscriber,
            "municipality": _rows(
                connection, place.where(MUNICIPALITY.c.code == subscriber["municipality_code"])
            ),
            "follows": rows(FOLLOW, FOLLOW.c.subscriber_id == subscriber_id),
            "children": rows(CHILD, CHILD.c.id.in_(followed)),
            "deliveries": rows(DELIVERY, DELIVERY.c.subscriber_id == subscriber_id),
            "consent_records": rows(CONSENTS, CONSENTS.c.subscriber_id == subscriber_id),
            "line_invitations": rows(INVITATION, INVITATION.c.subscriber_id == subscriber_id),
            "line_conversation": rows(
                CONVERSATION, sa.and_(CONVERSATION.c.user_id == subscriber["address"], line)
            ),
        }


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What an erasure removed, in counts."""

    subscriber_id: int
    already: bool = False  # erased before: nothing was left to remove
    deliveries: int = 0  # counted into delivery_count, then deleted
    follows: int = 0
    children: int = 0  # children no one follows any more: their dates are gone


def forget_subscriber(
    engine: sa.Engine,
    subscriber_id: int,
    *,
    now: datetime,
    secret: str,
    actor: str = "operator",
) -> Forgotten:
    """Erase a subscriber's personal data and their links to children at once, in one
    transaction, and write it to the audit log. LookupError if unknown; harmless twice."""
    with engine.begin() as connection:
        done = erase(connection, subscriber_id, now=now, secret=secret)
        audit.record(
            connection, actor=actor, action="forget", at=now, subscriber_id=subscriber_id,
            detail={k: int(v) for k, v in asdict(done).items() if k != "subscriber_id"},
        )  # fmt: skip
    log.info(
        "subscriber %d erased by %s: %d deliveries counted, %d follows, %d children",
        subscriber_id, actor, done.deliveries, done.follows, done.children,
    )  # fmt: skip
    return done


def erase(
    connection: sa.Connection, subscriber_id: int, *, now: datetime, secret: str
) -> Forgotten:
    """The erasure itself, inside the caller's transaction."""
    s, d = SUBSCRIBER.c, DELIVERY.c
    row = connection.execute(
        sa.select(s.channel, s.address, s.status, s.status_reason, s.erased_at).where(
            s.id == subscriber_id
        )
    ).first()
    if row is None:
        raise LookupError(f"no subscriber {subscriber_id}")
    if row.erased_at is not None:
        return Forgotten(subscriber_id, already=True)
    hashed = consent.address_hash(row.channel, row.address, secret=secret)
    if row.status != SubscriberStatus.PENDING:  # a sign-up never confirmed consented to nothing
        if row.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PAUSED):
            consent.record(connection, subscriber_id, ConsentEvent.WITHDRAWN, at=now)
        consent.record(connection, subscriber_id, ConsentEvent.ERASED, at=now)
        consent.seal(connection, subscriber_id, hashed)
    connection.execute(
        DELIVERY.update()
        .where(d.subscriber_id == subscriber_id, d.status == DeliveryStatus.PLANNED)
        .values(status=DeliveryStatus.CANCELLED, skip_reason="subscriber erased")
    )
    deliveries = count_and_delete(connection, d.subscriber_id == subscriber_id)
    follows, released = _unfollow(connection, subscriber_id)
    connection.execute(
        INVITATION.update()
        .where(INVITATION.c.subscriber_id == subscriber_id)
        .values(due_date=None, birth_date=None, nickname=None)
    )
    family.forget(connection, subscriber_id)
    if row.channel == ChannelName.LINE:  # a conversation begun again after registering
        connection.execute(CONVERSATION.delete().where(CONVERSATION.c.user_id == row.address))
    connection.execute(SUBSCRIBER.update().where(s.id == subscriber_id).values(
        address=f"erased-{subscriber_id}", nickname=None, timezone=None, delivery_hour=None,
        erased_at=now, **_ended(row.status, row.status_reason, now),
    ))  # fmt: skip
    return Forgotten(subscriber_id, deliveries=deliveries, follows=follows, children=released)


def _ended(status: str, reason: str | None, now: datetime) -> dict[str, object]:
    """The status an erased subscriber keeps: an active one has stopped now. The reason is
    reduced to what reports need (a bounce's reason can quote the address)."""
    if status in (SubscriberStatus.ACTIVE, SubscriberStatus.PAUSED):
        return {"status": SubscriberStatus.STOPPED, "status_changed_at": now,
                "status_reason": "erased on request"}  # fmt: skip
    kept = {SubscriberStatus.GONE: "gone", SubscriberStatus.PENDING: "never confirmed"}
    if status == SubscriberStatus.STOPPED:
        return {"status_reason": "unfollow" if reason == "unfollow" else "stopped"}
    return {"status_reason": kept.get(status, "erased")}


def _unfollow(connection: sa.Connection, subscriber_id: int) -> tuple[int, int]:
    """Remove the subscriber's follows; returns (follows, children no longer followed)."""
    f = FOLLOW.c
    mine = sa.select(f.child_id).where(f.subscriber_id == subscriber_id)
    children = list(connection.execute(mine).scalars())
    follows = connection.execute(FOLLOW.delete().where(f.subscriber_id == subscriber_id)).rowcount
    return follows, release_children(connection, children)


def release_children(connection: sa.Connection, child_ids: list[int]) -> int:
    """Children no one follows any more lose their dates (and their row, when no delivery
    refers to it); returns how many."""
    c, f, d = CHILD.c, FOLLOW.c, DELIVERY.c
    released = 0
    for child_id in sorted(set(child_ids)):
        if connection.execute(sa.select(f.id).where(f.child_id == child_id).limit(1)).first():
            continue
        released += 1
        if connection.execute(sa.select(d.id).where(d.child_id == child_id).limit(1)).first():
            connection.execute(
                CHILD.update()
                .where(c.id == child_id)
                .values(due_date=None, birth_date=None, loss_date=None)
            )
        else:
            connection.execute(CHILD.delete().where(c.id == child_id))
    return released


def count_and_delete(connection: sa.Connection, condition: sa.ColumnElement[bool]) -> int:
    """Add the deliveries matching `condition` to the daily counts, then delete them; in
    batches, each row counted exactly once. Returns how many were deleted."""
    d, s = DELIVERY.c, SUBSCRIBER.c
    query = (
        sa.select(d.id, d.local_date, s.channel, d.track, d.variant, d.status,
                  sa.func.coalesce(s.municipality_code, ""))
        .select_from(DELIVERY.join(SUBSCRIBER, s.id == d.subscriber_id))
        .where(condition)
        .order_by(d.id)
        .limit(BATCH)
    )  # fmt: skip
    total = 0
    while rows := connection.execute(query).all():
        counts = Counter(tuple(row[1:]) for row in rows)
        _add_counts(connection, counts)
        ids = [row[0] for row in rows]
        total += connection.execute(DELIVERY.delete().where(d.id.in_(ids))).rowcount
    return total


def _add_counts(connection: sa.Connection, counts: Counter[tuple]) -> None:
    """One upsert for all of a batch's buckets (executemany): a bucket counted before grows."""
    if counts:
        rows = [{**dict(zip(COUNT_KEY, key, strict=True)), "count": n} for key, n in counts.items()]
        connection.execute(_upsert(connection.dialect.name), rows)


@cache
def _upsert(dialect: str) -> sa.Insert:
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(COUNTS)
    return statement.on_conflict_do_update(
        index_elements=list(COUNT_KEY),
        set_={"count": COUNTS.c.count + statement.excluded["count"]},
    )
