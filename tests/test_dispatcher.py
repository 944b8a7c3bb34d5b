"""Dispatching: claim, render, send, record; retries keep their key; gone stops a subscriber."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from dataclasses import replace
from datetime import date, timedelta
from typing import ClassVar

import pytest
import sqlalchemy as sa
from conftest import NOW

from kizuna import subscriptions
from kizuna.channels.base import Channels, Envelope, SendResult
from kizuna.channels.outbox import LineOutbox
from kizuna.content import load_catalog
from kizuna.core.status import ChannelName, DeliveryStatus, SendStatus
from kizuna.dispatcher import Claimed, Dispatcher, DispatchOptions, decide
from kizuna.models import Delivery, Subscriber
from kizuna.planner import PlanOptions, plan_day
from kizuna.store import SqlStore

DAY = date(2026, 11, 22)
DUE_12W0D = date(2027, 6, 6)
OPTIONS = DispatchOptions(
    worker="test", allow_unreviewed=False, batch_size=2, max_attempts=3,
    max_consecutive_failures=2, max_bounces=2,
)  # fmt: skip


class Scripted:
    """A unit-test channel answering from a script, recording every envelope it is given."""

    name: ClassVar[ChannelName] = ChannelName.LINE
    backend: ClassVar[str] = "scripted"
    max_text_utf16: ClassVar[int | None] = 5000
    rate_per_second: ClassVar[float | None] = None

    def __init__(self, *answers: SendResult) -> None:
        self.answers = list(answers)
        self.seen: list[Envelope] = []

    async def send(self, envelope: Envelope) -> SendResult:
        self.seen.append(envelope)
        return self.answers.pop(0) if self.answers else SendResult(SendStatus.SENT)

    async def close(self) -> None:
        return None


def setup(engine, messages_dir, count=1):
    catalog = load_catalog(messages_dir)
    for n in range(count):
        subscriptions.subscribe(
            engine, subscriptions.SubscribeRequest("line", f"U{n:032x}", due_date=DUE_12W0D,
                                                   nickname="さくら"),
            variants={"ja", "ja-easy"}, default_timezone="Asia/Tokyo", now=NOW,
        )  # fmt: skip
    plan_day(SqlStore(engine), catalog, DAY, PlanOptions(False, "Asia/Tokyo", 8), now=NOW)
    return catalog


def run(engine, catalog, channel, *, now=NOW, through=DAY):
    channels = Channels()
    channels.register(channel)
    dispatcher = Dispatcher(SqlStore(engine), catalog, channels, OPTIONS, rng=random.Random(1))
    return asyncio.run(dispatcher.run(now=now, through_local_date=through))


def rows(engine):
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(sa.select(Delivery.__table__))]


def test_dispatch_writes_the_outbox_and_records_sent(engine, messages_dir, tmp_path):
    catalog = setup(engine, messages_dir, count=3)
    summary = run(engine, catalog, LineOutbox(tmp_path / "outbox"))
    assert summary.sent == 3
    for row in rows(engine):
        assert row["status"] == "sent" and row["sent_at"] == NOW and row["attempts"] == 1
        record = json.loads((tmp_path / "outbox" / "line" / f"{row['id']}.json").read_text())
        assert record["retry_key"] == row["idempotency_key"]
        assert record["request"]["messages"][0]["text"] == "妊娠12週0日です。"
    assert run(engine, catalog, LineOutbox(tmp_path / "outbox")).sent == 0  # nothing twice


def test_retry_reuses_the_same_key(engine, messages_dir):
    catalog = setup(engine, messages_dir)
    channel = Scripted(SendResult(SendStatus.RETRY, "429"), SendResult(SendStatus.RETRY, "500"))
    run(engine, catalog, channel)
    [row] = rows(engine)
    assert (row["status"], row["attempts"], row["last_error"]) == ("planned", 1, "429")
    assert row["next_attempt_at"] > NOW
    run(engine, catalog, channel, now=row["next_attempt_at"])
    run(engine, catalog, channel, now=rows(engine)[0]["next_attempt_at"])
    assert len({envelope.idempotency_key for envelope in channel.seen}) == 1
    assert [r["status"] for r in rows(engine)] == ["sent"]
    assert len(channel.seen) == 3


def test_retry_waits_for_its_time(engine, messages_dir):
    catalog = setup(engine, messages_dir)
    channel = Scripted(SendResult(SendStatus.RETRY, "timeout"))
    run(engine, catalog, channel)
    run(engine, catalog, channel, now=NOW + timedelta(seconds=1))
    assert len(channel.seen) == 1


def test_gives_up_after_max_attempts(engine, messages_dir):
    catalog = setup(engine, messages_dir)
    channel = Scripted(*[SendResult(SendStatus.RETRY, "500")] * 3)
    now = NOW
    for _ in range(3):
        run(engine, catalog, channel, now=now)
        now = rows(engine)[0]["next_attempt_at"] + timedelta(seconds=1)
    [row] = rows(engine)
    assert (row["status"], row["attempts"]) == ("failed", 3)


def test_gone_stops_the_subscriber(engine, messages_dir):
    catalog = setup(engine, messages_dir)
    run(engine, catalog, Scripted(SendResult(SendStatus.GONE, "blocked")))
    with engine.connect() as connection:
        status, reason = connection.execute(
            sa.select(Subscriber.status, Subscriber.status_reason)
        ).one()
    assert (status, reason) == ("gone", "blocked")
    assert rows(engine)[0]["status"] == "failed"


def test_stopped_after_planning_is_skipped_not_sent(engine, messages_dir):
    catalog = setup(engine, messages_dir)
    with engine.begin() as connection:  # stopped behind the planner's back, without cancelling
        connection.execute(sa.update(Subscriber.__table__).values(status="stopped"))
    channel = Scripted()
    run(engine, catalog, channel)
    assert channel.seen == [] and rows(engine)[0]["skip_reason"] == "subscriber stopped"


def test_message_changed_since_planning_is_not_sent_unreviewed(engine, messages_dir):
    catalog = setup(engine, messages_dir)
    path = messages_dir / "pregnancy" / "12w0d.ja.md"
    path.write_text(path.read_text(encoding="utf-8") + "追記\n", encoding="utf-8")
    channel = Scripted()
    run(engine, catalog_after := load_catalog(messages_dir), channel)
    assert catalog_after is not catalog and channel.seen == []
    assert rows(engine)[0]["skip_reason"] == "message needs review"


def test_expired_claim_is_taken_again_with_the_same_key(engine, messages_dir):
    catalog = setup(engine, messages_dir)
    store = SqlStore(engine)
    [claimed] = store.claim(now=NOW, through_local_date=DAY, limit=10, worker="dead", until=NOW)
    assert store.claim(now=NOW, through_local_date=DAY, limit=10, worker="other", until=NOW) == []
    later = NOW + timedelta(seconds=1)
    channel = Scripted()
    run(engine, catalog, channel, now=later)
    assert [e.idempotency_key for e in channel.seen] == [claimed.idempotency_key]
    # The dead worker's late record changes nothing: the claim is no longer its own.
    late = decide(claimed, SendResult(SendStatus.FAILED, "late"), now=later, options=OPTIONS,
                  rng=random.Random(1))  # fmt: skip
    store.record([late], worker="dead", now=later)
    assert rows(engine)[0]["status"] == "sent"


def test_scheduled_dispatch_waits_for_the_delivery_hour(engine, messages_dir):
    catalog = setup(engine, messages_dir)
    channel = Scripted()
    due = rows(engine)[0]["due_at"]  # 08:00 Tokyo
    run(engine, catalog, channel, now=due - timedelta(minutes=1), through=None)
    assert channel.seen == []
    run(engine, catalog, channel, now=due, through=None)
    assert len(channel.seen) == 1


def claimed(attempts=0, channel="line", failures=0) -> Claimed:
    return Claimed(
        1, 1, "k", "m", "ja", "", attempts, channel, "a", "active", "", "", True, failures
    )


@pytest.mark.parametrize(
    ("result", "attempts", "channel", "failures", "status", "gone", "paused"),
    [
        (SendResult(SendStatus.SENT), 0, "line", 1, DeliveryStatus.SENT, False, False),
        (SendResult(SendStatus.RETRY, "429"), 0, "line", 0, DeliveryStatus.PLANNED, False, False),
        (SendResult(SendStatus.RETRY, "429"), 2, "line", 0, DeliveryStatus.FAILED, False, False),
        (
            SendResult(SendStatus.FAILED, "400 bad"),
            0,
            "line",
            0,
            DeliveryStatus.FAILED,
            False,
            False,
        ),
        (
            SendResult(SendStatus.FAILED, "400 bad"),
            0,
            "line",
            1,
            DeliveryStatus.FAILED,
            False,
            True,
        ),
        (SendResult(SendStatus.GONE, "blocked"), 0, "line", 0, DeliveryStatus.FAILED, True, False),
        (
            SendResult(SendStatus.GONE, "bounced: 550"),
            0,
            "email",
            0,
            DeliveryStatus.FAILED,
            False,
            False,
        ),
        (
            SendResult(SendStatus.GONE, "bounced: 550"),
            0,
            "email",
            1,
            DeliveryStatus.FAILED,
            True,
            False,
        ),
    ],
)
def test_decide(result, attempts, channel, failures, status, gone, paused):
    outcome = decide(claimed(attempts, channel, failures), result, now=NOW, options=OPTIONS,
                     rng=random.Random(1))  # fmt: skip
    assert (outcome.status, outcome.subscriber_gone, outcome.subscriber_paused) == (
        status, gone, paused)  # fmt: skip
    assert outcome.attempts == attempts + 1


def test_retry_after_is_respected():
    outcome = decide(claimed(), SendResult(SendStatus.RETRY, "429", retry_after_seconds=3600),
                     now=NOW, options=OPTIONS, rng=random.Random(1))  # fmt: skip
    assert outcome.next_attempt_at >= NOW + timedelta(seconds=3600)


def test_consecutive_failures_pause_the_subscriber(engine, messages_dir):
    catalog = setup(engine, messages_dir)
    run(engine, catalog, Scripted(SendResult(SendStatus.FAILED, "400")))
    with engine.begin() as connection:  # a second message for the same subscriber fails too
        connection.execute(sa.update(Delivery.__table__).values(
            status="planned", message_id="pregnancy-12w0d", attempts=0))  # fmt: skip
    run(engine, catalog, Scripted(SendResult(SendStatus.FAILED, "400")))
    with engine.connect() as connection:
        status, failures = connection.execute(
            sa.select(Subscriber.status, Subscriber.consecutive_failures)).one()  # fmt: skip
    assert (status, failures) == ("paused", 2)


def test_stale_deliveries_are_skipped_with_the_reason(engine, messages_dir):
    catalog = setup(engine, messages_dir)
    channels = Channels()
    channel = Scripted()
    channels.register(channel)
    stale = replace(OPTIONS, stale_after=timedelta(days=2))
    dispatcher = Dispatcher(SqlStore(engine), catalog, channels, stale)
    summary = asyncio.run(dispatcher.run(now=NOW + timedelta(days=3)))
    assert channel.seen == [] and summary.counts["skipped"] == 1
    assert rows(engine)[0]["skip_reason"] == "more than 2 days late"


def test_stale_rule_leaves_recent_deliveries(engine, messages_dir):
    catalog = setup(engine, messages_dir)
    channels = Channels()
    channels.register(channel := Scripted())
    dispatcher = Dispatcher(SqlStore(engine), catalog, channels,
                            replace(OPTIONS, stale_after=timedelta(days=2)))  # fmt: skip
    asyncio.run(dispatcher.run(now=NOW + timedelta(days=1)))
    assert len(channel.seen) == 1  # a day late after downtime: still sent


def test_stop_claims_nothing_more(engine, messages_dir):
    catalog = setup(engine, messages_dir, count=3)
    dispatchers: list[Dispatcher] = []

    class StopOnSend(Scripted):
        async def send(self, envelope):
            dispatchers[0].stop()  # a shutdown signal arrives mid-batch
            return await super().send(envelope)

    channels = Channels()
    channels.register(channel := StopOnSend())
    dispatchers.append(Dispatcher(SqlStore(engine), catalog, channels, OPTIONS))  # batches of 2
    asyncio.run(dispatchers[0].run(now=NOW, through_local_date=DAY))
    assert len(channel.seen) == 2  # the batch in flight finished and was recorded
    assert sorted(r["status"] for r in rows(engine)) == ["planned", "sent", "sent"]
    assert all(r["claimed_by"] is None for r in rows(engine))  # nothing left half-claimed


class Watched(SqlStore):
    """The real store, telling the test when claims land and what is released."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.claims = 0
        self.second_claim = threading.Event()
        self.released: list[list[int]] = []

    def claim(self, **kwargs):
        found = super().claim(**kwargs)
        self.claims += 1
        if self.claims == 2:
            self.second_claim.set()
        return found

    def release(self, delivery_ids, *, worker):
        self.released.append(sorted(delivery_ids))
        super().release(delivery_ids, worker=worker)


