"""The whole catalog as CSV, one row per message and variant, for editors who use spreadsheets.

Import changes only what changed: a field whose cell still says what the file says keeps its
bytes (quoting, comments), and a row that changed nothing leaves its file untouched.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from kizuna.content import Problem, check_catalog, check_files, message_files, parse_message
from kizuna.core.catalog import Message
from kizuna.front_matter import compose_file, read_fields, set_field, split_file
from kizuna.rendering import Renderer

FIELDS = (
    "id", "track", "at", "variant", "audience", "category", "age_basis", "title",
    "sources", "reviews",
)  # fmt: skip
COLUMNS = ("path", *FIELDS, "body")
SOURCE_SEPARATOR = " | "


def cell(key: str, value: object) -> str:
    """A front matter value as a spreadsheet cell."""
    if value is None:
        return ""
    if key == "sources":
        return "\n".join(f"{s.get('title', '')}{SOURCE_SEPARATOR}{s.get('url', '')}" for s in value)
    if key == "reviews":
        return json.dumps(value, ensure_ascii=False, default=str) if value else ""
    return str(value)


def value_of(key: str, text: str) -> object:
    """A cell back as a front matter value; ValueError when it cannot be one."""
    if key == "sources":
        sources = []
        for line in filter(None, (line.strip() for line in text.splitlines())):
            title, separator, url = line.rpartition(SOURCE_SEPARATOR)
            if not separator:
                raise ValueError(f"a source must be `title{SOURCE_SEPARATOR}url`, got {line!r}")
            sources.append({"title": title.strip(), "url": url.strip()})
        return sources
    if key == "reviews":
        reviews = json.loads(text) if text.strip() else []
        if not isinstance(reviews, list) or not all(isinstance(r, dict) for r in reviews):
            raise ValueError("reviews must be a JSON list of records")
        for review in reviews:
            if isinstance(review.get("date"), str):
                review["date"] = date.fromisoformat(review["date"])
        return reviews
    return text


def export_rows(root: Path) -> list[dict[str, str]]:
    """One row per message file under `root`, sorted by path."""
    rows = []
    for path in message_files(root):
        text = path.read_bytes().decode("utf-8")  # bytes: no newline translation
        parts = split_file(text)
        fields = read_fields(parts)
        row = {"path": path.relative_to(root).as_posix()}
        row.update({key: cell(key, fields.get(key)) for key in FIELDS})
        row["body"] = parts.body
        rows.append(row)
    return rows


def write_csv(rows: list[dict[str, str]], handle: io.TextIOBase) -> None:
    writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)


def read_csv(handle: io.TextIOBase) -> list[dict[str, str]]:
    reader = csv.DictReader(handle)
    missing = set(COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"the CSV lacks the columns {', '.join(sorted(missing))}")
    # Spreadsheets may save line breaks inside cells as CRLF; files use LF.
    return [{k: (v or "").replace("\r\n", "\n") for k, v in row.items() if k} for row in reader]


@dataclass
class ImportPlan:
    """What an import would write, or why it cannot."""

    changed: dict[Path, str] = field(default_factory=dict)
    created: dict[Path, str] = field(default_factory=dict)
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)


def plan_import(root: Path, rows: list[dict[str, str]]) -> ImportPlan:
    """Work out each file's new text and check it as the loader would; writes nothing."""
    plan, renderer = ImportPlan(), Renderer()
    planned: dict[str, Message] = {}
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        relative = row.get("path", "").strip()
        if not relative or ".." in Path(relative).parts or Path(relative).is_absolute():
            plan.problems.append(Problem(f"CSV record {number}", 0, "path must be inside messages"))
            continue
        path = root / relative
        try:
            old = path.read_bytes().decode("utf-8") if path.is_file() else None
            new = updated_text(old, row)
        except ValueError as error:
            plan.problems.append(Problem(relative, 0, f"CSV record {number}: {error}"))
            continue
        if new == old:
            plan.unchanged += 1
            continue
        message, found = parse_message(new, path=relative, renderer=renderer)
        plan.problems.extend(found)
        if message is not None:
            planned[relative] = message
        (plan.changed if old is not None else plan.created)[path] = new
    if planned:
        plan.problems.extend(_across(root, planned))
    return plan


def _across(root: Path, planned: dict[str, Message]) -> list[Problem]:
    """The checks between files (same day, variants in step) on the catalog as it would be."""
    existing, _ = check_files(message_files(root), root=root, across=False)
    merged = {m.path: m for m in existing} | planned
    return [p for p in check_catalog(merged.values()) if p.path in planned]


def updated_text(old: str | None, row: dict[str, str]) -> str:
    """The file text the row describes, changing in `old` only the fields that differ."""
    if old is None:
        fields = {key: value_of(key, row.get(key, "")) for key in FIELDS if row.get(key, "")}
        fields.setdefault("reviews", [])
        return compose_file(fields, row.get("body", ""))
    current = read_fields(split_file(old))
    text = old
    for key in FIELDS:
        if row.get(key, "") != cell(key, current.get(key)):
            text = set_field(text, key, value_of(key, row.get(key, "")))
    parts = split_file(text)
    if row.get("body", "") != parts.body:
        body = row.get("body", "").strip("\n") + "\n"
        text = parts.opening + parts.front_text() + parts.closing + body
    return text


def apply(plan: ImportPlan) -> None:
    """Write the planned files (only call it on a plan without problems)."""
    for path, text in {**plan.changed, **plan.created}.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
