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
