"""The `kizuna` command: a thin layer over the services, one Settings built per run."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kizuna import subscriptions
from kizuna.cli_messages import messages_app
from kizuna.cli_municipality import municipality_app
from kizuna.cli_subscribers import audit_log, subscribers_app
from kizuna.cli_support import DateOption, console, errors
from kizuna.cli_support import settings as settings_from_environment
from kizuna.config import ConfigurationError, Settings
from kizuna.content import CatalogError
from kizuna.core.stage import Stage, stage_of_child
from kizuna.db import create_engine, upgrade
from kizuna.runtime import (
    Runtime,
    build_channels,
    dispatch_day,
    open_runtime,
    plan,
    plan_dry_run,
)

app = typer.Typer(
    help="Kizuna: staged parenting messages over LINE and email.", no_args_is_help=True
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
children_app = typer.Typer(help="Life events of a child: birth and loss.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(children_app, name="children")
app.add_typer(messages_app, name="messages")
app.add_typer(municipality_app, name="municipality")
app.add_typer(subscribers_app, name="subscribers")
app.command("audit")(audit_log)
load_settings = settings_from_environment


def runtime(settings: Settings) -> Runtime:
    try:
        return open_runtime(settings)
    except CatalogError as error:
        for problem in error.problems:
            errors.print(f"[red]message[/red] {problem}", highlight=False)
        raise typer.Exit(2) from None


def now_utc() -> datetime:
    return datetime.now(UTC)


def today_in(timezone: str) -> date:
    return subscriptions.local_today(now_utc(), timezone)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date (every other command does this too)."""
    settings = load_settings()
    upgrade(create_engine(settings.database_url))
    console.print("schema is up to date")


