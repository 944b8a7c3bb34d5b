"""The LINE backend against a local LINE peer over HTTP: retry keys, 409, faults, gone users."""

from __future__ import annotations

import asyncio
import random
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW

from kizuna import subscriptions
from kizuna.channels.base import Channels, Envelope
from kizuna.channels.line import LineChannel, classify
from kizuna.content import load_catalog
from kizuna.core.status import ChannelName, SendStatus
from kizuna.dispatcher import Dispatcher, DispatchOptions
from kizuna.models import Delivery, Subscriber
from kizuna.planner import PlanOptions, plan_day
from kizuna.store import SqlStore

USER = "U" + "1" * 32


def envelope(key: str = "0f8fad5b-d9cb-469f-a165-70867728950e", to: str = USER) -> Envelope:
    return Envelope(delivery_id=1, idempotency_key=key, channel=ChannelName.LINE, address=to,
                    title="t", text="こんにちは", html="", created_at=NOW)  # fmt: skip


def channel(peer, **kw) -> LineChannel:
    # Generous for a loaded CI machine with Prism in the path; the "slow-accept" fault makes
    # the peer answer later than this, so that the client times out after LINE accepted.
    return LineChannel(access_token="test-token", api_url=peer.api_url, timeout_seconds=3, **kw)


def send(peer, *envelopes, **kw):
    async def go():
        line = channel(peer, **kw)
        try:
            return [await line.send(e) for e in envelopes]
        finally:
            await line.close()

    return asyncio.run(go())


def test_push_carries_the_body_and_the_retry_key(peer):
    [result] = send(peer, envelope())
    assert result.status is SendStatus.SENT
    assert peer.state.accepted == {
        "0f8fad5b-d9cb-469f-a165-70867728950e": {
            "to": USER, "messages": [{"type": "text", "text": "こんにちは"}],
            "notificationDisabled": False}}  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "status"), [("429", SendStatus.RETRY), ("500", SendStatus.RETRY)]
)
def test_faults_ask_for_a_retry_and_the_retry_is_accepted_once(peer, fault, status):
    peer.state.faults.append(fault)
    first, second, third = send(peer, envelope(), envelope(), envelope())
    assert first.status is status
    assert second.status is SendStatus.SENT
    assert third.status is SendStatus.SENT and "409" in third.detail  # already accepted: sent
    assert len(peer.state.accepted) == 1


def test_accepted_then_timeout_then_409(peer):
    peer.state.faults.append("slow-accept")
    peer.state.slow_seconds = 6.0
    first, second = send(peer, envelope(), envelope())
    assert first.status is SendStatus.RETRY and "no answer" in first.detail
    assert second.status is SendStatus.SENT and "409" in second.detail
    assert len(peer.state.accepted) == 1


def test_unknown_user_is_gone(peer):
    peer.state.unknown_users.add(USER)
    [result] = send(peer, envelope())
    assert result.status is SendStatus.GONE


def test_bad_token_fails_with_the_detail(peer):
    peer.state.token = "another"
    [result] = send(peer, envelope())
    assert result.status is SendStatus.FAILED and "LINE 401" in result.detail


def test_unreachable_api_asks_for_a_retry():
    line = LineChannel(access_token="t", api_url="http://127.0.0.1:9", timeout_seconds=0.5)

    async def go():
        try:
            return await line.send(envelope())
        finally:
            await line.close()

    assert asyncio.run(go()).status is SendStatus.RETRY


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (409, b'{"message":"The retry key is already accepted"}', SendStatus.SENT),
        (429, b'{"message":"Too many requests"}', SendStatus.RETRY),
        (500, b"", SendStatus.RETRY),
        (503, b"oops", SendStatus.RETRY),
        (None, None, SendStatus.RETRY),
        (400, b'{"message":"x","details":[{"property":"to"}]}', SendStatus.GONE),
        (400, b'{"message":"x","details":[{"property":"messages[0].text"}]}', SendStatus.FAILED),
        (403, b'{"message":"not allowed"}', SendStatus.FAILED),
    ],
)
def test_classify(status, body, expected):
    assert classify(status, body).status is expected


