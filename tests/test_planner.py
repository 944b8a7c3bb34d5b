"""Planning: one delivery per follower and child for the message due on their local date."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from conftest import NOW

from kizuna import subscriptions
from kizuna.content import load_catalog
from kizuna.core.catalog import Role
from kizuna.models import Delivery
from kizuna.planner import FollowRow, PlanOptions, PlanScope, delivery_for, due_at, plan_day
from kizuna.store import SqlStore

D = date.fromisoformat
DAY = D("2026-11-22")
DUE_12W0D = D("2027-06-06")  # 12w0d on 2026-11-22
OPTIONS = PlanOptions(allow_unreviewed=False, default_timezone="Asia/Tokyo", default_hour=8)


def add(engine, address, *, channel="line", role=Role.PARENT, follow=None, **fields):
    request = subscriptions.SubscribeRequest(channel=channel, address=address, **fields)
    return subscriptions.subscribe(
        engine, request, variants={"ja", "ja-easy"}, default_timezone="Asia/Tokyo", now=NOW,
        follow_child=follow, role=role,
    )  # fmt: skip


def line_id(n: int) -> str:
    return f"U{n:032x}"


def deliveries(engine) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(Delivery.__table__).order_by(Delivery.__table__.c.id))
        return [dict(row._mapping) for row in rows]


def test_planning_twice_adds_nothing(engine, messages_dir):
    catalog = load_catalog(messages_dir)
    add(engine, line_id(1), due_date=DUE_12W0D)
    first = plan_day(SqlStore(engine), catalog, DAY, OPTIONS, now=NOW)
    second = plan_day(SqlStore(engine), catalog, DAY, OPTIONS, now=NOW)
    assert (first.due, first.planned) == (1, 1)
    assert (second.due, second.planned) == (1, 0)
    [row] = deliveries(engine)
    assert (row["message_id"], row["stage_label"], row["status"]) == (
        "pregnancy-12w0d",
        "妊娠12週0日",
        "planned",
    )


def test_joining_mid_pregnancy_starts_today_without_backlog(engine, messages_dir):
    catalog = load_catalog(messages_dir)
    add(engine, line_id(1), due_date=D("2027-06-05"))  # 12w1d today: only a birthing-parent message
    summary = plan_day(SqlStore(engine), catalog, DAY, OPTIONS, now=NOW)
    assert summary.planned == 1
    assert [r["message_id"] for r in deliveries(engine)] == ["pregnancy-12w1d-birthing_parent"]


def test_three_followers_each_get_what_fits_their_role(engine, messages_dir):
    catalog = load_catalog(messages_dir)
    parent = add(engine, line_id(1), due_date=D("2027-06-05"))
    add(engine, "partner@example.com", channel="email", role=Role.PARTNER, follow=parent.child_id)
    add(engine, line_id(3), variant="ja-easy", role=Role.GRANDPARENT, follow=parent.child_id)
    store = SqlStore(engine)
    plan_day(store, catalog, D("2026-11-22"), OPTIONS, now=NOW)  # 12w1d: birthing parent only
    plan_day(store, catalog, D("2026-11-24"), OPTIONS, now=NOW)  # 12w3d: partners only
    plan_day(store, catalog, D("2026-11-28"), OPTIONS, now=NOW)  # 13w0d: unreviewed, nobody
    got = {(r["subscriber_id"], r["message_id"], r["variant"]) for r in deliveries(engine)}
    assert got == {
        (1, "pregnancy-12w1d-birthing_parent", "ja"),
        (2, "pregnancy-12w3d-partner", "ja"),
    }


def test_everyone_message_reaches_every_follower_in_their_variant(engine, messages_dir):
    catalog = load_catalog(messages_dir)
    parent = add(engine, line_id(1), due_date=DUE_12W0D)
    add(engine, line_id(2), variant="ja-easy", role=Role.GRANDPARENT, follow=parent.child_id)
    plan_day(SqlStore(engine), catalog, DAY, OPTIONS, now=NOW)
    assert {(r["subscriber_id"], r["variant"]) for r in deliveries(engine)} == {
        (1, "ja"),
        (2, "ja-easy"),
    }


def test_unreviewed_planned_only_when_allowed(engine, messages_dir):
    catalog = load_catalog(messages_dir)
    add(engine, line_id(1), due_date=D("2027-05-30"))  # 13w0d: unreviewed message
    assert plan_day(SqlStore(engine), catalog, DAY, OPTIONS, now=NOW).planned == 0
    allowed = PlanOptions(True, "Asia/Tokyo", 8)
    assert plan_day(SqlStore(engine), catalog, DAY, allowed, now=NOW).planned == 1


def test_twins_get_one_delivery_each(engine, messages_dir):
    catalog = load_catalog(messages_dir)
    done = add(engine, line_id(1), birth_date=D("2026-11-15"))  # d7 today
    subscriptions.add_child(
        engine,
        subscriber_id=done.subscriber_id,
        due_date=None,
        birth_date=D("2026-11-15"),
        default_timezone="Asia/Tokyo",
        now=NOW,
    )
    assert plan_day(SqlStore(engine), catalog, DAY, OPTIONS, now=NOW).planned == 2


def test_stopped_subscriber_is_not_planned(engine, messages_dir):
    catalog = load_catalog(messages_dir)
    done = add(engine, line_id(1), due_date=DUE_12W0D)
    subscriptions.stop(engine, subscriber_id=done.subscriber_id, reason="asked", now=NOW)
    assert plan_day(SqlStore(engine), catalog, DAY, OPTIONS, now=NOW).followers == 0


@pytest.mark.parametrize(
    ("timezone", "hour", "expected"),
    [
        ("Asia/Tokyo", 8, datetime(2026, 11, 21, 23, 0, tzinfo=UTC)),
        ("America/Sao_Paulo", 8, datetime(2026, 11, 22, 11, 0, tzinfo=UTC)),
        ("Europe/London", 20, datetime(2026, 11, 22, 20, 0, tzinfo=UTC)),
        ("America/New_York", 8, datetime(2026, 11, 22, 13, 0, tzinfo=UTC)),
    ],
)
def test_due_at_is_the_local_hour_in_utc(timezone, hour, expected):
    assert due_at(DAY, hour, timezone) == expected


def test_subscriber_hour_and_zone_win_over_defaults(messages_dir):
    catalog = load_catalog(messages_dir)
    row = FollowRow(1, 1, 1, "parent", "ja", "America/Sao_Paulo", 19, DUE_12W0D, None, None, False)
    assert delivery_for(row, catalog, DAY, OPTIONS).due_at == datetime(
        2026, 11, 22, 22, 0, tzinfo=UTC
    )
    default = replace(row, timezone=None, delivery_hour=None)
    assert delivery_for(default, catalog, DAY, OPTIONS).due_at == datetime(
        2026, 11, 21, 23, 0, tzinfo=UTC
    )


def test_each_planned_delivery_has_its_own_key(engine, messages_dir):
    catalog = load_catalog(messages_dir)
    add(engine, line_id(1), due_date=DUE_12W0D)
    add(engine, line_id(2), due_date=DUE_12W0D)
    plan_day(SqlStore(engine), catalog, DAY, OPTIONS, now=NOW)
    keys = [r["idempotency_key"] for r in deliveries(engine)]
    assert len(set(keys)) == 2 and all(len(k) == 36 for k in keys)


def test_no_delivery_for_a_day_before_the_follower_joined(messages_dir):
    catalog = load_catalog(messages_dir)
    joined = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)  # 00:30 on 23 Nov in Tokyo
    row = FollowRow(1, 1, 1, "parent", "ja", None, None, DUE_12W0D, None, None, False, joined)
    assert delivery_for(row, catalog, DAY, OPTIONS) is None
    in_london = replace(row, timezone="Europe/London")  # still 22 Nov there
    assert delivery_for(in_london, catalog, DAY, OPTIONS) is not None


def test_scope_by_time_zone_and_child(engine, messages_dir):
    catalog = load_catalog(messages_dir)
    tokyo = add(engine, line_id(1), due_date=DUE_12W0D)
    add(engine, line_id(2), due_date=DUE_12W0D, timezone="America/Sao_Paulo")
    add(engine, line_id(3), due_date=DUE_12W0D)
    store = SqlStore(engine)
    sao_paulo = PlanScope(default_timezone="Asia/Tokyo", timezone="America/Sao_Paulo")
    assert plan_day(store, catalog, DAY, OPTIONS, now=NOW, scope=sao_paulo).planned == 1
    only_child = PlanScope(default_timezone="Asia/Tokyo", child_id=tokyo.child_id)
    assert plan_day(store, catalog, DAY, OPTIONS, now=NOW, scope=only_child).planned == 1
    default_zone = PlanScope(default_timezone="Asia/Tokyo", timezone="Asia/Tokyo")
    summary = plan_day(store, catalog, DAY, OPTIONS, now=NOW, scope=default_zone)
    assert (summary.followers, summary.planned) == (2, 1)
