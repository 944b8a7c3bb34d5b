"""The audit log: entries in order, read from a time on, with counts and no personal data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import NOW

from kizuna import audit


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (None, ["export", "forget", "retention"]),
        (NOW + timedelta(hours=1), ["forget", "retention"]),
        (NOW + timedelta(days=2), []),
    ],
)
def test_entries_from_a_time_on_in_order(engine, since, expected):
    with engine.begin() as connection:
        audit.record(connection, actor=audit.RETENTION_ACTOR, action="retention",
                     at=NOW + timedelta(days=1), detail={"subscribers": 2})  # fmt: skip
        audit.record(connection, actor=audit.operator_actor("sato"), action="export", at=NOW,
                     subscriber_id=7)  # fmt: skip
        audit.record(connection, actor=audit.subscriber_actor("line"), action="forget",
                     at=NOW + timedelta(hours=1), subscriber_id=7)  # fmt: skip
    found = audit.entries(engine, since=since)
    assert [entry.action for entry in found] == expected


def test_an_entry_keeps_who_whose_and_counts(engine):
    with engine.begin() as connection:
        audit.record(connection, actor=audit.operator_actor("sato"), action="forget", at=NOW,
                     subscriber_id=7, detail={"deliveries": 3})  # fmt: skip
    [entry] = audit.entries(engine)
    assert (entry.at, entry.actor, entry.subscriber_id, entry.detail) == (
        NOW, "operator:sato", 7, {"deliveries": 3},
    )  # fmt: skip
