"""The LINE webhook over real HTTP: signatures, redelivery, the registration conversation,
the first message, unfollow, a birth report and a loss — replies checked at a LINE peer."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from kizuna.channels.base import Channels
from kizuna.channels.line import LineChannel
from kizuna.channels.outbox import EmailOutbox
from kizuna.config import Settings
from kizuna.i18n import Catalogs
from kizuna.models import Child, Delivery, Follow, LineConversation, Subscriber
from kizuna.runtime import dispatch_day, mail_composer, open_runtime
from kizuna.web.app import create_app

SECRET = "test-channel-secret"
USER = "U" + "4" * 32
TODAY = datetime.now(ZoneInfo("Asia/Tokyo")).date()


@pytest.fixture
def server(settings: Settings, peer):
    """The real app on a real port, its LINE channel pointed at the peer."""
    settings = Settings(**{
        **settings.model_dump(), "line_channel_secret": SECRET,
        "line_channel_access_token": peer.state.token, "line_api_url": peer.api_url,
        "line_backend": "api"})  # fmt: skip
    runtime = open_runtime(settings)
    channels = Channels()
    line = LineChannel(access_token=peer.state.token, api_url=peer.api_url, timeout_seconds=5)
    channels.register(line)
    channels.register(EmailOutbox(settings.outbox_dir, mail_composer(settings)))
    app = create_app(runtime, channels=channels)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # readiness, polled
        thread.join(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    server.base = f"http://127.0.0.1:{port}"
    server.runtime, server.channels = runtime, channels
    yield server
    server.should_exit = True
    thread.join(10)


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def event(kind: str, **fields) -> dict:
    return {
        "type": kind, "mode": "active", "timestamp": 1763780000000,
        "source": {"type": "user", "userId": USER}, "webhookEventId": uuid.uuid4().hex.upper(),
        "deliveryContext": {"isRedelivery": False}, "replyToken": uuid.uuid4().hex, **fields,
    }  # fmt: skip


def postback(data: str, picked: str | None = None) -> dict:
    body = {"data": data}
    if picked:
        body["params"] = {"date": picked}
    return event("postback", postback=body)


def text(words: str) -> dict:
    return event("message", message={"type": "text", "id": "1", "quoteToken": "q", "text": words})


def post(server, *events, signature=None, raw=None) -> httpx.Response:
    body = raw if raw is not None else json.dumps(
        {"destination": "U" + "0" * 32, "events": list(events)}).encode()  # fmt: skip
    headers = {"content-type": "application/json",
               "x-line-signature": sign(body) if signature is None else signature}  # fmt: skip
    return httpx.post(f"{server.base}/line/webhook", content=body, headers=headers, timeout=10)


def texts_of(peer, index: int = -1) -> list[str]:
    return [m["text"] for m in peer.state.replies[index]["messages"]]


def count(engine, model) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(model)).scalar()


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl", sign(b"other body")])
def test_bad_signature_is_refused_and_changes_nothing(server, peer, signature):
    response = post(server, event("follow", follow={"isUnblocked": False}), signature=signature)
    assert response.status_code == 400
    assert peer.state.replies == [] and count(server.runtime.engine, LineConversation) == 0


def test_connection_check_with_no_events(server):
    assert post(server).status_code == 200


def test_body_that_is_not_a_webhook_is_refused(server):
    assert post(server, raw=b"[1, 2]").status_code == 400


def register(server, peer, *, due: str) -> None:
    assert post(server, event("follow", follow={"isUnblocked": False})).status_code == 200
    assert post(server, postback("a=kind&v=pregnant")).status_code == 200
    picker = peer.state.replies[-1]["messages"][0]["quickReply"]["items"][0]["action"]
    assert picker["type"] == "datetimepicker" and picker["mode"] == "date"
    post(server, postback("a=date&v=due", (TODAY + timedelta(days=400)).isoformat()))
    catalogs = Catalogs(server.runtime.settings.locales_dir)
    retry = catalogs.gettext("ja", "That date cannot be right: please choose it again.")
    assert texts_of(peer)[0] == retry
    post(server, postback("a=date&v=due", due))
    post(server, postback("a=variant&v=ja"))
    post(server, text("999999"))  # not a known municipality
    post(server, postback("a=skip"))
    post(server, postback("a=confirm"))


def test_follow_registration_and_the_first_message(server, peer):
    due = (TODAY + timedelta(days=280 - 84)).isoformat()  # 12w0d today: a message is due
    register(server, peer, due=due)
    catalogs = Catalogs(server.runtime.settings.locales_dir)
    welcome = catalogs.gettext("ja", "You are registered. Your first message comes soon.")
    assert welcome in texts_of(peer)
    engine = server.runtime.engine
    with engine.connect() as connection:
        subscriber = connection.execute(sa.select(Subscriber)).one()
    assert (subscriber.address, subscriber.variant, subscriber.status) == (USER, "ja", "active")
    assert count(engine, LineConversation) == 0
    sent = asyncio.run(dispatch_day(server.runtime, TODAY, now=datetime.now(UTC)))
    assert sent.sent == 1
    [push] = peer.state.pushes_to(USER)
    assert push["messages"][0]["text"] == "妊娠12週0日です。"


def test_a_redelivered_event_is_handled_once(server, peer):
    follow = event("follow", follow={"isUnblocked": False})
    post(server, follow)
    redelivery = {**follow, "deliveryContext": {"isRedelivery": True}}
    post(server, redelivery)
    assert len(peer.state.replies) == 1


def test_unfollow_stops_at_once_and_follow_again_offers_to_resume(server, peer):
    register(server, peer, due=(TODAY + timedelta(days=196)).isoformat())
    engine = server.runtime.engine
    assert count(engine, Delivery) == 1
    post(server, event("unfollow"))
    with engine.connect() as connection:
        assert connection.execute(sa.select(Subscriber.status)).scalar() == "stopped"
        assert connection.execute(sa.select(Delivery.status)).scalar() == "cancelled"
    post(server, event("follow", follow={"isUnblocked": True}))
    quick = peer.state.replies[-1]["messages"][0]["quickReply"]["items"]
    assert quick[0]["action"]["data"] == "a=resume"
    post(server, postback("a=resume"))
    with engine.connect() as connection:
        assert connection.execute(sa.select(Subscriber.status)).scalar() == "active"


def test_birth_report_moves_the_child_to_the_child_track(server, peer):
    register(server, peer, due=(TODAY + timedelta(days=196)).isoformat())
    post(server, text("生まれました！"))
    picker = peer.state.replies[-1]["messages"][0]["quickReply"]["items"][0]["action"]
    assert picker["type"] == "datetimepicker" and picker["max"] == TODAY.isoformat()
    born = (TODAY - timedelta(days=7)).isoformat()  # d7 today
    post(server, postback("a=birth", born))
    engine = server.runtime.engine
    with engine.connect() as connection:
        child = connection.execute(sa.select(Child)).one()
        rows = connection.execute(sa.select(Delivery.message_id, Delivery.status)
                                  .order_by(Delivery.id)).all()  # fmt: skip
    assert (child.status, child.birth_date.isoformat()) == ("born", born)
    assert rows == [("pregnancy-12w0d", "cancelled"), ("child-d7", "planned")]


def test_loss_stops_everything_gently_and_support_is_opt_in(server, peer):
    register(server, peer, due=(TODAY + timedelta(days=196)).isoformat())
    post(server, text("流産しました"))
    quick = peer.state.replies[-1]["messages"][0]["quickReply"]["items"]
    assert [item["action"]["data"] for item in quick] == ["a=loss&v=yes", "a=loss&v=no"]
    post(server, postback("a=loss&v=yes"))
    catalogs = Catalogs(server.runtime.settings.locales_dir)
    assert texts_of(peer)[0] == catalogs.gettext("ja", "loss-reply")
    engine = server.runtime.engine
    with engine.connect() as connection:
        assert connection.execute(sa.select(Child.status)).scalar() == "loss"
        assert connection.execute(sa.select(Delivery.status)).scalar() == "cancelled"
        assert connection.execute(sa.select(Follow.loss_support)).scalar() is False
    post(server, postback("a=support&v=yes"))
    with engine.connect() as connection:
        assert connection.execute(sa.select(Follow.loss_support)).scalar() is True


@pytest.mark.parametrize(
    ("words", "command"),
    [
        ("生まれました！", "birth"),
        ("うまれました", "birth"),
        ("生まれましたが、亡くなりました。流産ではなく死産です", "loss"),  # never congratulations
        ("あかちゃんが なくなりました", "loss"),
        ("配信停止", "stop"),
        ("ＳＴＯＰ", "stop"),  # full-width letters, normalised
        ("さいかい", "resume"),
        ("やさしい日本語にしたい", "variant"),
        ("こんにちは", None),
    ],
)
def test_commands_in_both_wordings(words, command):
    from kizuna.line_events import command_of

    assert command_of(words) == command
