"""Planning a local date: one delivery per follower and child for the message due that day."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

from kizuna.core.catalog import AUDIENCES_BY_ROLE, Catalog, Role
from kizuna.core.due import DueDates, due_dates_for
from kizuna.core.stage import Stage, stage_key, stage_of_child


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

    def follows_to_plan(self, *, scope: PlanScope, batch_size: int) -> Iterator[list[FollowRow]]:
        """Active follows in scope, in batches of at most `batch_size`."""
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


@dataclass(frozen=True, slots=True)
class DueMessage:
    """What a child's dates and a follower's role and variant make due on one day."""

    message_id: str
    track: str
    variant: str
    fallback_from: str | None
    stage_label: str


def due_message(
    row: FollowRow, catalog: Catalog, local_date: date, options: PlanOptions
) -> DueMessage | None:
    """The message due on `local_date` for this child and this follower's role and variant."""
    stage = stage_of_child(
        today=local_date,
        due_date=row.due_date,
        birth_date=row.birth_date,
        loss_date=row.loss_date,
        loss_support=row.loss_support,
    )
    return message_for(stage, row.role, row.variant, catalog, options)


def message_for(
    stage: Stage | None, role: str, variant: str, catalog: Catalog, options: PlanOptions
) -> DueMessage | None:
    if stage is None:
        return None
    choice = catalog.choose(
        stage,
        audiences=AUDIENCES_BY_ROLE[Role(role)],
        variant=variant,
        allow_unreviewed=options.allow_unreviewed,
    )
    if choice is None:
        return None
    message = choice.message
    return DueMessage(
        message.id, str(stage.track), message.variant, choice.fallback_from, stage.label
    )


def joined_later(row: FollowRow, local_date: date, options: PlanOptions) -> bool:
    """A follower starts with the day they joined (in their time zone): no backlog."""
    timezone = row.timezone or options.default_timezone
    return row.since is not None and local_date < row.since.astimezone(zone(timezone)).date()


def delivery_for(
    row: FollowRow, catalog: Catalog, local_date: date, options: PlanOptions
) -> NewDelivery | None:
    """The delivery due for one follower of one child on their local date, if any."""
    due = due_message(row, catalog, local_date, options)
    if due is None or joined_later(row, local_date, options):
        return None
    timezone = row.timezone or options.default_timezone
    return _delivery(row, due, local_date, due_at(local_date, _hour(row, options), timezone))


def _hour(row: FollowRow, options: PlanOptions) -> int:
    return options.default_hour if row.delivery_hour is None else row.delivery_hour


def _delivery(
    row: FollowRow, due: DueMessage, local_date: date, at: datetime, key: str | None = None
) -> NewDelivery:
    return NewDelivery(
        subscriber_id=row.subscriber_id,
        child_id=row.child_id,
        message_id=due.message_id,
        track=due.track,
        variant=due.variant,
        fallback_from=due.fallback_from,
        stage_label=due.stage_label,
        local_date=local_date,
        due_at=at,
        idempotency_key=key or new_key(),
    )


def new_key(raw: bytes | None = None) -> str:
    """A fresh idempotency key: a random (version 4) UUID as text, as `str(uuid.uuid4())`
    gives, from 16 random bytes (`raw`, else drawn now)."""
    data = bytearray(raw or os.urandom(16))
    data[6] = data[6] & 0x0F | 0x40  # version 4
    data[8] = data[8] & 0x3F | 0x80  # the RFC 4122 variant
    h = data.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class _Keys:
    """New keys from random bytes drawn a thousand keys at a time: one system call, not one
    per delivery (which showed in planning's profile)."""

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> str:
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(16 * 1024), 0
        self._at += 16
        return new_key(self._pool[self._at - 16 : self._at])


class DayPlan:
    """`delivery_for`, for one day's many followers, deciding each thing once: the stage per
    `stage_key`, the message per stage, role and variant, the due time per hour and zone."""

    def __init__(self, catalog: Catalog, local_date: date, options: PlanOptions) -> None:
        self._catalog = catalog
        self._day = local_date
        self._options = options
        self._stages: dict[tuple, Stage | None] = {}
        self._due: dict[tuple, DueMessage | None] = {}
        self._instants: dict[tuple[int, str], datetime] = {}
        self._keys = _Keys()
        # Who followed before this followed before the day began in every time zone (the
        # day begins first at UTC+14): only later followers need their zone's date.
        self._settled = datetime.combine(local_date, time(0), UTC) - timedelta(hours=14)

    def delivery(self, row: FollowRow) -> NewDelivery | None:
        key = stage_key(due_date=row.due_date, birth_date=row.birth_date,
                        loss_date=row.loss_date, loss_support=row.loss_support)  # fmt: skip
        due = self._due.get((key, row.role, row.variant), MISSING)
        if due is MISSING:
            due = self._due[key, row.role, row.variant] = message_for(
                self._stage(key), row.role, row.variant, self._catalog, self._options
            )
        if due is None:
            return None
        recent = row.since is not None and row.since > self._settled
        if recent and joined_later(row, self._day, self._options):
            return None
        return _delivery(row, due, self._day, self._instant(row), self._keys.next())

    def _stage(self, key: tuple) -> Stage | None:
        stage = self._stages.get(key, MISSING)
        if stage is MISSING:
            due, birth, loss, support = key
            stage = self._stages[key] = stage_of_child(
                today=self._day, due_date=due, birth_date=birth, loss_date=loss,
                loss_support=support,
            )  # fmt: skip
        return stage

    def _instant(self, row: FollowRow) -> datetime:
        hour, timezone = _hour(row, self._options), row.timezone or self._options.default_timezone
        found = self._instants.get((hour, timezone))
        if found is None:
            found = self._instants[hour, timezone] = due_at(self._day, hour, timezone)
        return found


MISSING = object()


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
    day = DayPlan(catalog, local_date, options)
    for rows in store.follows_to_plan(scope=scope, batch_size=options.batch_size):
        batch = [d for row in rows if (d := day.delivery(row))]
        summary.followers += len(rows)
        summary.due += len(batch)
        for delivery in batch:
            summary.by_message[delivery.message_id] = (
                summary.by_message.get(delivery.message_id, 0) + 1
            )
        if batch:
            summary.planned += store.add_deliveries(batch, now=now)
    return summary
