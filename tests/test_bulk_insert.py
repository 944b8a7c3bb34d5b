"""Bulk delivery inserts: the same stored values as SQLAlchemy's, conflicts skipped and told
apart, on SQLite (executemany) and PostgreSQL (COPY through a staging table)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from conftest import NOW

from kizuna import subscriptions
from kizuna.bulk_insert import INSERT_COLUMNS, insert_deliveries
from kizuna.models import Delivery

DAY = date(2026, 11, 22)
DUE = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)
TABLE = Delivery.__table__


@pytest.fixture
def pairs(any_engine) -> list[tuple[int, int]]:
    found = []
    for n in range(3):
        done = subscriptions.subscribe(
            any_engine, subscriptions.SubscribeRequest("line", f"U{n:032x}", birth_date=DAY),
            variants={"ja"}, default_timezone="Asia/Tokyo", now=NOW,
        )  # fmt: skip
        found.append((done.subscriber_id, done.child_id))
    return found


def row(subscriber_id: int, child_id: int, key: str, message_id: str = "child-d7") -> tuple:
    values = {
        "subscriber_id": subscriber_id, "child_id": child_id, "message_id": message_id,
        "track": "child", "variant": "ja", "fallback_from": None, "stage_label": "生後7日",
        "local_date": DAY, "due_at": DUE, "status": "planned", "idempotency_key": key,
        "attempts": 0, "next_attempt_at": DUE, "created_at": NOW, "from_municipality": False,
    }  # fmt: skip
    return tuple(values[name] for name in INSERT_COLUMNS)


def test_rows_are_stored_as_sqlalchemy_stores_them(any_engine, pairs):
    (s, c), *_ = pairs
    with any_engine.begin() as connection:
        assert insert_deliveries(connection, [row(s, c, "k1")]) == {"k1"}
    with any_engine.connect() as connection:
        stored = connection.execute(sa.select(TABLE).where(TABLE.c.idempotency_key == "k1")).one()
        # Compared in SQL against SQLAlchemy's own binding of the same instant.
        due = connection.execute(
            sa.select(sa.func.count()).where(
                TABLE.c.due_at == sa.bindparam("d", DUE, TABLE.c.due_at.type)
            )
        ).scalar()
    assert (stored.due_at, stored.next_attempt_at, stored.local_date) == (DUE, DUE, DAY)
    assert due == 1


@pytest.mark.parametrize(
    ("second", "inserted"),
    [
        ([("k1", "child-d7")], set()),  # the same row again
        ([("k9", "child-d7")], set()),  # the same message for the same follower: one only
        ([("k9", "child-d8")], set()),  # another message on the same day: one a day
        ([("k9", "child-d7"), ("k8", "other")], set()),  # both conflict
    ],
)
def test_conflicting_rows_are_skipped_and_not_reported(any_engine, pairs, second, inserted):
    (s, c), *_ = pairs
    with any_engine.begin() as connection:
        insert_deliveries(connection, [row(s, c, "k1")])
    with any_engine.begin() as connection:
        rows = [row(s, c, key, message) for key, message in second]
        assert insert_deliveries(connection, rows) == inserted


def test_new_and_conflicting_rows_in_one_call(any_engine, pairs):
    (s1, c1), (s2, c2), (s3, c3) = pairs
    with any_engine.begin() as connection:
        insert_deliveries(connection, [row(s1, c1, "a")])
    with any_engine.begin() as connection:
        keys = insert_deliveries(connection, [row(s1, c1, "b"), row(s2, c2, "c"), row(s3, c3, "d")])
    assert keys == {"c", "d"}


def test_several_calls_in_one_transaction_then_rolled_back(any_engine, pairs):
    """A dry run plans every batch in one transaction and rolls it back."""
    (s1, c1), (s2, c2), _ = pairs
    with any_engine.connect() as connection:
        transaction = connection.begin()
        assert insert_deliveries(connection, [row(s1, c1, "a")]) == {"a"}
        assert insert_deliveries(connection, [row(s2, c2, "b")]) == {"b"}  # not "a" again
        transaction.rollback()
    with any_engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(TABLE)).scalar() == 0


def test_nothing_to_insert(any_engine):
    with any_engine.begin() as connection:
        assert insert_deliveries(connection, []) == set()
