"""Family invitations: made by a child's follower, used once to follow it (LINE or web)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from kizuna import subscriptions
from kizuna.core.catalog import Role
from kizuna.core.status import ChannelName, ChildStatus, SubscriberStatus
from kizuna.enrollment import (
    InvitationUnusable,
    code_hash,
    display_code,
    new_code,
    subscribe_claimed,
)
from kizuna.models import Child, FamilyInvitation, Follow, Subscriber

INVITATIONS, FOLLOWS = FamilyInvitation.__table__, Follow.__table__
V, F, S = INVITATIONS.c, FOLLOWS.c, Subscriber.__table__.c
INVITATION_COLUMNS = (V.id, V.child_id, V.inviter_id, V.role, V.may_report, V.receives_local_info)
INVITABLE_ROLES = (Role.PARTNER, Role.CO_PARENT, Role.GRANDPARENT, Role.OTHER)


class NotAllowed(PermissionError):
    """The subscriber may not invite for, or manage, this child or caregiver."""


class AlreadyFollowing(ValueError):
    """The subscriber follows the child already; the invitation stays usable."""


@dataclass(frozen=True, slots=True)
class FamilyCode:
    """An invitation as shown once to the inviter: only the code's hash is kept."""

    invitation_id: int
    code: str  # as displayed, XXXXX-XXXXX
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Invitation:
    id: int
    child_id: int
    inviter_id: int
    role: str
    may_report: bool
    receives_local_info: bool


def may_invite(connection: sa.Connection, subscriber_id: int, child_id: int) -> bool:
    """The one who registered the child, or a follower trusted to report for it."""
    return connection.execute(
        sa.select(F.id)
        .select_from(FOLLOWS.join(Child.__table__))
        .where(F.subscriber_id == subscriber_id, F.child_id == child_id, F.may_report,
               Child.__table__.c.status != ChildStatus.LOSS)
    ).first() is not None  # fmt: skip


def managed_child(engine: sa.Engine, subscriber_id: int) -> int | None:
    """The newest child this subscriber may invite for."""
    with engine.connect() as connection:
        return connection.execute(
            sa.select(F.child_id)
            .select_from(FOLLOWS.join(Child.__table__))
            .where(F.subscriber_id == subscriber_id, F.may_report,
                   Child.__table__.c.status != ChildStatus.LOSS)
            .order_by(F.child_id.desc())
        ).scalar()  # fmt: skip


def create_invitation(
    engine: sa.Engine,
    *,
    inviter_id: int,
    child_id: int,
    role: Role,
    may_report: bool,
    receives_local_info: bool = False,
    label: str | None = None,
    days: int,
    now: datetime,
) -> FamilyCode:
    """A new single-use code for `child_id`; NotAllowed unless the inviter may invite."""
    if role not in INVITABLE_ROLES:
        raise ValueError(f"one invites a {', '.join(INVITABLE_ROLES)}, not a {role}")
    label = subscriptions.check_nickname(label)
    code, expires_at = new_code(), now + timedelta(days=days)
    with engine.begin() as connection:
        if not may_invite(connection, inviter_id, child_id):
            raise NotAllowed(f"subscriber {inviter_id} may not invite for child {child_id}")
        invitation_id = connection.execute(
            INVITATIONS.insert().values(
                child_id=child_id, inviter_id=inviter_id, role=role, may_report=may_report,
                receives_local_info=receives_local_info, label=label, code_hash=code_hash(code),
                expires_at=expires_at, created_at=now,
            )
        ).inserted_primary_key[0]  # fmt: skip
    return FamilyCode(invitation_id, display_code(code), expires_at)


def _live(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(V.used_at.is_(None), V.expires_at > now)


def find_invitation(
    engine: sa.Engine, *, now: datetime, code: str | None = None, invitation_id: int | None = None
) -> Invitation:
    """The live invitation with this code (as `enrollment.read_code` returns it) or id;
    InvitationUnusable, the same for unknown, used and expired ones."""
    which = V.code_hash == code_hash(code) if code is not None else V.id == invitation_id
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(*INVITATION_COLUMNS)
            .select_from(INVITATIONS.join(Child.__table__, Child.__table__.c.id == V.child_id))
            .where(which, _live(now))
        ).first()  # fmt: skip
    if row is None:
        raise InvitationUnusable(str(invitation_id or ""))
    return Invitation(*row)


