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

from kizuna.core.catalog import Role
from kizuna.core.stage import add_months
from kizuna.core.status import ChildStatus, DeliveryStatus, SubscriberStatus
from kizuna.models import Child, Delivery, Follow, LineInvitation, Subscriber
from kizuna.models import DeliveryCount as CountedRow

S, D, F, C = Subscriber.__table__.c, Delivery.__table__.c, Follow.__table__.c, Child.__table__.c
K = CountedRow.__table__.c  # deliveries counted when their rows were trimmed or erased
OUTCOMES = (DeliveryStatus.SENT, DeliveryStatus.FAILED)
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
    caregivers: dict[str, int] = field(default_factory=dict)  # role -> follows at the end


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
        counted = _counted(connection, code, period)
        result.deliveries = _deliveries(connection, scope, period, counted)
        result.caregivers = _caregivers(connection, code, end)
        per_day = _per_day(connection, scope, period, counted)
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


def _counted(connection, code: str | None, period: Period) -> list[tuple]:
    """(day, channel, track, variant, status, count) of deliveries no longer stored one by one:
    retention trims old rows and an erasure deletes a subscriber's, counting them first."""
    scope = K.municipality_code == code if code is not None else sa.true()
    return connection.execute(
        sa.select(K.day, K.channel, K.track, K.variant, K.status, sa.func.sum(K.count))
        .where(scope, K.status.in_(OUTCOMES), K.day.between(period.start, period.end))
        .group_by(K.day, K.channel, K.track, K.variant, K.status)
    ).all()


def _deliveries(connection, scope, period: Period, counted: list[tuple]) -> list[DeliveryCount]:
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
    for channel, track, variant, status, count in [*rows, *(row[1:] for row in counted)]:
        pair = counts.setdefault((channel, track, variant), [0, 0])
        pair[0 if status == DeliveryStatus.SENT else 1] += count
    return [DeliveryCount(*key, sent, failed) for key, (sent, failed) in sorted(counts.items())]


def _per_day(
    connection, scope, period: Period, counted: list[tuple]
) -> dict[date, tuple[int, int]]:
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
    for day, status, count in [*rows, *((row[0], row[4], row[5]) for row in counted)]:
        days.setdefault(day, [0, 0])[0 if status == DeliveryStatus.SENT else 1] += count
    return {day: (sent, failed) for day, (sent, failed) in days.items()}


def _caregivers(connection, code: str | None, end: datetime) -> dict[str, int]:
    """Follows by role at the end of the period, of confirmed subscribers not stopped by
    then. For a municipality: every follower of a child that one of its subscribers follows
    (an invited grandparent elsewhere counts for the child's municipality)."""
    stopped_by_end = sa.and_(S.status.in_(ENDED), S.status_changed_at < end)
    query = (
        sa.select(F.role, sa.func.count())
        .select_from(Follow.__table__.join(Subscriber.__table__))
        .where(
            S.status != SubscriberStatus.PENDING,
            sa.not_(stopped_by_end),
            F.since < end,
            sa.func.coalesce(S.consent_at, S.created_at) < end,
        )  # fmt: skip
        .group_by(F.role)
    )
    if code is not None:
        local, resident = Follow.__table__.alias("local"), Subscriber.__table__.alias("resident")
        local_children = (
            sa.select(local.c.child_id)
            .join(resident, resident.c.id == local.c.subscriber_id)
            .where(resident.c.municipality_code == code)
        )
        query = query.where(F.child_id.in_(local_children))
    return {role: count for role, count in connection.execute(query)}


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
    # The role sits in the reason column: one CSV shape for every figure.
    rows += [("caregivers", "", "", "", role, found.caregivers.get(role, 0)) for role in Role]
    return rows


def report_csv(found: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("figure", "channel", "track", "variant", "reason", "value"))
    writer.writerows(report_rows(found))
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class Waiting:
    """Residents enrolled from a municipality's lists who have not started yet."""

    email: int  # invited by mail, not confirmed
    line: int  # invitation codes handed out, not used and not expired


def waiting(engine: sa.Engine, code: str, *, now: datetime) -> Waiting:
    invitations = LineInvitation.__table__.c
    with engine.connect() as connection:
        email = connection.execute(
            sa.select(sa.func.count()).where(
                S.municipality_code == code, S.status == SubscriberStatus.PENDING
            )
        ).scalar()
        line = connection.execute(
            sa.select(sa.func.count()).where(
                invitations.municipality_code == code, invitations.used_at.is_(None),
                invitations.expires_at > now,
            )
        ).scalar()  # fmt: skip
    return Waiting(email, line)
