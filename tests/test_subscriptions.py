"""Subscribing with a clear error for every bad value; births and losses take effect at once."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from conftest import NOW

from kizuna import subscriptions
from kizuna.content import load_catalog
from kizuna.core.catalog import Role
from kizuna.models import Child, Delivery, Follow, Municipality, Subscriber
from kizuna.planner import PlanOptions, plan_day
from kizuna.store import SqlStore
from kizuna.subscriptions import SubscribeError, SubscribeRequest, check_dates

D = date.fromisoformat
TODAY = D("2026-11-22")  # NOW in Tokyo
LINE = "U" + "0" * 31 + "1"


def subscribe(engine, request, **kw):
    return subscriptions.subscribe(
        engine, request, variants={"ja", "ja-easy"}, default_timezone="Asia/Tokyo", now=NOW, **kw
    )


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"channel": "sms"}, "channel", "line or email"),
        ({"address": "U123"}, "address", "U followed by 32 hex digits"),
        ({"channel": "email", "address": "not-an-address"}, "address", "not a valid email"),
        ({"due_date": None}, "date", "give a due date"),
        ({"due_date": D("2027-09-19")}, "due_date", "more than 300 days ahead"),
        ({"due_date": D("2026-11-07")}, "due_date", "over two weeks past"),
        ({"due_date": None, "birth_date": D("2026-11-23")}, "birth_date", "in the future"),
        ({"due_date": None, "birth_date": D("2008-11-22")}, "birth_date", "18 or older"),
        ({"due_date": D("2026-12-31"), "birth_date": D("2026-06-01")}, "due_date", "too far apart"),
        ({"variant": "en"}, "variant", "unknown variant 'en'"),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"nickname": "あ" * 41}, "nickname", "longer than 40"),
        ({"nickname": "a\u0000b"}, "nickname", "control characters"),
        ({"municipality_code": "999999"}, "municipality", "no municipality with code 999999"),
    ],
)
def test_every_bad_value_is_named(engine, fields, field, text):
    request = SubscribeRequest(
        **{"channel": "line", "address": LINE, "due_date": D("2027-05-01"), **fields}
    )
    with pytest.raises(SubscribeError) as raised:
        subscribe(engine, request)
    assert text in raised.value.problems[field]
    with engine.connect() as connection:  # nothing half-written
        assert connection.execute(sa.select(sa.func.count()).select_from(Subscriber)).scalar() == 0


def test_several_problems_at_once(engine):
    request = SubscribeRequest(channel="email", address="x", variant="xx", nickname="a\u0007")
    with pytest.raises(SubscribeError) as raised:
        subscribe(engine, request)
    assert set(raised.value.problems) == {"address", "variant", "nickname", "date"}


def test_same_address_twice_is_refused(engine):
    subscribe(engine, SubscribeRequest("line", LINE, due_date=D("2027-05-01")))
    with pytest.raises(SubscribeError, match="already subscribed"):
        subscribe(engine, SubscribeRequest("line", LINE, due_date=D("2027-05-01")))


def test_email_address_is_normalised(engine):
    done = subscribe(
        engine, SubscribeRequest("email", "Parent@EXAMPLE.com", due_date=D("2027-05-01"))
    )
    with engine.connect() as connection:
        address = connection.execute(
            sa.select(Subscriber.address).where(Subscriber.id == done.subscriber_id)
        ).scalar()
    assert address == "Parent@example.com"


def test_subscription_records_consent_and_a_shared_child(engine):
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Municipality.__table__).values(code="131016", name="千代田区", created_at=NOW)
        )
    done = subscribe(
        engine,
        SubscribeRequest(
            "line",
            LINE,
            due_date=D("2027-05-01"),
            municipality_code="131016",
            nickname=" さくら ",
            timezone="Europe/Berlin",
        ),
    )
    with engine.connect() as connection:
        subscriber = connection.execute(sa.select(Subscriber.__table__)).one()._mapping
        follow = connection.execute(sa.select(Follow.__table__)).one()._mapping
        child = connection.execute(sa.select(Child.__table__)).one()._mapping
    assert subscriber["consent_at"] == NOW and subscriber["nickname"] == "さくら"
    assert subscriber["timezone"] == "Europe/Berlin"
    assert (follow["role"], follow["may_report"], follow["child_id"]) == (
        "parent",
        True,
        done.child_id,
    )
    assert (child["status"], child["due_date"]) == ("expected", D("2027-05-01"))


def test_a_follower_gets_no_local_info_or_reporting_right_by_default(engine):
    parent = subscribe(engine, SubscribeRequest("line", LINE, due_date=D("2027-05-01")))
    subscribe(
        engine,
        SubscribeRequest("email", "gran@example.com"),
        follow_child=parent.child_id,
        role=Role.GRANDPARENT,
    )
    with engine.connect() as connection:
        follows = connection.execute(
            sa.select(Follow.role, Follow.may_report, Follow.receives_local_info).order_by(
                Follow.id
            )
        ).all()
    assert follows == [("parent", True, True), ("grandparent", False, False)]


@pytest.mark.parametrize(
    ("due", "birth", "problems"),
    [
        (D("2027-05-01"), None, set()),
        (D("2026-11-08"), None, set()),  # 42w0d: still accepted, the birth-report prompt is due
        (None, D("2026-11-22"), set()),  # born today
        (D("2027-03-28"), D("2026-11-22"), set()),  # born at 22w0d: the earliest accepted
        (D("2027-03-29"), D("2026-11-22"), {"due_date"}),  # 21w6d
        (D("2026-10-25"), D("2026-11-22"), set()),  # born at 44w0d
        (D("2026-10-24"), D("2026-11-22"), {"due_date"}),
    ],
)
def test_check_dates_bounds(due, birth, problems):
    assert set(check_dates(due, birth, TODAY)) == problems


def pregnancy_with_plans(engine, messages_dir):
    catalog = load_catalog(messages_dir)
    parent = subscribe(engine, SubscribeRequest("line", LINE, due_date=D("2027-06-06")))  # 12w0d
    subscribe(
        engine,
        SubscribeRequest("email", "partner@example.com"),
        follow_child=parent.child_id,
        role=Role.PARTNER,
    )
    plan_day(SqlStore(engine), catalog, TODAY, PlanOptions(False, "Asia/Tokyo", 8), now=NOW)
    return parent


def statuses(engine):
    with engine.connect() as connection:
        return sorted(connection.execute(sa.select(Delivery.status, Delivery.skip_reason)).all())


def test_birth_report_cancels_planned_pregnancy_deliveries(engine, messages_dir):
    parent = pregnancy_with_plans(engine, messages_dir)
    assert statuses(engine) == [("planned", None), ("planned", None)]
    cancelled = subscriptions.report_birth(
        engine, child_id=parent.child_id, birth_date=D("2026-11-21")
    )
    assert cancelled == 2
    assert statuses(engine) == [("cancelled", "birth reported")] * 2


def test_loss_report_cancels_everything_for_every_follower(engine, messages_dir):
    parent = pregnancy_with_plans(engine, messages_dir)
    assert subscriptions.report_loss(engine, child_id=parent.child_id, loss_date=TODAY) == 2
    assert statuses(engine) == [("cancelled", "loss reported")] * 2
    catalog = load_catalog(messages_dir)
    later = plan_day(
        SqlStore(engine), catalog, D("2026-11-28"), PlanOptions(True, "Asia/Tokyo", 8), now=NOW
    )
    assert later.due == 0  # nothing about that child is planned again


def test_life_event_for_an_unknown_child(engine):
    with pytest.raises(LookupError):
        subscriptions.report_loss(engine, child_id=99, loss_date=TODAY)
