"""`kizuna municipality …`: municipalities, their tokens, local information, registration links,
resident lists and reports (thin over kizuna.municipalities, .enrollment and .reports)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.markup import escape
from rich.table import Table

from kizuna import municipalities, municipality_links
from kizuna.cli_enroll import run_enroll
from kizuna.cli_report import run_report
from kizuna.cli_staff import staff_app
from kizuna.cli_support import console, errors, fail, settings
from kizuna.config import Settings
from kizuna.content import CatalogError
from kizuna.core.local_info import LOCAL_INFO_KEYS
from kizuna.db import create_engine, upgrade
from kizuna.runtime import open_runtime

municipality_app = typer.Typer(
    help="Municipalities: tokens, local information, QR codes, resident lists, reports.",
    no_args_is_help=True,
)
token_app = typer.Typer(help="API tokens of a municipality's systems.", no_args_is_help=True)
municipality_app.add_typer(token_app, name="token")
municipality_app.add_typer(staff_app, name="staff")
DAY = {"formats": ["%Y-%m-%d"], "metavar": "YYYY-MM-DD"}
CodeArgument = Annotated[str, typer.Argument(help="6-digit local government code (or 5 digits)")]


def engine_of(config: Settings) -> sa.Engine:
    engine = create_engine(config.database_url)
    upgrade(engine)
    return engine


def now_utc() -> datetime:
    return datetime.now(UTC)


def found(engine: sa.Engine, code: str) -> municipalities.MunicipalityRecord:
    try:
        return municipalities.get(engine, code)
    except municipalities.MunicipalityError as error:
        raise fail(str(error)) from None


@municipality_app.command("add")
def add(
    code: CodeArgument,
    name: Annotated[str, typer.Option(help="The name: 〇〇市, 〇〇町, 〇〇村")],
    prefecture: Annotated[str, typer.Option(help="The prefecture: 〇〇県")] = "",
    sender_label: Annotated[str, typer.Option(help="Default: the name + より")] = "",
    contact: Annotated[str, typer.Option(help="Where residents' questions go")] = "",
    timezone: Annotated[str | None, typer.Option(help="Default for its residents")] = None,
    delivery_hour: Annotated[int | None, typer.Option(help="Default local hour, 0-23")] = None,
) -> None:
    """Add a municipality; the check digit is verified (a 5-digit code is completed)."""
    engine = engine_of(settings())
    try:
        added = municipalities.add(
            engine, code=code, name=name, prefecture=prefecture, sender_label=sender_label,
            contact=contact, timezone=timezone, delivery_hour=delivery_hour, now=now_utc(),
        )  # fmt: skip
    except municipalities.MunicipalityError as error:
        raise fail(str(error)) from None
    console.print(f"added {added.code} {escape(added.name)} ({escape(added.sender_label)})")


@municipality_app.command("list")
def list_all() -> None:
    """List the municipalities."""
    table = Table("code", "name", "prefecture", "sender label", "time zone", "hour")
    for row in municipalities.all_municipalities(engine_of(settings())):
        hour = "" if row.delivery_hour is None else str(row.delivery_hour)
        table.add_row(row.code, row.name, row.prefecture, row.sender_label, row.timezone or "",
                      hour)  # fmt: skip
    console.print(table)


@municipality_app.command("show")
def show(code: CodeArgument) -> None:
    """Show a municipality: its fields, local information, tokens and registration links."""
    config = settings()
    engine = engine_of(config)
    row = found(engine, code)
    for label, value in [("code", row.code), ("name", row.name), ("prefecture", row.prefecture),
                         ("sender label", row.sender_label), ("contact", row.contact),
                         ("time zone", row.timezone or f"{config.timezone} (default)"),
                         ("delivery hour", row.delivery_hour if row.delivery_hour is not None
                          else f"{config.delivery_hour} (default)")]:  # fmt: skip
        console.print(f"{label}: {escape(str(value))}")
    info = municipalities.stored_local_info(engine, row.code)
    console.print(f"local info: {len(info)} of {len(LOCAL_INFO_KEYS)} keys given")
    live = [t for t in municipalities.tokens(engine, row.code) if t.revoked_at is None]
    console.print(f"API tokens: {len(live)} live")
    for link in municipality_links.registration_links(
        row.code, base_url=config.base_url, bot_id=config.line_bot_id
    ):
        console.print(f"{link.kind} link: {link.url}")


@token_app.command("create")
def token_create(
    code: CodeArgument,
    label: Annotated[str, typer.Option(help="Which system uses it")] = "",
) -> None:
    """Create an API token; it is shown this once and only its hash is kept."""
    engine = engine_of(settings())
    found(engine, code)
    token_id, token = municipalities.create_token(engine, code, label=label, now=now_utc())
    console.print(f"token {token_id}: {token}")
    errors.print("keep it now: it is not stored and cannot be shown again")


@token_app.command("list")
def token_list(code: CodeArgument) -> None:
    """List a municipality's API tokens (never the tokens themselves)."""
    engine = engine_of(settings())
    found(engine, code)
    table = Table("id", "label", "created", "revoked")
    for token in municipalities.tokens(engine, code):
        revoked = token.revoked_at.isoformat(timespec="seconds") if token.revoked_at else ""
        table.add_row(str(token.id), token.label, token.created_at.isoformat(timespec="seconds"),
                      revoked)  # fmt: skip
    console.print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="The token's id")]) -> None:
    """Revoke an API token at once."""
    if not municipalities.revoke_token(engine_of(settings()), token_id, now=now_utc()):
        raise fail(f"no live token {token_id}")
    console.print(f"token {token_id} revoked")


