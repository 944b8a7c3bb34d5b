"""Resident lists checked in the staff console, kept server-side until they are confirmed.

The list is kept, not posted back with the confirmation, so that what is enrolled is exactly
what was checked and shown, and a phone need not send a large file twice. It holds personal
data, so it lives under the hash of a random id, for its uploader only, for at most an hour.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from kizuna.models import StaffUpload
from kizuna.staff import token_hash

UPLOADS = StaffUpload.__table__
UPLOAD_LIFETIME = timedelta(hours=1)


def keep(engine: sa.Engine, *, staff_id: int, code: str, content: bytes, now: datetime) -> str:
    """Keep a checked list; returns its opaque id. Lists left unconfirmed are dropped here."""
    upload_id = secrets.token_urlsafe(32)
    drop_stale(engine, now=now)
    with engine.begin() as connection:
        connection.execute(
            UPLOADS.insert().values(
                id_hash=token_hash(upload_id), staff_id=staff_id, municipality_code=code,
                content=content, created_at=now,
            )
        )  # fmt: skip
    return upload_id


def take(
    engine: sa.Engine, upload_id: str, *, staff_id: int, code: str, now: datetime
) -> bytes | None:
    """The list, once: it is deleted as it is read. None when it is not this staff member's,
    was confirmed already or is older than an hour."""
    c = UPLOADS.c
    mine = sa.and_(
        c.id_hash == token_hash(upload_id), c.staff_id == staff_id, c.municipality_code == code
    )
    with engine.begin() as connection:
        content = connection.execute(
            sa.select(c.content).where(mine, c.created_at >= now - UPLOAD_LIFETIME)
        ).scalar()
        deleted = connection.execute(UPLOADS.delete().where(mine)).rowcount
    # Two confirmations at once: only the one that deleted the row goes on.
    return content if deleted == 1 else None


def drop_stale(engine: sa.Engine, *, now: datetime) -> int:
    """Delete lists left unconfirmed past their hour (at each upload, and by the retention
    job, so that a list nobody confirms does not stay); returns how many."""
    with engine.begin() as connection:
        stale = UPLOADS.c.created_at < now - UPLOAD_LIFETIME
        return connection.execute(UPLOADS.delete().where(stale)).rowcount
