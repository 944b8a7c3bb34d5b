"""The retention job with time passed in: it erases exactly what is due, counts and trims old
deliveries, clears what unfinished registrations left, and reports it all."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from stored import date_forms, traces

from kizuna import subscriptions
from kizuna.models import (
    AuditEntry,
    Delivery,
    DeliveryCount,
    LineConversation,
    LineInvitation,
    Municipality,
    Subscriber,
)
from kizuna.retention import RetentionPolicy, RetentionSummary, run_retention
from kizuna.store import set_subscriber_status

NOW = datetime(2027, 3, 1, 3, 0, tzinfo=UTC)
POLICY = RetentionPolicy(retention_days=90, delivery_retention_days=400, pending_days=7)
SECRET = "test-secret"
BORN = date(2025, 6, 1)


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def add(engine, name: str, *, joined: datetime, status: str = "active", changed=None) -> int:
    """A subscriber `name`@example.com with a child, then put in `status` at `changed`."""
    request = subscriptions.SubscribeRequest(
        channel="email", address=f"{name}@example.com", birth_date=BORN, nickname=name
    )
    done = subscriptions.subscribe(engine, request, variants={"ja"},
                                   default_timezone="Asia/Tokyo", now=joined)  # fmt: skip
    if status != "active":
        with engine.begin() as connection:
            set_subscriber_status(connection, done.subscriber_id, status, reason="test",
                                  now=changed)  # fmt: skip
    return done.subscriber_id


def add_delivery(engine, subscriber_id: int, day: date, status: str, key: str) -> None:
    with engine.begin() as connection:
        child = connection.execute(
            sa.text("SELECT child_id FROM follow WHERE subscriber_id = :s"), {"s": subscriber_id}
        ).scalar()
        connection.execute(sa.insert(Delivery).values(
            subscriber_id=subscriber_id, child_id=child, message_id=key, track="child",
            variant="ja", stage_label="", local_date=day, due_at=NOW, status=status,
            idempotency_key=key, attempts=0, next_attempt_at=NOW, created_at=NOW,
        ))  # fmt: skip


@pytest.fixture
def world(engine):
    """Subscribers on both sides of each limit, deliveries around 400 days, leftovers."""
    long_ago = days_ago(500)
    ids = {
        "stopped-91": add(engine, "stopped91", joined=long_ago, status="stopped",
                          changed=days_ago(91)),
        "stopped-89": add(engine, "stopped89", joined=long_ago, status="stopped",
                          changed=days_ago(89)),
        "gone-100": add(engine, "gone100", joined=long_ago, status="gone", changed=days_ago(100)),
        "paused-300": add(engine, "paused300", joined=long_ago, status="paused",
                          changed=days_ago(300)),
        "active": add(engine, "active", joined=long_ago),
    }  # fmt: skip
    for name, joined in (("pending-8", days_ago(8)), ("pending-6", days_ago(6))):
        signed = subscriptions.sign_up(
            engine,
            subscriptions.SubscribeRequest(channel="email", address=f"{name}@example.com",
                                           birth_date=BORN),
            variants={"ja"}, default_timezone="Asia/Tokyo", locale="ja", now=joined,
        )  # fmt: skip
        ids[name] = signed.subscriber_id
    active = ids["active"]
    add_delivery(engine, active, (NOW - timedelta(days=401)).date(), "sent", "old-sent")
    add_delivery(engine, active, (NOW - timedelta(days=402)).date(), "failed", "old-failed")
    add_delivery(engine, active, (NOW - timedelta(days=403)).date(), "planned", "old-planned")
    add_delivery(engine, active, (NOW - timedelta(days=399)).date(), "sent", "recent")
    with engine.begin() as connection:
        connection.execute(sa.insert(LineConversation), [
            {"user_id": "U" + "8" * 32, "step": "date", "data": "{}", "updated_at": days_ago(8)},
            {"user_id": "U" + "6" * 32, "step": "date", "data": "{}", "updated_at": days_ago(6)},
        ])  # fmt: skip
        connection.execute(sa.insert(Municipality).values(code="131016", name="千代田区",
                                                          created_at=days_ago(900)))  # fmt: skip
        invitation = {
            "municipality_code": "131016",
            "occurrence": 1,
            "variant": "ja",
            "birth_date": BORN,
            "nickname": "みき",
            "created_at": days_ago(200),
            "used_at": None,
        }
        later = NOW + timedelta(days=5)
        connection.execute(sa.insert(LineInvitation), [  # expired; live; used 8 days ago
            {**invitation, "code_hash": "a" * 64, "fingerprint": "1", "expires_at": days_ago(1)},
            {**invitation, "code_hash": "b" * 64, "fingerprint": "2", "expires_at": later},
            {**invitation, "code_hash": "c" * 64, "fingerprint": "3", "expires_at": later,
             "used_at": days_ago(8)},
        ])  # fmt: skip
    return ids


def erased(engine) -> set[int]:
    with engine.connect() as connection:
        query = sa.select(Subscriber.id).where(Subscriber.erased_at.is_not(None))
        return set(connection.execute(query).scalars())


def test_retention_erases_exactly_what_is_due(engine, world):
    summary = run_retention(engine, now=NOW, policy=POLICY, secret=SECRET)
    assert summary == RetentionSummary(subscribers=2, pending=1, deliveries=2, conversations=1,
                                       invitations=2)  # fmt: skip
    assert erased(engine) == {world["stopped-91"], world["gone-100"], world["pending-8"]}
    gone = ["stopped91", "gone100", "pending-8"]
    assert traces(engine, [f"{name}@example.com" for name in gone]) == []
    kept = ["stopped89", "paused300", "active", "pending-6"]
    assert {t[2] for t in traces(engine, [f"{n}@example.com" for n in kept])} == {
        f"{n}@example.com" for n in kept
    }
    with engine.connect() as connection:
        keys = set(connection.execute(sa.select(Delivery.idempotency_key)).scalars())
        counts = {(r.status, r.count) for r in connection.execute(sa.select(DeliveryCount))}
        nicknames = set(connection.execute(sa.select(LineInvitation.nickname)).scalars())
        users = set(connection.execute(sa.select(LineConversation.user_id)).scalars())
    assert keys == {"old-planned", "recent"}  # never a delivery still to be sent
    assert counts == {("sent", 1), ("failed", 1)}
    assert nicknames == {None, "みき"}  # the live, unused invitation keeps its data
    assert users == {"U" + "6" * 32}


def test_a_second_run_removes_nothing_and_every_run_is_audited(engine, world):
    run_retention(engine, now=NOW, policy=POLICY, secret=SECRET)
    again = run_retention(engine, now=NOW + timedelta(minutes=5), policy=POLICY, secret=SECRET)
    assert again == RetentionSummary()
    with engine.connect() as connection:
        entries = connection.execute(
            sa.select(AuditEntry.actor, AuditEntry.action, AuditEntry.subscriber_id,
                      AuditEntry.detail).order_by(AuditEntry.id)
        ).all()  # fmt: skip
    assert [(e.actor, e.action, e.subscriber_id) for e in entries] == [
        ("retention", "forget", world["stopped-91"]),
        ("retention", "forget", world["gone-100"]),
        ("retention", "forget", world["pending-8"]),
        ("retention", "retention", None),
        ("retention", "retention", None),
    ]
    assert json.loads(entries[3].detail)["subscribers"] == 2
    assert json.loads(entries[4].detail) == RetentionSummary().as_dict()


@pytest.mark.parametrize(
    ("days", "erased_ids"), [(92, set()), (91, {"stopped-91"}), (89, {"stopped-91", "stopped-89"})]
)
def test_the_period_is_the_setting(engine, world, days, erased_ids):
    policy = RetentionPolicy(retention_days=days, delivery_retention_days=400, pending_days=7)
    run_retention(engine, now=NOW + timedelta(minutes=1), policy=policy, secret=SECRET)
    stopped = {name for name in ("stopped-91", "stopped-89") if world[name] in erased(engine)}
    assert stopped == erased_ids


def test_children_of_erased_subscribers_lose_their_dates(engine, world):
    run_retention(engine, now=NOW, policy=POLICY, secret=SECRET)
    with engine.connect() as connection:
        children = connection.execute(sa.text("SELECT COUNT(*) FROM child")).scalar()
    assert children == 4  # of the four still followed; the three erased ones are gone
    assert traces(engine, date_forms(BORN)) != []  # still held for those who remain
