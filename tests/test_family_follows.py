"""A child's followers: one delivery per follower per day with the right audience, removal
before the next planning, trust given and taken back, and who may manage whom."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW
from test_family import DUE, GRANDMA, PARENT, VARIANTS, invite, join, parent

from kizuna import family, family_follows, subscriptions
from kizuna.content import load_catalog
from kizuna.core.catalog import Role
from kizuna.models import Delivery
from kizuna.planner import PlanOptions, plan_day
from kizuna.store import SqlStore
from kizuna.subscriptions import SubscribeRequest

DAY = date(2026, 11, 22)  # pregnancy 12w0d for DUE; 12w1d is for the birthing parent, 12w3d
OPTIONS = PlanOptions(False, "Asia/Tokyo", 8)  # for partners


def family_of_three(engine) -> dict[str, int]:
    """A parent on LINE (ja), a partner by email (ja-easy, London), a grandparent on LINE."""
    done = parent(engine)
    partner = family.sign_up(
        engine, invite(engine, done, role=Role.PARTNER, may_report=True).invitation_id,
        SubscribeRequest("email", "partner@example.com", variant="ja-easy",
                         timezone="Europe/London"),
        delivery_hour=7, locale="en", now=NOW,
    )  # fmt: skip
    family.confirm(engine, subscriber_id=partner.subscriber_id, now=NOW)
    grandma = join(engine, invite(engine, done))
    return {"parent": done.subscriber_id, "partner": partner.subscriber_id,
            "grandparent": grandma.subscriber_id, "child": done.child_id}  # fmt: skip


def plan(engine, catalog, day: date, now=NOW) -> int:
    return plan_day(SqlStore(engine), catalog, day, OPTIONS, now=now).planned


def planned(engine) -> list[tuple[int, str, str, str]]:
    d = Delivery.__table__.c
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(d.subscriber_id, d.message_id, d.variant, d.status).order_by(d.id)
        )
        return [tuple(row) for row in rows]


def test_each_follower_gets_one_delivery_a_day_for_their_role(engine, messages_dir):
    who = family_of_three(engine)
    catalog = load_catalog(messages_dir)
    assert plan(engine, catalog, DAY) == 3
    assert plan(engine, catalog, DAY) == 0  # planning again adds nothing
    assert sorted(planned(engine)) == sorted([
        (who["parent"], "pregnancy-12w0d", "ja", "planned"),
        (who["partner"], "pregnancy-12w0d", "ja-easy", "planned"),
        (who["grandparent"], "pregnancy-12w0d", "ja-easy", "planned"),
    ])  # fmt: skip
    plan(engine, catalog, DAY + timedelta(days=1))  # 12w1d: the birthing parent's body
    plan(engine, catalog, DAY + timedelta(days=3))  # 12w3d: written for partners
    later = [row[:2] for row in planned(engine)[3:]]
    assert later == [
        (who["parent"], "pregnancy-12w1d-birthing_parent"),
        (who["partner"], "pregnancy-12w3d-partner"),
    ]


def test_removal_takes_effect_before_the_next_planning(engine, messages_dir):
    who = family_of_three(engine)
    catalog = load_catalog(messages_dir)
    plan(engine, catalog, DAY)
    [grandma] = [c for c in family_follows.caregivers(engine, manager_id=who["parent"])
                 if c.role == Role.GRANDPARENT]  # fmt: skip
    assert family_follows.remove(engine, manager_id=who["parent"], follow_id=grandma.follow_id) == 1
    statuses = {row[0]: row[3] for row in planned(engine)}
    assert statuses == {who["parent"]: "planned", who["partner"]: "planned",
                        who["grandparent"]: "cancelled"}  # fmt: skip
    assert plan(engine, catalog, DAY) == 0  # the same day planned again: nothing for them
    plan(engine, catalog, DAY + timedelta(days=7))  # 13w0d: unreviewed, so nothing for anyone
    plan(engine, catalog, DAY + timedelta(days=3))
    assert who["grandparent"] not in {row[0] for row in planned(engine)[3:]}


def test_a_loss_reported_by_the_parent_cancels_every_followers_queue(engine, messages_dir):
    who = family_of_three(engine)
    plan(engine, load_catalog(messages_dir), DAY)
    assert subscriptions.report_loss(engine, child_id=who["child"], loss_date=DAY) == 3
    assert {row[3] for row in planned(engine)} == {"cancelled"}


def test_trust_is_given_and_taken_back(engine):
    who = family_of_three(engine)
    [partner, grandma] = family_follows.caregivers(engine, manager_id=who["parent"])
    assert (partner.role, partner.may_report, grandma.may_report) == ("partner", True, False)
    changed = family_follows.change(
        engine, manager_id=who["parent"], follow_id=grandma.follow_id, may_report=True
    )
    assert changed.may_report and not changed.receives_local_info
    changed = family_follows.change(
        engine, manager_id=who["parent"], follow_id=grandma.follow_id, receives_local_info=True
    )
    assert changed.may_report and changed.receives_local_info


def test_who_may_manage_whom(engine):
    who = family_of_three(engine)
    partner_sees = family_follows.caregivers(engine, manager_id=who["partner"])
    assert partner_sees == []  # trusted to report, but invited neither of the others
    [grandma] = [c for c in family_follows.caregivers(engine, manager_id=who["parent"])
                 if c.role == Role.GRANDPARENT]  # fmt: skip
    for manager in (who["partner"], who["grandparent"]):
        with pytest.raises(family.NotAllowed):
            family_follows.remove(engine, manager_id=manager, follow_id=grandma.follow_id)
    own = subscriptions.subscribe(
        engine, SubscribeRequest("line", "U" + "9" * 32, due_date=DUE), variants=VARIANTS,
        default_timezone="Asia/Tokyo", now=NOW,
    )  # fmt: skip
    with pytest.raises(family.NotAllowed):  # a stranger's own child gives no rights here
        family_follows.change(engine, manager_id=own.subscriber_id, follow_id=grandma.follow_id,
                              may_report=True)  # fmt: skip
    # An invitee trusted to report who invites someone manages that one only.
    other = join(engine, invite(engine, _done(who), inviter=who["partner"]), "U" + "5" * 32)
    [invited_by_partner] = family_follows.caregivers(engine, manager_id=who["partner"])
    assert invited_by_partner.child_id == who["child"] and other.subscriber_id


def _done(who: dict[str, int]) -> subscriptions.Subscribed:
    return subscriptions.Subscribed(who["parent"], who["child"])


def test_a_caregiver_is_shown_without_any_address(engine):
    who = family_of_three(engine)
    names = {field.name for field in fields(family_follows.Caregiver)}
    assert names == {"follow_id", "child_id", "role", "label", "may_report",
                     "receives_local_info"}  # fmt: skip
    shown = repr(family_follows.caregivers(engine, manager_id=who["parent"]))
    assert "partner@example.com" not in shown and GRANDMA not in shown and PARENT not in shown


def test_a_caregiver_removed_and_invited_again_is_listed_once(engine):
    who = family_of_three(engine)
    [grandma] = [c for c in family_follows.caregivers(engine, manager_id=who["parent"])
                 if c.role == Role.GRANDPARENT]  # fmt: skip
    family_follows.remove(engine, manager_id=who["parent"], follow_id=grandma.follow_id)
    made = invite(engine, _done(who), role=Role.OTHER)
    family.accept(engine, made.invitation_id, subscriber_id=who["grandparent"], now=NOW)
    roles = [c.role for c in family_follows.caregivers(engine, manager_id=who["parent"])]
    assert sorted(roles) == ["other", "partner"]


def test_a_removed_caregiver_manages_no_one_any_more(engine):
    who = family_of_three(engine)
    nephew = join(engine, invite(engine, _done(who), inviter=who["partner"]), "U" + "5" * 32)
    assert [c.role for c in family_follows.caregivers(engine, manager_id=who["partner"])] == [
        "grandparent"
    ]
    [partner] = [c for c in family_follows.caregivers(engine, manager_id=who["parent"])
                 if c.role == Role.PARTNER]  # fmt: skip
    family_follows.remove(engine, manager_id=who["parent"], follow_id=partner.follow_id)
    assert family_follows.caregivers(engine, manager_id=who["partner"]) == []
    assert nephew.child_id == who["child"]


def test_the_municipality_is_lent_with_local_information_and_taken_back_with_it(engine):
    from kizuna import municipalities
    from kizuna.models import Subscriber

    municipalities.add(engine, code="131016", name="千代田区", prefecture="東京都", now=NOW)
    done = parent(engine, municipality="131016")
    grandma = join(engine, invite(engine, done))  # local information: no (the default)

    def code() -> str | None:
        query = sa.select(Subscriber.municipality_code).where(
            Subscriber.id == grandma.subscriber_id
        )
        with engine.connect() as connection:
            return connection.execute(query).scalar()

    [follow] = family_follows.caregivers(engine, manager_id=done.subscriber_id)
    assert code() is None
    family_follows.change(engine, manager_id=done.subscriber_id, follow_id=follow.follow_id,
                          receives_local_info=True)  # fmt: skip
    assert code() == "131016"
    family_follows.change(engine, manager_id=done.subscriber_id, follow_id=follow.follow_id,
                          receives_local_info=False)  # fmt: skip
    assert code() is None  # nothing left that tells where the child lives
