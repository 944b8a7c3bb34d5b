"""The catalog as CSV: an export→import round trip leaves every file byte-identical."""

from __future__ import annotations

import io
import shutil
from datetime import date
from pathlib import Path

import pytest

from kizuna.catalog_csv import (
    COLUMNS,
    apply,
    cell,
    export_rows,
    plan_import,
    read_csv,
    value_of,
    write_csv,
)
from kizuna.config import bundled_dir
from kizuna.content import load_catalog
from kizuna.front_matter import split_file


def through_csv(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    buffer = io.StringIO(newline="")
    write_csv(rows, buffer)
    buffer.seek(0)
    return read_csv(buffer)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def library(tmp_path: Path) -> Path:
    root = tmp_path / "messages"
    shutil.copytree(bundled_dir("messages"), root)
    return root


def test_round_trip_of_the_starter_library_is_byte_identical(library):
    before = snapshot(library)
    rows = through_csv(export_rows(library))
    assert len(rows) == 262
    plan = plan_import(library, rows)
    assert (plan.problems, plan.changed, plan.created, plan.unchanged) == ([], {}, {}, 262)
    apply(plan)
    assert snapshot(library) == before


def edited(root: Path, target: str, **cells: str) -> list[dict[str, str]]:
    rows = through_csv(export_rows(root))
    for row in rows:
        if row["path"] == target:
            row.update(cells)
    return rows


def test_an_edited_title_changes_that_line_only(library):
    path = library / "child" / "3m.ja.md"
    before = path.read_text(encoding="utf-8")
    plan = plan_import(library, edited(library, "child/3m.ja.md", title="新しい: 見出し"))
    assert plan.problems == [] and list(plan.changed) == [path] and plan.unchanged == 261
    apply(plan)
    after = path.read_text(encoding="utf-8")
    changed = [
        (a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b
    ]
    assert changed == [('title: "3〜4か月児健診のころです"', 'title: "新しい: 見出し"')]
    assert load_catalog(library).variants_of("child-3m")["ja"].title == "新しい: 見出し"


def test_an_edited_body_keeps_the_front_matter(library):
    path = library / "child" / "3m.ja.md"
    front = split_file(path.read_text(encoding="utf-8")).front
    apply(
        plan_import(library, edited(library, "child/3m.ja.md", body="{{ stage_label }}です。\r\n"))
    )
    parts = split_file(path.read_text(encoding="utf-8"))
    assert parts.front == front
    assert parts.body == "{{ stage_label }}です。\n"


def test_a_new_row_creates_a_valid_file(messages_dir):
    rows = through_csv(export_rows(messages_dir))
    new = {
        **rows[0], "path": "child/d100.ja.md", "id": "child-d100", "track": "child",
        "at": "d100", "variant": "ja", "audience": "everyone", "category": "health",
        "title": "百日", "reviews": "", "sources": "出典 | https://www.cfa.go.jp/",
        "body": "{{ stage_label }}です。\n",
    }  # fmt: skip
    easy = {**new, "path": "child/d100.ja-easy.md", "variant": "ja-easy"}
    plan = plan_import(messages_dir, [*rows, new, easy])
    assert plan.problems == [] and len(plan.created) == 2 and plan.unchanged == len(rows)
    apply(plan)
    message = load_catalog(messages_dir).variants_of("child-d100")["ja"]
    assert message.sources[0].url == "https://www.cfa.go.jp/"
    assert not message.reviews


@pytest.mark.parametrize(
    ("cells", "problem"),
    [
        ({"category": "news"}, "child/d7.ja.md:7: category"),
        ({"sources": ""}, "sources: List should have at least 1"),
        ({"sources": "no url here"}, "a source must be `title | url`"),
        ({"body": "{{ nope }}"}, "template variable"),
        ({"reviews": "[{"}, "CSV record"),
        (
            {
                "path": "child/d70-partner.ja.md",
                "id": "child-d70-partner",
                "at": "d70",
                "audience": "partner",
            },
            "child/d70-partner.ja.md:1: same day as child-d70",
        ),  # fmt: skip
        ({"path": "../escape.md"}, "path must be inside messages"),
    ],
)
def test_a_bad_row_writes_nothing(messages_dir, cells, problem):
    before = snapshot(messages_dir)
    plan = plan_import(messages_dir, edited(messages_dir, "child/d7.ja.md", **cells))
    assert any(problem in str(p) for p in plan.problems), plan.problems
    assert snapshot(messages_dir) == before


def test_csv_without_the_columns_is_refused():
    with pytest.raises(ValueError, match="lacks the columns"):
        read_csv(io.StringIO("path,title\nx,y\n"))
    assert COLUMNS[0] == "path" and COLUMNS[-1] == "body"


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("title", "見出し", "見出し"),
        ("sources", [{"title": "A | B", "url": "https://a/"}], "A | B | https://a/"),
        ("sources", [], ""),
        ("reviews", [], ""),
        (
            "reviews",
            [
                {
                    "reviewer": "山田",
                    "role": "midwife",
                    "date": date(2026, 11, 1),
                    "content_hash": "h",
                }
            ],
            '[{"reviewer": "山田", "role": "midwife", "date": "2026-11-01", "content_hash": "h"}]',
        ),
    ],
)
def test_cells_round_trip(key, value, text):
    assert cell(key, value) == text
    assert value_of(key, text) == value
