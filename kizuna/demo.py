"""`kizuna demo`: a day of Kizuna for sample subscribers, written to a local outbox."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from kizuna import subscriptions
from kizuna.config import Backend, Settings
from kizuna.core.catalog import Catalog, Role
from kizuna.core.stage import PREGNANCY_DAYS, add_months
from kizuna.models import Delivery, Subscriber
from kizuna.planner import FollowRow, PlanOptions, delivery_for
from kizuna.runtime import Runtime, dispatch_day, open_runtime, plan

Dates = tuple[date | None, date | None]  # (due date, birth date)
SEARCH_DAYS = 100  # how far a sample may move from its nominal stage to land on a message day


def pregnant(days: int) -> Callable[[date, int], Dates]:
    return lambda today, k: (today + timedelta(days=PREGNANCY_DAYS - days - k), None)


def born_days_ago(days: int, *, weeks_early: int = 0) -> Callable[[date, int], Dates]:
    def dates(today: date, k: int) -> Dates:
        birth = today - timedelta(days=days + k)
        return (birth + timedelta(weeks=weeks_early) if weeks_early else None, birth)

    return dates


def born_months_ago(months: int) -> Callable[[date, int], Dates]:
    return lambda today, k: (None, add_months(today, -months) - timedelta(days=k))


@dataclass(frozen=True)
class Sample:
    nickname: str
    about: str
    channel: str
    variant: str
    dates: Callable[[date, int], Dates]
    twins: bool = False


SAMPLES = (
    Sample("あおい", "early pregnancy", "line", "ja", pregnant(8 * 7)),
    Sample("Maria", "pregnancy", "email", "ja-easy", pregnant(13 * 7)),
    Sample("ゆい", "pregnancy", "line", "ja-easy", pregnant(25 * 7)),
    Sample("さくら", "late pregnancy", "email", "ja", pregnant(36 * 7)),
    Sample("はな", "newborn", "line", "ja", born_days_ago(7)),
    Sample("Linh", "preterm, born 32w0d", "line", "ja-easy", born_days_ago(70, weeks_early=8)),
    Sample("みお", "3 months", "email", "ja", born_months_ago(3)),
    Sample("Ana", "1 year 6 months", "line", "ja-easy", born_months_ago(18)),
    Sample("りん", "3 years", "email", "ja", born_months_ago(36)),
    Sample("Wei", "6 years", "email", "ja-easy", born_months_ago(72)),
    Sample("ひかり", "17 years", "line", "ja", born_months_ago(17 * 12)),
    Sample("そら", "twins, 1 year", "line", "ja", born_months_ago(12), twins=True),
)
# A partner following the first sample's pregnancy (role partner, no local information).
PARTNER = Sample("けんた", "partner of #1", "line", "ja", pregnant(8 * 7))


ABOUT = {sample.nickname: sample.about for sample in (*SAMPLES, PARTNER)}


@dataclass(frozen=True)
class DemoRow:
    who: str
    channel: str
    stage: str
    message_id: str
    variant: str
    file: str


@dataclass(frozen=True)
class DemoResult:
    directory: Path
    today: date
    rows: list[DemoRow]
    allow_unreviewed: bool


def settle(
    sample: Sample, catalog: Catalog, today: date, options: PlanOptions, role: Role
) -> Dates:
    """The sample's dates moved by the fewest days that put a message on `today`."""
    for k in sorted(range(-SEARCH_DAYS, SEARCH_DAYS + 1), key=abs):  # nearest first
        due, birth = sample.dates(today, k)
        row = FollowRow(0, 0, 0, role, sample.variant, None, None, due, birth, None, False)
        if delivery_for(row, catalog, today, options):
            return due, birth
    return sample.dates(today, 0)


def demo_settings(directory: Path, timezone: str) -> Settings:
    return Settings(
        database_url=f"sqlite:///{directory / 'kizuna.db'}",
        outbox_dir=directory / "outbox",
        allow_unreviewed=True,  # the starter library is unreviewed: allowed here, and said so
        line_backend=Backend.OUTBOX,
        email_backend=Backend.OUTBOX,
        secret_key=secrets.token_urlsafe(32),
        timezone=timezone,
    )


