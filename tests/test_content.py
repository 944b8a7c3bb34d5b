"""The catalog loader: every kind of problem, reported with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import message_text, write_message

from kizuna.content import CatalogError, check_files, load_catalog, message_files


def problems_of(root: Path) -> list[str]:
    _, problems = check_files(message_files(root), root=root)
    return [str(p) for p in problems]


def test_valid_library_loads(messages_dir):
    catalog = load_catalog(messages_dir)
    assert len(catalog.messages) == 16
    assert "child-d7" in catalog.ids()
    assert catalog.variants_of("pregnancy-12w0d")["ja"].body_line == 19


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(CatalogError, match="messages folder not found"):
        load_catalog(tmp_path / "nowhere")


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no front matter\n", "pregnancy/12w0d.ja.md:1: front matter: file must start"),
        ("---\nid: x\n", "pregnancy/12w0d.ja.md:1: front matter: front matter is not closed"),
        ("---\nid: [unclosed\n---\nbody\n", "pregnancy/12w0d.ja.md:2: front matter:"),
        ("---\n- a list\n---\nbody\n", "pregnancy/12w0d.ja.md:1: front matter must be a mapping"),
        (message_text(track="pregnant"), "pregnancy/12w0d.ja.md:3: track: Input should be"),
        (message_text(at="12w9d"), "pregnancy/12w0d.ja.md:4: pregnancy `at` must look like 12w3d"),
        (message_text(variant="JA"), "pregnancy/12w0d.ja.md:5: variant: Value error"),
        (message_text(audience="fathers"), "pregnancy/12w0d.ja.md:6: audience: Input should be"),
        (message_text(category="news"), "pregnancy/12w0d.ja.md:7: category: Value error"),
        (
            message_text(sources=[]),
            "pregnancy/12w0d.ja.md:10: sources: List should have at least 1",
        ),
        (
            message_text(sources=[{"title": "x", "url": "ftp://x"}]),
            "10: sources.0.url: String should match",
        ),
        (
            message_text(
                reviews=[
                    {
                        "reviewer": "a",
                        "role": "midwife",
                        "date": "2026-11-01",
                        "content_hash": "md5:x",
                    }
                ]
            ),
            ":13: reviews.0.content_hash",
        ),
        (
            message_text(colour="red"),
            "pregnancy/12w0d.ja.md:14: colour: Extra inputs are not permitted",
        ),
        (message_text(id="pregnancy-12w1d"), "pregnancy/12w0d.ja.md:2: id must be pregnancy-12w0d"),
        (
            message_text(body="{% if nickname %}閉じない"),
            "pregnancy/12w0d.ja.md:15: template syntax:",
        ),
        (
            message_text(body="一行目\n二行目\n{{ nickname }"),
            "pregnancy/12w0d.ja.md:17: template syntax:",
        ),
        (
            message_text(body="{{ child_name }}"),
            "pregnancy/12w0d.ja.md:15: template variable: 'child_name'",
        ),
        (
            message_text(body="{{ local.ward_office }}"),
            "template variable: 'dict object' has no attribute",
        ),
        (message_text(body="{{ ''.__class__ }}"), "template"),
        (
            message_text(body="あ" * 5001),
            "pregnancy/12w0d.ja.md:15: text is longer than LINE allows",
        ),
        (message_text(body="{% if false %}x{% endif %}"), "renders to an empty text"),
    ],
)
def test_file_problems(tmp_path, text, expected):
    write(tmp_path, "pregnancy/12w0d.ja.md", text)
    write_message(tmp_path, variants=("ja-easy",))  # keeps the variants in step
    found = problems_of(tmp_path)
    assert any(expected in p for p in found), found


def test_wrong_place_is_reported(tmp_path):
    write(tmp_path, "pregnancy/other-name.ja.md", message_text())
    write_message(tmp_path, variants=("ja-easy",))
    assert any("file must be at messages/pregnancy/12w0d.ja.md" in p for p in problems_of(tmp_path))


def test_two_messages_on_one_day(tmp_path):
    write_message(tmp_path, at="12w0d")
    write_message(tmp_path, at="12w0d", audience="partner")
    assert any("same day as pregnancy-12w0d (12w0d)" in p for p in problems_of(tmp_path))


@pytest.mark.parametrize(("present", "missing"), [("ja", "ja-easy"), ("ja-easy", "ja")])
def test_variants_out_of_step(tmp_path, present, missing):
    write_message(tmp_path, variants=(present,))
    assert problems_of(tmp_path) == [
        f"pregnancy/12w0d.{present}.md:1: pregnancy-12w0d has no {missing} variant"
    ]


def test_duplicate_id_and_variant(tmp_path):
    write_message(tmp_path)
    write(tmp_path, "pregnancy/sub/12w0d.ja.md", message_text())
    found = problems_of(tmp_path)
    assert any("duplicate of pregnancy/12w0d.ja.md" in p for p in found), found


def test_all_problems_reported_at_once(tmp_path):
    write(tmp_path, "pregnancy/12w0d.ja.md", message_text(category="news"))
    write(
        tmp_path,
        "child/d7.ja.md",
        message_text(track="child", at="d7", id="child-d7", body="{{ nope }}"),
    )
    with pytest.raises(CatalogError) as raised:
        load_catalog(tmp_path)
    text = str(raised.value)
    assert "pregnancy/12w0d.ja.md:7: category" in text
    assert "child/d7.ja.md:15: template variable" in text


def test_a_municipalitys_own_message_loads_beside_ours_on_the_same_day(messages_dir):
    write_message(messages_dir, track="pregnancy", at="12w0d", municipality="131016",
                  category="local")  # fmt: skip
    catalog = load_catalog(messages_dir)
    message = catalog.variants_of("131016-pregnancy-12w0d")["ja"]
    assert message.municipality == "131016"
    assert catalog.municipalities() == {"131016"}
    assert catalog.variants_of("pregnancy-12w0d")["ja"].municipality is None


@pytest.mark.parametrize(
    ("relative", "fields", "expected"),
    [
        ("municipalities/131017/pregnancy/12w0d.ja.md", {"municipality": "131017",
         "id": "131017-pregnancy-12w0d"}, "municipality must be a 6-digit local government code"),
        ("municipalities/131016/pregnancy/12w0d.ja.md", {"municipality": "131016"},
         "id must be 131016-pregnancy-12w0d"),
        ("municipalities/131016/pregnancy/12w0d.ja.md", {"id": "131016-pregnancy-12w0d"},
         "file must be at messages/pregnancy/12w0d.ja.md"),
        ("pregnancy/12w0d.ja.md", {"municipality": "131016", "id": "131016-pregnancy-12w0d"},
         "file must be at messages/municipalities/131016/pregnancy/12w0d.ja.md"),
    ],
)  # fmt: skip
def test_a_municipalitys_message_names_its_code_in_its_place_and_id(
    tmp_path, relative, fields, expected
):
    write(tmp_path, relative, message_text(**fields))
    assert any(expected in problem for problem in problems_of(tmp_path))


def test_a_municipality_has_one_message_a_day_and_room_for_its_mark(tmp_path):
    write_message(tmp_path, track="child", at="4m", municipality="131016")
    write_message(tmp_path, track="child", at="4m", audience="partner", municipality="131016")
    write_message(tmp_path, track="child", at="d7", municipality="131016", body="あ" * 4990)
    found = problems_of(tmp_path)
    assert any("same day as 131016-child-4m" in p for p in found)
    assert any("d7.ja.md" in p and "longer than LINE allows" in p for p in found)
