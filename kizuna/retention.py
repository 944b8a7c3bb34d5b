"""Keeping only what is needed: the daily job that erases what has been kept long enough."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from kizuna import audit, staff_uploads
from kizuna.config import Settings
from kizuna.core.status import SubscriberStatus
from kizuna.models import Delivery, LineConversation, LineInvitation, Subscriber
from kizuna.privacy import FINISHED, count_and_delete, erase

log = logging.getLogger(__name__)
SUBSCRIBER, DELIVERY = Subscriber.__table__, Delivery.__table__
CONVERSATION, INVITATION = LineConversation.__table__, LineInvitation.__table__


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long each kind of data is kept, in days."""

    retention_days: int = 90  # a stopped or gone subscriber, from when they stopped
    delivery_retention_days: int = 400  # a delivery row, from its day; then only counts
    pending_days: int = 7  # an unconfirmed sign-up; an abandoned LINE registration

    @classmethod
    def of(cls, settings: Settings) -> RetentionPolicy:
        return cls(settings.retention_days, settings.delivery_retention_days, settings.pending_days)


@dataclass(frozen=True, slots=True)
class RetentionSummary:
    """What one run removed, in counts."""

    subscribers: int = 0  # stopped or gone long enough: erased
    pending: int = 0  # never confirmed: erased
    deliveries: int = 0  # old delivery rows, counted per day and deleted
    conversations: int = 0  # LINE registrations left unfinished
    invitations: int = 0  # used or expired LINE invitations: their dates and nickname
    uploads: int = 0  # resident lists checked in the staff console and never confirmed

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def run_retention(
    engine: sa.Engine, *, now: datetime, policy: RetentionPolicy, secret: str
) -> RetentionSummary:
    """Erase what is due at `now`; running it again at once removes nothing more."""
    s = SUBSCRIBER.c
    changed = sa.func.coalesce(s.status_changed_at, s.created_at)
    ended = sa.and_(
        s.status.in_([SubscriberStatus.STOPPED, SubscriberStatus.GONE]),
        changed < now - timedelta(days=policy.retention_days),
    )
    unconfirmed = sa.and_(
        s.status == SubscriberStatus.PENDING,
        s.created_at < now - timedelta(days=policy.pending_days),
    )
    summary = RetentionSummary(
        subscribers=_erase_each(engine, ended, now=now, secret=secret),
        pending=_erase_each(engine, unconfirmed, now=now, secret=secret),
        deliveries=_trim_deliveries(engine, now=now, days=policy.delivery_retention_days),
        conversations=_delete_conversations(engine, before=now - timedelta(policy.pending_days)),
        invitations=_clear_invitations(engine, now=now, days=policy.pending_days),
        uploads=staff_uploads.drop_stale(engine, now=now),
    )
    with engine.begin() as connection:
        audit.record(connection, actor=audit.RETENTION_ACTOR, action="retention", at=now,
                     detail=summary.as_dict())  # fmt: skip
    log.info("retention run removed %s", summary.as_dict())
    return summary


def _erase_each(engine: sa.Engine, condition, *, now: datetime, secret: str) -> int:
    """Each subscriber in its own transaction, each written to the audit log."""
    s = SUBSCRIBER.c
    with engine.connect() as connection:
        ids = list(
            connection.execute(
                sa.select(s.id).where(condition, s.erased_at.is_(None)).order_by(s.id)
            ).scalars()
        )
    for subscriber_id in ids:
        with engine.begin() as connection:
            done = erase(connection, subscriber_id, now=now, secret=secret)
            audit.record(connection, actor=audit.RETENTION_ACTOR, action="forget", at=now,
                         subscriber_id=subscriber_id,
                         detail={"deliveries": done.deliveries, "follows": done.follows,
                                 "children": done.children})  # fmt: skip
        log.info("subscriber %d erased by retention", subscriber_id)
    return len(ids)


def _trim_deliveries(engine: sa.Engine, *, now: datetime, days: int) -> int:
    d = DELIVERY.c
    cutoff = now.date() - timedelta(days=days)
    with engine.begin() as connection:
        return count_and_delete(connection, sa.and_(d.local_date < cutoff, d.status.in_(FINISHED)))


def _delete_conversations(engine: sa.Engine, *, before: datetime) -> int:
    with engine.begin() as connection:
        return connection.execute(
            CONVERSATION.delete().where(CONVERSATION.c.updated_at < before)
        ).rowcount


def _clear_invitations(engine: sa.Engine, *, now: datetime, days: int) -> int:
    """An invitation used some days ago (its data lives with the subscriber now) or expired
    needs no dates."""
    i = INVITATION.c
    holding = sa.or_(i.due_date.is_not(None), i.birth_date.is_not(None), i.nickname.is_not(None))
    used = i.used_at < now - timedelta(days=days)
    with engine.begin() as connection:
        return connection.execute(
            INVITATION.update()
            .where(holding, sa.or_(used, i.expires_at < now))
            .values(due_date=None, birth_date=None, nickname=None)
        ).rowcount
