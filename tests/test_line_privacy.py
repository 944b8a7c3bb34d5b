"""「データを消して」 over the real webhook: the bot shows what it holds (only the asker's own
data), asks, keeps everything on "no", erases at once on "yes"; replies checked at the peer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from stored import date_forms, traces
from test_line_webhook import (  # noqa: F401
    TODAY,
    USER,
    event,
    post,
    postback,
    register,
    server,
    text,
    texts_of,
)

from kizuna import subscriptions
from kizuna.core.catalog import Role
from kizuna.i18n import Catalogs, format_day
from kizuna.line_events import command_of
from kizuna.models import AuditEntry, Follow, Subscriber

DUE = TODAY + timedelta(days=196)  # 12w0d today: a delivery is planned at registration
PARTNER = "partner.kenji@example.com"


@pytest.mark.parametrize(
    "words",
    ["データを消して", "データを けして", "わたしの データを けして ください",
     "データを削除してください", "Delete my data", "データを消して、配信も停止して"],
)  # fmt: skip
def test_the_request_in_both_wordings(words):
    assert command_of(words) == "erase"


@pytest.fixture
def registered(server, peer):  # noqa: F811
    """The LINE parent, and a partner following the same pregnancy by email."""
    register(server, peer, due=DUE.isoformat())
    engine = server.runtime.engine
    with engine.connect() as connection:
        parent, child = connection.execute(sa.select(Follow.subscriber_id, Follow.child_id)).one()
    subscriptions.subscribe(
        engine,
        subscriptions.SubscribeRequest(channel="email", address=PARTNER, nickname="けんじ"),
        variants={"ja"}, default_timezone="Asia/Tokyo", now=datetime.now(UTC),
        follow_child=child, role=Role.PARTNER,
    )  # fmt: skip
    server.parent_id = parent
    return server


def catalogs(app) -> Catalogs:
    return Catalogs(app.runtime.settings.locales_dir)


def ask(app, peer, words: str) -> list[dict]:
    assert post(app, text(words)).status_code == 200
    return peer.state.replies[-1]["messages"]


def test_the_bot_shows_what_it_holds_and_asks(registered, peer):
    summary, question = ask(registered, peer, "データを消して")
    assert format_day(DUE, "ja") in summary["text"] and "LINEのユーザーID" in summary["text"]
    assert "（0件）" in summary["text"]  # nothing sent yet
    for other in (PARTNER, "けんじ", USER):  # no one else's data; no id shown either
        assert other not in summary["text"]
    assert question["text"] == catalogs(registered).gettext("ja", "erase-confirm")
    buttons = [item["action"]["data"] for item in question["quickReply"]["items"]]
    assert buttons == ["a=erase&v=yes", "a=erase&v=no"]


def test_no_keeps_everything(registered, peer):
    ask(registered, peer, "データを けして")
    post(registered, postback("a=erase&v=no"))
    assert texts_of(peer) == ["削除しませんでした。"]
    assert traces(registered.runtime.engine, [USER]) != []


def test_yes_erases_at_once_and_a_last_reply_confirms(registered, peer):
    engine = registered.runtime.engine
    ask(registered, peer, "データを消して")
    post(registered, postback("a=erase&v=yes"))
    assert texts_of(peer) == [catalogs(registered).gettext("ja", "erase-done")]
    assert traces(engine, [USER]) == []
    # The pregnancy is still followed by the partner: its date stays, theirs; no more of ours.
    with engine.connect() as connection:
        shell = connection.execute(sa.select(Subscriber).where(
            Subscriber.id == registered.parent_id)).one()  # fmt: skip
        entry = connection.execute(sa.select(AuditEntry)).one()
    assert (shell.status, shell.address) == ("stopped", f"erased-{registered.parent_id}")
    assert (entry.actor, entry.action, entry.subscriber_id) == (
        "subscriber:line", "forget", registered.parent_id,
    )  # fmt: skip
    # Writing again begins a new registration: nothing of the old one is merged.
    welcome = ask(registered, peer, "こんにちは")
    assert welcome[-1]["quickReply"]["items"][0]["action"]["data"] == "a=kind&v=pregnant"


def test_the_last_follower_erasing_takes_the_dates_too(server, peer):  # noqa: F811
    register(server, peer, due=DUE.isoformat())
    ask(server, peer, "データを消して")
    post(server, postback("a=erase&v=yes"))
    assert traces(server.runtime.engine, [USER, *date_forms(DUE)]) == []


def test_a_registration_begun_is_forgotten_too(server, peer):  # noqa: F811
    post(server, event("follow", follow={"isUnblocked": False}))
    post(server, postback("a=kind&v=pregnant"))
    post(server, postback("a=date&v=due", DUE.isoformat()))
    assert traces(server.runtime.engine, [USER]) != []  # the conversation holds the date
    assert ask(server, peer, "データを消して")[0]["text"] == catalogs(server).gettext(
        "ja", "Kizuna holds nothing about you now."
    )
    assert traces(server.runtime.engine, [USER, *date_forms(DUE)]) == []
