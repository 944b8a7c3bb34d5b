"""The SQL store behaves the same on SQLite and PostgreSQL: idempotent planning, exclusive
claims (SKIP LOCKED on PostgreSQL), expired claims taken over, the schema as migrated."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import NOW
from sqlmodel import SQLModel

from kizuna import subscriptions
from kizuna.config import bundled_dir
from kizuna.content import load_catalog
from kizuna.core.catalog import Role
from kizuna.core.due import due_dates_for
from kizuna.models import Delivery
from kizuna.planner import NewDelivery, PlanOptions, PlanScope, plan_day
from kizuna.store import SqlStore, follows_query

DAY = date(2026, 11, 22)


def followers(engine, count: int) -> list[int]:
    ids = []
    for n in range(count):
        done = subscriptions.subscribe(
            engine, subscriptions.SubscribeRequest("line", f"U{n:032x}", birth_date=DAY),
            variants={"ja"}, default_timezone="Asia/Tokyo", now=NOW,
        )  # fmt: skip
        ids.append((done.subscriber_id, done.child_id))
    return ids


def new(subscriber_id, child_id, message_id="child-d7", day=DAY, key=None) -> NewDelivery:
    key = key or f"{subscriber_id:08d}-0000-4000-8000-{child_id:012d}"
    return NewDelivery(subscriber_id, child_id, message_id, "child", "ja", None, "生後7日", day,
                       NOW, key)  # fmt: skip


def test_schema_matches_the_models(any_engine):
    with any_engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []


def test_adding_deliveries_is_idempotent(any_engine):
    store = SqlStore(any_engine)
    pairs = followers(any_engine, 3)
    assert store.add_deliveries([new(s, c) for s, c in pairs], now=NOW) == 3
    again = [new(s, c, key=f"{s:08d}-1111-4000-8000-{c:012d}") for s, c in pairs]
    assert store.add_deliveries(again, now=NOW) == 0
    other_message_same_day = [new(s, c, "child-d8", key=f"{s:08d}-2222-4000-8000-{c:012d}")
                              for s, c in pairs]  # fmt: skip
    assert store.add_deliveries(other_message_same_day, now=NOW) == 0  # one a day


def test_concurrent_claims_never_share_a_delivery(any_engine):
    store = SqlStore(any_engine)
    store.add_deliveries([new(s, c) for s, c in followers(any_engine, 40)], now=NOW)
    claimed: dict[str, list[int]] = {}
    start = threading.Barrier(4)

    def claim(worker: str) -> None:
        start.wait()
        got = []
        while batch := store.claim(now=NOW, through_local_date=None, limit=3, worker=worker,
                                   until=NOW + timedelta(minutes=5)):  # fmt: skip
            got += [c.delivery_id for c in batch]
        claimed[worker] = got

    threads = [threading.Thread(target=claim, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [delivery for got in claimed.values() for delivery in got]
    assert sorted(every) == sorted(set(every)) and len(every) == 40


def test_an_expired_claim_is_taken_over(any_engine):
    store = SqlStore(any_engine)
    store.add_deliveries([new(s, c) for s, c in followers(any_engine, 1)], now=NOW)
    [first] = store.claim(now=NOW, through_local_date=None, limit=5, worker="a",
                          until=NOW + timedelta(seconds=30))  # fmt: skip
    assert store.claim(now=NOW + timedelta(seconds=29), through_local_date=None, limit=5,
                       worker="b", until=NOW + timedelta(minutes=1)) == []  # fmt: skip
    [again] = store.claim(now=NOW + timedelta(seconds=31), through_local_date=None, limit=5,
                          worker="b", until=NOW + timedelta(minutes=1))  # fmt: skip
    assert again.idempotency_key == first.idempotency_key
    with any_engine.connect() as connection:
        assert connection.execute(sa.select(Delivery.claimed_by)).scalar() == "b"


def test_follows_come_in_batches_with_their_values_converted(any_engine):
    expected = DAY + timedelta(days=100)
    for n, dates in enumerate([{"birth_date": DAY}, {"birth_date": DAY},
                               {"due_date": expected}]):  # fmt: skip
        request = subscriptions.SubscribeRequest("line", f"U{n:032x}", timezone="Asia/Tokyo",
                                                 **dates)  # fmt: skip
        subscriptions.subscribe(any_engine, request, variants={"ja"},
                                default_timezone="Asia/Tokyo", now=NOW)  # fmt: skip
    scope = PlanScope("Asia/Tokyo", since_after=NOW - timedelta(days=1))
    batches = list(SqlStore(any_engine).follows_to_plan(scope=scope, batch_size=2))
    assert [len(batch) for batch in batches] == [2, 1]
    rows = [row for batch in batches for row in batch]
    assert [(row.birth_date, row.due_date) for row in rows] == [
        (DAY, None), (DAY, None), (None, expected)]  # fmt: skip
    assert all(type(row.loss_support) is bool and row.receives_local_info is True for row in rows)
    assert {row.since for row in rows} == {NOW}  # joined after `since_after`: an aware time
    assert {row.timezone for row in rows} == {"Asia/Tokyo"}


def test_planning_reads_only_followers_whose_role_has_a_message_due(any_engine, messages_dir):
    """On a partner's day (12w3d) of an unborn child only the partner is read; on a day for
    everyone (12w0d), everyone; a lost pregnancy's followers go by the loss, whatever day."""
    at_12w3d, at_12w0d = DAY + timedelta(days=280 - 87), DAY + timedelta(days=280 - 84)
    children = {}
    for n, (name, due, roles) in enumerate([
        ("partners' day", at_12w3d, [Role.PARENT, Role.PARTNER, Role.GRANDPARENT]),
        ("everyone's day", at_12w0d, [Role.PARENT, Role.GRANDPARENT]),
        ("lost", at_12w3d, [Role.PARENT]),
    ]):  # fmt: skip
        child = None
        for m, role in enumerate(roles):
            request = subscriptions.SubscribeRequest("line", f"U{n:016x}{m:016x}", due_date=due)
            done = subscriptions.subscribe(any_engine, request, variants={"ja"}, now=NOW,
                                           default_timezone="Asia/Tokyo", follow_child=child,
                                           role=role)  # fmt: skip
            child = children[name] = done.child_id
    subscriptions.report_loss(any_engine, child_id=children["lost"], loss_date=DAY - timedelta(1))
    catalog = load_catalog(messages_dir)
    dates = due_dates_for(catalog.timings(), DAY, audiences=catalog.audiences())
    scope = PlanScope("Asia/Tokyo", dates=dates)
    rows = [row for batch in SqlStore(any_engine).follows_to_plan(scope=scope, batch_size=10)
            for row in batch]  # fmt: skip
    name_of = {child: name for name, child in children.items()}
    assert sorted((name_of[row.child_id], row.role) for row in rows) == [
        ("everyone's day", Role.GRANDPARENT), ("everyone's day", Role.PARENT),
        ("lost", Role.PARENT), ("partners' day", Role.PARTNER),
    ]  # fmt: skip


