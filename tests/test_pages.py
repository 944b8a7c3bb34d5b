"""What every page shares: the locale choice, translated text with furigana, escaping, and
every msgid of the email and web pages present in every catalog."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from jinja2.ext import babel_extract
from starlette.requests import Request

from kizuna.config import bundled_dir
from kizuna.i18n import LOCALE_NAMES, LOCALES, Catalogs
from kizuna.tokens import Tokens
from kizuna.web.pages import (
    Pages,
    accepted_locale,
    choose_locale,
    date_problem,
    language_links,
)

PACKAGE = Path(__file__).resolve().parent.parent / "kizuna"
CATALOGS = Catalogs(bundled_dir("locales"))
KEYWORDS = {"_": None, "N_": None, "plain": None, "gettext": None, "say": (2,)}


def msgids() -> list[str]:
    """Every msgid the mail footer, the pages and their templates use."""
    found = []
    for path in ["mail.py", "web/pages.py", "web/signup.py", "web/manage.py"]:
        found += [m[1] for m in extract_from_file("python", PACKAGE / path, keywords=KEYWORDS)]
    for path in sorted((PACKAGE / "templates" / "web").glob("*.html")):
        options = {"extensions": "jinja2.ext.i18n"}
        extracted = extract_from_file(babel_extract, path, keywords=KEYWORDS, options=options)
        found += [m[1] for m in extracted]
    return sorted(set(found))


@pytest.mark.parametrize("locale", LOCALES)
def test_every_msgid_is_translated(locale):
    assert len(msgids()) > 80
    catalog = CATALOGS.translations(locale)
    missing = [m for m in msgids() if catalog._catalog.get(m) in (None, "")]
    assert missing == []


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("", None),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR, en;q=0.4, ja;q=0.8", "ja"),
        ("ja;q=0, en;q=0.1", "en"),
        ("de, fr", None),
        ("en;q=bogus, ja", "ja"),
        ("zh-CN,zh;q=0.9,ja;q=0.8", "zh-Hans"),
        ("pt-BR,pt;q=0.9", "pt-BR"),
    ],
)
def test_accept_language(header, locale):
    assert accepted_locale(header) == locale


def request(query: str = "", accept: str = "") -> Request:
    headers = [(b"accept-language", accept.encode())] if accept else []
    scope = {"type": "http", "method": "GET", "path": "/signup", "query_string": query.encode(),
             "headers": headers}  # fmt: skip
    return Request(scope)


@pytest.mark.parametrize(
    ("query", "accept", "asked", "saved", "locale"),
    [
        ("", "", None, None, "ja"),
        ("", "en", None, None, "en"),
        ("", "en", None, "ja-easy", "ja-easy"),  # the subscriber's own choice beats the browser
        ("lang=en", "", None, "ja-easy", "en"),  # the choice made on the page beats both
        ("lang=en", "", "ja", None, "ja"),  # a form carries the page's choice
        ("lang=xx", "", "yy", "zz", "ja"),
        ("", "vi-VN,vi;q=0.9", None, None, "vi"),
        ("lang=ne", "vi", None, "ko", "ne"),
        ("", "ko", None, "fil", "fil"),
    ],
)
def test_locale_choice(query, accept, asked, saved, locale):
    assert choose_locale(request(query, accept), asked=asked, saved=saved) == locale


def test_page_text_has_furigana_and_escapes_values():
    pages = Pages(CATALOGS, Tokens("s"), secure_cookies=True)
    template = pages.env("ja-easy").from_string('{{ _("Due date: %(date)s", date=value) }}')
    html = template.render(value="<b>2027</b>")
    assert html.startswith("<ruby>出産予定日<rp>(</rp><rt>しゅっさんよていび</rt>")
    assert "&lt;b&gt;2027&lt;/b&gt;" in html
    assert pages.text("ja-easy", "Save") == "保存(ほぞん)する"


@pytest.mark.parametrize(
    ("stage", "day", "problem"),
    [
        ("pregnant", date(2027, 6, 6), None),
        ("pregnant", date(2027, 9, 19), "more than 300 days"),
        ("pregnant", date(2026, 11, 7), "over two weeks ago"),
        ("pregnant", date(2026, 11, 8), None),
        ("child", date(2026, 11, 22), None),
        ("child", date(2026, 11, 23), "in the future"),
        ("child", date(2008, 11, 22), "turns 18"),
        ("child", date(2008, 11, 23), None),
    ],
)
def test_date_problems(stage, day, problem):
    found = date_problem(stage, day, date(2026, 11, 22))
    assert (found is None) if problem is None else (problem in found)


def test_language_links_keep_the_page_and_name_each_language_in_itself():
    links = language_links(request("municipality=131016&lang=en"), "en", "/signup")
    assert [name for name, _, _, _ in links] == [LOCALE_NAMES[code] for code in LOCALES]
    assert [current for _, _, _, current in links].count(True) == 1
    tags = {name: (tag, href) for name, tag, href, _ in links}
    assert tags["Tiếng Việt"] == ("vi", "/signup?municipality=131016&lang=vi")
    assert tags["やさしい日本語"] == ("ja", "/signup?municipality=131016&lang=ja-easy")
    assert tags["中文（简体）"][0] == "zh-Hans"