def _claim(connection: sa.Connection, invitation_id: int, subscriber_id: int, now) -> Invitation:
    """Use the invitation up for `subscriber_id`: two people can never both use it."""
    live = sa.and_(V.id == invitation_id, _live(now))
    claimed = connection.execute(
        INVITATIONS.update().where(live).values(used_at=now, subscriber_id=subscriber_id)
    )
    if claimed.rowcount != 1:
        raise InvitationUnusable(str(invitation_id))
    row = connection.execute(
        sa.select(*INVITATION_COLUMNS)
        .where(V.id == invitation_id)
    ).one()  # fmt: skip
    return Invitation(*row)


def _follow(connection: sa.Connection, invitation: Invitation, subscriber_id: int, now) -> None:
    known = connection.execute(
        sa.select(F.id).where(F.subscriber_id == subscriber_id, F.child_id == invitation.child_id)
    ).first()
    if known is not None:
        raise AlreadyFollowing(str(invitation.child_id))
    connection.execute(
        FOLLOWS.insert().values(
            subscriber_id=subscriber_id, child_id=invitation.child_id, role=invitation.role,
            may_report=invitation.may_report, receives_local_info=invitation.receives_local_info,
            loss_support=False, since=now,
        )
    )  # fmt: skip
    local_municipality(connection, invitation, subscriber_id)


def local_municipality(connection: sa.Connection, invitation: Invitation, subscriber_id) -> None:
    """Local information comes from the subscriber's municipality: when it is allowed, an
    invitee without one of their own gets the inviting parent's. Never otherwise: it would
    tell them where the child lives."""
    if not invitation.receives_local_info:
        return
    inviter = sa.select(S.municipality_code).where(S.id == invitation.inviter_id)
    connection.execute(
        Subscriber.__table__.update()
        .where(S.id == subscriber_id, S.municipality_code.is_(None))
        .values(municipality_code=inviter.scalar_subquery())
    )


def forget_lent_municipality(connection: sa.Connection, invitation: Invitation, subscriber_id):
    """Local information taken back: the municipality lent by `local_municipality` goes too,
    or the invitee would still see it (in their data export, say). Kept by someone who
    registered a child of their own: then it may be their own municipality."""
    s, f = Subscriber.__table__.c, FOLLOWS.c
    inviter = sa.select(s.municipality_code).where(s.id == invitation.inviter_id)
    own_child = sa.exists().where(f.subscriber_id == subscriber_id, f.role == Role.PARENT)
    connection.execute(
        Subscriber.__table__.update()
        .where(s.id == subscriber_id, s.municipality_code == inviter.scalar_subquery(),
               sa.not_(own_child))
        .values(municipality_code=None)
    )  # fmt: skip


def accept(engine: sa.Engine, invitation_id: int, *, subscriber_id: int, now: datetime) -> int:
    """An existing subscriber follows the invitation's child; returns the child id.
    AlreadyFollowing leaves the invitation usable."""
    with engine.begin() as connection:
        invitation = _claim(connection, invitation_id, subscriber_id, now)
        _follow(connection, invitation, subscriber_id, now)  # raises: the claim rolls back
    return invitation.child_id


def subscribe_invited(
    engine: sa.Engine,
    invitation_id: int,
    request: subscriptions.SubscribeRequest,
    *,
    variants: set[str],
    default_timezone: str,
    now: datetime,
) -> subscriptions.Subscribed:
    """A new subscriber (LINE) following the invitation's child: no dates are asked. The
    invitation is claimed first; a subscription refused leaves it usable."""
    with engine.begin() as connection:
        invitation = _claim(connection, invitation_id, None, now)
    done = subscribe_claimed(
        engine, INVITATIONS, invitation_id,
        lambda: subscriptions.subscribe(
            engine, request, variants=variants, default_timezone=default_timezone, now=now,
            follow_child=invitation.child_id, role=Role(invitation.role),
        ),
    )  # fmt: skip
    with engine.begin() as connection:
        connection.execute(
            FOLLOWS.update()
            .where(F.subscriber_id == done.subscriber_id, F.child_id == invitation.child_id)
            .values(may_report=invitation.may_report,
                    receives_local_info=invitation.receives_local_info)
        )  # fmt: skip
        local_municipality(connection, invitation, done.subscriber_id)
    return done


