"""UI catalogs: every id translated in every shipped locale, placeholders kept, LINE labels short,
furigana marked for ruby, dates localised, browsers' languages matched, variants paired."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from kizuna.config import bundled_dir
from kizuna.core.ruby import RUBY, ruby_to_text
from kizuna.i18n import (
    LOCALE_NAMES,
    LOCALES,
    Catalogs,
    default_variant,
    format_day,
    html_lang,
    negotiate,
    paired_locale,
)

LOCALES_DIR = bundled_dir("locales")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def po_files() -> list[Path]:
    return sorted(LOCALES_DIR.glob("*/LC_MESSAGES/kizuna.po"))


def test_every_shipped_locale_has_a_catalog_and_a_name():
    assert set(Catalogs(LOCALES_DIR).locales()) == set(LOCALES) == set(LOCALE_NAMES)
    assert len(po_files()) == 10


@pytest.mark.parametrize("path", po_files(), ids=lambda p: p.parent.parent.name)
def test_every_id_translated_with_its_placeholders(path):
    with path.open("rb") as handle:
        catalog = read_po(handle)
    all_ids = set()
    for other in po_files():
        with other.open("rb") as handle:
            all_ids |= {m.id for m in read_po(handle) if m.id}
    translated = {m.id: m.string for m in catalog if m.id}
    assert sorted(all_ids - set(translated)) == []
    for msgid, text in translated.items():
        assert text, f"{msgid!r} is empty"
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(msgid)), msgid


def test_gettext_fills_values_and_falls_back_to_ja():
    catalogs = Catalogs(LOCALES_DIR)
    assert catalogs.gettext("en", "Kizuna") == "Kizuna"
    assert catalogs.gettext("ja", "Kizuna") == "きずな"
    assert catalogs.gettext("xx", "Kizuna") == "きずな"


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("ja", "2026年11月22日"),
        ("ja-easy", "2026年11月22日"),
        ("en", "November 22, 2026"),
        ("zh-Hans", "2026年11月22日"),
        ("vi", "22 tháng 11, 2026"),
        ("ko", "2026년 11월 22일"),
        ("fil", "Nobyembre 22, 2026"),
        ("pt-BR", "22 de novembro de 2026"),
        ("ne", "2026 नोभेम्बर 22"),
        ("id", "22 November 2026"),
    ],
)
def test_dates_in_each_locales_form(locale, text):
    assert format_day(date(2026, 11, 22), locale) == text


# Quick-reply and date-picker labels: LINE refuses a label over 20 characters.
LINE_LABELS = (
    "I am pregnant", "Raising a child", "Choose the due date", "Choose the birth date", "Skip",
    "Register", "Start again", "Resume", "Yes, stop them", "No", "Yes, please", "No, thank you",
    "Standard Japanese", "Easy Japanese", "🌐 Language", "Delete my data", "Do not delete",
)  # fmt: skip


@pytest.mark.parametrize("locale", LOCALES)
def test_line_labels_fit(locale):
    catalogs = Catalogs(LOCALES_DIR)
    long = {}
    for msgid in LINE_LABELS:
        label = ruby_to_text(catalogs.gettext(locale, msgid))
        if len(label) > 20 or len(label.encode("utf-16-le")) > 40:
            long[msgid] = label
    assert long == {}
    assert len({LOCALE_NAMES[code] for code in LOCALES}) == len(LOCALES)  # the language menu
    assert max(len(name) for name in LOCALE_NAMES.values()) <= 20


def test_easy_japanese_marks_every_reading_for_ruby():
    """One form in the catalog, ｜漢字《かんじ》: the pages show it as <ruby>, LINE and plain mail
    as 漢字(かんじ). A reading written as 漢字(かんじ) could not become ruby on a page."""
    with (LOCALES_DIR / "ja-easy" / "LC_MESSAGES" / "kizuna.po").open("rb") as handle:
        texts = [m.string for m in read_po(handle) if m.id]
    unmarked = [t for t in texts if re.search(r"[\u3400-\u9fff]\([\u3041-\u309f]+\)", t)]
    assert unmarked == []
    assert sum(bool(RUBY.search(t)) for t in texts) > 100


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("", None),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR, en;q=0.4, ja;q=0.8", "ja"),
        ("ja;q=0, en;q=0.1", "en"),
        ("de, fr", None),
        ("en;q=bogus, ja", "ja"),
        ("zh-CN,zh;q=0.9", "zh-Hans"),
        ("zh", "zh-Hans"),  # Chinese with no script: simplified, by CLDR's likely subtags
        ("zh-SG", "zh-Hans"),
        ("zh-TW, ja;q=0.5", "ja"),  # traditional Chinese is not what we ship
        ("zh-Hant-HK", None),
        ("vi-VN,vi;q=0.9,en-US;q=0.8", "vi"),
        ("ko-KR", "ko"),
        ("fil-PH", "fil"),
        ("tl", "fil"),  # Tagalog, as older browsers say it
        ("pt-BR,pt;q=0.9", "pt-BR"),
        ("pt-PT", "pt-BR"),  # any Portuguese reader reads Brazilian Portuguese
        ("ne-NP", "ne"),
        ("id-ID", "id"),
        ("in", "id"),  # the old code for Indonesian
        ("*, x-klingon, ko;q=0.2", "ko"),
        ("ja-JP", "ja"),  # never ja-easy: no browser asks for やさしい日本語
    ],
)
def test_accept_language_is_negotiated(header, locale):
    assert negotiate(header) == locale


@pytest.mark.parametrize(
    ("locale", "variant", "lang", "paired"),
    [
        ("ja", "ja", "ja", "ja"),
        ("ja-easy", "ja-easy", "ja", "ja"),
        ("en", "ja-easy", "en", "en"),
        ("zh-Hans", "ja-easy", "zh-Hans", "zh-Hans"),
        ("pt-BR", "ja-easy", "pt-BR", "pt-BR"),
    ],
)
def test_default_pairing_of_locale_and_variant(locale, variant, lang, paired):
    assert default_variant(locale) == variant
    assert html_lang(locale) == lang
    assert paired_locale(locale, "ja") == paired  # a foreign reader keeps their language
    assert paired_locale("ja", "ja-easy") == "ja-easy"  # a Japanese reader follows the variant


KEYWORDS = {"_": None, "gettext": (2,), "_t": (2,), "_text": (2,), "N_": None}


def used_ids() -> dict[str, str]:
    """Every message id the code and templates ask for (pybabel's own extraction)."""
    from babel.messages.extract import extract_from_dir

    root = Path(__file__).resolve().parent.parent / "kizuna"
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    found = {}
    for filename, _line, msgid, _comments, _context in extract_from_dir(
        str(root), method_map, keywords=KEYWORDS, options_map={"templates/**.html": {}}
    ):
        if isinstance(msgid, str) and msgid:
            found.setdefault(msgid, filename)
    return found


def test_the_extraction_sees_code_and_templates():
    ids = used_ids()
    assert "Are you pregnant, or raising a child?" in ids  # LINE bot
    assert "Please check your mail" in ids  # a page template


@pytest.mark.parametrize("path", po_files(), ids=lambda p: p.parent.parent.name)
def test_every_id_the_code_uses_is_translated(path):
    with path.open("rb") as handle:
        translated = {m.id for m in read_po(handle) if m.id and m.string}
    missing = {msgid: where for msgid, where in used_ids().items() if msgid not in translated}
    assert missing == {}