def test_the_next_batch_is_claimed_while_this_one_is_sent(engine, messages_dir):
    catalog = setup(engine, messages_dir, count=3)
    store = Watched(engine)
    during_first_send: list[list[str]] = []

    class WaitsForTheNextClaim(Scripted):
        async def send(self, envelope):
            if len(self.seen) < 2:  # the first batch's sends wait for the next batch's claim
                self.seen.append(envelope)
                assert await asyncio.to_thread(store.second_claim.wait, 10)
                during_first_send.append(sorted(r["status"] for r in rows(engine)))
                return SendResult(SendStatus.SENT)
            return await super().send(envelope)

    channels = Channels()
    channels.register(channel := WaitsForTheNextClaim())
    asyncio.run(Dispatcher(store, catalog, channels, OPTIONS).run(now=NOW, through_local_date=DAY))
    assert during_first_send == [["sending"] * 3] * 2  # batches of 2: the next claimed ahead
    assert len(channel.seen) == 3 and store.released == []
    assert [r["status"] for r in rows(engine)] == ["sent"] * 3


def test_a_batch_claimed_ahead_too_long_ago_is_claimed_afresh(engine, messages_dir):
    catalog = setup(engine, messages_dir, count=3)
    store = Watched(engine)
    clock = [NOW]

    class Slow(Scripted):  # the first batch takes longer than half a claim
        async def send(self, envelope):
            assert await asyncio.to_thread(store.second_claim.wait, 10)
            # Past the first batch's claim too: were it not recorded before the next claim,
            # that claim would take it again as expired, and send it twice.
            clock[0] = NOW + timedelta(seconds=2 * OPTIONS.claim_seconds)
            return await super().send(envelope)

    channels = Channels()
    channels.register(channel := Slow())
    dispatcher = Dispatcher(store, catalog, channels, OPTIONS, clock=lambda: clock[0])
    asyncio.run(dispatcher.run(now=NOW, through_local_date=DAY))
    third = max(r["id"] for r in rows(engine))
    assert store.released == [[third]]  # handed back untried, then claimed again
    assert len(channel.seen) == 3 and store.claims == 4  # 2 + 1 (released) + 1 again, + none
    assert [r["status"] for r in rows(engine)] == ["sent"] * 3


