"""What Kizuna says to people, per UI locale: gettext catalogs read from `locales/` with Babel.

The `.po` files are read directly (compiled in memory), so a fresh clone needs no build step.
Message ids are English; every shipped locale translates every id (tests/test_i18n.py).
"""

from __future__ import annotations

from datetime import date
from functools import cached_property
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

DOMAIN = "kizuna"
DEFAULT_LOCALE = "ja"
# Our locale ids (folder names under locales/) and the Babel locale used for dates and numbers.
# ja-easy (やさしい日本語) formats like ja.
BABEL_LOCALES = {"ja": "ja", "ja-easy": "ja", "en": "en"}


class Catalogs:
    """All UI translations under a `locales/` folder, loaded once."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @cached_property
    def _translations(self) -> dict[str, Translations]:
        loaded = {}
        for po_path in sorted(self.root.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            locale = po_path.parent.parent.name
            with po_path.open("rb") as handle:
                catalog = read_po(handle, locale=BABEL_LOCALES.get(locale, "en"), domain=DOMAIN)
            buffer = BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            loaded[locale] = Translations(fp=buffer, domain=DOMAIN)
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
    """A date in the locale's own long form (2026年11月22日, November 22, 2026, …)."""
    return format_date(day, format="long", locale=babel_locale(locale))
