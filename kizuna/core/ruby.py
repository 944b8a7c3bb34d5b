"""Furigana markup: `｜漢字《かんじ》` in message bodies, shown per medium."""

from __future__ import annotations

import html
import re

RUBY = re.compile(r"｜([^｜《》\n]+)《([^《》\n]+)》")


def ruby_to_text(text: str) -> str:
    """`｜漢字《かんじ》` → `漢字(かんじ)`, the form used in LINE and plain-text mail."""
    return RUBY.sub(r"\1(\2)", text)


def ruby_to_html(text: str) -> str:
    """Escape `text` for HTML and turn furigana markup into `<ruby>` elements."""
    if "｜" not in text:  # most paragraphs have no furigana
        return html.escape(text)
    parts: list[str] = []
    last = 0
    for match in RUBY.finditer(text):
        parts.append(html.escape(text[last : match.start()]))
        base, reading = html.escape(match[1]), html.escape(match[2])
        parts.append(f"<ruby>{base}<rp>(</rp><rt>{reading}</rt><rp>)</rp></ruby>")
        last = match.end()
    parts.append(html.escape(text[last:]))
    return "".join(parts)
