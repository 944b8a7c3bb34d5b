"""Scaffolding a new message, gathering files to check, and validating with review freshness."""

from __future__ import annotations

import pytest
from conftest import message_text, write_message

from kizuna.core.catalog import Audience
from kizuna.core.stage import Track
from kizuna.editing import (
    NewMessage,
    ScaffoldError,
    loose_catalog,
    read_targets,
    scaffold,
    validate,
)


def test_scaffold_writes_complete_front_matter(tmp_path):
    path = scaffold(tmp_path, NewMessage(Track.CHILD, "1y6m", "ja-easy", Audience.PARTNER))
    assert path == tmp_path / "child" / "1y6m-partner.ja-easy.md"
    assert path.read_text(encoding="utf-8") == (
        "---\nid: child-1y6m-partner\ntrack: child\nat: 1y6m\nvariant: ja-easy\n"
        "audience: partner\ncategory: development\nage_basis: chronological\n"
        'title: "（見出し）"\nsources: []\nreviews: []\n---\n'
        "{% if nickname %}{{ nickname }}さん、{% endif %}"
        "きょうで{{ stage_label }}です。\n\n（本文）\n"
    )
    problems = [p.text for p in validate([tmp_path]).problems]
    assert any("sources: List should have at least 1" in text for text in problems)


def test_scaffold_a_municipalitys_own_message_beside_ours(tmp_path):
    write_message(tmp_path, track="child", at="4m", variants=("ja",))  # ours, the same day
    path = scaffold(tmp_path, NewMessage(Track.CHILD, "4m", "ja", municipality="131016"))
    assert path == tmp_path / "municipalities" / "131016" / "child" / "4m.ja.md"
    text = path.read_text(encoding="utf-8")
    assert "id: 131016-child-4m\n" in text and 'municipality: "131016"\n' in text
    assert "category: local\n" in text
    with pytest.raises(FileExistsError):  # never overwritten
        scaffold(tmp_path, NewMessage(Track.CHILD, "4m", "ja", municipality="131016"))
    with pytest.raises(ValueError, match="6-digit"):
        scaffold(tmp_path, NewMessage(Track.CHILD, "4m", "ja", municipality="131017"))


def test_scaffold_takes_the_partner_variant_s_fields(tmp_path):
    write_message(tmp_path, variants=("ja",), category="checkup", title="健診")
    path = scaffold(tmp_path, NewMessage(Track.PREGNANCY, "12w0d", "ja-easy"))
    written = path.read_text(encoding="utf-8")
    assert "category: checkup\n" in written and 'title: "健診"\n' in written
    assert 'sources:\n  - title: "出典"\n    url: https://www.cfa.go.jp/\n' in written


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (NewMessage(Track.PREGNANCY, "12w0d", "ja"), ScaffoldError),
        (NewMessage(Track.PREGNANCY, "12w0d", "ja", Audience.PARTNER), ScaffoldError),
        (NewMessage(Track.PREGNANCY, "12w", "ja"), ValueError),
        (NewMessage(Track.PREGNANCY, "13w0d", "JA"), ValueError),
        (NewMessage(Track.PREGNANCY, "13w0d", "ja", category="news"), ValueError),
    ],
)
def test_scaffold_refuses(tmp_path, request_, error):
    write_message(tmp_path)
    with pytest.raises(error):
        scaffold(tmp_path, request_)
    assert sorted(p.name for p in (tmp_path / "pregnancy").iterdir()) == [
        "12w0d.ja-easy.md", "12w0d.ja.md",
    ]  # fmt: skip


def test_loose_catalog_keeps_what_parses(tmp_path):
    write_message(tmp_path)
    (tmp_path / "child").mkdir()
    (tmp_path / "child" / "d7.ja.md").write_text(message_text(category="news"))
    catalog = loose_catalog(tmp_path, {"en": ["ja"]})
    assert catalog.ids() == {"pregnancy-12w0d"}
    assert catalog.fallbacks == {"en": ("ja",)}


def test_read_targets_mixes_folders_and_files(tmp_path, messages_dir):
    one = messages_dir / "child" / "d7.ja.md"
    checked = read_targets([messages_dir, one, tmp_path / "nowhere"])
    assert len(checked.messages) == 17
    assert [str(p) for p in checked.problems] == [
        f"{tmp_path / 'nowhere'}:0: no such file or folder"
    ]
    assert checked.unreviewed == 2
