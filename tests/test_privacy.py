"""A parent's data: the export holds everything about them and nothing about anyone else;
forgetting leaves no trace in any column of any table; a new registration starts afresh."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW
from stored import date_forms, traces

from kizuna import consent, privacy, subscriptions
from kizuna.core.catalog import Role
from kizuna.models import (
    AuditEntry,
    Child,
    ConsentRecord,
    Delivery,
    DeliveryCount,
    Follow,
    LineConversation,
    LineInvitation,
    Municipality,
    Subscriber,
)
from kizuna.runtime import open_runtime, plan

SECRET = "test-secret"
DUE = date(2027, 6, 6)  # pregnancy-12w0d is due on NOW's date
BORN = date(2026, 11, 15)  # child-d7 is due on NOW's date
LINE_USER = "U" + "a1" * 16
PARTNER = "partner.person@example.com"
VARIANTS = {"ja", "ja-easy"}


def subscribe(engine, address, *, channel="line", nickname=None, due=None, born=None,
              follow_child=None, municipality=None):  # fmt: skip
    request = subscriptions.SubscribeRequest(
        channel=channel, address=address, due_date=due, birth_date=born, nickname=nickname,
        municipality_code=municipality, consent_version="test-notice",
    )  # fmt: skip
    return subscriptions.subscribe(
        engine, request, variants=VARIANTS, default_timezone="Asia/Tokyo", now=NOW,
        follow_child=follow_child, role=Role.PARTNER if follow_child else Role.PARENT,
    )  # fmt: skip


@pytest.fixture
def family(settings):
    """A LINE parent with a pregnancy (shared with a partner by email) and a born child,
    deliveries planned and one sent, an invitation, a conversation, a municipality."""
    runtime = open_runtime(settings)
    engine = runtime.engine
    with engine.begin() as connection:
        connection.execute(sa.insert(Municipality).values(
            code="131016", name="千代田区", created_at=NOW))  # fmt: skip
    parent = subscribe(engine, LINE_USER, nickname="はなこ", due=DUE, municipality="131016")
    partner = subscribe(engine, PARTNER, channel="email", nickname="たろう",
                        follow_child=parent.child_id)  # fmt: skip
    born_child = subscriptions.add_child(
        engine, subscriber_id=parent.subscriber_id, due_date=None, birth_date=BORN,
        default_timezone="Asia/Tokyo", now=NOW,
    )  # fmt: skip
    assert plan(runtime, NOW.date(), now=NOW).planned >= 3
    with engine.begin() as connection:
        connection.execute(
            sa.update(Delivery)
            .where(Delivery.subscriber_id == parent.subscriber_id, Delivery.child_id == born_child)
            .values(status="sent", sent_at=NOW, last_error=f"LINE 400: {LINE_USER} unknown once")
        )
        connection.execute(sa.insert(LineInvitation).values(
            municipality_code="131016", code_hash="h" * 64, fingerprint="f" * 64, occurrence=1,
            due_date=DUE, variant="ja", nickname="はなこ", expires_at=NOW + timedelta(days=90),
            used_at=NOW, subscriber_id=parent.subscriber_id, created_at=NOW,
        ))  # fmt: skip
        connection.execute(sa.insert(LineConversation).values(
            user_id=LINE_USER, step="date", data=json.dumps({"due_date": DUE.isoformat()}),
            updated_at=NOW,
        ))  # fmt: skip
    family = runtime
    family.parent, family.partner, family.born_child = parent, partner, born_child
    yield family
    engine.dispose()


def rows(engine, model, **where) -> list:
    query = sa.select(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    with engine.connect() as connection:
        return connection.execute(query).all()


def value(engine, column, row_id: int):
    with engine.connect() as connection:
        table = column.class_
        return connection.execute(sa.select(column).where(table.id == row_id)).scalar_one()


def test_export_holds_everything_about_the_subscriber(family):
    data = privacy.export_subscriber(family.engine, family.parent.subscriber_id)
    text = json.dumps(data, ensure_ascii=False)  # JSON-ready as it is
    assert data["subscriber"]["address"] == LINE_USER
    assert data["subscriber"]["nickname"] == "はなこ"
    assert data["municipality"] == [{"code": "131016", "name": "千代田区"}]
    assert sorted(c["id"] for c in data["children"]) == [family.parent.child_id, family.born_child]
    assert {c["due_date"] for c in data["children"]} == {DUE.isoformat(), None}
    assert {c["birth_date"] for c in data["children"]} == {BORN.isoformat(), None}
    assert {f["child_id"] for f in data["follows"]} == {family.parent.child_id, family.born_child}
    assert {(d["message_id"], d["status"], d["local_date"]) for d in data["deliveries"]} == {
        ("pregnancy-12w0d", "planned", NOW.date().isoformat()),
        ("child-d7", "sent", NOW.date().isoformat()),
    }
    assert [(c["event"], c["version"]) for c in data["consent_records"]] == [
        ("given", "test-notice"),
    ]
    assert data["line_invitations"][0]["nickname"] == "はなこ"
    assert json.loads(data["line_conversation"][0]["data"]) == {"due_date": DUE.isoformat()}
    assert LINE_USER in text


def test_export_says_nothing_about_anyone_else(family):
    """The partner follows the same child: neither their address nor their nickname, nor
    their follow, nor their deliveries appear in the parent's export, and the other way."""
    mine = json.dumps(privacy.export_subscriber(family.engine, family.parent.subscriber_id),
                      ensure_ascii=False)  # fmt: skip
    theirs = privacy.export_subscriber(family.engine, family.partner.subscriber_id)
    assert PARTNER not in mine and "たろう" not in mine
    assert {f["subscriber_id"] for f in json.loads(mine)["follows"]} == {
        family.parent.subscriber_id
    }
    text = json.dumps(theirs, ensure_ascii=False)
    assert LINE_USER not in text and "はなこ" not in text and BORN.isoformat() not in text
    assert [c["id"] for c in theirs["children"]] == [family.parent.child_id]
    assert {d["subscriber_id"] for d in theirs["deliveries"]} == {family.partner.subscriber_id}