@municipality_app.command("local-info")
def local_info(
    code: CodeArgument,
    set_values: Annotated[
        list[str] | None, typer.Option("--set", help="key=value (repeat for more)")
    ] = None,
    unset: Annotated[list[str] | None, typer.Option(help="A key to remove (repeat)")] = None,
) -> None:
    """Show, set or unset a municipality's local information (keys: see messages/README.md)."""
    engine = engine_of(settings())
    row = found(engine, code)
    values = {}
    for item in set_values or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise fail(f"--set {item!r}: write key=value")
        values[key.strip()] = value
    try:
        stored = municipalities.update_local_info(
            engine, row.code, set_values=values, unset=unset or [], now=now_utc()
        )
    except municipalities.MunicipalityError as error:
        raise fail(str(error)) from None
    for key in LOCAL_INFO_KEYS:
        console.print(f"{key}: {escape(stored.get(key, '—'))}")


@municipality_app.command("qr")
def qr(
    code: CodeArgument,
    out: Annotated[Path, typer.Option(help="Folder for the PNG and SVG files")] = Path("."),
) -> None:
    """Write the registration links' QR codes (LINE and web; PNG and SVG) and the links."""
    config = settings()
    row = found(engine_of(config), code)
    if not config.line_bot_id:
        errors.print("[yellow]note[/yellow] KIZUNA_LINE_BOT_ID is not set: no LINE link")
    links = municipality_links.registration_links(
        row.code, base_url=config.base_url, bot_id=config.line_bot_id
    )
    for path in municipality_links.write_qr_codes(links, row.code, out):
        console.print(f"wrote {path}")


@municipality_app.command("enroll")
def enroll(
    code: CodeArgument,
    file: Annotated[Path, typer.Argument(help="The resident list (CSV, columns in the README)")],
    dry_run: Annotated[bool, typer.Option(help="Check every row; change nothing")] = False,
    codes: Annotated[
        Path | None, typer.Option(help="Also write the new LINE invitation codes to this CSV")
    ] = None,
) -> None:
    """Enroll residents from a list: bad rows are reported by line, good rows go in, the same
    list again adds nothing. Email residents get a confirmation mail, LINE residents a code."""
    try:
        runtime = open_runtime(settings())
    except CatalogError as error:
        raise fail(f"the messages do not load ({len(error.problems)} problems)") from None
    run_enroll(runtime, found(runtime.engine, code), file, dry_run=dry_run, codes=codes)


@municipality_app.command("report")
def report(
    code: Annotated[str | None, typer.Argument(help="Local government code; none: all")] = None,
    month: Annotated[str | None, typer.Option(help="YYYY-MM")] = None,
    start: Annotated[date | None, typer.Option("--from", help="First local date", **DAY)] = None,
    end: Annotated[date | None, typer.Option("--to", help="Last local date", **DAY)] = None,
    output: Annotated[str, typer.Option("--format", help="table, csv or png")] = "table",
    out: Annotated[Path | None, typer.Option(help="File for csv or png")] = None,
) -> None:
    """Registrations, active, new and stopped subscribers, deliveries by channel, track and
    variant, for a month or a date range; as a table, CSV or a PNG chart."""
    config = settings()
    engine = engine_of(config)
    record = found(engine, code) if code else None
    run_report(config, engine, record, month=month, start=start, end=end, output=output, out=out)
