"""Rewriting one front matter field of a message file, leaving every other byte as it was."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date

import yaml

PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./:-]*")


@dataclass(frozen=True, slots=True)
class FileParts:
    """A message file cut at its front matter's bounds; joining the parts gives the file back."""

    opening: str  # the first `---` line, with its line ending
    front: list[str]  # the front matter's lines, with their line endings
    closing: str  # the closing `---` line
    body: str  # everything after it, untouched

    def text(self) -> str:
        return self.opening + "".join(self.front) + self.closing + self.body

    def front_text(self) -> str:
        return "".join(self.front)


def split_file(text: str) -> FileParts:
    """Cut a file into its parts; ValueError when it has no closed front matter."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        raise ValueError("file must start with a `---` line opening the front matter")
    for index in range(1, len(lines)):
        if lines[index].rstrip() == "---":
            return FileParts(lines[0], lines[1:index], lines[index], "".join(lines[index + 1 :]))
    raise ValueError("front matter is not closed by a `---` line")


def read_fields(parts: FileParts) -> dict[str, object]:
    """The front matter as YAML values (dates stay dates)."""
    value = yaml.safe_load(parts.front_text())
    if not isinstance(value, dict):
        raise ValueError("front matter must be a mapping of fields")
    return value


def scalar(value: object) -> str:
    """One YAML scalar: plain when it reads back as the same string, else double-quoted."""
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if PLAIN.fullmatch(text) and yaml.safe_load(text) == text:
        return text
    # JSON strings are YAML double-quoted scalars; non-ASCII stays readable.
    return json.dumps(text, ensure_ascii=False)


def dump_field(key: str, value: object) -> list[str]:
    """The lines of one top-level field in the starter library's style."""
    if isinstance(value, list) and not value:
        return [f"{key}: []\n"]
    if isinstance(value, list):
        lines = [f"{key}:\n"]
        for item in value:
            pairs = item.items() if isinstance(item, dict) else [(None, item)]
            for position, (name, part) in enumerate(pairs):
                lead = "  - " if position == 0 else "    "
                lines.append(
                    f"{lead}{name}: {scalar(part)}\n" if name else f"{lead}{scalar(part)}\n"
                )
        return lines
    return [f"{key}: {scalar(value)}\n"]


def field_spans(parts: FileParts) -> dict[str, tuple[int, int]]:
    """Each top-level key's lines in `parts.front`, as [start, end) indices."""
    node = yaml.compose(parts.front_text(), Loader=yaml.SafeLoader)
    if not isinstance(node, yaml.MappingNode):
        return {}
    spans = {}
    for key, value in node.value:
        end = value.end_mark.line + (0 if value.end_mark.column == 0 else 1)
        spans[key.value] = (key.start_mark.line, max(end, key.start_mark.line + 1))
    return spans


def set_field(text: str, key: str, value: object) -> str:
    """`text` with one front matter field rewritten (added at the end if missing).

    Only that field's lines change: comments and quoting elsewhere and the body stay
    byte-identical, so a review or an import touches exactly what it means to.
    """
    parts = split_file(text)
    lines = dump_field(key, value)
    front = list(parts.front)
    if front and not front[-1].endswith("\n"):
        front[-1] += "\n"
    span = field_spans(parts).get(key)
    if span is None:
        front.extend(lines)
    else:
        front[span[0] : span[1]] = lines
    return FileParts(parts.opening, front, parts.closing, parts.body).text()


def compose_file(fields: dict[str, object], body: str) -> str:
    """A whole new message file from its fields (in the given order) and body."""
    lines = [line for key, value in fields.items() for line in dump_field(key, value)]
    return "---\n" + "".join(lines) + "---\n" + body.strip("\n") + "\n"
