"""Checking やさしい日本語 against the rules of the national guideline, with a readability score.

The guideline is 在留支援のためのやさしい日本語ガイドライン (出入国在留管理庁・文化庁, 2020).
Errors break a rule it states plainly; warnings are measures over a limit; notes ask for a look.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from jreadability import compute_readability

from kizuna.core.catalog import Message
from kizuna.core.ruby import RUBY
from kizuna.core.status import ChannelName
from kizuna.rendering import RenderContext, Renderer

EASY_VARIANT = "ja-easy"
MAX_SENTENCE_CHARS = 50  # a longer sentence is hard to hold in mind in a second language
MAX_KANJI_PER_SENTENCE = 10
MAX_CLAUSE_LINKS = 1  # "…ので、…が、…": a second link joins a second idea

PLACEHOLDER = "〇〇"  # stands for a template variable: its value is not the editor's wording
KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff々]")
BULLET = re.compile(r"^\s*(?:[・･\-*※]|\d+[.)．）])")
ENDS, OPENING, CLOSING = "。！？!?", "「『（(", "」』）)"
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}")
ALTERNATIVE = re.compile(r"\{%-?\s*(?:else|elif)\b.*?%\}")
CLAUSE_LINKS = {
    "が",
    "けど",
    "けれど",
    "けれども",
    "ので",
    "から",
    "し",
    "のに",
    "ながら",
    "ば",
    "と",
}
POLITE_LEMMAS = {"です", "ます", "下さる"}  # …です / …ます / …てください
HONORIFIC_LEMMAS = {
    "いらっしゃる", "おっしゃる", "召し上がる", "なさる", "為さる", "申す", "申し上げる",
    "致す", "頂く", "伺う", "参る", "御座る", "拝見", "存じる", "差し上げる",
}  # fmt: skip
# Set phrases every learner meets first: おめでとうございます, ありがとうございます, おねがいします.
SET_PHRASE_BEFORE = {"御座る": {"めでたい", "有り難う", "有り難い"}}
SET_PHRASE_WORDS = {"願い", "ねがい"}
NEG = r"(?:な(?:い|く)|無(?:い|く))"
NEG_END = r"(?:ない|無い|ありません|なかった)"
DOUBLE_NEGATIVE = re.compile(
    rf"{NEG}(?:わけ|訳)では{NEG_END}|ない(?:こと|事)[はも]{NEG_END}|なく[はも]{NEG_END}"
    r"|ざるを(?:得|え)|ないとは限ら|な(?:ければ|くては|いと)(?:なら|なり|いけ|だめ)"
)


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


DATE_TIME = [
    (r"\d{1,2}[:：]\d{2}", Severity.ERROR, "write the time as 午前/午後 N時M分, not 17:30"),
    (r"(?<!午後)(?<![\d０-９])(?:1[3-9]|2[0-4])時(?!間)", Severity.ERROR, "write 午後 and 1-12"),
    (r"\d{1,4}[/／]\d{1,2}(?:[/／]\d{1,4})?", Severity.ERROR, "write N月N日, not a slash"),
    (r"(?:令和|平成|昭和)\s*(?:\d+|元)年", Severity.ERROR, "write the year in 西暦 (2026年)"),
    (r"\d+\s*[〜~～]\s*\d+", Severity.WARNING, "write a range with から … まで, not 〜"),
]
DATE_TIME_RULES = [(re.compile(p), severity, advice) for p, severity, advice in DATE_TIME]


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    path: str
    line: int
    rule: str
    severity: Severity
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity} [{self.rule}] {self.text}"


@dataclass(frozen=True, slots=True)
class Sentence:
    line: int
    text: str
    bullet: bool  # a list item: a phrase, not held to the sentence-ending rule

    @property
    def terminated(self) -> bool:
        return self.text.endswith(tuple(ENDS))


Hit = tuple[str, Severity, str]  # rule, severity, what to do
Rule = Callable[[Sentence, list], Hit | None]


def plain_lines(body: str) -> list[str]:
    """Body lines as a reader sees the words: variables as 〇〇, ruby as its base text.

    `{% else %}` becomes a break within the line, so that two alternative wordings are read
    as separate sentences; every other tag disappears.
    """
    lines = []
    for line in body.split("\n"):
        line = re.sub(r"\{\{.*?\}\}", PLACEHOLDER, ALTERNATIVE.sub("\n", line))
        lines.append(RUBY.sub(r"\1", JINJA.sub("", line)))
    return lines


def split_sentences(text: str) -> Iterator[str]:
    """Sentences end at 。！？ outside quotes and brackets (「自分で！」 is inside one)."""
    depth, start = 0, 0
    for index, char in enumerate(text):
        depth += (char in OPENING) - (char in CLOSING and depth > 0)
        at_end = index + 1 == len(text) or text[index + 1] not in ENDS
        if depth == 0 and char in ENDS and at_end:
            yield text[start : index + 1]
            start = index + 1
    yield text[start:]


def sentences(body: str, first_line: int = 1) -> Iterator[Sentence]:
    for offset, line in enumerate(plain_lines(body)):
        for part in line.split("\n"):
            bullet = bool(BULLET.match(part))
            for text in split_sentences(part):
                if text.strip() and text.strip() != PLACEHOLDER:
                    yield Sentence(first_line + offset, text.strip(), bullet)


def sentence_length(sentence: Sentence, _tokens: list) -> Hit | None:
    length = len(sentence.text.replace(PLACEHOLDER, ""))
    if length <= MAX_SENTENCE_CHARS:
        return None
    return "short-sentence", Severity.WARNING, f"{length} characters (up to {MAX_SENTENCE_CHARS})"


def one_idea(_sentence: Sentence, tokens: list) -> Hit | None:
    links = [
        t.surface for t in tokens if t.feature.pos2 == "接続助詞" and t.surface in CLAUSE_LINKS
    ]
    if len(links) <= MAX_CLAUSE_LINKS:
        return None
    return "one-idea", Severity.WARNING, f"clauses joined by {'、'.join(links)}: one idea each"


def predicate_end(tokens: list) -> list:
    """The last predicate: auxiliaries back to their verb, skipping 。, ね/よ/か and an aside."""
    depth, kept = 0, []
    for token in reversed(tokens):
        pos1, pos2 = token.feature.pos1, token.feature.pos2
        if pos2 == "括弧閉":
            depth += 1
        elif pos2 == "括弧開":
            depth = max(depth - 1, 0)
        elif depth == 0 and pos1 not in ("補助記号", "空白") and (kept or pos2 != "終助詞"):
            kept.append(token)
            if pos1 != "助動詞":
                break
    return kept


def polite_ending(sentence: Sentence, tokens: list) -> Hit | None:
    if sentence.bullet or not sentence.terminated:
        return None
    tail = predicate_end(tokens)
    if not tail or PLACEHOLDER[0] in tail[0].surface:  # ends in a variable's value
        return None
    if any(t.feature.lemma in POLITE_LEMMAS for t in tail):
        return None
    return "desu-masu", Severity.ERROR, f"end with です or ます: …{sentence.text[-12:]}"


def double_negative(sentence: Sentence, _tokens: list) -> Hit | None:
    if match := DOUBLE_NEGATIVE.search(sentence.text):
        return "double-negative", Severity.ERROR, f"「{match[0]}」: say it positively"
    return None


def honorific(_sentence: Sentence, tokens: list) -> Hit | None:
    for index, token in enumerate(tokens):
        lemma, before = token.feature.lemma, tokens[index - 1].feature.lemma if index else ""
        if lemma in HONORIFIC_LEMMAS and before not in SET_PHRASE_BEFORE.get(lemma, ()):
            return "honorific", Severity.ERROR, f"「{token.surface}」: no honorific or humble form"
        # お/ご + word + する / ください / になる: ご相談ください, お待ちになる, ご案内します
        if token.feature.pos1 != "接頭辞" or index + 2 >= len(tokens):
            continue
        word, after = tokens[index + 1], [t.feature.lemma for t in tokens[index + 2 : index + 4]]
        if word.surface not in SET_PHRASE_WORDS and (
            after[0] in ("為る", "下さる") or after[:2] == ["に", "成る"]
        ):
            words = "".join(t.surface for t in tokens[index : index + 3])
            return "honorific", Severity.ERROR, f"「{words}…」: say it plainly (…してください)"
    return None


def kanji_count(sentence: Sentence, _tokens: list) -> Hit | None:
    count = len(KANJI.findall(sentence.text))
    if count <= MAX_KANJI_PER_SENTENCE:
        return None
    return "kanji", Severity.WARNING, f"{count} kanji (up to {MAX_KANJI_PER_SENTENCE})"


def date_time(sentence: Sentence, _tokens: list) -> Hit | None:
    for pattern, severity, advice in DATE_TIME_RULES:
        if match := pattern.search(sentence.text):
            return "date-time", severity, f"「{match[0]}」: {advice}"
    return None


RULES: tuple[Rule, ...] = (
    sentence_length, one_idea, polite_ending, double_negative, honorific, kanji_count, date_time,
)  # fmt: skip


def lint_body(message: Message, tagger) -> list[Finding]:
    """Every rule over every sentence; each loanword noted once per message."""
    found: list[Finding] = []
    loanwords: set[str] = set()
    for sentence in sentences(message.body, message.body_line):
        tokens = list(tagger(sentence.text))
        hits = [hit for rule in RULES if (hit := rule(sentence, tokens))]
        for token in tokens:
            if token.feature.goshu == "外" and token.surface not in loanwords:
                loanwords.add(token.surface)
                advice = "a loanword: keep it only if readers know it"
                hits.append(("loanword", Severity.NOTE, f"「{token.surface}」: {advice}"))
        found.extend(Finding(message.path, sentence.line, *hit) for hit in hits)
    return found


def reading_text(message: Message, renderer: Renderer) -> str:
    """What a subscriber reads in the general wording, ruby as its base text."""
    context = RenderContext(stage_label="妊娠12週3日", channel=ChannelName.LINE)
    return RUBY.sub(r"\1", renderer.render_text(message, context))


def readability(text: str, tagger) -> float:
    """jReadability: from about 0.5 (upper advanced) to 6.5 (lower elementary); higher is easier."""
    return compute_readability(text, tagger)


@dataclass(frozen=True, slots=True)
class Report:
    message: Message
    score: float
    findings: list[Finding]


def lint(message: Message, *, tagger, renderer: Renderer, readability_min: float) -> Report:
    """The rule findings and the readability score of one message variant."""
    findings = lint_body(message, tagger)
    score = readability(reading_text(message, renderer), tagger)
    if score < readability_min:
        text = f"readability {score:.2f} is below {readability_min:.2f}"
        findings.append(
            Finding(message.path, message.body_line, "readability", Severity.WARNING, text)
        )
    return Report(message, score, sorted(findings))


@dataclass
class Summary:
    """Reports of every ja-easy message, and their totals."""

    reports: list[Report]

    def count(self, severity: Severity) -> int:
        return sum(f.severity is severity for r in self.reports for f in r.findings)

    @property
    def scores(self) -> list[float]:
        return [r.score for r in self.reports]


def lint_all(messages: Iterable[Message], *, tagger, readability_min: float) -> Summary:
    """Lint the ja-easy variant of every message given (other variants are not easy Japanese)."""
    renderer = Renderer()
    return Summary(
        [
            lint(m, tagger=tagger, renderer=renderer, readability_min=readability_min)
            for m in messages
            if m.variant == EASY_VARIANT
        ]
    )
