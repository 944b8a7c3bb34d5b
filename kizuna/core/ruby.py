"""Furigana markup: `｜漢字《かんじ》` in message bodies, shown per medium."""

from __future__ import annotations

import html
import re

RUBY = re.compile(r"｜([^｜《》\n]+)《([^《》\n]+)》")
RUBY_HTML = r"<ruby>\1<rp>(</rp><rt>\2</rt><rp>)</rp></ruby>"


def ruby_to_text(text: str) -> str:
    """`｜漢字《かんじ》` → `漢字(かんじ)`, the form used in LINE and plain-text mail."""
    return RUBY.sub(r"\1(\2)", text)


def ruby_to_html(text: str) -> str:
    """Escape `text` for HTML and turn furigana markup into `<ruby>` elements.

    Escaping first is the same as escaping each piece: it leaves ｜《》 and line breaks alone.
    """
    return RUBY.sub(RUBY_HTML, html.escape(text))