def planned_pushes(engine, messages_dir, count: int):
    """`count` LINE subscribers at 12w0d on 2026-11-22, planned; returns (catalog, day)."""
    catalog, day = load_catalog(messages_dir), date(2026, 11, 22)
    for n in range(count):
        subscriptions.subscribe(
            engine, subscriptions.SubscribeRequest("line", f"U{n:032x}", due_date=date(2027, 6, 6)),
            variants={"ja", "ja-easy"}, default_timezone="Asia/Tokyo", now=NOW,
        )  # fmt: skip
    plan_day(SqlStore(engine), catalog, day, PlanOptions(False, "Asia/Tokyo", 8), now=NOW)
    return catalog, day


def dispatch_until_sent(peer, engine, catalog, day, options, *, runs: int = 10) -> int:
    """Dispatch, hours apart (past every backoff), until every delivery is sent or `runs`
    runs are over; returns how many deliveries are left unsent."""
    now = NOW
    for _ in range(runs):

        async def run(now=now):
            channels = Channels()
            channels.register(channel(peer))
            try:
                dispatcher = Dispatcher(SqlStore(engine), catalog, channels, options,
                                        rng=random.Random(3))  # fmt: skip
                return await dispatcher.run(now=now, through_local_date=day)
            finally:
                await channels.close()

        asyncio.run(run())
        with engine.connect() as connection:
            left = connection.execute(sa.select(sa.func.count()).select_from(Delivery)
                                      .where(Delivery.status != "sent")).scalar()  # fmt: skip
        if not left:
            return 0
        now += timedelta(hours=7)
    return left


def test_every_delivery_reaches_the_peer_exactly_once_under_faults(peer, engine, messages_dir):
    catalog, day = planned_pushes(engine, messages_dir, 12)
    peer.state.faults.extend(["429", "500", "slow-accept", "500", "slow-accept", "429"])
    peer.state.slow_seconds = 6.0
    options = DispatchOptions(worker="w", allow_unreviewed=False, batch_size=5, concurrency=4)
    left = dispatch_until_sent(peer, engine, catalog, day, options)
    with engine.connect() as connection:
        keys = connection.execute(sa.select(Delivery.idempotency_key, Subscriber.address)
                                  .join(Subscriber)).all()  # fmt: skip
    assert left == 0
    assert {key: body["to"] for key, body in peer.state.accepted.items()} == dict(keys)
    statuses = [status for _, status in peer.state.answers]
    assert statuses.count(429) == 2 and statuses.count(500) == 2


def test_a_run_beyond_the_monthly_quota_says_so_and_keeps_the_rest_planned(
    peer, engine, messages_dir
):
    catalog, day = planned_pushes(engine, messages_dir, 8)
    peer.state.quota = 5

    async def run():
        channels = Channels()
        channels.register(channel(peer))
        try:
            options = DispatchOptions(worker="w", allow_unreviewed=False, batch_size=3)
            dispatcher = Dispatcher(SqlStore(engine), catalog, channels, options)
            return await dispatcher.run(now=NOW, through_local_date=day)
        finally:
            await channels.close()

    summary = asyncio.run(run())
    assert summary.notes == [
        "line: 8 deliveries due but the monthly quota allows 5; 3 stay planned"
    ]
    with engine.connect() as connection:
        rows = connection.execute(sa.select(Delivery.status, Delivery.attempts, Delivery.last_error)
                                  .order_by(Delivery.id)).all()  # fmt: skip
    assert len(peer.state.accepted) == 5
    assert sorted(rows) == [("planned", 0, "monthly quota reached")] * 3 + [("sent", 1, None)] * 5


def test_line_traffic_is_checked_against_the_official_spec(peer, prism):
    """With Prism in the path, a request the spec refuses never reaches the peer."""
    if prism is None:
        pytest.skip("Prism or ../shared/line-openapi is missing: LINE requests are not checked "
                    "against LINE's official OpenAPI spec in this run (scripts/test installs "
                    "Prism with npm when the spec is present)")  # fmt: skip
    import httpx

    headers = {"Authorization": f"Bearer {peer.state.token}",
               "X-Line-Retry-Key": "0f8fad5b-d9cb-469f-a165-70867728950e"}  # fmt: skip
    invalid = {"to": USER, "messages": [{"type": "text"}]}  # no text
    response = httpx.post(f"{prism}/v2/bot/message/push", json=invalid, headers=headers)
    assert response.status_code == 422 and peer.state.answers == []
    [result] = send(peer, envelope())  # the project's own request passes the spec
    assert result.status is SendStatus.SENT and len(peer.state.accepted) == 1


