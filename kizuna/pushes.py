"""Which claimed deliveries travel in one request: a subscriber's messages of the day in one
LINE push, and in multicast mode one identical text to many subscribers in one multicast.

A request's retry key must be the same on every attempt, and a retry must carry the same
deliveries: so a group is formed only of deliveries never tried (`Claimed.fresh`), and its key
is stored on its deliveries before the first attempt (`Group.new`); afterwards the stored key
alone decides the group. A delivery tried alone keeps its own key and goes alone forever.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the dispatcher imports this module
    from kizuna.dispatcher import Claimed


@dataclass(frozen=True, slots=True)
class Group:
    """Deliveries sent in one request, in the order of their texts, under one retry key."""

    members: tuple[Claimed, ...]
    key: str
    multicast: bool = False
    new: bool = False  # formed now: its key must be stored before it is sent

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(member.address for member in self.members))


def form_groups(
    claimed: Sequence[Claimed],
    texts: dict[int, str],
    *,
    per_push: int,
    per_multicast: int,
    new_key: Callable[[], str],
) -> list[Group]:
    """Group deliveries ready to send (`texts`: delivery id → rendered text).

    `per_push` 1 sends every delivery alone; `per_multicast` 0 turns multicast off.
    """
    stored: dict[str, list[Claimed]] = defaultdict(list)
    by_subscriber: dict[int, list[Claimed]] = defaultdict(list)
    groups: list[Group] = []
    for member in claimed:
        if member.push_key is not None:
            stored[member.push_key].append(member)
        elif member.fresh and per_push > 1:
            by_subscriber[member.subscriber_id].append(member)
        else:
            groups.append(Group((member,), member.idempotency_key))
    for key, members in stored.items():
        groups.append(Group(tuple(sorted(members, key=_order)), key, members[0].multicast))
    pushes = [
        tuple(members[i : i + per_push])
        for members in (sorted(m, key=_order) for m in by_subscriber.values())
        for i in range(0, len(members), per_push)
    ]
    if per_multicast > 1:
        pushes, groups_of_many = _multicasts(pushes, texts, per_multicast, new_key)
        groups += groups_of_many
    for members in pushes:
        if len(members) == 1:
            groups.append(Group(members, members[0].idempotency_key))
        else:
            groups.append(Group(members, new_key(), new=True))
    return groups


def _order(member: Claimed) -> tuple:
    """Kizuna's messages before the municipality's, each in the order they were planned."""
    return (member.from_municipality, member.delivery_id)


def _multicasts(
    pushes: list[tuple[Claimed, ...]],
    texts: dict[int, str],
    per_multicast: int,
    new_key: Callable[[], str],
) -> tuple[list[tuple[Claimed, ...]], list[Group]]:
    """Pushes whose texts are identical go together, up to `per_multicast` recipients; a text
    only one subscriber gets stays a push. Returns (pushes left, multicast groups)."""
    by_texts: dict[tuple[str, ...], list[tuple[Claimed, ...]]] = defaultdict(list)
    for members in pushes:
        by_texts[tuple(texts[m.delivery_id] for m in members)].append(members)
    left: list[tuple[Claimed, ...]] = []
    groups: list[Group] = []
    for same in by_texts.values():
        for i in range(0, len(same), per_multicast):
            chunk = same[i : i + per_multicast]
            if len(chunk) == 1:
                left.append(chunk[0])
            else:
                members = tuple(m for push in chunk for m in push)
                groups.append(Group(members, new_key(), multicast=True, new=True))
    return left, groups