@app.command()
def stage(
    due_date: DateOption = None,
    birth_date: DateOption = None,
    on: DateOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the stage of a pregnancy or child on a date (default: today in KIZUNA_TIMEZONE)."""
    if due_date is None and birth_date is None:
        errors.print("give --due-date and/or --birth-date")
        raise typer.Exit(2)
    today = on or today_in(load_settings().timezone)
    found = stage_of_child(today=today, due_date=due_date, birth_date=birth_date)
    data = stage_json(found)
    console.print_json(json.dumps(data, ensure_ascii=False)) if as_json else console.print(
        data["label"]
    )


def stage_json(found: Stage | None) -> dict[str, object]:
    """The stage as the JSON `kizuna stage --json` prints."""
    if found is None:
        return {"track": "ended", "label": "18歳以上（配信は終了）"}
    data: dict[str, object] = {"track": str(found.track), "days": found.days}
    if found.age is None:
        data.update(weeks=found.weeks, day_of_week=found.day_of_week)
    else:
        data.update(months=found.age.months, years=found.age.years)
    data["label"] = found.label
    if found.corrected is not None:
        corrected = found.corrected
        data["corrected"] = {
            "days": corrected.days,
            "months": corrected.months,
            "label": corrected.label,
        }
    return data


@app.command()
def subscribe(
    channel: Annotated[str, typer.Option(help="line or email")],
    address: Annotated[str, typer.Option(help="LINE user id or email address")],
    due_date: DateOption = None,
    birth_date: DateOption = None,
    variant: str = "ja",
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone (default KIZUNA_TIMEZONE)")
    ] = None,
    nickname: str | None = None,
    municipality: Annotated[str | None, typer.Option(help="6-digit local government code")] = None,
) -> None:
    """Add a subscriber following a pregnancy (due date) or a child (birth date)."""
    settings = load_settings()
    rt = runtime(settings)
    request = subscriptions.SubscribeRequest(
        channel=channel, address=address, due_date=due_date, birth_date=birth_date,
        variant=variant, timezone=timezone, nickname=nickname, municipality_code=municipality,
    )  # fmt: skip
    try:
        done = subscriptions.subscribe(
            rt.engine,
            request,
            variants=rt.variants(),
            default_timezone=settings.timezone,
            now=now_utc(),
        )
    except subscriptions.SubscribeError as error:
        for field, text in error.problems.items():
            errors.print(f"[red]error[/red] --{field.replace('_', '-')}: {text}", highlight=False)
        raise typer.Exit(2) from None
    console.print(f"subscriber {done.subscriber_id} follows child {done.child_id}")


@app.command()
def send(
    on_date: Annotated[date, typer.Option("--date", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD")],
    dry_run: Annotated[
        bool, typer.Option(help="Show what would be planned; send nothing.")
    ] = False,
) -> None:
    """Plan and dispatch everything due on a local date; running it again sends nothing new."""
    rt = runtime(load_settings())
    now = now_utc()
    if dry_run:
        summary = plan_dry_run(rt, on_date, now=now)
        console.print(
            f"dry run {on_date}: {summary.followers} followers, {summary.planned} would be planned"
        )
        for message_id, count in sorted(summary.by_message.items()):
            console.print(f"  {message_id}: {count}")
        return
    try:
        build_channels(rt.settings)  # refuse before planning, not halfway through sending
    except ConfigurationError as error:
        errors.print(f"[red]configuration[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    planned = plan(rt, on_date, now=now)
    sent = asyncio.run(dispatch_day(rt, on_date, now=now))
    for note in sent.notes:
        errors.print(f"[yellow]note[/yellow] {note}", highlight=False)
    counts = ", ".join(f"{status} {count}" for status, count in sorted(sent.counts.items()))
    console.print(
        f"{on_date}: {planned.followers} followers, {planned.planned} newly planned; "
        f"dispatched: {counts or 'nothing due'}"
    )


@app.command()
def serve() -> None:
    """Run the web app and the scheduler (planning and dispatching) until stopped."""
    from kizuna.server import serve as run_serve

    rt = runtime(load_settings())
    try:
        run_serve(rt)
    except ConfigurationError as error:
        errors.print(f"[red]configuration[/red] {error}", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def worker() -> None:
    """Dispatch due deliveries alongside other workers (PostgreSQL) until stopped."""
    from kizuna.server import run_worker

    rt = runtime(load_settings())
    try:
        run_worker(rt)
    except ConfigurationError as error:
        errors.print(f"[red]configuration[/red] {error}", highlight=False)
        raise typer.Exit(2) from None


@children_app.command("birth")
def child_birth(
    child_id: int,
    on_date: Annotated[date, typer.Option("--date", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD")],
    due_date: DateOption = None,
) -> None:
    """Report a birth: the child moves to the child track; pregnancy messages stop."""
    rt = runtime(load_settings())
    cancelled = _life_event(lambda: subscriptions.report_birth(
        rt.engine, child_id=child_id, birth_date=on_date, due_date=due_date))  # fmt: skip
    console.print(f"child {child_id}: birth recorded, {cancelled} pregnancy deliveries cancelled")


@children_app.command("loss")
def child_loss(
    child_id: int,
    on_date: Annotated[date, typer.Option("--date", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD")],
) -> None:
    """Report a loss: every message about the child stops for every follower."""
    rt = runtime(load_settings())
    cancelled = _life_event(
        lambda: subscriptions.report_loss(rt.engine, child_id=child_id, loss_date=on_date)
    )
    console.print(f"child {child_id}: loss recorded, {cancelled} deliveries cancelled")


def _life_event(action) -> int:
    try:
        return action()
    except LookupError as error:
        errors.print(f"[red]error[/red] {error}")
        raise typer.Exit(2) from None


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder for the demo database and outbox.")
    ] = Path("kizuna-demo"),
    on_date: Annotated[date | None, typer.Option("--date", formats=["%Y-%m-%d"])] = None,
) -> None:
    """Run a day of Kizuna on sample subscribers into a local outbox (unreviewed content)."""
    from kizuna.demo import print_demo, run_demo

    settings = load_settings()
    today = on_date or today_in(settings.timezone)
    try:
        result = run_demo(directory, today=today, now=now_utc(), timezone=settings.timezone)
    except CatalogError as error:
        for problem in error.problems:
            errors.print(f"[red]message[/red] {problem}", highlight=False)
        raise typer.Exit(2) from None
    # The table is the demo's point: never squeeze it to 80 columns when output is piped.
    print_demo(result, Console(width=max(console.width, 150)))
