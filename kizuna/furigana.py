"""Adding furigana to message bodies: readings from UniDic (fugashi), okurigana left out.

Readings come from each word's `kana` feature, turned into hiragana and attached only to its
kanji (`｜食《た》べる`). Words UniDic reads wrongly in our texts (numbers with counters,
出生届 …) are fixed in an editor-maintained list, `messages/furigana-exceptions.yml`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import yaml

from kizuna.content import message_files
from kizuna.core.ruby import RUBY, ruby_to_html, ruby_to_text
from kizuna.front_matter import split_file

EXCEPTIONS_FILE = "furigana-exceptions.yml"
KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff々〆ヶ]")
KANJI_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff々〆ヶ]+")
KATAKANA = re.compile(r"[\u30a1-\u30f6]")
# Left exactly as written: existing furigana and template tags.
PROTECTED = re.compile(RUBY.pattern + r"|\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


def to_hiragana(kana: str) -> str:
    return KATAKANA.sub(lambda m: chr(ord(m[0]) - 0x60), kana)


def load_exceptions(path: Path) -> dict[str, str]:
    """`surface: reading` pairs; none when the file does not exist."""
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must map each word to its reading")
    bad = [str(k) for k, v in data.items() if not isinstance(v, str) or not str(k).strip()]
    if bad:
        raise ValueError(f"{path}: give a reading in kana for {', '.join(bad)}")
    return {str(k): to_hiragana(v) for k, v in data.items()}


def ruby(surface: str, reading: str) -> str:
    """Markup for a word: each run of kanji gets its part of the reading; kana stays bare.

    `食べ物`/`たべもの` → `｜食《た》べ｜物《もの》`. When the kana of the word cannot be found
    in its reading, the whole word carries the reading.
    """
    runs = KANJI_RUN.split(surface)
    kanji = KANJI_RUN.findall(surface)
    pattern = "(.+?)".join(re.escape(to_hiragana(run)) for run in runs)
    match = re.fullmatch(pattern, reading)
    if match is None:
        return f"｜{surface}《{reading}》"
    out = [runs[0]]
    for index, base in enumerate(kanji):
        part = match[index + 1]
        out.append(base if part == base else f"｜{base}《{part}》")
        out.append(runs[index + 1])
    return "".join(out)


@dataclass
class Annotated:
    """A text with readings added, and the words left without one (UniDic had none)."""

    text: str
    unread: list[str] = field(default_factory=list)


def annotate(text: str, tagger, exceptions: dict[str, str]) -> Annotated:
    """Add readings to every kanji word of `text` outside existing furigana and template tags."""
    result = Annotated("")
    fixed = Exceptions(exceptions)
    last = 0
    for match in PROTECTED.finditer(text):
        _annotate_plain(text[last : match.start()], tagger, fixed, result)
        result.text += match[0]
        last = match.end()
    _annotate_plain(text[last:], tagger, fixed, result)
    return result


class Exceptions:
    """The exceptions list as one pattern: longest words first, and `4日` never inside `14日`."""

    def __init__(self, readings: dict[str, str]) -> None:
        self.readings = readings
        words = sorted(readings, key=len, reverse=True)
        parts = [(r"(?<![0-9０-９])" if w[0].isdigit() else "") + re.escape(w) for w in words]
        self.pattern = re.compile("|".join(parts)) if parts else None

    def finditer(self, text: str):
        return self.pattern.finditer(text) if self.pattern else iter(())


def _annotate_plain(text: str, tagger, fixed: Exceptions, result: Annotated) -> None:
    last = 0
    for match in fixed.finditer(text):
        _annotate_words(text[last : match.start()], tagger, result)
        result.text += f"｜{match[0]}《{fixed.readings[match[0]]}》"
        last = match.end()
    _annotate_words(text[last:], tagger, result)


def _annotate_words(text: str, tagger, result: Annotated) -> None:
    position, previous = 0, None
    for word in tagger(text) if text.strip() else ():
        start = text.find(word.surface, position)
        if start < 0:  # the tagger normalised something: keep the rest as written
            break
        result.text += text[position:start]
        position = start + len(word.surface)
        result.text += _word(word, previous, result)
        previous = word
    result.text += text[position:]


def _word(word, previous, result: Annotated) -> str:
    surface, kana = word.surface, word.feature.kana
    if not KANJI.search(surface):
        return surface
    if not kana or kana == "*":
        result.unread.append(surface)
        return surface
    reading = to_hiragana(kana)
    # After digits UniDic reads 日 as か (14日 → か); the irregular dates and durations
    # (2日 ふつか … 20日 はつか) are in the exceptions list, so any other number is にち.
    if surface == "日" and previous is not None and previous.surface.isdigit():
        reading = "にち"
    return ruby(surface, reading)


def make_tagger():
    """A UniDic (unidic-lite) tagger; made once per run, it is slow to start."""
    from fugashi import Tagger

    return Tagger()


class Form(StrEnum):
    """How annotated text is shown: the markup written to files, or as a channel shows it."""

    MARKUP = "markup"  # ｜漢字《かんじ》
    LINE = "line"  # 漢字(かんじ), as in LINE and plain-text mail
    HTML = "html"  # <ruby>漢字<rt>かんじ</rt></ruby>

    def show(self, text: str) -> str:
        return {Form.MARKUP: text, Form.LINE: ruby_to_text(text), Form.HTML: ruby_to_html(text)}[
            self
        ]


def annotate_files(
    paths: list[Path], tagger, exceptions: dict[str, str], *, write: bool
) -> list[tuple[Path, Annotated]]:
    """Annotate the bodies of files (the ja-easy files of a folder); only changed ones return.

    With `write`, only each body is rewritten; the front matter keeps its bytes.
    """
    files: list[Path] = []
    for path in paths:
        found = message_files(path) if path.is_dir() else [path]
        files.extend(f for f in found if path.is_file() or f.name.endswith(".ja-easy.md"))
    changed = []
    for path in files:
        text = path.read_bytes().decode("utf-8")
        parts = split_file(text)
        result = annotate(parts.body, tagger, exceptions)
        if result.text == parts.body:
            continue
        changed.append((path, result))
        if write:
            new = parts.opening + parts.front_text() + parts.closing + result.text
            path.write_bytes(new.encode("utf-8"))
    return changed
