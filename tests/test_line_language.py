"""Choosing the language Kizuna speaks in LINE, over the real webhook and a LINE peer: the
language menu, a language typed by its name, registering in another language, replies in three
locales, furigana in LINE's form, and the words each locale's texts tell people to send."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
import test_line_webhook as webhook
from babel.dates import format_date
from test_line_webhook import TODAY, event, post, postback, text, texts_of

from kizuna.config import bundled_dir
from kizuna.consent import LINE_NOTICE, notice_values
from kizuna.i18n import LOCALE_NAMES, LOCALES, Catalogs
from kizuna.line_events import command_of, named_locale
from kizuna.models import Subscriber

server = webhook.server  # the real app on a real port, its LINE channel pointed at the peer
CATALOGS = Catalogs(bundled_dir("locales"))
QUOTED = re.compile(r"[“「]([^”」]+)[”」]")


def say(locale: str, msgid: str, **values) -> str:
    return CATALOGS.gettext(locale, msgid, **values)


def quick(peer, message: int = -1) -> list[dict]:
    return [item["action"] for item in peer.state.replies[-1]["messages"][message]["quickReply"]
            ["items"]]  # fmt: skip


def subscriber(server) -> Subscriber:
    with server.runtime.engine.connect() as connection:
        return connection.execute(sa.select(Subscriber)).one()


def test_the_language_menu_offers_every_locale_by_its_own_name(server, peer):
    post(server, event("follow", follow={"isUnblocked": False}))
    button = quick(peer)[-1]  # beside "pregnant" and "raising a child"
    assert (button["label"], button["data"]) == ("🌐 言語・Language", "a=locale")
    post(server, postback("a=locale"))
    assert texts_of(peer) == [say("ja", "Which language shall Kizuna use with you?")]
    menu = quick(peer)
    assert [item["label"] for item in menu] == [LOCALE_NAMES[code] for code in LOCALES]
    assert [item["data"] for item in menu] == [f"a=locale&v={code}" for code in LOCALES]


@pytest.mark.parametrize(
    ("locale", "babel", "prefix", "help_word"),
    [
        ("en", "en", "Due date: ", "help"),
        ("vi", "vi", "Ngày dự sinh: ", "trợ giúp"),
        ("zh-Hans", "zh_Hans_CN", "预产期：", "帮助"),
    ],
)
def test_registering_in_another_language(server, peer, locale, babel, prefix, help_word):
    post(server, event("follow", follow={"isUnblocked": False}))
    post(server, postback(f"a=locale&v={locale}"))  # before anything: notice read in it
    assert texts_of(peer)[1:] == [
        say(locale, LINE_NOTICE, **notice_values(server.runtime.settings)),
        say(locale, "Are you pregnant, or raising a child?"),
    ]
    post(server, postback("a=kind&v=pregnant"))
    assert texts_of(peer) == [say(locale, "When is your due date?")]
    due = TODAY + timedelta(days=100)
    post(server, postback("a=date&v=due", due.isoformat()))
    labels = [item["label"] for item in quick(peer)]  # easy Japanese first for a foreign reader
    assert labels == [say(locale, "Easy Japanese"), say(locale, "Standard Japanese")]
    post(server, postback("a=variant&v=ja-easy"))
    post(server, postback("a=skip"))
    confirmation = texts_of(peer)[0]
    assert confirmation == prefix + format_date(due, "long", locale=babel)
    assert confirmation == say(locale, "Due date: %(date)s", date=confirmation[len(prefix) :])
    post(server, postback("a=confirm"))
    assert texts_of(peer)[0] == say(locale, "You are registered. Your first message comes soon.")
    registered = subscriber(server)
    assert (registered.locale, registered.variant) == (locale, "ja-easy")
    assert registered.consent_version.startswith(f"line-privacy/{locale}/")
    post(server, text(help_word))
    assert texts_of(peer) == [say(locale, "help-commands")]


def test_a_registered_parent_changes_the_language_and_keeps_the_japanese(server, peer):
    webhook.register(server, peer, due=(TODAY + timedelta(days=196)).isoformat())
    assert (subscriber(server).locale, subscriber(server).variant) == ("ja", "ja")
    post(server, text("English"))
    assert texts_of(peer) == [say("en", "locale-changed")]
    assert (subscriber(server).locale, subscriber(server).variant) == ("en", "ja")
    post(server, postback("a=variant&v=ja-easy"))  # the messages' Japanese: English stays
    assert texts_of(peer) == [say("en", "Done: your messages come in this Japanese from now on.")]
    assert (subscriber(server).locale, subscriber(server).variant) == ("en", "ja-easy")
    post(server, text("language"))
    assert [item["data"] for item in quick(peer)][1] == "a=locale&v=ja-easy"
    post(server, postback("a=locale&v=ko"))
    assert texts_of(peer) == [say("ko", "locale-changed")]
    post(server, text("도움말"))
    assert texts_of(peer) == [say("ko", "help-commands")]
    assert (subscriber(server).locale, subscriber(server).variant) == ("ko", "ja-easy")


def test_easy_japanese_replies_show_readings_in_lines_form(server, peer):
    post(server, event("follow", follow={"isUnblocked": False}))
    post(server, postback("a=kind&v=pregnant"))
    post(server, postback("a=date&v=due", (TODAY + timedelta(days=100)).isoformat()))
    post(server, postback("a=variant&v=ja-easy"))
    post(server, postback("a=skip"))
    confirmation = texts_of(peer)[0]
    assert confirmation.startswith("出産予定日(しゅっさんよていび)：")  # ｜…《…》 in the catalog
    replies = [m["text"] for reply in peer.state.replies for m in reply["messages"]]
    assert not any("｜" in t or "《" in t for t in replies)


@pytest.mark.parametrize(
    ("words", "command"),
    [
        ("parar", "stop"),
        ("Parar.", "stop"),
        ("vou preparar o quarto", None),  # a whole-message word hides in no longer one
        ("유산", "loss"),
        ("유산균 먹어도 돼요?", None),  # probiotics, not a miscarriage
        ("유산했어요", "loss"),
        ("nakunan", "loss"),
        ("nakunan ng litrato", None),  # "a photo was taken"
        ("perdi o bebê ontem", "loss"),
        ("sảy thai rồi", "loss"),
        ("Dừng", "stop"),
        ("Tiếng Nhật", "variant"),
        ("ngôn ngữ", "locale"),
        ("HPL", "due"),
        ("出生了", "birth"),
        ("恢复", "resume"),
        ("Bahasa Jepang", "variant"),
        ("bahasa", "locale"),
        ("言語", "locale"),
        ("ことば", "variant"),
        ("language", "locale"),
        ("japanese", "variant"),
    ],
)
def test_commands_in_every_language(words, command):
    assert command_of(words) == command


@pytest.mark.parametrize(
    ("words", "locale"),
    [
        ("English", "en"),
        ("中文", "zh-Hans"),
        ("tiếng việt！", "vi"),
        ("한국어", "ko"),
        ("Tagalog", "fil"),
        ("Português", "pt-BR"),
        ("नेपाली", "ne"),
        ("bahasa indonesia", "id"),
        ("日本語", "ja"),
        ("I do not speak English", None),  # only a language's name, as the whole message
        ("やさしい日本語", None),  # this one asks for the messages' Japanese
    ],
)
def test_a_language_typed_by_its_name(words, locale):
    assert named_locale(words) == locale


@pytest.mark.parametrize("locale", LOCALES)
def test_the_words_each_locale_asks_for_are_understood(locale):
    """Every word a reply tells people to send (“stop”, 「とめる」, “dừng”) is a command."""
    help_words = QUOTED.findall(say(locale, "help-commands"))
    commands = {command_of(word) for word in help_words}
    assert commands == {"stop", "resume", "variant", "locale", "due", "birth", "loss"}
    for msgid, expected in [
        (LINE_NOTICE, {"stop", "erase"}),
        ("loss-support-yes", {"stop"}),
        ("Your messages are stopped. Send “resume” to start again.", {"resume"}),
        ("locale-changed", {"variant"}),
    ]:
        words = QUOTED.findall(say(locale, msgid, days=90, delivery_days=400))
        assert words or (msgid, locale) in NOTHING_TO_SEND
        assert {command_of(word) for word in words} <= expected, (msgid, words)


# Japanese readers are told of no other Japanese to choose when their language changes.
NOTHING_TO_SEND = {("locale-changed", "ja"), ("locale-changed", "ja-easy")}


@pytest.mark.parametrize("locale", [code for code in LOCALES if code != "ja-easy"])
def test_each_language_in_the_menu_can_be_typed(locale):
    assert named_locale(LOCALE_NAMES[locale]) == locale