@pytest.mark.parametrize(("in_flight", "expected"), [(None, 4), (2, 2)])
def test_no_more_senders_than_a_channel_carries_at_once(engine, messages_dir, in_flight, expected):
    catalog = setup(engine, messages_dir, count=4)

    class Counting(Scripted):
        active = most = 0

        async def send(self, envelope):
            self.active += 1
            self.most = max(self.most, self.active)
            await asyncio.sleep(0)  # let every other sender start its send
            self.active -= 1
            return await super().send(envelope)

    channel = Counting()
    if in_flight is not None:
        channel.max_in_flight = in_flight  # an SMTP pool of 2 connections
    channels = Channels()
    channels.register(channel)
    options = replace(OPTIONS, batch_size=10)  # concurrency 16
    asyncio.run(
        Dispatcher(SqlStore(engine), catalog, channels, options).run(
            now=NOW, through_local_date=DAY
        )
    )
    assert channel.most == expected and len(channel.seen) == 4


LOCAL_BODY = (
    "{% if local.checkup_4m %}{{ municipality_name }}より：{{ local.checkup_4m }}"
    "{% else %}お住まいの市区町村の案内を確認しましょう。{% endif %}"
)


def test_local_information_reaches_only_followers_allowed_it(engine, messages_dir):
    from conftest import write_message

    from kizuna import municipalities
    from kizuna.core.catalog import Role

    write_message(messages_dir, track="child", at="4m", body=LOCAL_BODY, reviewed=True)
    municipalities.add(engine, code="131016", name="千代田区", prefecture="東京都", now=NOW)
    municipalities.update_local_info(
        engine, "131016", set_values={"checkup_4m": "毎月第2火曜、保健所で"}, now=NOW
    )
    request = subscriptions.SubscribeRequest("line", "U" + "a" * 32, birth_date=date(2026, 7, 22),
                                             municipality_code="131016")  # fmt: skip
    parent = subscriptions.subscribe(engine, request, variants={"ja", "ja-easy"},
                                     default_timezone="Asia/Tokyo", now=NOW)  # fmt: skip
    grand = subscriptions.SubscribeRequest("line", "U" + "b" * 32, municipality_code="131016")
    subscriptions.subscribe(engine, grand, variants={"ja"}, default_timezone="Asia/Tokyo", now=NOW,
                            follow_child=parent.child_id, role=Role.GRANDPARENT)  # fmt: skip
    catalog = load_catalog(messages_dir)
    plan_day(SqlStore(engine), catalog, DAY, PlanOptions(False, "Asia/Tokyo", 8), now=NOW)
    channel = Scripted()
    run(engine, catalog, channel)
    texts = {e.address[1]: e.text for e in channel.seen}
    assert texts == {"a": "千代田区より：毎月第2火曜、保健所で",
                     "b": "お住まいの市区町村の案内を確認しましょう。"}  # fmt: skip


