"""`kizuna municipality report`: a report as a table, CSV or a PNG chart."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa
from rich.table import Table

from kizuna import reports
from kizuna.cli_support import console, fail
from kizuna.config import Settings
from kizuna.municipalities import MunicipalityRecord
from kizuna.report_chart import write_chart

FORMATS = ("table", "csv", "png")


def period_of(month: str | None, start: date | None, end: date | None) -> reports.Period:
    try:
        if month and not (start or end):
            return reports.Period.month(month)
        if start and end and not month:
            return reports.Period(start, end)
    except ValueError as error:
        raise fail(str(error)) from None
    raise fail("give --month YYYY-MM, or --from and --to")


def run_report(
    config: Settings, engine: sa.Engine, municipality: MunicipalityRecord | None, *,
    month: str | None, start: date | None, end: date | None, output: str, out: Path | None,
) -> None:  # fmt: skip
    if output not in FORMATS:
        raise fail(f"--format is one of {', '.join(FORMATS)}")
    period = period_of(month, start, end)
    code = municipality.code if municipality else None
    timezone = (municipality.timezone if municipality else None) or config.timezone
    found = reports.report(engine, code, period, timezone=timezone)
    if output == "png":
        name = f"kizuna-report-{code or 'all'}-{period.start}-{period.end}.png"
        path = write_chart(found, out or Path(name), title=code or "all municipalities")
        console.print(f"wrote {path}")
    elif output == "csv" and out is not None:
        out.write_text(reports.report_csv(found), encoding="utf-8")
        console.print(f"wrote {out}")
    elif output == "csv":
        console.out(reports.report_csv(found), end="", highlight=False)
    else:
        _table(found, municipality)


def _table(found: reports.Report, municipality: MunicipalityRecord | None) -> None:
    who = f"{municipality.code} {municipality.name}" if municipality else "all municipalities"
    table = Table("figure", "channel", "track", "variant", "reason", "value",
                  title=f"{who}, {found.period.label()}")  # fmt: skip
    for row in reports.report_rows(found):
        table.add_row(*row[:5], str(row[5]))
    console.print(table)
