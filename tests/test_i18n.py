"""UI catalogs: every id translated in every shipped locale, placeholders kept, dates localised."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from kizuna.config import bundled_dir
from kizuna.i18n import Catalogs, format_day

LOCALES = bundled_dir("locales")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def po_files() -> list[Path]:
    return sorted(LOCALES.glob("*/LC_MESSAGES/kizuna.po"))


def test_shipped_locales():
    assert {"ja", "ja-easy", "en"} <= set(Catalogs(LOCALES).locales())


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
    catalogs = Catalogs(LOCALES)
    assert catalogs.gettext("en", "Kizuna") == "Kizuna"
    assert catalogs.gettext("ja", "Kizuna") == "きずな"
    assert catalogs.gettext("xx", "Kizuna") == "きずな"


@pytest.mark.parametrize(
    ("locale", "text"),
    [("ja", "2026年11月22日"), ("ja-easy", "2026年11月22日"), ("en", "November 22, 2026")],
)
def test_dates_in_each_locales_form(locale, text):
    assert format_day(date(2026, 11, 22), locale) == text


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
