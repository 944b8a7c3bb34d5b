"""やさしい日本語 rules: a finding for each, silence on text that keeps them, and the score."""

from __future__ import annotations

import pytest

from kizuna.core.catalog import AgeBasis, Audience, Message, parse_at
from kizuna.core.stage import Track
from kizuna.easy_japanese import (
    Severity,
    lint,
    lint_all,
    lint_body,
    plain_lines,
    readability,
    sentences,
)
from kizuna.furigana import make_tagger
from kizuna.rendering import Renderer


@pytest.fixture(scope="module")
def tagger():
    return make_tagger()


def message(body: str, variant: str = "ja-easy") -> Message:
    return Message(
        id="pregnancy-12w0d", track=Track.PREGNANCY, at=parse_at(Track.PREGNANCY, "12w0d"),
        variant=variant, audience=Audience.EVERYONE, category="health",
        age_basis=AgeBasis.CHRONOLOGICAL, title="見出し", body=body, sources=(),
        path="pregnancy/12w0d.ja-easy.md", body_line=15,
    )  # fmt: skip


def rules(body: str, tagger) -> list[tuple[str, Severity, int]]:
    return [(f.rule, f.severity, f.line) for f in lint_body(message(body), tagger)]


@pytest.mark.parametrize(
    ("body", "rule", "severity"),
    [
        ("あ" * 51 + "です。", "short-sentence", Severity.WARNING),
        (
            "雨がふるので、かさをもっていきますが、ぬれることもあるから、きをつけてください。",
            "one-idea",
            Severity.WARNING,
        ),
        ("あしたは、びょういんに行く。", "desu-masu", Severity.ERROR),
        ("びょういんのひ。", "desu-masu", Severity.ERROR),
        ("行けないわけではありません。", "double-negative", Severity.ERROR),
        ("出さなければなりません。", "double-negative", Severity.ERROR),
        ("知らないこともないです。", "double-negative", Severity.ERROR),
        ("せんせいがいらっしゃいます。", "honorific", Severity.ERROR),
        ("わたしがご案内します。", "honorific", Severity.ERROR),
        ("まどぐちでご相談ください。", "honorific", Severity.ERROR),
        ("資料をいただきます。", "honorific", Severity.ERROR),
        ("妊娠中の定期健康診査受診票配布手続案内です。", "kanji", Severity.WARNING),
        ("ベビーカーをつかいます。", "loanword", Severity.NOTE),
        ("17:30にきてください。", "date-time", Severity.ERROR),
        ("15時にきてください。", "date-time", Severity.ERROR),
        ("4/10にきてください。", "date-time", Severity.ERROR),
        ("令和8年にかわります。", "date-time", Severity.ERROR),
        ("3〜4か月ごろです。", "date-time", Severity.WARNING),
    ],
)
def test_each_rule_finds_what_it_is_for(tagger, body, rule, severity):
    assert (rule, severity, 15) in rules(body, tagger)


@pytest.mark.parametrize(
    "body",
    [
        "{% if nickname %}{{ nickname }}さん、{% endif %}きょうで{{ stage_label }}です。",
        "ごはんを食べましょう。よく寝てくださいね。これでいいですか？",
        "子どもの10さいのたんじょう日、おめでとうございます。",
        "「自分で！」「イヤ！」と言うこともあります。",
        "やすむことができます（ふたごは14週間前から）。",
        "・ごはんを、しっかり食べる\n・野菜をとる",
        "24時間、相談できます。午後3時から午後5時まで、あいています。",
        "2026年4月10日に、おねがいします。",
        "{% if local.x %}{{ municipality_name }}より：{{ local.x }}"
        "{% else %}市に聞きます。{% endif %}",
    ],
)
def test_text_that_keeps_the_rules_has_no_finding(tagger, body):
    assert [r for r in rules(body, tagger) if r[0] != "loanword"] == []


def test_plain_lines_keep_line_numbers_and_split_alternatives():
    body = "{{ nickname }}さん。\n｜健診《けんしん》{% if a %}A。{% else %}B。{% endif %}"
    assert plain_lines(body) == ["〇〇さん。", "健診A。\nB。"]
    found = [(s.line, s.text) for s in sentences(body, first_line=20)]
    assert found == [(20, "〇〇さん。"), (21, "健診A。"), (21, "B。")]


def test_loanword_noted_once_per_message(tagger):
    found = rules("ミルクをのみます。ミルクはあたためます。", tagger)
    assert found.count(("loanword", Severity.NOTE, 15)) == 1


def test_readability_is_higher_for_easier_text(tagger):
    easy = readability("あさ、ごはんを食べます。よく寝ます。", tagger)
    hard = readability(
        "妊娠高血圧症候群の早期発見には定期的な妊婦健康診査の受診が重要である。", tagger
    )
    assert easy > 4.5 > hard


@pytest.mark.parametrize(("minimum", "warned"), [(0.0, False), (6.9, True)])
def test_readability_below_the_threshold_warns(tagger, minimum, warned):
    report = lint(message("ごはんを食べます。"), tagger=tagger, renderer=Renderer(),
                  readability_min=minimum)  # fmt: skip
    assert report.score > 0
    assert any(f.rule == "readability" for f in report.findings) is warned


def test_lint_all_reads_only_ja_easy(tagger):
    summary = lint_all(
        [message("行く。", variant="ja"), message("行く。")], tagger=tagger, readability_min=0
    )
    assert [r.message.variant for r in summary.reports] == ["ja-easy"]
    assert summary.count(Severity.ERROR) == 1