def test_twins_messages_go_in_one_push_and_its_retries_keep_key_and_content(
    peer, engine, messages_dir
):
    """Two children due the same day: one push with both texts; a 500, then a push accepted
    but answered too late, then a 409: the same key each time, and one push accepted."""
    catalog, day = load_catalog(messages_dir), date(2026, 11, 22)
    request = subscriptions.SubscribeRequest("line", USER, due_date=date(2027, 6, 6))
    done = subscriptions.subscribe(engine, request, variants={"ja"},
                                   default_timezone="Asia/Tokyo", now=NOW)  # fmt: skip
    subscriptions.add_child(
        engine,
        subscriber_id=done.subscriber_id,
        due_date=None,
        birth_date=date(2026, 11, 15),
        default_timezone="Asia/Tokyo",
        now=NOW,
    )  # fmt: skip (child-d7 is due the same day)
    plan_day(SqlStore(engine), catalog, day, PlanOptions(False, "Asia/Tokyo", 8), now=NOW)
    peer.state.faults.extend(["500", "slow-accept"])
    peer.state.slow_seconds = 6.0
    options = DispatchOptions(worker="w", allow_unreviewed=False)
    assert dispatch_until_sent(peer, engine, catalog, day, options) == 0
    [(key, body)] = peer.state.accepted.items()
    assert [m["text"] for m in body["messages"]] == ["妊娠12週0日です。", "生後7日。赤(あか)ちゃん"]
    # (Answers of earlier tests' slow requests may arrive now: only this key's are ours.)
    statuses = [status for k, status in peer.state.answers if k == key]
    assert statuses[0] == 500 and 409 in statuses and set(statuses) <= {500, 200, 409}
    with engine.connect() as connection:
        stored = connection.execute(sa.select(Delivery.push_key, Delivery.attempts)).all()
    assert stored == [(key, 3), (key, 3)]


def test_identical_messages_go_by_multicast_and_a_retry_repeats_it(peer, engine, messages_dir):
    catalog, day = planned_pushes(engine, messages_dir, 3)
    peer.state.faults.append("500")
    options = DispatchOptions(worker="w", allow_unreviewed=False, multicast=True)
    assert dispatch_until_sent(peer, engine, catalog, day, options) == 0
    [body] = peer.state.accepted.values()
    assert body["to"] == [f"U{n:032x}" for n in range(3)]
    assert body["messages"] == [{"type": "text", "text": "妊娠12週0日です。"}]
    [key] = peer.state.accepted
    assert [status for k, status in peer.state.answers if k == key] == [500, 200]


def test_a_residents_push_carries_the_municipalitys_message_marked_after_ours(
    peer, engine, messages_dir
):
    from conftest import write_message

    from kizuna import municipalities

    write_message(messages_dir, track="pregnancy", at="12w0d", municipality="131016",
                  body="母子手帳の窓口は区役所2階です。", reviewed=True)  # fmt: skip
    municipalities.add(engine, code="131016", name="千代田区", prefecture="東京都", now=NOW)
    catalog, day = load_catalog(messages_dir), date(2026, 11, 22)
    for address, code in ((USER, "131016"), ("U" + "2" * 32, None)):
        request = subscriptions.SubscribeRequest("line", address, due_date=date(2027, 6, 6),
                                                 municipality_code=code)  # fmt: skip
        subscriptions.subscribe(engine, request, variants={"ja"}, default_timezone="Asia/Tokyo",
                                now=NOW)  # fmt: skip
    plan_day(SqlStore(engine), catalog, day, PlanOptions(False, "Asia/Tokyo", 8), now=NOW)
    options = DispatchOptions(worker="w", allow_unreviewed=False)
    assert dispatch_until_sent(peer, engine, catalog, day, options) == 0
    assert peer.state.texts_to(USER) == [
        "妊娠12週0日です。",
        "【千代田区より】\n母子手帳の窓口は区役所2階です。",
    ]
    assert peer.state.texts_to("U" + "2" * 32) == ["妊娠12週0日です。"]
    assert len(peer.state.pushes_to(USER)) == 1


def test_a_proxy_in_the_environment_is_still_used_read_once(peer, monkeypatch):
    """The SDK's per-request environment lookups are gone (BENCHMARKS.md, change 7), but an
    operator's HTTP proxy setting still applies: here one that answers nobody."""
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("no_proxy", "")
    [result] = send(peer, envelope())
    assert result.status is SendStatus.RETRY and peer.state.accepted == {}
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    [result] = send(peer, envelope())  # a new channel reads the environment again: direct
    assert result.status is SendStatus.SENT
