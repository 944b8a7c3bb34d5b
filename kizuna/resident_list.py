"""A municipality's resident list (CSV or JSON rows): reading it and checking every row."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from kizuna import subscriptions
from kizuna.core.status import ChannelName

COLUMNS = (
    "channel", "email", "due_date", "birth_date", "variant", "nickname", "consent_date",
    "reference",
)  # fmt: skip
REQUIRED = ("channel", "consent_date")
# Municipal systems and spreadsheets write 2027-06-06, 2027/06/06 or 2027/6/6.
DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
REFERENCE_MAX = 64


class ListError(ValueError):
    """The list as a whole cannot be read (encoding, header); no row was looked at."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int  # the line in the CSV file (the header is line 1), or the row number in JSON
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class Resident:
    """A checked row."""

    line: int
    channel: ChannelName
    address: str | None  # the normalised email address; None for LINE (the bot learns it)
    due_date: date | None
    birth_date: date | None
    variant: str
    nickname: str | None
    consent_date: date
    reference: str  # the municipality's own row reference, or ""


Row = tuple[int, dict[str, str]]


def decode(data: bytes) -> str:
    """UTF-8 (with or without Excel's BOM), else Shift_JIS as Japanese office software writes."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ListError("the file is neither UTF-8 nor Shift_JIS text")


def read_csv(data: bytes) -> list[Row]:
    """(line, values) for each non-empty row; ListError when the header is unusable."""
    reader = csv.reader(io.StringIO(decode(data), newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    check_columns(header)
    rows = []
    for values in reader:
        if not any(value.strip() for value in values):
            continue
        if len(values) > len(header):
            rows.append((reader.line_num, {"": "more values than columns"}))
            continue
        rows.append((reader.line_num, dict(zip(header, values, strict=False))))
    return rows


def check_columns(header: list[str]) -> None:
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise ListError(
            f"unknown column(s) {', '.join(map(repr, unknown))} (columns: {', '.join(COLUMNS)})"
        )
    missing = [name for name in REQUIRED if name not in header]
    if "due_date" not in header and "birth_date" not in header:
        missing.append("due_date or birth_date")
    if missing:
        raise ListError(f"missing column(s): {', '.join(missing)}")


def json_rows(rows: Iterable[Mapping[str, object]]) -> list[Row]:
    """JSON objects with the CSV's column names; rows are numbered from 1."""
    numbered = []
    for number, row in enumerate(rows, start=1):
        unknown = sorted(set(row) - set(COLUMNS))
        if unknown:
            numbered.append((number, {"": f"unknown field(s): {', '.join(unknown)}"}))
            continue
        numbered.append((number, {k: "" if v is None else str(v) for k, v in row.items()}))
    return numbered


def parse_day(text: str) -> date:
    found = DATE.fullmatch(text.strip())
    if not found:
        raise ValueError("write the date as YYYY-MM-DD")
    return date(*(int(part) for part in found.groups()))


def check_row(line: int, raw: dict[str, str], *, variants: set[str], today: date) -> Resident:
    """The row as a Resident; RowsRefused lists every problem of the row."""
    if "" in raw:  # a row the reader could already not use
        raise RowsRefused([RowProblem(line, "row", raw[""])])
    value = {name: (raw.get(name) or "").strip() for name in COLUMNS}
    problems: dict[str, str] = {}
    channel, address = _channel(value, problems)
    dates = _dates(value, today, problems)
    variant = value["variant"] or "ja"
    if variant not in variants:
        problems["variant"] = f"unknown variant {variant!r} (one of {', '.join(sorted(variants))})"
    nickname = None
    try:
        nickname = subscriptions.check_nickname(value["nickname"])
    except ValueError as error:
        problems["nickname"] = str(error)
    if len(value["reference"]) > REFERENCE_MAX:
        problems["reference"] = f"longer than {REFERENCE_MAX} characters"
    if problems:
        raise RowsRefused([RowProblem(line, field, text) for field, text in problems.items()])
    return Resident(
        line, channel, address, dates["due_date"], dates["birth_date"], variant, nickname,
        dates["consent_date"], value["reference"],
    )  # fmt: skip


def _channel(value: dict[str, str], problems: dict[str, str]) -> tuple[ChannelName, str | None]:
    """The channel and, for email, the normalised address (LINE rows ignore the email)."""
    if value["channel"].lower() not in set(ChannelName):
        problems["channel"] = "the channel must be line or email"
        return ChannelName.EMAIL, None
    channel = ChannelName(value["channel"].lower())
    if channel is not ChannelName.EMAIL:
        return channel, None
    if not value["email"]:
        problems["email"] = "an email row needs the address"
        return channel, None
    try:
        return channel, subscriptions.check_address(channel, value["email"])
    except ValueError as error:
        problems["email"] = str(error)
        return channel, None


def _dates(value: dict[str, str], today: date, problems: dict[str, str]) -> dict[str, date | None]:
    """The three dates, judged on the municipality's `today` by the subscription rules."""
    dates: dict[str, date | None] = {}
    for name in ("due_date", "birth_date", "consent_date"):
        try:
            dates[name] = parse_day(value[name]) if value[name] else None
        except ValueError as error:
            problems[name] = str(error)
            dates[name] = None
    if "due_date" not in problems and "birth_date" not in problems:
        for field, text in subscriptions.check_dates(
            dates["due_date"], dates["birth_date"], today
        ).items():
            problems["due_date" if field == "date" else field] = text
    consent = dates["consent_date"]
    if consent is None:
        problems.setdefault("consent_date", "give the date the resident agreed to be enrolled")
    elif consent > today:
        problems["consent_date"] = "the consent date is in the future"
    return dates


class RowsRefused(ValueError):
    """Every problem of one row."""

    def __init__(self, problems: list[RowProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"line {p.line}: {p.field}: {p.reason}" for p in problems))
