"""Grouping claimed deliveries into requests: one push per subscriber, multicasts of identical
texts, and stored groups that a retry sends again exactly as they were."""

from __future__ import annotations

import itertools

import pytest

from kizuna.dispatcher import Claimed
from kizuna.pushes import form_groups


def claimed(n: int, subscriber: int, **fields) -> Claimed:
    base = dict(
        delivery_id=n, subscriber_id=subscriber, idempotency_key=f"key-{n}", message_id="m",
        variant="ja", stage_label="", attempts=0, channel="line", address=f"U{subscriber}",
        subscriber_status="active", nickname="", municipality_name="", receives_local_info=True,
        child_id=n, fresh=True,
    )  # fmt: skip
    return Claimed(**{**base, **fields})


def groups_of(members, texts=None, *, per_push=5, per_multicast=0):
    counter = itertools.count(1)
    texts = texts or {m.delivery_id: f"text {m.delivery_id}" for m in members}
    return form_groups(members, texts, per_push=per_push, per_multicast=per_multicast,
                       new_key=lambda: f"new-{next(counter)}")  # fmt: skip


def shape(groups):
    return sorted((tuple(m.delivery_id for m in g.members), g.multicast, g.new) for g in groups)


def test_a_subscribers_deliveries_of_the_day_go_in_one_push_under_a_new_key():
    groups = groups_of([claimed(1, 10), claimed(2, 10), claimed(3, 11)])
    assert shape(groups) == [((1, 2), False, True), ((3,), False, False)]
    alone = next(g for g in groups if len(g.members) == 1)
    assert alone.key == "key-3"  # a delivery alone keeps its own key


def test_the_municipalitys_message_comes_after_kizunas():
    [group] = groups_of([claimed(5, 10, from_municipality=True), claimed(7, 10)])
    assert [m.delivery_id for m in group.members] == [7, 5]


def test_a_push_holds_at_most_five_messages():
    groups = groups_of([claimed(n, 10) for n in range(1, 8)])
    assert shape(groups) == [((1, 2, 3, 4, 5), False, True), ((6, 7), False, True)]


def test_tried_deliveries_go_alone_and_stored_groups_go_again_whole():
    members = [
        claimed(1, 10, fresh=False, attempts=1),  # tried alone before: alone for ever
        claimed(2, 10),
        claimed(3, 11, push_key="stored", fresh=False, attempts=1),
        claimed(4, 11, push_key="stored", fresh=False, attempts=1),
    ]
    groups = groups_of(members)
    assert shape(groups) == [((1,), False, False), ((2,), False, False), ((3, 4), False, False)]
    assert next(g for g in groups if len(g.members) == 2).key == "stored"


def test_a_channel_of_one_message_per_request_groups_nothing():
    assert shape(groups_of([claimed(1, 10), claimed(2, 10)], per_push=1)) == [
        ((1,), False, False), ((2,), False, False)]  # fmt: skip


def test_identical_texts_go_in_multicasts_of_at_most_the_limit():
    members = [claimed(n, n) for n in range(1, 8)]
    texts = {n: "same" for n in range(1, 7)} | {7: "personal"}
    groups = groups_of(members, texts, per_multicast=3)
    assert shape(groups) == [((1, 2, 3), True, True), ((4, 5, 6), True, True),
                             ((7,), False, False)]  # fmt: skip
    assert groups[0].addresses == ("U1", "U2", "U3")


def test_a_multicast_needs_two_recipients_and_the_same_texts_in_the_same_order():
    members = [claimed(1, 10), claimed(2, 10), claimed(3, 11), claimed(4, 11), claimed(5, 12)]
    texts = {1: "a", 2: "b", 3: "a", 4: "b", 5: "a"}
    groups = groups_of(members, texts, per_multicast=500)
    assert shape(groups) == [((1, 2, 3, 4), True, True), ((5,), False, False)]


@pytest.mark.parametrize("recipients", [450, 500, 1001])
def test_multicast_uses_one_request_per_500_recipients(recipients):
    members = [claimed(n, n) for n in range(recipients)]
    groups = groups_of(members, dict.fromkeys(range(recipients), "same"), per_multicast=500)
    assert len(groups) == -(-recipients // 500)
    assert sum(len(g.addresses) for g in groups) == recipients