# -- on the web: double opt-in; the follow is made when the address is confirmed ------------


def sign_up(
    engine: sa.Engine,
    invitation_id: int,
    request: subscriptions.SubscribeRequest,
    *,
    delivery_hour: int | None,
    locale: str,
    now: datetime,
) -> subscriptions.SignedUp:
    """A PENDING email subscriber holding the invitation, followed by `confirm`. An address
    already known (subscribed, or waiting for its confirmation) is left as it is and the
    invitation stays usable, so the form never tells whether an address is on our list."""
    find_invitation(engine, invitation_id=invitation_id, now=now)
    try:
        address = subscriptions.check_address(ChannelName.EMAIL, request.address)
    except ValueError as error:
        raise subscriptions.SubscribeError({"address": str(error)}) from None
    with engine.begin() as connection:
        known = connection.execute(
            sa.select(S.id).where(S.channel == ChannelName.EMAIL, S.address == address)
        ).scalar()
        if known is not None:
            return subscriptions.SignedUp(subscriber_id=known, pending=False)
        subscriber_id = connection.execute(
            Subscriber.__table__.insert().values(
                channel=ChannelName.EMAIL, address=address, variant=request.variant,
                locale=locale, timezone=request.timezone, delivery_hour=delivery_hour,
                consent_at=now, consent_version=request.consent_version,
                status=SubscriberStatus.PENDING, status_changed_at=now,
                status_reason="invited: waiting for confirmation", consecutive_failures=0,
                created_at=now,
            )
        ).inserted_primary_key[0]  # fmt: skip
        _claim(connection, invitation_id, subscriber_id, now)  # raises: nothing is kept
    return subscriptions.SignedUp(subscriber_id=subscriber_id, pending=True)


def confirm(engine: sa.Engine, *, subscriber_id: int, now: datetime) -> bool:
    """`subscriptions.confirm`, then the follow of the invitation the subscriber holds."""
    confirmed = subscriptions.confirm(engine, subscriber_id=subscriber_id, now=now)
    with engine.begin() as connection:
        row = connection.execute(
            sa.select(*INVITATION_COLUMNS)
            .where(V.subscriber_id == subscriber_id, V.used_at.is_not(None))
            .where(~sa.exists().where(F.subscriber_id == subscriber_id,
                                      F.child_id == V.child_id))
        ).first()  # fmt: skip
        exists = (
            row is not None
            and connection.execute(
                sa.select(Child.__table__.c.id).where(Child.__table__.c.id == row.child_id)
            ).first()
        )
        if exists:
            _follow(connection, Invitation(*row), subscriber_id, now)
    return confirmed


def withdraw(engine: sa.Engine, *, subscriber_id: int) -> None:
    """Undo a web sign-up whose mail could not be sent: the pending subscriber goes, and the
    invitation it held can be used again."""
    with engine.begin() as connection:
        pending = connection.execute(
            sa.select(S.id).where(S.id == subscriber_id, S.status == SubscriberStatus.PENDING)
        ).first()
        if pending is None:
            return
        connection.execute(
            INVITATIONS.update()
            .where(V.subscriber_id == subscriber_id)
            .values(used_at=None, subscriber_id=None)
        )
        connection.execute(Subscriber.__table__.delete().where(S.id == subscriber_id))


def forget(connection: sa.Connection, subscriber_id: int) -> None:
    """On erasure: the invitations they made and nobody used go; the names given to a
    caregiver (by them, or for them) are cleared. Used ones stay, bare, so the parent still
    manages the caregivers they invited."""
    connection.execute(
        INVITATIONS.delete().where(V.inviter_id == subscriber_id, V.used_at.is_(None))
    )
    connection.execute(
        INVITATIONS.update()
        .where(sa.or_(V.inviter_id == subscriber_id, V.subscriber_id == subscriber_id))
        .values(label=None)
    )
