"""What Kizuna says to people, per UI locale: gettext catalogs read from `locales/` with Babel.

The `.po` files are read directly (compiled in memory), so a fresh clone needs no build step.
Message ids are English; every shipped locale translates every id (tests/test_i18n.py).
"""

from __future__ import annotations

from datetime import date
from functools import cached_property
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

DOMAIN = "kizuna"
DEFAULT_LOCALE = "ja"
# Our locale ids (folder names under locales/), in the order a language menu offers them, and
# the Babel locale used for dates and for matching a browser's languages. ja-easy formats like
# ja; the others are the languages of Japan's largest groups of foreign residents.
BABEL_LOCALES = {
    "ja": "ja", "ja-easy": "ja", "en": "en", "zh-Hans": "zh_Hans_CN", "vi": "vi", "ko": "ko",
    "fil": "fil", "pt-BR": "pt_BR", "ne": "ne", "id": "id",
}  # fmt: skip
LOCALES = tuple(BABEL_LOCALES)
JAPANESE_LOCALES = ("ja", "ja-easy")
MAX_TAGS = 16  # of an Accept-Language header: browsers send a few; a long one is not worth parsing
# Each language by its own name, as language menus show them (the same in every locale).
LOCALE_NAMES = {
    "ja": "日本語", "ja-easy": "やさしい日本語", "en": "English", "zh-Hans": "中文（简体）",
    "vi": "Tiếng Việt", "ko": "한국어", "fil": "Filipino", "pt-BR": "Português",
    "ne": "नेपाली", "id": "Bahasa Indonesia",
}  # fmt: skip


class Catalogs:
    """All UI translations under a `locales/` folder, loaded once."""

    def __init__(self, root: Path, domain: str = DOMAIN) -> None:
        self.root = root
        self.domain = domain  # "staff": the staff console's own catalogs (ja and en)

    @cached_property
    def _translations(self) -> dict[str, Translations]:
        loaded = {}
        for po_path in sorted(self.root.glob(f"*/LC_MESSAGES/{self.domain}.po")):
            locale = po_path.parent.parent.name
            with po_path.open("rb") as handle:
                catalog = read_po(
                    handle, locale=BABEL_LOCALES.get(locale, "en"), domain=self.domain
                )
            buffer = BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            loaded[locale] = Translations(fp=buffer, domain=self.domain)
        return loaded

    def locales(self) -> list[str]:
        return sorted(self._translations)

    def translations(self, locale: str) -> Translations:
        found = self._translations.get(locale) or self._translations.get(DEFAULT_LOCALE)
        return found if found is not None else Translations()

    def gettext(self, locale: str, msgid: str, **values: object) -> str:
        """The text for `msgid` in `locale`, with `%(name)s` placeholders filled."""
        text = self.translations(locale).gettext(msgid)
        return text % values if values else text


def babel_locale(locale: str) -> Locale:
    return Locale.parse(BABEL_LOCALES.get(locale, DEFAULT_LOCALE))


def format_day(day: date, locale: str) -> str:
    """A date in the locale's own long form (2026年11月22日, November 22, 2026, 22 tháng 11, …)."""
    return format_date(day, format="long", locale=babel_locale(locale))


def html_lang(locale: str) -> str:
    """The BCP 47 tag for a page's `lang`: ja-easy is Japanese."""
    return "ja" if locale in JAPANESE_LOCALES else locale


def default_variant(locale: str) -> str:
    """The Japanese of the messages for someone who reads Kizuna in `locale` and has not chosen:
    standard Japanese for the Japanese pages, やさしい日本語 for everyone else."""
    return "ja" if locale == "ja" else "ja-easy"


def paired_locale(locale: str, variant: str) -> str:
    """The UI locale after choosing `variant`: someone reading Kizuna in Japanese reads it in
    the Japanese they chose for the messages; any other language stays as it is."""
    return variant if locale in JAPANESE_LOCALES and variant in JAPANESE_LOCALES else locale


def negotiate(accept_language: str) -> str | None:
    """The first of our locales in an Accept-Language header, by the client's preference.

    Tags are read with Babel's likely subtags, so `zh`, `zh-CN` and `zh-SG` mean simplified
    Chinese (`zh-TW` and `zh-HK` do not), `tl` means Filipino, `in` Indonesian and any `pt`
    Portuguese."""
    for tag in preferred_tags(accept_language)[:MAX_TAGS]:
        try:
            wanted = Locale.parse(tag.replace("_", "-"), sep="-")
        except (ValueError, TypeError, UnknownLocaleError):
            continue
        for ours in LOCALES:  # ja comes before ja-easy: no browser asks for やさしい日本語
            candidate = babel_locale(ours)
            if candidate.language == wanted.language and _script(candidate) == _script(wanted):
                return ours
    return None


def preferred_tags(accept_language: str) -> list[str]:
    """The language tags of an Accept-Language header, most wanted first (q=0 left out)."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag.strip() and tag.strip() != "*" and quality > 0:
            ranked.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def _script(locale: Locale) -> str | None:
    if locale.script:
        return locale.script
    likely = get_global("likely_subtags").get(locale.language)
    return Locale.parse(likely).script if likely else None