def test_a_municipalitys_message_is_not_sent_to_someone_who_moved_away(engine, messages_dir):
    from conftest import write_message

    from kizuna import municipalities

    write_message(messages_dir, track="pregnancy", at="12w0d", municipality="131016",
                  reviewed=True)  # fmt: skip
    municipalities.add(engine, code="131016", name="千代田区", prefecture="東京都", now=NOW)
    request = subscriptions.SubscribeRequest("line", "U" + "a" * 32, due_date=DUE_12W0D,
                                             municipality_code="131016")  # fmt: skip
    subscriptions.subscribe(engine, request, variants={"ja"}, default_timezone="Asia/Tokyo",
                            now=NOW)  # fmt: skip
    catalog = load_catalog(messages_dir)
    plan_day(SqlStore(engine), catalog, DAY, PlanOptions(False, "Asia/Tokyo", 8), now=NOW)
    with engine.begin() as connection:  # moved after planning
        connection.execute(sa.update(Subscriber).values(municipality_code=None))
    channel = Scripted()
    run(engine, catalog, channel)
    assert [e.text for e in channel.seen] == ["妊娠12週0日です。"]
    skipped = [r for r in rows(engine) if r["from_municipality"]]
    assert [r["status"] for r in skipped] == ["skipped"]
    assert "not a resident" in skipped[0]["skip_reason"]
