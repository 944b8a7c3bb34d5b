"""The privacy notice's version, and the consent records kept for it (given, withdrawn, erased).

The notice texts live in `locales/` under LINE_NOTICE (the LINE welcome) and WEB_NOTICE (the
sign-up page). A change of their meaning is a new PRIVACY_NOTICE_VERSION *and* new msgids
carrying it: every catalog must then translate the new text (tests/test_i18n.py), so no
language can go on showing the old words under the new version. Each consent stores the
version it was given to.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa

from kizuna.config import Settings
from kizuna.models import ConsentRecord, Subscriber


def N_(msgid: str) -> str:  # noqa: N802 - gettext's own name for it
    """Marks a msgid for extraction; it is translated where it is shown."""
    return msgid


PRIVACY_NOTICE_VERSION = "2026-12"  # names purpose, data, recipients, retention and deletion
LINE_NOTICE = N_("privacy-notice-line-2026-12: %(days)s, %(delivery_days)s")
WEB_NOTICE = N_("privacy-notice-web-2026-12: %(days)s, %(delivery_days)s")


def consent_version(channel: str, locale: str, words: str) -> str:
    """What a consent stores: `<channel>-privacy/<locale>/<version>/<hash>`, the hash of the
    exact words shown (the notice as configured, the consent text), so any change shows."""
    digest = hashlib.sha256(words.encode()).hexdigest()[:12]
    return f"{channel}-privacy/{locale}/{PRIVACY_NOTICE_VERSION}/{digest}"


def notice_values(settings: Settings) -> dict[str, int]:
    """The periods the notices name, as configured (`%(days)s`, `%(delivery_days)s`)."""
    return {"days": settings.retention_days, "delivery_days": settings.delivery_retention_days}


CONSENTS = ConsentRecord.__table__
SUBSCRIBERS = Subscriber.__table__


class ConsentEvent(StrEnum):
    GIVEN = "given"  # subscribed (LINE, operator), confirmed (web), resumed after a stop
    WITHDRAWN = "withdrawn"  # asked to stop, blocked the LINE account, asked for erasure
    ERASED = "erased"  # the personal data was erased (on request, or by retention)


def address_hash(channel: str, address: str, *, secret: str) -> str:
    """HMAC-SHA256 of (channel, normalized address) with KIZUNA_SECRET_KEY: the same person
    signing up again can be matched to their old records, but the hash alone reveals nothing
    and cannot be reversed by trying addresses without the key."""
    if not secret:
        raise ValueError("KIZUNA_SECRET_KEY is needed to keep consent records without addresses")
    normalized = unicodedata.normalize("NFC", address.strip())
    if channel == "email":  # mailboxes are case-insensitive in practice
        normalized = normalized.casefold()
    message = f"{channel}\x1f{normalized}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def record(
    connection: sa.Connection,
    subscriber_id: int,
    event: ConsentEvent,
    *,
    at: datetime,
    version: str | None = None,
) -> None:
    """Add a consent record for a subscriber (their channel is read from their row)."""
    channel = connection.execute(
        sa.select(SUBSCRIBERS.c.channel).where(SUBSCRIBERS.c.id == subscriber_id)
    ).scalar_one()
    connection.execute(
        CONSENTS.insert().values(
            subscriber_id=subscriber_id, channel=channel, event=event, version=version, at=at
        )
    )


def seal(connection: sa.Connection, subscriber_id: int, hashed: str) -> None:
    """Bind a subscriber's records to the hash of their address, before the address goes."""
    connection.execute(
        CONSENTS.update()
        .where(CONSENTS.c.subscriber_id == subscriber_id)
        .values(address_hash=hashed)
    )


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    subscriber_id: int
    channel: str
    event: str
    version: str | None
    at: datetime


def history(engine: sa.Engine, channel: str, address: str, *, secret: str) -> list[ConsentEntry]:
    """Every consent record of an address: of its current subscriber, and of earlier ones that
    were erased (matched by the keyed hash), oldest first."""
    c, s = CONSENTS.c, SUBSCRIBERS.c
    current = sa.select(s.id).where(s.channel == channel, s.address == address.strip())
    query = (
        sa.select(c.subscriber_id, c.channel, c.event, c.version, c.at)
        .where(
            sa.or_(
                sa.and_(c.channel == channel,
                        c.address_hash == address_hash(channel, address, secret=secret)),
                c.subscriber_id.in_(current.scalar_subquery()),
            )
        )
        .order_by(c.at, c.id)
    )  # fmt: skip
    with engine.connect() as connection:
        return [ConsentEntry(*row) for row in connection.execute(query)]
