"""`kizuna municipality enroll`: a resident list in, problems by line, invitations out."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from kizuna import enrollment
from kizuna.cli_support import console, errors, fail
from kizuna.config import ConfigurationError
from kizuna.municipalities import MunicipalityRecord
from kizuna.resident_list import ListError, Row, read_csv
from kizuna.runtime import Runtime, email_channel

PROGRESS_FROM = 500  # rows: a shorter list is done before a bar would help


def run_enroll(
    runtime: Runtime, municipality: MunicipalityRecord, file: Path, *, dry_run: bool,
    codes: Path | None,
) -> None:  # fmt: skip
    try:
        rows = read_csv(file.read_bytes())
    except (OSError, ListError) as error:
        raise fail(f"{file}: {error}") from None
    send = None if dry_run or not _has_email(rows) else _mailer(runtime)
    settings, now = runtime.settings, datetime.now(UTC)
    options = enrollment.EnrollOptions(
        variants=runtime.variants(), default_timezone=settings.timezone,
        invitation_days=settings.invitation_days, dry_run=dry_run,
    )  # fmt: skip
    with Progress(console=console, transient=True, disable=len(rows) < PROGRESS_FROM) as bar:
        task = bar.add_task(f"{file.name}", total=len(rows))
        result = enrollment.enroll(
            runtime.engine, municipality.code, rows, options, now=now,
            progress=lambda done: bar.advance(task, done),
        )  # fmt: skip
    unsent = asyncio.run(send(result.email, now)) if send and result.email else []
    _print(result, unsent)
    if codes is not None and result.line and not dry_run:
        _write_codes(codes, result.line)
        console.print(f"wrote {len(result.line)} LINE invitation codes to {codes}")
    if result.problems or unsent:
        raise typer.Exit(1)


def _has_email(rows: list[Row]) -> bool:
    return any(values.get("channel", "").strip().lower() == "email" for _, values in rows)


def _mailer(runtime: Runtime):
    """Refuse before importing when invitations could not be mailed."""
    from kizuna.web.invitation_mail import send_invitations, site_for

    try:
        channel, site = email_channel(runtime.settings), site_for(runtime)
    except ConfigurationError as error:
        raise fail(f"the list has email rows, and mail cannot be sent: {error}") from None

    async def send(invitations, now: datetime) -> list[int]:
        try:
            return await send_invitations(channel, site, invitations, now=now)
        finally:
            await channel.close()

    return send


def _print(result: enrollment.EnrollResult, unsent: list[int]) -> None:
    for problem in result.problems:
        errors.print(f"line {problem.line}: {problem.field}: {escape(problem.reason)}")
    for line in unsent:
        errors.print(f"line {line}: email: the invitation mail was not sent (the resident "
                     "stays pending; nothing is sent before they confirm)")  # fmt: skip
    verb = "would add" if result.dry_run else "added"
    console.print(
        f"{result.rows} rows: {verb} {len(result.email)} email invitations and "
        f"{len(result.line)} LINE invitation codes; {result.unchanged} already enrolled; "
        f"{len(result.problems)} problems"
    )
    if result.line and not result.dry_run:
        table = Table("line", "LINE invitation code", "expires", title="shown this once")
        for item in result.line:
            table.add_row(str(item.line), item.code, item.expires_at.date().isoformat())
        console.print(table)


def _write_codes(path: Path, line_codes: list[enrollment.LineCode]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("line", "code", "expires"))
        for item in line_codes:
            writer.writerow((item.line, item.code, item.expires_at.date().isoformat()))
