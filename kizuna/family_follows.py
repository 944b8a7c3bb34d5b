"""The follows a parent manages: the caregivers they invited, removed or trusted with more."""

from __future__ import annotations

from dataclasses import dataclass, replace

import sqlalchemy as sa

from kizuna import family
from kizuna.core.status import DeliveryStatus
from kizuna.family import FOLLOWS, INVITATIONS, NotAllowed
from kizuna.models import Delivery

V, F, D = INVITATIONS.c, FOLLOWS.c, Delivery.__table__.c


@dataclass(frozen=True, slots=True)
class Caregiver:
    """Another follower of a child, as the managing parent sees them: a role and the name
    the parent gave, never an address or a LINE id."""

    follow_id: int
    child_id: int
    role: str
    label: str
    may_report: bool
    receives_local_info: bool


def _registered(subscriber_id) -> sa.ColumnElement[bool]:
    """`subscriber_id` follows the child of the current follow row on their own (they
    registered it), not by an invitation, and may report for it."""
    mine, used = FOLLOWS.alias("mine"), INVITATIONS.alias("used")
    invited = sa.exists().where(
        used.c.child_id == mine.c.child_id,
        used.c.subscriber_id == subscriber_id,
        used.c.used_at.is_not(None),
    )
    return sa.exists().where(
        mine.c.child_id == F.child_id, mine.c.subscriber_id == subscriber_id,
        mine.c.may_report, ~invited,
    )  # fmt: skip


def _manageable(manager_id: int) -> sa.Select:
    """The invited follows `manager_id` may manage: every one of a child they registered,
    and those they invited themselves."""
    invitation = sa.and_(
        V.child_id == F.child_id, V.subscriber_id == F.subscriber_id, V.used_at.is_not(None)
    )
    own = FOLLOWS.alias("own")
    return (
        sa.select(F.id, F.child_id, F.role, sa.func.coalesce(V.label, ""), F.may_report,
                  F.receives_local_info)
        .select_from(FOLLOWS.join(INVITATIONS, invitation))
        .where(F.subscriber_id != manager_id, sa.exists().where(  # they follow it still
                   own.c.child_id == F.child_id, own.c.subscriber_id == manager_id),
               sa.or_(V.inviter_id == manager_id, _registered(manager_id)))
        .order_by(F.child_id, F.id)
    )  # fmt: skip


def caregivers(
    engine: sa.Engine, *, manager_id: int, child_id: int | None = None
) -> list[Caregiver]:
    """The caregivers `manager_id` may remove or change (of one child, or of all theirs)."""
    query = _manageable(manager_id)
    if child_id is not None:
        query = query.where(F.child_id == child_id)
    with engine.connect() as connection:
        return [Caregiver(*row) for row in connection.execute(query)]


def _one(connection: sa.Connection, manager_id: int, follow_id: int) -> Caregiver:
    row = connection.execute(_manageable(manager_id).where(F.id == follow_id)).first()
    if row is None:
        raise NotAllowed(f"subscriber {manager_id} may not manage follow {follow_id}")
    return Caregiver(*row)


def remove(engine: sa.Engine, *, manager_id: int, follow_id: int) -> int:
    """The caregiver stops following the child at once: the follow is deleted (so no
    planning finds it again) and their deliveries not yet sent are cancelled. Returns how
    many were cancelled; NotAllowed for a follow the manager may not manage."""
    with engine.begin() as connection:
        found = _one(connection, manager_id, follow_id)
        subscriber_id = connection.execute(
            sa.select(F.subscriber_id).where(F.id == follow_id)
        ).scalar_one()
        connection.execute(FOLLOWS.delete().where(F.id == follow_id))
        # Its invitation goes too (its code stays unusable: no row has its hash), so a new
        # invitation later makes one caregiver again, not two.
        connection.execute(
            INVITATIONS.delete().where(
                V.child_id == found.child_id, V.subscriber_id == subscriber_id
            )
        )
        return connection.execute(
            Delivery.__table__.update()
            .where(D.subscriber_id == subscriber_id, D.child_id == found.child_id,
                   D.status == DeliveryStatus.PLANNED)
            .values(status=DeliveryStatus.CANCELLED, skip_reason="removed by the parent")
        ).rowcount  # fmt: skip


def change(
    engine: sa.Engine,
    *,
    manager_id: int,
    follow_id: int,
    may_report: bool | None = None,
    receives_local_info: bool | None = None,
) -> Caregiver:
    """Trust a caregiver with reporting life events, or with local information (or take it
    back); what is not given stays. NotAllowed as for `remove`."""
    values = {
        name: value
        for name, value in (
            ("may_report", may_report),
            ("receives_local_info", receives_local_info),
        )
        if value is not None
    }
    with engine.begin() as connection:
        _one(connection, manager_id, follow_id)
        if values:
            connection.execute(FOLLOWS.update().where(F.id == follow_id).values(**values))
        if receives_local_info is not None:
            invitation = connection.execute(
                sa.select(*family.INVITATION_COLUMNS, F.subscriber_id)
                .select_from(FOLLOWS.join(INVITATIONS, sa.and_(
                    V.child_id == F.child_id, V.subscriber_id == F.subscriber_id)))
                .where(F.id == follow_id)
            ).first()  # fmt: skip
            if invitation is not None:  # the permission as it is now, not as first given
                given = replace(family.Invitation(*invitation[:-1]),
                                receives_local_info=receives_local_info)  # fmt: skip
                lend = family.local_municipality if receives_local_info else (
                    family.forget_lent_municipality)  # fmt: skip
                lend(connection, given, invitation[-1])
        return _one(connection, manager_id, follow_id)
