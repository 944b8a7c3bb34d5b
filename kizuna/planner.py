"""Planning a local date: one delivery per follower and child for the message due that day."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from kizuna.core.catalog import AUDIENCES_BY_ROLE, Catalog, Role
from kizuna.core.due import DueDates, due_dates_for
from kizuna.core.stage import Stage, stage_key, stage_of_child
from kizuna.read_ahead import read_ahead


class FollowRow(NamedTuple):
    """What planning needs to know about one follower of one child.

    Named tuples, not frozen dataclasses: planning makes one per candidate (115,000 at
    1,000,000 subscribers), and a frozen dataclass's `__init__` cost ten times as much.
    """

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
    municipality_code: str | None = None  # the subscriber's municipality
    receives_local_info: bool = True  # the follower may get the municipality's own messages


class NewDelivery(NamedTuple):
    """A delivery row to write (a named tuple, as `FollowRow`)."""

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
    from_municipality: bool = False


@dataclass(frozen=True, slots=True)
class PlanScope:
    """Which follows a planning run covers: all, one time zone's, or one child's."""

    default_timezone: str
    timezone: str | None = None  # only subscribers whose effective time zone is this
    child_id: int | None = None  # only this child's followers (after a date change)
    dates: DueDates | None = None  # only children whose dates can make a message due
    after_follow_id: int = 0  # only follows newer than this (those who joined since)
    # When given, a follow's `since` is read only if later than this (the rest are None):
    # whoever followed before the day began everywhere needs no date check.
    since_after: datetime | None = None


class PlanStore(Protocol):
    """The storage planning needs; `kizuna.store.SqlStore` provides it."""

    def follows_to_plan(self, *, scope: PlanScope, batch_size: int) -> Iterator[list[FollowRow]]:
        """Active follows in scope, in batches of at most `batch_size`."""
        ...

    def add_deliveries(self, deliveries: list[NewDelivery], *, now: datetime) -> int:
        """Insert, ignoring any that exist already; returns how many were new."""
        ...

    @property
    def reads_apart(self) -> bool:
        """True when `follows_to_plan` may run in another thread while deliveries are added."""
        ...


@dataclass(frozen=True, slots=True)
class PlanOptions:
    allow_unreviewed: bool
    default_timezone: str
    default_hour: int
    batch_size: int = 5000  # follows read at a time
    # Deliveries written per transaction. Each commit rewrites the index pages it touched:
    # 74,000 rows in 23 commits took 1.9 s on SQLite, in 4 commits 1.45 s (BENCHMARKS.md).
    write_size: int = 20_000


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
    from_municipality: bool = False


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
    stage: Stage | None,
    role: str,
    variant: str,
    catalog: Catalog,
    options: PlanOptions,
    municipality: str | None = None,
) -> DueMessage | None:
    """Kizuna's message due at this stage, or with `municipality`, that municipality's."""
    if stage is None:
        return None
    choice = catalog.choose(
        stage,
        audiences=AUDIENCES_BY_ROLE[Role(role)],
        variant=variant,
        allow_unreviewed=options.allow_unreviewed,
        municipality=municipality,
    )
    if choice is None:
        return None
    message = choice.message
    return DueMessage(
        message.id, str(stage.track), message.variant, choice.fallback_from, stage.label,
        municipality is not None,
    )  # fmt: skip


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
        row.subscriber_id, row.child_id, due.message_id, due.track, due.variant,
        due.fallback_from, due.stage_label, local_date, at, key or new_key(),
        due.from_municipality,
    )  # fmt: skip


def new_key(raw: bytes | None = None) -> str:
    """A fresh idempotency key: a random (version 4) UUID as text, as `str(uuid.uuid4())`
    gives, from 16 random bytes (`raw`, else drawn now)."""
    data = bytearray(raw or os.urandom(16))
    data[6] = data[6] & 0x0F | 0x40  # version 4
    data[8] = data[8] & 0x3F | 0x80  # the RFC 4122 variant
    h = data.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class _Keys:
    """New keys cut from random bytes drawn a thousand keys at a time, as hex: one system
    call and one conversion per thousand, not per delivery (planning's profile showed both)."""

    def __init__(self) -> None:
        self._hex = ""
        self._at = 0

    def next(self) -> str:
        if self._at >= len(self._hex):
            self._hex, self._at = os.urandom(16 * 1024).hex(), 0
        h = self._hex[self._at : self._at + 32]
        self._at += 32
        # Version 4, and the RFC 4122 variant (top bits 10) from the nibble's two low bits.
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:]}"


VARIANT_DIGIT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


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
        self.due = 0  # followers with something due so far
        self._municipalities = catalog.municipalities()
        # Who followed before this followed before the day began in every time zone (the
        # day begins first at UTC+14): only later followers need their zone's date.
        self.settled = datetime.combine(local_date, time(0), UTC) - timedelta(hours=14)

    def deliveries(self, row: FollowRow) -> list[NewDelivery]:
        """Kizuna's message due for this follower, and beside it their municipality's own
        (only for a follower allowed local information: it tells where the child lives)."""
        key = stage_key(due_date=row.due_date, birth_date=row.birth_date,
                        loss_date=row.loss_date, loss_support=row.loss_support)  # fmt: skip
        found = [self._due_message(key, row, None)]
        local = row.municipality_code
        if local and row.receives_local_info and local in self._municipalities:
            found.append(self._due_message(key, row, local))
        found = [due for due in found if due is not None]
        if not found:
            return []
        recent = row.since is not None and row.since > self.settled
        if recent and joined_later(row, self._day, self._options):
            return []
        self.due += 1
        at = self._instant(row)
        return [_delivery(row, due, self._day, at, self._keys.next()) for due in found]

    def _due_message(self, key: tuple, row: FollowRow, municipality: str | None):
        cached = (key, row.role, row.variant, municipality)
        due = self._due.get(cached, MISSING)
        if due is MISSING:
            due = self._due[cached] = message_for(
                self._stage(key), row.role, row.variant, self._catalog, self._options,
                municipality,
            )  # fmt: skip
        return due

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
    day = DayPlan(catalog, local_date, options)
    scope = replace(
        scope or PlanScope(default_timezone=options.default_timezone),
        dates=due_dates_for(catalog.timings(), local_date, audiences=catalog.audiences()),
        since_after=day.settled,
    )
    summary = PlanSummary()
    apart = store.reads_apart
    read = store.follows_to_plan(scope=scope, batch_size=options.batch_size)
    decided = (
        (rows, [d for row in rows for d in day.deliveries(row)])
        for rows in (read_ahead(read) if apart else read)
    )
    # Reading, deciding and writing each run in a thread of their own, a batch apart: the
    # database drivers release the GIL while the database works, so on two cores the read
    # of later batches and the write of earlier ones overlap with deciding (BENCHMARKS.md).
    pending: list[NewDelivery] = []
    for rows, batch in read_ahead(decided) if apart else decided:
        summary.followers += len(rows)
        for delivery in batch:
            summary.by_message[delivery.message_id] = (
                summary.by_message.get(delivery.message_id, 0) + 1
            )
        pending += batch
        if len(pending) >= options.write_size:
            summary.planned += store.add_deliveries(pending, now=now)
            pending = []
    if pending:
        summary.planned += store.add_deliveries(pending, now=now)
    summary.due = day.due
    return summary
