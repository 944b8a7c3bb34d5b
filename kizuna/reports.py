"""Reports for a municipality (or all of Kizuna) over a month or a range of local dates."""

from __future__ import annotations

import bisect
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from kizuna.core.stage import add_months
from kizuna.core.status import ChildStatus, DeliveryStatus, SubscriberStatus
from kizuna.models import Child, Delivery, Follow, Subscriber

S, D, F, C = Subscriber.__table__.c, Delivery.__table__.c, Follow.__table__.c, Child.__table__.c
STOP_REASONS = ("unfollow", "unsubscribe", "loss", "gone")
ENDED = (SubscriberStatus.STOPPED, SubscriberStatus.GONE)
MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, slots=True)
class Period:
    """Local calendar dates, both ends included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("the period ends before it starts")

    @classmethod
    def month(cls, text: str) -> Period:
        found = MONTH.fullmatch(text.strip())
        if not found or not 1 <= int(found[2]) <= 12:
            raise ValueError(f"{text!r}: give the month as YYYY-MM")
        first = date(int(found[1]), int(found[2]), 1)
        return cls(first, add_months(first, 1) - timedelta(days=1))

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def label(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


@dataclass(frozen=True, slots=True)
class DeliveryCount:
    channel: str
    track: str
    variant: str
    sent: int
    failed: int


@dataclass(frozen=True, slots=True)
class DayFigures:
    day: date
    subscribed: int  # registered and not stopped at the end of the day
    sent: int
    failed: int


@dataclass
class Report:
    """Registrations count confirmed subscribers (a pending sign-up is not one yet), by the
    time they consented. Active: received a message in the period and not stopped by its end."""

    municipality_code: str | None
    period: Period
    registrations: int = 0  # cumulative, to the end of the period
    new: int = 0
    active: int = 0
    stopped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STOP_REASONS, 0))
    deliveries: list[DeliveryCount] = field(default_factory=list)
    days: list[DayFigures] = field(default_factory=list)


def stop_reason(status: str, reason: str | None) -> str:
    """unfollow (blocked the LINE account), gone (bounced, unknown), else unsubscribe."""
    if status == SubscriberStatus.GONE:
        return "gone"
    return "unfollow" if reason == "unfollow" else "unsubscribe"


def report(engine: sa.Engine, code: str | None, period: Period, *, timezone: str) -> Report:
    """Figures for the subscribers of municipality `code` (None: everyone), the period read
    in `timezone`."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(period.start, time(0), zone).astimezone(UTC)
    end = datetime.combine(period.end + timedelta(days=1), time(0), zone).astimezone(UTC)
    scope = S.municipality_code == code if code is not None else sa.true()
    result = Report(code, period)
    with engine.connect() as connection:
        registered, ended = _timelines(connection, scope, end)
        result.registrations = len(registered)
        result.new = len(registered) - bisect.bisect_left(registered, start)
        _stopped(connection, scope, period, start, end, result)
        result.active = _active(connection, scope, period, end)
        result.deliveries = _deliveries(connection, scope, period)
        per_day = _per_day(connection, scope, period)
    for day in period.days():
        day_end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
        subscribed = bisect.bisect_left(registered, day_end) - bisect.bisect_left(ended, day_end)
        sent, failed = per_day.get(day, (0, 0))
        result.days.append(DayFigures(day, subscribed, sent, failed))
    return result


def _timelines(connection, scope, end: datetime) -> tuple[list[datetime], list[datetime]]:
    """Sorted registration times (to `end`) and the times those subscribers stopped."""
    registered_at = sa.func.coalesce(S.consent_at, S.created_at)
    rows = connection.execute(
        sa.select(registered_at, S.status, S.status_changed_at).where(
            scope, S.status != SubscriberStatus.PENDING, registered_at < end
        )
    ).all()
    # coalesce() loses the column type on some drivers: read back as aware UTC either way.
    registered = sorted(_aware(row[0]) for row in rows)
    ended = sorted(
        _aware(row[2]) for row in rows if row[1] in ENDED and row[2] is not None
    )  # fmt: skip
    return registered, ended


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _stopped(connection, scope, period: Period, start, end, result: Report) -> None:
    rows = connection.execute(
        sa.select(S.status, S.status_reason).where(
            scope, S.status.in_(ENDED), S.status_changed_at >= start, S.status_changed_at < end
        )
    ).all()
    for status, reason in rows:
        result.stopped[stop_reason(status, reason)] += 1
    result.stopped["loss"] = connection.execute(
        sa.select(sa.func.count(sa.distinct(S.id)))
        .select_from(Subscriber.__table__.join(Follow.__table__).join(Child.__table__))
        .where(scope, C.status == ChildStatus.LOSS, C.loss_date.between(period.start, period.end))
    ).scalar()


def _active(connection, scope, period: Period, end: datetime) -> int:
    stopped_by_end = sa.and_(S.status.in_(ENDED), S.status_changed_at < end)
    return connection.execute(
        sa.select(sa.func.count(sa.distinct(S.id)))
        .select_from(Subscriber.__table__.join(Delivery.__table__))
        .where(
            scope, sa.not_(stopped_by_end), D.status == DeliveryStatus.SENT,
            D.local_date.between(period.start, period.end),
        )
    ).scalar()  # fmt: skip


def _deliveries(connection, scope, period: Period) -> list[DeliveryCount]:
    rows = connection.execute(
        sa.select(S.channel, D.track, D.variant, D.status, sa.func.count())
        .select_from(Subscriber.__table__.join(Delivery.__table__))
        .where(
            scope, D.status.in_([DeliveryStatus.SENT, DeliveryStatus.FAILED]),
            D.local_date.between(period.start, period.end),
        )
        .group_by(S.channel, D.track, D.variant, D.status)
    ).all()  # fmt: skip
    counts: dict[tuple[str, str, str], list[int]] = {}
    for channel, track, variant, status, count in rows:
        pair = counts.setdefault((channel, track, variant), [0, 0])
        pair[0 if status == DeliveryStatus.SENT else 1] += count
    return [DeliveryCount(*key, sent, failed) for key, (sent, failed) in sorted(counts.items())]


def _per_day(connection, scope, period: Period) -> dict[date, tuple[int, int]]:
    rows = connection.execute(
        sa.select(D.local_date, D.status, sa.func.count())
        .select_from(Subscriber.__table__.join(Delivery.__table__))
        .where(
            scope, D.status.in_([DeliveryStatus.SENT, DeliveryStatus.FAILED]),
            D.local_date.between(period.start, period.end),
        )
        .group_by(D.local_date, D.status)
    ).all()  # fmt: skip
    days: dict[date, list[int]] = {}
    for day, status, count in rows:
        days.setdefault(day, [0, 0])[0 if status == DeliveryStatus.SENT else 1] += count
    return {day: (sent, failed) for day, (sent, failed) in days.items()}


def report_rows(found: Report) -> list[tuple[str, str, str, str, str, int]]:
    """(figure, channel, track, variant, reason, value): the CSV and the table."""
    rows = [
        ("registrations", "", "", "", "", found.registrations),
        ("new", "", "", "", "", found.new),
        ("active", "", "", "", "", found.active),
    ]
    rows += [("stopped", "", "", "", reason, found.stopped[reason]) for reason in STOP_REASONS]
    for count in found.deliveries:
        key = (count.channel, count.track, count.variant, "")
        rows += [("sent", *key, count.sent), ("failed", *key, count.failed)]
    return rows


def report_csv(found: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("figure", "channel", "track", "variant", "reason", "value"))
    writer.writerows(report_rows(found))
    return buffer.getvalue()
