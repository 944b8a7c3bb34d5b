"""Furigana from UniDic: readings on kanji only, exceptions first, markup and tags untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_message

from kizuna.config import bundled_dir
from kizuna.content import load_catalog
from kizuna.editing import validate
from kizuna.front_matter import split_file
from kizuna.furigana import (
    EXCEPTIONS_FILE,
    Form,
    annotate,
    annotate_files,
    load_exceptions,
    make_tagger,
    ruby,
    to_hiragana,
)

EXCEPTIONS = {"出生届": "しゅっしょうとどけ", "14日": "じゅうよっか", "4日": "よっか"}


@pytest.fixture(scope="module")
def tagger():
    return make_tagger()


@pytest.mark.parametrize(
    ("surface", "reading", "markup"),
    [
        ("病院", "びょういん", "｜病院《びょういん》"),
        ("食べ", "たべ", "｜食《た》べ"),
        ("食べ物", "たべもの", "｜食《た》べ｜物《もの》"),
        ("受け付け", "うけつけ", "｜受《う》け｜付《つ》け"),
        ("子ども", "こども", "｜子《こ》ども"),
        ("お茶", "おちゃ", "お｜茶《ちゃ》"),
        ("一人ひとり", "ひとりひとり", "｜一人《ひとり》ひとり"),
        ("行く", "ゆく", "｜行《ゆ》く"),
        ("取っ手", "とって", "｜取《と》っ｜手《て》"),
        ("大人", "おとな", "｜大人《おとな》"),
        ("読み方", "よみほう", "｜読《よ》み｜方《ほう》"),
        ("飛び込む", "とびこめ", "｜飛び込む《とびこめ》"),  # kana do not match: whole word
    ],
)
def test_ruby_leaves_okurigana_out(surface, reading, markup):
    assert ruby(surface, reading) == markup


def test_to_hiragana():
    assert to_hiragana("ニュウヨウジ・ヴ") == "にゅうようじ・ゔ"


@pytest.mark.parametrize(
    ("text", "markup"),
    [
        ("赤ちゃんが生まれました。", "｜赤《あか》ちゃんが｜生《う》まれました。"),
        (
            "出生届は14日以内です。",
            "｜出生届《しゅっしょうとどけ》は｜14日《じゅうよっか》｜以内《いない》です。",
        ),
        ("4日と24日", "｜4日《よっか》と24｜日《にち》"),  # 4日 never inside 24日
        ("生後100日", "｜生後《せいご》100｜日《にち》"),  # UniDic alone would say か
        ("三日", "｜三《みっ》｜日《か》"),
        (
            "{{ nickname }}さん、{% if local.x %}市{% endif %}",
            "{{ nickname }}さん、{% if local.x %}｜市《し》{% endif %}",
        ),
        ("｜健診《けんしん》を受けます", "｜健診《けんしん》を｜受《う》けます"),
        ("ひらがなだけ", "ひらがなだけ"),
        (
            "一行目\n\n二行目",
            "｜一《いち》｜行《ぎょう》｜目《め》\n\n｜二《に》｜行《ぎょう》｜目《め》",
        ),
    ],
)
def test_annotate(tagger, text, markup):
    assert annotate(text, tagger, EXCEPTIONS).text == markup


@pytest.mark.parametrize(
    ("form", "shown"),
    [
        (Form.MARKUP, "｜赤《あか》ちゃん"),
        (Form.LINE, "赤(あか)ちゃん"),
        (Form.HTML, "<ruby>赤<rp>(</rp><rt>あか</rt><rp>)</rp></ruby>ちゃん"),
    ],
)
def test_forms(tagger, form, shown):
    assert form.show(annotate("赤ちゃん", tagger, {}).text) == shown


def test_bundled_exceptions_load_and_fix_known_misreadings(tagger):
    exceptions = load_exceptions(bundled_dir("messages") / EXCEPTIONS_FILE)
    assert exceptions["出生届"] == "しゅっしょうとどけ"
    assert annotate("20日", tagger, exceptions).text == "｜20日《はつか》"
    assert annotate("2人で", tagger, exceptions).text == "｜2人《ふたり》で"


@pytest.mark.parametrize(
    ("content", "error"),
    [("- a list\n", "must map each word"), ("病院:\n", "give a reading in kana for 病院")],
)
def test_bad_exceptions_file(tmp_path, content, error):
    path = tmp_path / EXCEPTIONS_FILE
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=error):
        load_exceptions(path)


def test_missing_exceptions_file_is_empty(tmp_path):
    assert load_exceptions(tmp_path / EXCEPTIONS_FILE) == {}


def test_the_loader_and_validate_ignore_the_exceptions_file(messages_dir):
    (messages_dir / EXCEPTIONS_FILE).write_text("出生届: しゅっしょうとどけ\n", encoding="utf-8")
    assert len(load_catalog(messages_dir).messages) == 16
    assert validate([messages_dir]).problems == []


def test_annotate_files_writes_only_bodies_of_ja_easy(tmp_path: Path, tagger):
    ja, easy = write_message(tmp_path, body="病院に行きます。")
    before_ja, before_easy = ja.read_bytes(), split_file(easy.read_text())
    changed = annotate_files([tmp_path], tagger, {}, write=False)
    assert [path for path, _ in changed] == [easy]
    assert easy.read_text() == before_easy.text()  # not written without `write`
    annotate_files([tmp_path], tagger, {}, write=True)
    after = split_file(easy.read_text())
    assert after.front == before_easy.front
    assert after.body == "｜病院《びょういん》に｜行《い》きます。\n"
    assert ja.read_bytes() == before_ja
    assert annotate_files([ja], tagger, {}, write=False)[0][0] == ja  # a file given by name