def test_export_of_an_unknown_subscriber(family):
    with pytest.raises(LookupError):
        privacy.export_subscriber(family.engine, 999)


def test_forget_leaves_no_trace_in_any_table(family):
    engine = family.engine
    done = privacy.forget_subscriber(engine, family.parent.subscriber_id, now=NOW, secret=SECRET)
    assert (done.deliveries, done.follows, done.children) == (2, 2, 1)
    mine = [LINE_USER, "はなこ", *date_forms(BORN)]
    assert traces(engine, mine) == []
    # The shared pregnancy is still followed by the partner: its due date is theirs too.
    assert value(engine, Child.due_date, family.parent.child_id) == DUE
    privacy.forget_subscriber(engine, family.partner.subscriber_id, now=NOW, secret=SECRET)
    assert traces(engine, [*mine, PARTNER, "たろう", *date_forms(DUE)]) == []


def test_what_forget_keeps_for_the_records(family):
    engine, sid = family.engine, family.parent.subscriber_id
    privacy.forget_subscriber(engine, sid, now=NOW, secret=SECRET, actor="operator:sato")
    [shell] = rows(engine, Subscriber, id=sid)
    assert (shell.address, shell.status, shell.erased_at) == (f"erased-{sid}", "stopped", NOW)
    assert shell.municipality_code == "131016" and shell.nickname is None  # counts stay right
    records = rows(engine, ConsentRecord, subscriber_id=sid)
    assert [r.event for r in records] == ["given", "withdrawn", "erased"]
    assert {r.address_hash for r in records} == {
        consent.address_hash("line", LINE_USER, secret=SECRET)
    }
    counts = {(r.day, r.channel, r.track, r.status, r.municipality_code): r.count
              for r in rows(engine, DeliveryCount)}  # fmt: skip
    assert counts == {
        (NOW.date(), "line", "pregnancy", "cancelled", "131016"): 1,
        (NOW.date(), "line", "child", "sent", "131016"): 1,
    }
    [entry] = rows(engine, AuditEntry)
    assert (entry.actor, entry.action, entry.subscriber_id) == ("operator:sato", "forget", sid)
    assert json.loads(entry.detail) == {"already": 0, "deliveries": 2, "follows": 2, "children": 1}
    assert rows(engine, Follow, subscriber_id=sid) == []
    assert rows(engine, Child, id=family.born_child) == []  # no one follows it, nothing refers


def test_forgetting_twice_changes_nothing(family):
    sid = family.parent.subscriber_id
    privacy.forget_subscriber(family.engine, sid, now=NOW, secret=SECRET)
    again = privacy.forget_subscriber(family.engine, sid, now=NOW + timedelta(days=1),
                                      secret=SECRET)  # fmt: skip
    assert again.already and value(family.engine, Subscriber.erased_at, sid) == NOW


def test_forget_needs_the_secret_key(family):
    with pytest.raises(ValueError, match="KIZUNA_SECRET_KEY"):
        privacy.forget_subscriber(family.engine, family.parent.subscriber_id, now=NOW, secret="")
    assert value(family.engine, Subscriber.address, family.parent.subscriber_id) == LINE_USER


