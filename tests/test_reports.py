"""Reports against a hand-computed fixture, on SQLite and PostgreSQL; the period is read in
the municipality's time zone (Tokyo), so the UTC boundaries matter."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from kizuna import municipalities
from kizuna.models import Child, Delivery, Follow, Subscriber
from kizuna.reports import DeliveryCount, Period, report, report_csv, stop_reason

A, B = "131016", "011002"
CREATED = datetime(2026, 9, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# id: (municipality, channel, consent (UTC), status, reason, status changed (UTC), child status)
SUBSCRIBERS = {
    1: (A, "line", "2026-10-15T03:00", "active", None, None, "expected"),
    2: (A, "email", "2026-11-05T01:00", "active", None, None, "born"),
    3: (A, "line", "2026-10-01T03:00", "stopped", "unfollow", "2026-11-10T03:00", "expected"),
    4: (A, "email", "2026-11-03T03:00", "stopped", "unsubscribed by link", "2026-11-20T03:00",
        "born"),
    5: (A, "email", "2026-10-20T03:00", "gone", "550 no such user", "2026-11-12T03:00", "born"),
    6: (A, "line", "2026-11-02T03:00", "active", None, None, "loss"),  # loss on 11-18
    7: (A, "email", None, "pending", None, None, "expected"),  # never confirmed: not counted
    8: (A, "line", "2026-12-02T03:00", "active", None, None, "expected"),  # after the period
    9: (A, "line", "2026-09-01T03:00", "stopped", "asked in LINE", "2026-10-05T03:00",
        "expected"),  # stopped before the period
    10: (B, "line", "2026-11-05T03:00", "active", None, None, "expected"),
    11: (A, "email", "2026-10-31T15:30", "active", None, None, "expected"),  # 11-01 00:30 JST
    12: (A, "line", "2026-10-10T03:00", "stopped", "asked in LINE", "2026-11-30T15:30",
         "born"),  # stopped 12-01 00:30 JST: after November
}  # fmt: skip
# (subscriber, local date, status, track, variant)
DELIVERIES = [
    (1, "2026-10-31", "sent", "pregnancy", "ja"),  # before the period
    (1, "2026-11-01", "sent", "pregnancy", "ja"),
    (1, "2026-11-08", "sent", "pregnancy", "ja"),
    (1, "2026-11-15", "failed", "pregnancy", "ja"),
    (1, "2026-11-20", "planned", "pregnancy", "ja"),
    (1, "2026-11-21", "cancelled", "pregnancy", "ja"),
    (1, "2026-11-22", "skipped", "pregnancy", "ja"),
    (1, "2026-12-01", "sent", "pregnancy", "ja"),  # after the period
    (2, "2026-11-06", "sent", "child", "ja-easy"),
    (3, "2026-11-02", "sent", "pregnancy", "ja"),  # stopped later: not active
    (4, "2026-11-04", "sent", "child", "ja"),  # stopped later: not active
    (6, "2026-11-03", "sent", "pregnancy", "ja"),
    (10, "2026-11-05", "sent", "pregnancy", "ja"),  # the other municipality
    (12, "2026-11-29", "sent", "child", "ja"),  # stopped only after the period: active
]


@pytest.fixture
def figures(any_engine):
    engine = any_engine
    municipalities.add(engine, code=A, name="千代田区", prefecture="東京都", now=CREATED)
    municipalities.add(engine, code=B, name="札幌市", prefecture="北海道", now=CREATED)
    with engine.begin() as connection:
        for sid, (code, channel, consent, status, reason, changed, child) in SUBSCRIBERS.items():
            connection.execute(sa.insert(Subscriber.__table__).values(
                id=sid, channel=channel, address=f"a{sid}", municipality_code=code,
                consent_at=at(consent) if consent else None, status=status,
                status_reason=reason, status_changed_at=at(changed) if changed else None,
                created_at=CREATED, variant="ja", locale="ja", consecutive_failures=0,
            ))  # fmt: skip
            connection.execute(sa.insert(Child.__table__).values(
                id=sid, status=child, created_at=CREATED,
                loss_date=date(2026, 11, 18) if child == "loss" else None,
            ))  # fmt: skip
            connection.execute(sa.insert(Follow.__table__).values(
                subscriber_id=sid, child_id=sid, role="parent", since=CREATED, may_report=True,
                receives_local_info=True, loss_support=False,
            ))  # fmt: skip
        for n, (sid, day, status, track, variant) in enumerate(DELIVERIES):
            connection.execute(sa.insert(Delivery.__table__).values(
                subscriber_id=sid, child_id=sid, message_id=f"m{n}", track=track,
                variant=variant, stage_label="", local_date=date.fromisoformat(day),
                due_at=CREATED, status=status, idempotency_key=f"k{n}", attempts=1,
                next_attempt_at=CREATED, created_at=CREATED,
            ))  # fmt: skip
        if engine.dialect.name == "postgresql":  # rows were given ids: move the sequences on
            connection.exec_driver_sql("SELECT setval('subscriber_id_seq', 100)")
    return engine


NOVEMBER = Period.month("2026-11")


def test_municipality_month_by_hand(figures):
    found = report(figures, A, NOVEMBER, timezone="Asia/Tokyo")
    # Registered by 11-30 24:00 JST, pending and December left out: 1,2,3,4,5,6,9,11,12.
    assert found.registrations == 9
    assert found.new == 4  # 2, 4, 6 and 11 (00:30 on 1 November in Tokyo)
    assert found.active == 4  # 1, 2, 6, 12 (3 and 4 stopped before the end)
    assert found.stopped == {"unfollow": 1, "unsubscribe": 1, "loss": 1, "gone": 1}
    assert found.deliveries == [
        DeliveryCount("email", "child", "ja", 1, 0),
        DeliveryCount("email", "child", "ja-easy", 1, 0),
        DeliveryCount("line", "child", "ja", 1, 0),
        DeliveryCount("line", "pregnancy", "ja", 4, 1),
    ]
    days = {figures_.day.day: figures_ for figures_ in found.days}
    assert len(days) == 30
    subscribed = {day: days[day].subscribed for day in (1, 2, 3, 4, 5, 10, 12, 20, 30)}
    assert subscribed == {1: 5, 2: 6, 3: 7, 4: 7, 5: 8, 10: 7, 12: 6, 20: 5, 30: 5}
    assert [(d.day.day, d.sent, d.failed) for d in found.days if d.sent or d.failed] == [
        (1, 1, 0), (2, 1, 0), (3, 1, 0), (4, 1, 0), (6, 1, 0), (8, 1, 0), (15, 0, 1), (29, 1, 0)
    ]  # fmt: skip


def test_overall_adds_the_other_municipality(figures):
    found = report(figures, None, NOVEMBER, timezone="Asia/Tokyo")
    assert (found.registrations, found.new, found.active) == (10, 5, 5)
    assert DeliveryCount("line", "pregnancy", "ja", 5, 1) in found.deliveries
    other = report(figures, B, NOVEMBER, timezone="Asia/Tokyo")
    assert (other.registrations, other.new, other.active) == (1, 1, 1)
    assert other.deliveries == [DeliveryCount("line", "pregnancy", "ja", 1, 0)]


def test_a_date_range(figures):
    found = report(
        figures, A, Period(date(2026, 11, 10), date(2026, 11, 12)), timezone="Asia/Tokyo"
    )
    assert (found.registrations, found.new, found.active) == (9, 0, 0)
    assert found.stopped == {"unfollow": 1, "unsubscribe": 0, "loss": 0, "gone": 1}
    assert found.deliveries == [] and [d.subscribed for d in found.days] == [7, 7, 6]


def test_the_time_zone_moves_the_boundary(figures):
    # In UTC subscriber 11 consented on 31 October: not new in November.
    assert report(figures, A, NOVEMBER, timezone="UTC").new == 3


def test_csv(figures):
    text = report_csv(report(figures, A, NOVEMBER, timezone="Asia/Tokyo"))
    lines = text.splitlines()
    assert lines[0] == "figure,channel,track,variant,reason,value"
    assert "registrations,,,,,9" in lines and "stopped,,,,loss,1" in lines
    assert "sent,line,pregnancy,ja,,4" in lines and "failed,line,pregnancy,ja,,1" in lines


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [("stopped", "unfollow", "unfollow"), ("stopped", "unsubscribed by link", "unsubscribe"),
     ("stopped", "asked in LINE", "unsubscribe"), ("gone", "550 5.1.1", "gone"),
     ("gone", "unfollow", "gone")],
)  # fmt: skip
def test_stop_reasons(status, reason, expected):
    assert stop_reason(status, reason) == expected


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [("2026-11", date(2026, 11, 1), date(2026, 11, 30)),
     ("2028-02", date(2028, 2, 1), date(2028, 2, 29)),
     ("2026-12", date(2026, 12, 1), date(2026, 12, 31))],
)  # fmt: skip
def test_months(text, start, end):
    assert (Period.month(text).start, Period.month(text).end) == (start, end)


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "November", "2026-00"])
def test_not_a_month(text):
    with pytest.raises(ValueError, match="YYYY-MM"):
        Period.month(text)


def test_a_period_runs_forward():
    with pytest.raises(ValueError, match="ends before"):
        Period(date(2026, 11, 2), date(2026, 11, 1))


def test_waiting_counts_unconfirmed_mail_and_unused_live_line_codes(figures):
    from kizuna.models import LineInvitation
    from kizuna.reports import Waiting, waiting

    now = at("2026-11-22T00:00")
    # (municipality, expires, used): only A's live, unused code counts
    codes = [(A, "2027-02-01T00:00", None), (A, "2027-02-01T00:00", "2026-11-20T00:00"),
             (A, "2026-11-21T00:00", None), (B, "2027-02-01T00:00", None)]  # fmt: skip
    with figures.begin() as connection:
        for n, (code, expires, used) in enumerate(codes):
            connection.execute(sa.insert(LineInvitation.__table__).values(
                municipality_code=code, code_hash=f"h{n}", fingerprint=f"f{n}", occurrence=1,
                variant="ja", expires_at=at(expires), used_at=at(used) if used else None,
                created_at=CREATED,
            ))  # fmt: skip
    assert waiting(figures, A, now=now) == Waiting(email=1, line=1)
    assert waiting(figures, B, now=now) == Waiting(email=0, line=1)


def test_caregivers_are_counted_by_role(figures):
    # An invited grandparent (no municipality of their own) follows A's child 1; an invited
    # partner follows B's child 10.
    with figures.begin() as connection:
        for sid, child, role in ((20, 1, "grandparent"), (21, 10, "partner")):
            connection.execute(sa.insert(Subscriber.__table__).values(
                id=sid, channel="line", address=f"a{sid}", consent_at=at("2026-11-01T00:00"),
                status="active", created_at=CREATED, variant="ja", locale="ja",
                consecutive_failures=0,
            ))  # fmt: skip
            connection.execute(sa.insert(Follow.__table__).values(
                subscriber_id=sid, child_id=child, role=role, since=CREATED, may_report=False,
                receives_local_info=False, loss_support=False,
            ))  # fmt: skip
    # A's parents not stopped by the end of November: 1, 2, 6, 11, 12 (8 registered later).
    found = report(figures, A, NOVEMBER, timezone="Asia/Tokyo")
    assert found.caregivers == {"parent": 5, "grandparent": 1}
    overall = report(figures, None, NOVEMBER, timezone="Asia/Tokyo")
    assert overall.caregivers == {"parent": 6, "grandparent": 1, "partner": 1}
    lines = report_csv(found).splitlines()
    assert "caregivers,,,,grandparent,1" in lines and "caregivers,,,,partner,0" in lines


def test_deliveries_counted_before_their_rows_were_trimmed_still_count(figures):
    from kizuna.privacy import count_and_delete

    before = report(figures, A, NOVEMBER, timezone="Asia/Tokyo")
    with figures.begin() as connection:  # retention's trim, or an erasure: counted, deleted
        count_and_delete(connection, Delivery.__table__.c.local_date < date(2026, 11, 10))
    after = report(figures, A, NOVEMBER, timezone="Asia/Tokyo")
    assert after.deliveries == before.deliveries
    assert [(d.day, d.sent, d.failed) for d in after.days] == [
        (d.day, d.sent, d.failed) for d in before.days]  # fmt: skip
    other = report(figures, B, NOVEMBER, timezone="Asia/Tokyo")  # trimmed too, kept apart
    assert other.deliveries == [DeliveryCount("line", "pregnancy", "ja", 1, 0)]