def test_planning_on_one_connection_reads_and_writes_in_turn(any_engine):
    """A dry run plans on the caller's connection, without threads: the read's cursor stays
    open while each batch is written (on PostgreSQL a server-side cursor beside COPY)."""
    followers(any_engine, 3)
    catalog = load_catalog(bundled_dir("messages"))
    options = PlanOptions(True, "Asia/Tokyo", 8, batch_size=1, write_size=1)
    with any_engine.connect() as connection, connection.begin() as transaction:
        store = SqlStore(connection)
        summary = plan_day(store, catalog, DAY + timedelta(days=1), options, now=NOW)
        count = sa.select(sa.func.count()).select_from(Delivery.__table__)
        assert summary.planned == 3 and connection.execute(count).scalar() == 3
        transaction.rollback()
    with any_engine.connect() as connection:
        assert connection.execute(count).scalar() == 0


def test_planning_reads_children_by_their_dates_even_without_statistics(engine):
    """A database never analysed (SQLite has no statistics until ANALYZE) must still start
    from the children whose dates can make a message due, not from every subscriber."""
    catalog = load_catalog(bundled_dir("messages"))
    dates = due_dates_for(catalog.timings(), DAY, audiences=catalog.audiences())
    assert dates.roles_of_due_dates  # the starter library has days for some roles only
    query = follows_query(PlanScope("Asia/Tokyo", dates=dates))
    with engine.connect() as connection:
        sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
        steps = [row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
    assert steps[0] == "MULTI-INDEX OR"
    reads = [step for step in steps if step.startswith("SEARCH child")]
    assert reads and all(step.startswith("SEARCH child USING INDEX ix_child_") for step in reads)
    assert not any(step.startswith(("SCAN", "SEARCH subscriber USING INDEX")) for step in steps)


def test_timezones_of_active_subscribers(any_engine):
    followers(any_engine, 1)
    request = subscriptions.SubscribeRequest(
        "line", "U" + "f" * 32, birth_date=DAY - timedelta(days=7), timezone="America/Sao_Paulo"
    )
    subscriptions.subscribe(
        any_engine, request,
        variants={"ja"}, default_timezone="Asia/Tokyo", now=NOW,
    )  # fmt: skip
    assert SqlStore(any_engine).timezones(default="Asia/Tokyo") == ["America/Sao_Paulo",
                                                                    "Asia/Tokyo"]  # fmt: skip


def test_multicast_mode_claims_identical_messages_together_and_groups_go_again_whole(any_engine):
    store = SqlStore(any_engine)
    pairs = followers(any_engine, 6)
    alternating = ["child-d7" if n % 2 else "child-d8" for n in range(6)]
    store.add_deliveries([new(s, c, m) for (s, c), m in zip(pairs, alternating, strict=True)],
                         now=NOW)  # fmt: skip
    claim = dict(now=NOW, through_local_date=DAY, limit=2, until=NOW + timedelta(minutes=5))
    plain = store.claim(worker="a", **claim)
    assert {c.message_id for c in plain} == {"child-d7", "child-d8"}  # in planning order
    assert all(c.fresh for c in plain)
    store.set_push_keys([("k-1", True, [c.delivery_id for c in plain])])
    with any_engine.begin() as connection:  # as if the multicast must be tried again
        connection.execute(sa.update(Delivery).values(status="planned"))
    by_content = store.claim(worker="b", **{**claim, "limit": 1}, by_content=True)
    # The one claimed brings its whole group; of the four left, two of one message together.
    assert sorted(c.delivery_id for c in by_content if c.push_key == "k-1") == sorted(
        c.delivery_id for c in plain)  # fmt: skip
    assert not any(c.fresh for c in by_content)
    rest = store.claim(worker="c", **claim, by_content=True)
    assert [c.message_id for c in rest] == ["child-d7", "child-d7"]


def test_a_group_part_held_by_another_worker_is_handed_back_not_sent_in_part(any_engine):
    store = SqlStore(any_engine)
    pairs = followers(any_engine, 3)
    store.add_deliveries([new(s, c) for s, c in pairs], now=NOW)
    claim = dict(now=NOW, through_local_date=DAY, limit=10, until=NOW + timedelta(minutes=5))
    ids = [c.delivery_id for c in store.claim(worker="a", **claim)]
    store.set_push_keys([("k-1", True, ids)])
    with any_engine.begin() as connection:  # b holds one part right now; the rest is planned
        connection.execute(sa.update(Delivery).values(status="planned", claimed_by=None))
        connection.execute(sa.update(Delivery).where(Delivery.id == ids[-1])
                           .values(status="sending", claimed_by="b",
                                   claimed_until=NOW + timedelta(minutes=5)))  # fmt: skip
    assert store.claim(worker="c", **claim) == []
    with any_engine.connect() as connection:
        rows = connection.execute(sa.select(Delivery.status, Delivery.claimed_by)
                                  .order_by(Delivery.id)).all()  # fmt: skip
    assert rows == [("planned", None), ("planned", None), ("sending", "b")]
    later = {**claim, "now": NOW + timedelta(minutes=6), "until": NOW + timedelta(minutes=11)}
    whole = store.claim(worker="c", **later)  # b's claim expired: the group goes whole
    assert sorted(c.delivery_id for c in whole) == sorted(ids)


def test_multicast_mode_completes_the_last_message_of_a_batch(any_engine):
    store = SqlStore(any_engine)
    pairs = followers(any_engine, 5)
    messages = ["child-d7", "child-d8", "child-d8", "child-d8", "child-d9"]
    store.add_deliveries([new(s, c, m) for (s, c), m in zip(pairs, messages, strict=True)],
                         now=NOW)  # fmt: skip
    claim = dict(now=NOW, through_local_date=DAY, limit=2, until=NOW + timedelta(minutes=5))
    first = store.claim(worker="a", **claim, by_content=True)
    # d7, then d8 cut by the limit: the rest of d8 comes too, so its texts meet in one request.
    assert sorted(c.message_id for c in first) == ["child-d7"] + ["child-d8"] * 3
    assert all(c.fresh for c in first)
    assert [c.message_id for c in store.claim(worker="a", **claim, by_content=True)] == [
        "child-d9"]  # fmt: skip
