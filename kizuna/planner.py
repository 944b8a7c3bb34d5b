"""Planning a local date: one delivery per follower and child for the message due that day."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

from kizuna.core.catalog import AUDIENCES_BY_ROLE, Catalog, Role
from kizuna.core.due import DueDates, due_dates_for
from kizuna.core.stage import stage_of_child


@dataclass(frozen=True, slots=True)
class FollowRow:
    """What planning needs to know about one follower of one child."""

    follow_id: int
    subscriber_id: int
    child_id: int
    role: str
    variant: str
    timezone: str | None  # the subscriber's, else their municipality's; None: the deployment's
    delivery_hour: int | None
    due_date: date | None
    birth_date: date | None
    loss_date: date | None
    loss_support: bool
    since: datetime | None = None  # when the subscriber began following the child


@dataclass(frozen=True, slots=True)
class NewDelivery:
    subscriber_id: int
    child_id: int
    message_id: str
    track: str
    variant: str
    fallback_from: str | None
    stage_label: str
    local_date: date
    due_at: datetime
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class PlanScope:
    """Which follows a planning run covers: all, one time zone's, or one child's."""

    default_timezone: str
    timezone: str | None = None  # only subscribers whose effective time zone is this
    child_id: int | None = None  # only this child's followers (after a date change)
    dates: DueDates | None = None  # only children whose dates can make a message due
    after_follow_id: int = 0  # only follows newer than this (those who joined since)


class PlanStore(Protocol):
    """The storage planning needs; `kizuna.store.SqlStore` provides it."""

    def follows_to_plan(self, *, after_id: int, limit: int, scope: PlanScope) -> list[FollowRow]:
        """Active follows with id > after_id, in id order."""
        ...

    def add_deliveries(self, deliveries: list[NewDelivery], *, now: datetime) -> int:
        """Insert, ignoring any that exist already; returns how many were new."""
        ...


@dataclass(frozen=True, slots=True)
class PlanOptions:
    allow_unreviewed: bool
    default_timezone: str
    default_hour: int
    batch_size: int = 5000


@dataclass
class PlanSummary:
    followers: int = 0
    due: int = 0  # followers with a message due that day
    planned: int = 0  # new delivery rows (the rest existed already)
    by_message: dict[str, int] = field(default_factory=dict)


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def due_at(local_date: date, hour: int, timezone: str) -> datetime:
    """The UTC instant of `hour`:00 on `local_date` in `timezone`."""
    return datetime.combine(local_date, time(hour), zone(timezone)).astimezone(UTC)


def delivery_for(
    row: FollowRow, catalog: Catalog, local_date: date, options: PlanOptions
) -> NewDelivery | None:
    """The delivery due for one follower of one child on their local date, if any."""
    stage = stage_of_child(
        today=local_date,
        due_date=row.due_date,
        birth_date=row.birth_date,
        loss_date=row.loss_date,
        loss_support=row.loss_support,
    )
    if stage is None:
        return None
    timezone = row.timezone or options.default_timezone
    if row.since is not None and local_date < row.since.astimezone(zone(timezone)).date():
        return None  # a follower starts with the day they joined: no backlog
    choice = catalog.choose(
        stage,
        audiences=AUDIENCES_BY_ROLE[Role(row.role)],
        variant=row.variant,
        allow_unreviewed=options.allow_unreviewed,
    )
    if choice is None:
        return None
    hour = options.default_hour if row.delivery_hour is None else row.delivery_hour
    return NewDelivery(
        subscriber_id=row.subscriber_id,
        child_id=row.child_id,
        message_id=choice.message.id,
        track=str(stage.track),
        variant=choice.message.variant,
        fallback_from=choice.fallback_from,
        stage_label=stage.label,
        local_date=local_date,
        due_at=due_at(local_date, hour, timezone),
        idempotency_key=str(uuid.uuid4()),
    )


def plan_day(
    store: PlanStore,
    catalog: Catalog,
    local_date: date,
    options: PlanOptions,
    *,
    now: datetime,
    scope: PlanScope | None = None,
) -> PlanSummary:
    """Plan `local_date` for every active follower in scope, in batches; again adds nothing."""
    scope = replace(
        scope or PlanScope(default_timezone=options.default_timezone),
        dates=due_dates_for(catalog.timings(), local_date),
    )
    summary = PlanSummary()
    after_id = scope.after_follow_id
    while rows := store.follows_to_plan(after_id=after_id, limit=options.batch_size, scope=scope):
        after_id = rows[-1].follow_id
        batch = [d for row in rows if (d := delivery_for(row, catalog, local_date, options))]
        summary.followers += len(rows)
        summary.due += len(batch)
        for delivery in batch:
            summary.by_message[delivery.message_id] = (
                summary.by_message.get(delivery.message_id, 0) + 1
            )
        if batch:
            summary.planned += store.add_deliveries(batch, now=now)
    return summary
