"""The audit log: who exported or erased whose data, and what each retention run removed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from kizuna.models import AuditEntry

AUDIT = AuditEntry.__table__
RETENTION_ACTOR = "retention"


def operator_actor(name: str) -> str:
    return f"operator:{name}"


def staff_actor(staff_id: int) -> str:
    """A municipal officer in the staff console, by id (never by address)."""
    return f"staff:{staff_id}"


def subscriber_actor(channel: str) -> str:
    """A parent acting on their own data, from LINE or the web pages."""
    return f"subscriber:{channel}"


def record(
    connection: sa.Connection,
    *,
    actor: str,
    action: str,
    at: datetime,
    subscriber_id: int | None = None,
    detail: dict[str, int | str] | None = None,
) -> None:
    """Append an entry; `detail` holds counts and ids, never personal data."""
    connection.execute(
        AUDIT.insert().values(
            at=at, actor=actor[:120], action=action, subscriber_id=subscriber_id,
            detail=json.dumps(detail or {}, sort_keys=True),
        )
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    at: datetime
    actor: str
    action: str
    subscriber_id: int | None
    detail: dict


def entries(engine: sa.Engine, *, since: datetime | None = None) -> list[Entry]:
    """The log, oldest first, from `since` on."""
    a = AUDIT.c
    query = sa.select(a.id, a.at, a.actor, a.action, a.subscriber_id, a.detail).order_by(a.at, a.id)
    if since is not None:
        query = query.where(a.at >= since)
    with engine.connect() as connection:
        return [Entry(*row[:5], json.loads(row[5])) for row in connection.execute(query)]