def test_a_registration_after_forget_starts_afresh_and_is_matched_to_the_withdrawal(family):
    engine, old = family.engine, family.parent.subscriber_id
    privacy.forget_subscriber(engine, old, now=NOW, secret=SECRET)
    again = subscribe(engine, LINE_USER, due=DUE + timedelta(days=3))
    assert again.subscriber_id != old and again.child_id != family.parent.child_id
    data = privacy.export_subscriber(engine, again.subscriber_id)
    assert data["subscriber"]["nickname"] is None  # nothing carried over
    assert [c["id"] for c in data["children"]] == [again.child_id]
    assert data["deliveries"] == [] and len(data["consent_records"]) == 1
    history = consent.history(engine, "line", LINE_USER, secret=SECRET)
    assert [(h.subscriber_id, h.event) for h in history] == [
        (old, "given"),
        (old, "withdrawn"),
        (old, "erased"),
        (again.subscriber_id, "given"),
    ]
    assert consent.history(engine, "line", LINE_USER, secret="another key")[0].subscriber_id == (
        again.subscriber_id
    )  # without the key, the old records cannot be found


def test_an_erased_subscribers_links_lead_nowhere(family):
    sid = family.partner.subscriber_id
    privacy.forget_subscriber(family.engine, sid, now=NOW, secret=SECRET)
    assert subscriptions.subscription(family.engine, subscriber_id=sid) is None


def test_an_unconfirmed_sign_up_is_erased_without_consent_records(settings, engine):
    signed = subscriptions.sign_up(
        engine,
        subscriptions.SubscribeRequest(channel="email", address="new@example.com", due_date=DUE),
        variants=VARIANTS, default_timezone="Asia/Tokyo", locale="ja", now=NOW,
    )  # fmt: skip
    privacy.forget_subscriber(engine, signed.subscriber_id, now=NOW, secret=SECRET)
    assert rows(engine, ConsentRecord) == []
    assert not subscriptions.confirm(engine, subscriber_id=signed.subscriber_id, now=NOW)
    assert traces(engine, ["new@example.com", *date_forms(DUE)]) == []


def test_count_and_delete_adds_to_the_days_counts(family):
    engine, parent = family.engine, family.parent.subscriber_id
    d = Delivery.__table__.c
    with engine.begin() as connection:
        first = privacy.count_and_delete(connection, d.message_id == "pregnancy-12w0d")
        connection.execute(sa.update(Delivery).where(d.message_id == "child-d7")
                           .values(status="cancelled"))  # fmt: skip
        more = privacy.count_and_delete(connection, d.subscriber_id == parent)
        none = privacy.count_and_delete(connection, d.subscriber_id == parent)
    assert (first, more, none) == (2, 1, 0)  # parent's and partner's 12w0d; then child-d7
    counts = {(r.channel, r.track, r.status): r.count for r in rows(engine, DeliveryCount)}
    assert counts == {("line", "pregnancy", "planned"): 1, ("email", "pregnancy", "planned"): 1,
                      ("line", "child", "cancelled"): 1}  # fmt: skip
    with engine.begin() as connection:  # a second row of a day already counted adds to it
        connection.execute(sa.insert(Delivery).values(
            subscriber_id=parent, child_id=family.born_child, message_id="child-d8",
            track="child", variant="ja", stage_label="", local_date=NOW.date(), due_at=NOW,
            status="cancelled", idempotency_key="k-d8", attempts=0, next_attempt_at=NOW,
            created_at=NOW,
        ))  # fmt: skip
        privacy.count_and_delete(connection, d.subscriber_id == parent)
    assert sum(r.count for r in rows(engine, DeliveryCount, track="child")) == 2
    assert len(rows(engine, DeliveryCount, track="child")) == 1


def test_count_and_delete_on_both_databases(any_engine):
    with any_engine.begin() as connection:
        connection.execute(sa.insert(Subscriber).values(
            id=1, channel="email", address="a@example.com", variant="ja", locale="ja",
            status="active", consecutive_failures=0, created_at=NOW))  # fmt: skip
        connection.execute(sa.insert(Child).values(id=1, status="born", created_at=NOW))
        for n in range(3):
            connection.execute(sa.insert(Delivery).values(
                subscriber_id=1, child_id=1, message_id=f"m{n}", track="child", variant="ja",
                stage_label="", local_date=NOW.date() - timedelta(days=n % 2), due_at=NOW,
                status="skipped", idempotency_key=f"k{n}", attempts=1, next_attempt_at=NOW,
                created_at=NOW,
            ))  # fmt: skip
    for condition in (Delivery.__table__.c.message_id == "m0", sa.true()):
        with any_engine.begin() as connection:
            privacy.count_and_delete(connection, condition)
    counts = {r.day: r.count for r in rows(any_engine, DeliveryCount)}
    assert counts == {NOW.date(): 2, NOW.date() - timedelta(days=1): 1}
    assert rows(any_engine, Delivery) == []
