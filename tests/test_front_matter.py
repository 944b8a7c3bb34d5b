"""Rewriting one front matter field leaves every other byte of the file as it was."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from kizuna.front_matter import compose_file, dump_field, read_fields, set_field, split_file

FILE = (
    "---\n"
    "id: pregnancy-12w0d   # a comment that must survive\n"
    'title: "見出し"\n'
    "sources:\n"
    "  - title: 出典\n"
    "    url: https://www.cfa.go.jp/\n"
    "reviews: []\n"
    "category: health\n"
    "---\n"
    "本文です。\n\n二段落目。  \n"
)


def test_split_file_gives_the_file_back():
    parts = split_file(FILE)
    assert parts.text() == FILE
    assert parts.body == "本文です。\n\n二段落目。  \n"
    assert read_fields(parts)["category"] == "health"


@pytest.mark.parametrize("text", ["no front matter\n", "---\nid: x\n"])
def test_split_file_refuses_a_file_without_closed_front_matter(text):
    with pytest.raises(ValueError, match="front matter"):
        split_file(text)


@pytest.mark.parametrize(
    ("key", "value", "expected_lines"),
    [
        ("title", "新しい見出し", ['title: "新しい見出し"\n']),
        ("category", "checkup", ["category: checkup\n"]),
        ("reviews", [], ["reviews: []\n"]),
        (
            "sources",
            [{"title": "A", "url": "https://a.example/x"}],
            ["sources:\n", "  - title: A\n", "    url: https://a.example/x\n"],
        ),
        ("audience", "partner", ["audience: partner\n"]),  # missing: appended at the end
    ],
)
def test_set_field_changes_only_that_field(key, value, expected_lines):
    new = set_field(FILE, key, value)
    old_lines, new_lines = FILE.splitlines(keepends=True), new.splitlines(keepends=True)
    assert [line for line in new_lines if line not in old_lines] == [
        line for line in expected_lines if line not in old_lines
    ]
    assert split_file(new).body == split_file(FILE).body
    assert "# a comment that must survive" in new
    assert yaml.safe_load(split_file(new).front_text())[key] == value


def test_set_field_then_back_gives_the_same_bytes():
    once = set_field(FILE, "reviews", [{"reviewer": "A", "date": date(2026, 11, 1)}])
    assert set_field(once, "reviews", []) == FILE


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("12w0d", "k: 12w0d\n"),
        ("2026-11-01", 'k: "2026-11-01"\n'),  # would read back as a date
        ("true", 'k: "true"\n'),
        ("a: b", 'k: "a: b"\n'),
        ('言う"こと"', 'k: "言う\\"こと\\""\n'),
        (date(2026, 11, 1), "k: 2026-11-01\n"),
    ],
)
def test_scalars_read_back_as_written(value, line):
    assert dump_field("k", value) == [line]
    assert yaml.safe_load(line)["k"] == value


def test_compose_file_is_loadable():
    text = compose_file({"id": "x-y", "sources": [], "title": "題"}, "\n本文\n\n")
    assert text == '---\nid: x-y\nsources: []\ntitle: "題"\n---\n本文\n'
