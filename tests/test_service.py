"""The service's jobs with time passed in: planning as each zone's day begins, dispatch hours,
catch-up after downtime, stale skips, and date changes that never resend."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import ClassVar

import pytest
import sqlalchemy as sa

from kizuna import subscriptions
from kizuna.channels.base import Channels, Envelope, SendResult
from kizuna.core.status import ChannelName, SendStatus
from kizuna.models import Delivery
from kizuna.runtime import open_runtime
from kizuna.service import Service
from kizuna.web.health import ServiceStatus

D = date.fromisoformat
JOINED = datetime(2026, 11, 17, tzinfo=UTC)


class Recorder:
    """A LINE channel that records what it is asked to send."""

    name: ClassVar[ChannelName] = ChannelName.LINE
    backend: ClassVar[str] = "recorder"
    max_text_utf16: ClassVar[int | None] = 5000
    rate_per_second: ClassVar[float | None] = None

    def __init__(self) -> None:
        self.seen: list[Envelope] = []

    async def send(self, envelope: Envelope) -> SendResult:
        self.seen.append(envelope)
        return SendResult(SendStatus.SENT)

    async def close(self) -> None:
        return None


class Clock:
    """The service's clock, set by each test (the jobs themselves take `now` as an argument)."""

    def __init__(self) -> None:
        self.value = datetime(2000, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.value


@pytest.fixture
def service(settings):
    runtime = open_runtime(settings)
    channels = Channels()
    channels.register(recorder := Recorder())
    svc = Service(runtime, channels, ServiceStatus(), clock=(clock := Clock()))
    svc.recorder, svc.clock = recorder, clock
    return svc


def subscribe(service, n, *, now=JOINED, **fields):
    request = subscriptions.SubscribeRequest(channel="line", address=f"U{n:032x}", **fields)
    return subscriptions.subscribe(service.runtime.engine, request, variants={"ja", "ja-easy"},
                                   default_timezone="Asia/Tokyo", now=now)  # fmt: skip


def deliveries(service):
    with service.runtime.engine.connect() as connection:
        query = sa.select(Delivery.subscriber_id, Delivery.message_id, Delivery.local_date,
                          Delivery.status, Delivery.skip_reason).order_by(Delivery.id)  # fmt: skip
        return [tuple(row) for row in connection.execute(query)]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_each_zone_is_planned_when_its_day_begins(service):
    subscribe(service, 1, due_date=D("2027-06-07"))  # Tokyo: 12w0d on 23 Nov
    subscribe(service, 2, due_date=D("2027-06-07"), timezone="America/Sao_Paulo")
    first = service.plan_due(utc("2026-11-22T14:59"))  # Tokyo 23:59 on the 22nd
    assert first == {
        "America/Sao_Paulo": [D("2026-11-20"), D("2026-11-21"), D("2026-11-22")],
        "Asia/Tokyo": [D("2026-11-20"), D("2026-11-21"), D("2026-11-22")],
    }
    assert deliveries(service) == []  # 12w0d is not due yet in either zone
    assert service.plan_due(utc("2026-11-22T15:00")) == {"Asia/Tokyo": [D("2026-11-23")]}
    assert [(s, m) for s, m, *_ in deliveries(service)] == [(1, "pregnancy-12w0d")]
    assert service.plan_due(utc("2026-11-23T02:59")) == {}  # São Paulo is still on the 22nd
    assert service.plan_due(utc("2026-11-23T03:00")) == {"America/Sao_Paulo": [D("2026-11-23")]}
    assert [(s, m) for s, m, *_ in deliveries(service)] == [
        (1, "pregnancy-12w0d"), (2, "pregnancy-12w0d")]  # fmt: skip


def test_dispatch_at_each_subscribers_local_hour(service):
    subscribe(service, 1, due_date=D("2027-06-07"))
    subscribe(service, 2, due_date=D("2027-06-07"), timezone="America/Sao_Paulo")
    service.plan_due(utc("2026-11-23T03:00"))  # the 23rd has begun in both zones
    sent = lambda: sorted(e.address[-1] for e in service.recorder.seen)  # noqa: E731
    asyncio.run(service.dispatch_due(utc("2026-11-22T22:59")))  # Tokyo 07:59
    assert sent() == []
    asyncio.run(service.dispatch_due(utc("2026-11-22T23:00")))  # Tokyo 08:00
    assert sent() == ["1"]
    asyncio.run(service.dispatch_due(utc("2026-11-23T10:59")))  # São Paulo 07:59
    assert sent() == ["1"]
    asyncio.run(service.dispatch_due(utc("2026-11-23T11:00")))  # São Paulo 08:00
    assert sent() == ["1", "2"]


def test_catch_up_after_downtime_and_stale_skip(service):
    # Down from the 19th to the 23rd (Tokyo): the 21st and 22nd are within two days; the
    # 20th is not, and today's message goes out when the service returns.
    subscribe(service, 1, birth_date=D("2026-11-13"))  # d7 on the 20th
    subscribe(service, 2, birth_date=D("2026-11-15"))  # d7 on the 22nd
    subscribe(service, 3, birth_date=D("2026-11-16"))  # d7 on the 23rd
    back = utc("2026-11-23T01:00")  # 10:00 in Tokyo on the 23rd
    planned = service.plan_due(back)
    assert planned["Asia/Tokyo"] == [D("2026-11-21"), D("2026-11-22"), D("2026-11-23")]
    asyncio.run(service.dispatch_due(back))
    assert sorted(e.address[-1] for e in service.recorder.seen) == ["2", "3"]
    assert [row[3] for row in deliveries(service)] == ["sent", "sent"]


def test_planned_but_too_late_is_skipped_with_the_reason(service):
    subscribe(service, 1, birth_date=D("2026-11-13"))  # d7 on the 20th
    service.plan_due(utc("2026-11-20T01:00"))
    asyncio.run(service.dispatch_due(utc("2026-11-22T23:01")))  # 08:01 on the 23rd: > 2 days
    assert service.recorder.seen == []
    assert deliveries(service)[0][3:] == ("skipped", "more than 2 days late")


def test_due_date_correction_never_resends(service):
    done = subscribe(service, 1, due_date=D("2027-06-07"))
    service.plan_due(utc("2026-11-22T15:00"))  # 23 Nov: 12w0d
    asyncio.run(service.dispatch_due(utc("2026-11-22T23:00")))
    # The next day a scan moves the due date one day earlier: today is 12w0d again.
    subscriptions.correct_due_date(service.runtime.engine, child_id=done.child_id,
                                   due_date=D("2027-06-08"))  # fmt: skip
    service.replan_child(done.child_id, utc("2026-11-23T15:00"))
    asyncio.run(service.dispatch_due(utc("2026-11-23T23:00")))
    assert len(service.recorder.seen) == 1
    assert deliveries(service)[0][1:] == (
        "pregnancy-12w0d",
        D("2026-11-23"),
        "sent",
        "due again on 2026-11-24: not sent twice",
    )


def test_birth_report_moves_to_the_child_track_without_resending(service):
    done = subscribe(service, 1, due_date=D("2026-11-30"))
    service.plan_due(utc("2026-11-22T15:00"))
    subscriptions.report_birth(service.runtime.engine, child_id=done.child_id,
                               birth_date=D("2026-11-16"))  # fmt: skip
    summary = service.replan_child(done.child_id, utc("2026-11-22T15:00"))  # 23rd: d7
    assert summary.planned == 1
    asyncio.run(service.dispatch_due(utc("2026-11-22T23:00")))
    assert [e.text for e in service.recorder.seen] == ["生後7日。赤(あか)ちゃん"]


def test_jobs_run_under_the_scheduler_and_report_health(service):
    subscribe(service, 1, birth_date=D("2026-11-15"))
    service.clock.value = utc("2026-11-22T01:00")  # 10:00 in Tokyo, d7

    async def scenario():
        service.start()
        for _ in range(200):  # the first runs are immediate; wait for them, not for time
            if {"plan", "dispatch", "retention"} <= set(service.status.last_success) and (
                service.recorder.seen
            ):
                break
            await asyncio.sleep(0.01)
        await service.stop()

    asyncio.run(scenario())
    assert len(service.recorder.seen) == 1
    assert service.status.scheduler_running is False
    assert set(service.status.last_success) == {"plan", "dispatch", "retention"}


def test_who_joins_after_the_days_planning_gets_todays_message_at_the_next_run(service):
    subscribe(service, 1, birth_date=D("2026-11-15"))
    service.plan_due(utc("2026-11-22T01:00"))  # the 22nd is planned
    late = utc("2026-11-22T03:00")
    subscribe(service, 2, birth_date=D("2026-11-15"), now=late)  # joins at noon
    assert service.plan_due(utc("2026-11-22T03:05")) == {}  # no new day…
    assert sorted(row[0] for row in deliveries(service)) == [1, 2]  # …but today for #2


def test_the_retention_job_erases_what_has_been_kept_long_enough(service):
    engine = service.runtime.engine
    done = subscribe(service, 1, birth_date=D("2026-11-15"))
    subscriptions.stop(engine, subscriber_id=done.subscriber_id, reason="asked",
                       now=utc("2026-11-22T01:00"))  # fmt: skip
    assert service.retain(utc("2027-02-19T01:00")).subscribers == 0  # 89 days later
    assert service.retain(utc("2027-02-21T01:00")).subscribers == 1  # 91 days later
    with engine.connect() as connection:
        address = connection.execute(sa.text("SELECT address FROM subscriber")).scalar()
    assert address == f"erased-{done.subscriber_id}"
