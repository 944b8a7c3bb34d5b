"""Rendering bodies per subscriber and channel."""

from __future__ import annotations

import pytest
from jinja2 import UndefinedError
from jinja2.exceptions import SecurityError

from kizuna.core.catalog import AgeBasis, Audience, Message, Source, parse_at
from kizuna.core.local_info import local_info
from kizuna.core.stage import Track
from kizuna.core.status import ChannelName
from kizuna.rendering import RenderContext, Renderer, tidy

LOCAL_BODY = (
    "{% if local.checkup_4m %}{{ municipality_name }}より：{{ local.checkup_4m }}"
    "{% else %}お住まいの市区町村の案内を確認しましょう。{% endif %}"
)


def make(body: str) -> Message:
    return Message(
        id="child-4m", track=Track.CHILD, at=parse_at(Track.CHILD, "4m"), variant="ja",
        audience=Audience.EVERYONE, category="checkup", age_basis=AgeBasis.CHRONOLOGICAL,
        title="｜健診《けんしん》", body=body, sources=(Source("s", "https://www.cfa.go.jp/"),),
    )  # fmt: skip


def context(**fields) -> RenderContext:
    return RenderContext(**{"stage_label": "生後4か月", "channel": ChannelName.LINE, **fields})


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({}, "お住まいの市区町村の案内を確認しましょう。"),
        (
            {"municipality_name": "見本市", "local": local_info({"checkup_4m": "毎月第2火曜"})},
            "見本市より：毎月第2火曜",
        ),
    ],
)
def test_local_info_with_and_without_values(fields, text):
    assert Renderer().render(make(LOCAL_BODY), context(**fields)).text == text


def test_text_and_html_forms():
    body = (
        "{% if nickname %}{{ nickname }}さん、{% endif %}{{ stage_label }}です。"
        "\n\n｜母子手帳《ぼしてちょう》"
    )
    rendered = Renderer().render(make(body), context(nickname="<b>x</b>"))
    assert rendered.text == "<b>x</b>さん、生後4か月です。\n\n母子手帳(ぼしてちょう)"
    assert rendered.title == "健診(けんしん)"
    assert "&lt;b&gt;x&lt;/b&gt;さん" in rendered.html  # a nickname is never markup
    assert "<ruby>母子手帳<rp>(</rp><rt>ぼしてちょう</rt><rp>)</rp></ruby>" in rendered.html
    assert rendered.html.count("<p>") == 2


def test_channel_variable():
    body = '{% if channel == "line" %}LINEで{% else %}メールで{% endif %}'
    renderer = Renderer()
    assert renderer.render(make(body), context()).text == "LINEで"
    assert renderer.render(make(body), context(channel=ChannelName.EMAIL)).text == "メールで"


def test_undefined_variable_is_an_error():
    with pytest.raises(UndefinedError):
        Renderer().render(make("{{ child_name }}"), context())


def test_sandbox_refuses_internals():
    with pytest.raises(SecurityError):
        Renderer().render(make("{{ ''.__class__.__mro__[1].__subclasses__() }}"), context())


def test_tidy_collapses_blank_runs():
    assert tidy("  a  \n\n\n\nb\n\n") == "a\n\nb"


def test_paragraph_break_after_an_inline_block_survives():
    body = "{% if nickname %}{{ nickname }}さん{% else %}みなさん{% endif %}\n\n二段落目"
    assert Renderer().render(make(body), context()).text == "みなさん\n\n二段落目"
