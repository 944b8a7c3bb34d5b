"""Family invitations: who may invite, single use, expiry, only a hash kept, joining with LINE
or by web sign-up (the follow made on confirmation), local information only when allowed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW

from kizuna import family, subscriptions
from kizuna.core.catalog import Role
from kizuna.enrollment import InvitationUnusable, read_code
from kizuna.models import FamilyInvitation, Follow, Municipality, Subscriber
from kizuna.subscriptions import SubscribeRequest

PARENT = "U" + "1" * 32
GRANDMA = "U" + "2" * 32
DUE = date(2027, 6, 6)
VARIANTS = {"ja", "ja-easy"}


def parent(engine, *, municipality: str | None = None) -> subscriptions.Subscribed:
    request = SubscribeRequest("line", PARENT, due_date=DUE, municipality_code=municipality)
    return subscriptions.subscribe(
        engine, request, variants=VARIANTS, default_timezone="Asia/Tokyo", now=NOW
    )


def invite(engine, done, *, role=Role.GRANDPARENT, inviter=None, **kw) -> family.FamilyCode:
    values = {"may_report": False, "days": 14, "now": NOW, **kw}
    return family.create_invitation(
        engine, inviter_id=inviter or done.subscriber_id, child_id=done.child_id, role=role,
        **values,
    )  # fmt: skip


def join(engine, made: family.FamilyCode, address: str = GRANDMA, *, now=NOW):
    invitation = family.find_invitation(engine, code=read_code(made.code), now=now)
    request = SubscribeRequest("line", address, variant="ja-easy", consent_version="line/test")
    return family.subscribe_invited(
        engine, invitation.id, request, variants=VARIANTS, default_timezone="Asia/Tokyo", now=now
    )


def follows(engine) -> list[dict]:
    with engine.connect() as connection:
        query = sa.select(Follow.__table__).order_by(Follow.id)
        return [dict(row) for row in connection.execute(query).mappings()]


def test_only_a_hash_of_the_code_is_kept_and_it_expires_when_set(engine):
    made = invite(engine, parent(engine), days=14)
    assert made.expires_at == NOW + timedelta(days=14)
    with engine.connect() as connection:
        [row] = connection.execute(sa.select(FamilyInvitation.__table__)).mappings().all()
    assert read_code(made.code) not in str(dict(row)) and row["code_hash"]
    assert row["role"] == "grandparent" and not row["receives_local_info"]  # the default: no


@pytest.mark.parametrize(
    ("when", "usable"),
    [
        (timedelta(days=13, hours=23), True),
        (timedelta(days=14), False),
        (timedelta(days=30), False),
    ],
)
def test_an_invitation_expires(engine, when, usable):
    made = invite(engine, parent(engine))
    if usable:
        assert join(engine, made, now=NOW + when).child_id
    else:
        with pytest.raises(InvitationUnusable):
            join(engine, made, now=NOW + when)


def test_a_code_is_used_once(engine):
    done = parent(engine)
    made = invite(engine, done)
    joined = join(engine, made)
    assert joined.child_id == done.child_id
    with pytest.raises(InvitationUnusable):
        join(engine, made, "U" + "3" * 32)
    with pytest.raises(InvitationUnusable):
        family.accept(engine, made.invitation_id, subscriber_id=done.subscriber_id, now=NOW)
    assert len(follows(engine)) == 2


def test_the_invited_follow_has_the_role_and_rights_given(engine):
    done = parent(engine)
    join(engine, invite(engine, done, role=Role.PARTNER, may_report=True))
    mine, theirs = follows(engine)
    assert (mine["role"], mine["may_report"], mine["receives_local_info"]) == ("parent", 1, 1)
    assert (theirs["role"], theirs["may_report"], theirs["receives_local_info"]) == (
        "partner", 1, 0,
    )  # fmt: skip


def test_an_invitee_trusted_to_report_may_invite_and_one_not_trusted_may_not(engine):
    done = parent(engine)
    trusted = join(engine, invite(engine, done, role=Role.CO_PARENT, may_report=True))
    assert invite(engine, done, inviter=trusted.subscriber_id).code
    other = join(engine, invite(engine, done), "U" + "3" * 32)
    with pytest.raises(family.NotAllowed):
        invite(engine, done, inviter=other.subscriber_id)


@pytest.mark.parametrize("role", [Role.PARENT, "stranger"])
def test_only_caregiver_roles_are_invited(engine, role):
    with pytest.raises(ValueError):
        invite(engine, parent(engine), role=role)


def test_a_subscriber_already_following_keeps_the_invitation_usable(engine):
    done = parent(engine)
    made = invite(engine, done)
    with pytest.raises(family.AlreadyFollowing):
        family.accept(engine, made.invitation_id, subscriber_id=done.subscriber_id, now=NOW)
    assert family.find_invitation(engine, invitation_id=made.invitation_id, now=NOW)


def test_a_refused_subscription_leaves_the_invitation_usable(engine):
    made = invite(engine, parent(engine))
    with pytest.raises(subscriptions.SubscribeError):
        join(engine, made, "U-not-a-line-id")
    assert join(engine, made).subscriber_id


@pytest.mark.parametrize("allowed", [True, False])
def test_local_information_only_when_the_parent_allows_it(engine, allowed):
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Municipality).values(code="131016", name="千代田区", created_at=NOW)
        )
    done = parent(engine, municipality="131016")
    joined = join(engine, invite(engine, done, receives_local_info=allowed))
    with engine.connect() as connection:
        code = connection.execute(
            sa.select(Subscriber.municipality_code).where(Subscriber.id == joined.subscriber_id)
        ).scalar()
    # Without the permission the invitee is told nothing of where the child lives.
    assert code == ("131016" if allowed else None)
    assert follows(engine)[1]["receives_local_info"] == allowed


def test_web_sign_up_holds_the_invitation_and_follows_on_confirmation(engine):
    done = parent(engine)
    made = invite(engine, done)
    request = SubscribeRequest(
        "email", "grandma@example.com", variant="ja", timezone="Europe/London"
    )
    signed = family.sign_up(
        engine, made.invitation_id, request, delivery_hour=19, locale="en", now=NOW
    )
    assert signed.pending and len(follows(engine)) == 1  # nothing followed before confirming
    with pytest.raises(InvitationUnusable):
        family.find_invitation(engine, invitation_id=made.invitation_id, now=NOW)
    assert family.confirm(engine, subscriber_id=signed.subscriber_id, now=NOW)
    theirs = follows(engine)[1]
    assert (theirs["subscriber_id"], theirs["child_id"]) == (signed.subscriber_id, done.child_id)
    assert family.confirm(engine, subscriber_id=signed.subscriber_id, now=NOW) is False
    assert len(follows(engine)) == 2  # confirming twice follows once


def test_a_known_address_is_left_as_it_is(engine):
    done = parent(engine)
    signed = family.sign_up(engine, invite(engine, done).invitation_id, SubscribeRequest(
        "email", "parent@example.com"), delivery_hour=None, locale="ja", now=NOW)  # fmt: skip
    family.confirm(engine, subscriber_id=signed.subscriber_id, now=NOW)
    second = invite(engine, done, role=Role.OTHER)
    again = family.sign_up(
        engine, second.invitation_id, SubscribeRequest("email", "parent@EXAMPLE.com"),
        delivery_hour=None, locale="ja", now=NOW,
    )  # fmt: skip
    assert again == subscriptions.SignedUp(signed.subscriber_id, pending=False)
    assert family.find_invitation(engine, invitation_id=second.invitation_id, now=NOW)


def test_withdrawing_a_sign_up_frees_the_invitation(engine):
    made = invite(engine, parent(engine))
    signed = family.sign_up(engine, made.invitation_id, SubscribeRequest(
        "email", "grandma@example.com"), delivery_hour=None, locale="ja", now=NOW)  # fmt: skip
    family.withdraw(engine, subscriber_id=signed.subscriber_id)
    assert family.find_invitation(engine, invitation_id=made.invitation_id, now=NOW)


def test_erasing_the_inviter_clears_names_and_unused_codes(engine):
    from kizuna import privacy

    done = parent(engine)
    join(engine, invite(engine, done, label="おばあちゃん"))
    invite(engine, done, label="おじさん")  # never used
    with engine.begin() as connection:
        privacy.erase(connection, done.subscriber_id, now=NOW, secret="test-secret")
    with engine.connect() as connection:
        left = connection.execute(sa.select(FamilyInvitation.label, FamilyInvitation.used_at)).all()
    assert [(label, used is not None) for label, used in left] == [(None, True)]