def run_demo(directory: Path, *, today: date, now: datetime, timezone: str) -> DemoResult:
    """Enroll the samples on a fresh database, plan and dispatch `today` into the outbox."""
    for leftover in (directory / "outbox", directory / "kizuna.db"):
        shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(True)
    for suffix in ("-wal", "-shm"):
        (directory / f"kizuna.db{suffix}").unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(directory, timezone)
    if subscriptions.local_today(now, timezone) != today:  # a demo of another day: noon that day
        now = datetime.combine(today, time(12), ZoneInfo(timezone)).astimezone(UTC)
    rt = open_runtime(settings)
    enroll_samples(rt, today=today, now=now)
    plan(rt, today, now=now)
    asyncio.run(dispatch_day(rt, today, now=now))
    return DemoResult(directory, today, demo_rows(rt, today), settings.allow_unreviewed)


def enroll_samples(rt: Runtime, *, today: date, now: datetime) -> None:
    options = PlanOptions(True, rt.settings.timezone, rt.settings.delivery_hour)
    tz, variants = rt.settings.timezone, rt.variants()
    first_child = None
    for number, sample in enumerate(SAMPLES, start=1):
        due, birth = settle(sample, rt.catalog, today, options, Role.PARENT)
        done = subscriptions.subscribe(
            rt.engine, _request(sample, number, due, birth), variants=variants,
            default_timezone=tz, now=now,
        )  # fmt: skip
        first_child = first_child or done.child_id
        if sample.twins:
            subscriptions.add_child(
                rt.engine, subscriber_id=done.subscriber_id, due_date=due, birth_date=birth,
                default_timezone=tz, now=now,
            )  # fmt: skip
    subscriptions.subscribe(
        rt.engine, _request(PARTNER, len(SAMPLES) + 1, None, None), variants=variants,
        default_timezone=tz, now=now, follow_child=first_child, role=Role.PARTNER,
    )  # fmt: skip


def _request(sample: Sample, number: int, due: date | None, birth: date | None):
    # Sample addresses only: a LINE-shaped id that no user has, and example.com mail.
    address = f"U{number:032x}" if sample.channel == "line" else f"sample{number:02d}@example.com"
    return subscriptions.SubscribeRequest(
        channel=sample.channel, address=address, due_date=due, birth_date=birth,
        variant=sample.variant, nickname=sample.nickname, consent_version="demo",
    )  # fmt: skip


def demo_rows(rt: Runtime, today: date) -> list[DemoRow]:
    d, s = Delivery.__table__.c, Subscriber.__table__.c
    columns = (s.id, s.nickname, s.channel, s.variant, d.id, d.message_id, d.variant,
               d.stage_label, d.push_key, d.from_municipality)  # fmt: skip
    query = (
        sa.select(*columns)
        .select_from(Subscriber.__table__.outerjoin(
            Delivery.__table__, sa.and_(d.subscriber_id == s.id, d.local_date == today)))
        .order_by(s.id, d.id)
    )  # fmt: skip
    with rt.engine.connect() as connection:
        found = connection.execute(query).all()
    # Deliveries sent in one request share a file: their group's first delivery's.
    first: dict[str, int] = {}
    for *_, did, _, _, _, key, _ in sorted(found, key=lambda r: (bool(r[-1]), r[4] or 0)):
        if key is not None:
            first.setdefault(key, did)
    rows = []
    for sid, nickname, channel, variant, did, message_id, sent_variant, label, key, _ in found:
        suffix = "json" if channel == "line" else "eml"
        did = first.get(key, did)
        rows.append(
            DemoRow(
                who=f"#{sid} {nickname} ({ABOUT.get(nickname, '')})", channel=channel,
                stage=label or "—",
                message_id=message_id or "— (no message today)",
                variant=sent_variant or variant,
                file=f"outbox/{channel}/{did}.{suffix}" if did else "—",
            )
        )  # fmt: skip
    return rows


def print_demo(result: DemoResult, console: Console) -> None:
    table = Table(title=f"Kizuna demo — {result.today} (local date)", expand=False)
    for column in ("who", "stage", "message", "variant", "channel", "file written"):
        table.add_column(column)
    for row in result.rows:
        table.add_row(row.who, row.stage, row.message_id, row.variant, row.channel, row.file)
    console.print(table)
    console.print(f"Database and outbox: {result.directory.resolve()}")
    console.print(
        "[bold yellow]Note:[/bold yellow] the starter messages are our own text built on official "
        "sources, but no doctor, midwife or other expert has reviewed them yet. This demo sends "
        "them because it runs with unreviewed content allowed (KIZUNA_ALLOW_UNREVIEWED=true); "
        "a real deployment does not, unless its operator says so."
    )
