"""`kizuna subscribers …` and `kizuna audit`: answering a parent's request by post or phone
(see, take or erase their data), each action written to the audit log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import typer
from rich.markup import escape

from kizuna import audit, consent, privacy, subscriptions
from kizuna.cli_support import DateOption, console, fail, settings
from kizuna.config import Settings
from kizuna.core.status import ChannelName
from kizuna.db import create_engine, upgrade

subscribers_app = typer.Typer(
    help="A subscriber's data: export it, erase it, find the consent records of an address.",
    no_args_is_help=True,
)
IdArgument = Annotated[int, typer.Argument(help="The subscriber id")]
Operator = Annotated[
    str | None,
    typer.Option(envvar="USER", help="Who answers the request (for the audit log; default $USER)"),
]


def engine_of(config: Settings) -> sa.Engine:
    engine = create_engine(config.database_url)
    upgrade(engine)
    return engine


def now_utc() -> datetime:
    return datetime.now(UTC)


def actor(operator: str | None) -> str:
    if not operator or not operator.strip():
        raise fail("name who answers the request: --operator NAME (or set $USER)")
    return audit.operator_actor(operator.strip())


def secret_of(config: Settings) -> str:
    if config.secret_key is None:
        raise fail("KIZUNA_SECRET_KEY is needed: consent records keep a keyed hash of the address")
    return config.secret_key.get_secret_value()


@subscribers_app.command("export")
def export(
    subscriber_id: IdArgument,
    out: Annotated[Path | None, typer.Option(help="Write the JSON here (default: print)")] = None,
    operator: Operator = None,
) -> None:
    """Everything Kizuna holds about one subscriber, as JSON (nothing about anyone else)."""
    who = actor(operator)
    engine = engine_of(settings())
    try:
        data = privacy.export_subscriber(engine, subscriber_id)
    except LookupError as error:
        raise fail(str(error)) from None
    with engine.begin() as connection:
        audit.record(connection, actor=who, action="export", at=now_utc(),
                     subscriber_id=subscriber_id)  # fmt: skip
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"subscriber {subscriber_id} exported to {escape(str(out))}")


@subscribers_app.command("forget")
def forget(
    subscriber_id: IdArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    operator: Operator = None,
) -> None:
    """Erase a subscriber's personal data and links to children at once (cannot be undone)."""
    who = actor(operator)
    config = settings()
    secret = secret_of(config)
    engine = engine_of(config)
    question = f"Erase the personal data of subscriber {subscriber_id}? This cannot be undone."
    if not yes and not typer.confirm(question):
        raise typer.Exit(1)
    try:
        done = privacy.forget_subscriber(
            engine, subscriber_id, now=now_utc(), secret=secret, actor=who
        )
    except LookupError as error:
        raise fail(str(error)) from None
    if done.already:
        console.print(f"subscriber {subscriber_id} was erased before: nothing left to remove")
        return
    console.print(
        f"subscriber {subscriber_id} erased: {done.deliveries} deliveries counted and deleted, "
        f"{done.follows} follows removed, {done.children} children no longer followed"
    )


@subscribers_app.command("consents")
def consents(
    channel: Annotated[str, typer.Option(help="line or email")],
    address: Annotated[str, typer.Option(help="LINE user id or email address")],
    operator: Operator = None,
) -> None:
    """The consent records of an address, its erased subscribers' included (matched by the
    keyed hash): given, withdrawn, erased, with dates."""
    who = actor(operator)
    config = settings()
    try:
        normalized = subscriptions.check_address(ChannelName(channel), address)
    except ValueError as error:
        raise fail(f"--address: {error}") from None
    engine = engine_of(config)
    found = consent.history(engine, channel, normalized, secret=secret_of(config))
    with engine.begin() as connection:
        audit.record(connection, actor=who, action="consent-lookup", at=now_utc())
    if not found:
        console.print("no consent records for this address")
    for entry in found:
        version = f"  {escape(entry.version)}" if entry.version else ""
        console.print(
            f"{entry.at.isoformat()}  subscriber {entry.subscriber_id}  {entry.event}{version}"
        )


def audit_log(since: DateOption = None) -> None:
    """The audit log: exports, erasures and retention runs, who and when (from --since)."""
    config = settings()
    start = None
    if since is not None:
        start = datetime.combine(since, time(0), ZoneInfo(config.timezone)).astimezone(UTC)
    for entry in audit.entries(engine_of(config), since=start):
        whose = f"subscriber {entry.subscriber_id}" if entry.subscriber_id is not None else "-"
        detail = json.dumps(entry.detail, sort_keys=True) if entry.detail else ""
        console.print(
            f"{entry.at.isoformat()}  {escape(entry.actor)}  {entry.action}  {whose}  "
            f"{escape(detail)}"
        )
