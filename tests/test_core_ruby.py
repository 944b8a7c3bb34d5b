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
        (
            "｜A&B《\"え\"》と'｜<x>《y》'\n｜次《つぎ》",
            "A&B(\"え\")と'<x>(y)'\n次(つぎ)",
            "<ruby>A&amp;B<rp>(</rp><rt>&quot;え&quot;</rt><rp>)</rp></ruby>と&#x27;"
            "<ruby>&lt;x&gt;<rp>(</rp><rt>y</rt><rp>)</rp></ruby>&#x27;\n"
            "<ruby>次<rp>(</rp><rt>つぎ</rt><rp>)</rp></ruby>",
        ),
    ],
)
def test_ruby(marked, text, html):
    assert ruby_to_text(marked) == text
    assert ruby_to_html(marked) == html
