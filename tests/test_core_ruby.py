"""Furigana markup shown as text and as HTML ruby."""

import pytest

from kizuna.core.ruby import ruby_to_html, ruby_to_text


@pytest.mark.parametrize(
    ("marked", "text", "html"),
    [
        (
            "｜病院《びょういん》に行きます",
            "病院(びょういん)に行きます",
            "<ruby>病院<rp>(</rp><rt>びょういん</rt><rp>)</rp></ruby>に行きます",
        ),
        ("ふりがな なし", "ふりがな なし", "ふりがな なし"),
        (
            "<b>｜母子《ぼし》</b>",
            "<b>母子(ぼし)</b>",
            "&lt;b&gt;<ruby>母子<rp>(</rp><rt>ぼし</rt><rp>)</rp></ruby>&lt;/b&gt;",
        ),
        ("｜不完全《ふかん", "｜不完全《ふかん", "｜不完全《ふかん"),
    ],
)
def test_ruby(marked, text, html):
    assert ruby_to_text(marked) == text
    assert ruby_to_html(marked) == html
