"""Database tables (SQLModel). Times are stored in UTC; dates are local calendar dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from kizuna.core.catalog import Role
from kizuna.core.status import ChildStatus, DeliveryStatus, SubscriberStatus


class UTCDateTime(sa.types.TypeDecorator):
    """A datetime stored as naive UTC and always read back as timezone-aware UTC.

    SQLite keeps no offset; refusing naive values on the way in keeps local times out.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware (UTC) datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


LIVE_DELIVERY = "status NOT IN ('cancelled', 'skipped')"


def utc_column(*, nullable: bool = True, index: bool = False) -> sa.Column:
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)


class Municipality(SQLModel, table=True):
    """A city, town or village, by its 6-digit local government code."""

    code: str = Field(primary_key=True, max_length=6)
    name: str
    prefecture: str = ""
    timezone: str | None = None
    delivery_hour: int | None = None
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    sender_label: str = ""  # how its messages are marked: 〇〇市より ("": the name + より)
    contact: str = ""  # where residents' questions go: a desk, a phone number, a URL


class Subscriber(SQLModel, table=True):
    """One person at one channel address."""

    __table_args__ = (sa.UniqueConstraint("channel", "address", name="uq_subscriber_address"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    address: str = Field(max_length=320)  # personal data: never logged
    variant: str = Field(default="ja", max_length=16)
    locale: str = Field(default="ja", max_length=16)
    timezone: str | None = None  # None: the municipality's, else the deployment's
    delivery_hour: int | None = None  # None: the municipality's, else the deployment's
    municipality_code: str | None = Field(default=None, foreign_key="municipality.code")
    nickname: str | None = None
    consent_at: datetime | None = Field(default=None, sa_column=utc_column())
    consent_version: str | None = None
    status: str = Field(default=SubscriberStatus.ACTIVE, max_length=16, index=True)
    status_reason: str | None = None
    status_changed_at: datetime | None = Field(default=None, sa_column=utc_column())
    consecutive_failures: int = 0
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    # Set when the personal data was erased (kizuna.privacy): the row stays, holding no
    # address, nickname or settings, so counts and old links' ids never point at someone new.
    erased_at: datetime | None = Field(default=None, sa_column=utc_column())


class Child(SQLModel, table=True):
    """A pregnancy or a child, shared by everyone who follows it."""

    id: int | None = Field(default=None, primary_key=True)
    # Indexed: planning selects children by these dates (kizuna.core.due).
    due_date: date | None = Field(default=None, index=True)
    birth_date: date | None = Field(default=None, index=True)
    status: str = Field(default=ChildStatus.EXPECTED, max_length=16)
    loss_date: date | None = Field(default=None, index=True)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class Follow(SQLModel, table=True):
    """A subscriber following a child, in a role."""

    __table_args__ = (sa.UniqueConstraint("subscriber_id", "child_id", name="uq_follow"),)

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    child_id: int = Field(foreign_key="child.id", index=True)
    role: str = Field(default=Role.PARENT, max_length=16)
    may_report: bool = True  # may report a birth or a loss for the child
    receives_local_info: bool = True
    loss_support: bool = False  # opted in to the support set after a loss
    since: datetime = Field(sa_column=utc_column(nullable=False))


class Delivery(SQLModel, table=True):
    """The outbox: one row per (subscriber, child, message), the truth of what was sent."""

    __table_args__ = (
        sa.UniqueConstraint("subscriber_id", "child_id", "message_id", name="uq_delivery"),
        sa.Index("ix_delivery_claim", "status", "next_attempt_at"),
        # At most one live delivery per follower, child and day, whatever re-planning does.
        sa.Index(
            "uq_delivery_day",
            "subscriber_id",
            "child_id",
            "local_date",
            unique=True,
            sqlite_where=sa.text(LIVE_DELIVERY),
            postgresql_where=sa.text(LIVE_DELIVERY),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    child_id: int = Field(foreign_key="child.id", index=True)
    message_id: str = Field(max_length=120)
    track: str = Field(max_length=16)
    variant: str = Field(max_length=16)  # the variant actually sent
    fallback_from: str | None = Field(default=None, max_length=16)  # the variant asked for
    stage_label: str = ""
    local_date: date = Field(index=True)
    due_at: datetime = Field(sa_column=utc_column(nullable=False))
    status: str = Field(default=DeliveryStatus.PLANNED, max_length=16)
    idempotency_key: str = Field(max_length=36, unique=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=utc_column(nullable=False))
    claimed_by: str | None = None
    claimed_until: datetime | None = Field(default=None, sa_column=utc_column())
    last_error: str | None = None
    skip_reason: str | None = None
    sent_at: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class LineConversation(SQLModel, table=True):
    """Where a LINE user who has not registered yet is in the registration conversation."""

    __tablename__ = "line_conversation"

    user_id: str = Field(primary_key=True, max_length=64)  # personal data: never logged
    step: str = Field(max_length=32)
    data: str = "{}"  # JSON: the answers so far
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class LineWebhookEvent(SQLModel, table=True):
    """A handled webhook event id: LINE redelivers, and each event is processed once."""

    __tablename__ = "line_webhook_event"

    event_id: str = Field(primary_key=True, max_length=64)
    received_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))


class MunicipalityToken(SQLModel, table=True):
    """An API token of one municipality's systems; only its SHA-256 is kept."""

    __tablename__ = "municipality_token"

    id: int | None = Field(default=None, primary_key=True)
    municipality_code: str = Field(foreign_key="municipality.code", index=True, max_length=6)
    label: str = ""
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column())


class MunicipalityLocalInfo(SQLModel, table=True):
    """One value of a municipality's local information (keys: kizuna.core.local_info)."""

    __tablename__ = "municipality_local_info"

    municipality_code: str = Field(foreign_key="municipality.code", primary_key=True, max_length=6)
    key: str = Field(primary_key=True, max_length=32)
    value: str
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class LineInvitation(SQLModel, table=True):
    """A personal, single-use code a municipality hands a resident to send to the LINE bot,
    carrying the child's dates from the municipality's list. Only the code's SHA-256 is kept."""

    __tablename__ = "line_invitation"
    __table_args__ = (
        # Re-importing a list adds nothing: the n-th row with the same content is the same row.
        sa.UniqueConstraint(
            "municipality_code", "fingerprint", "occurrence", name="uq_line_invitation_row"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    municipality_code: str = Field(foreign_key="municipality.code", index=True, max_length=6)
    code_hash: str = Field(max_length=64, unique=True)
    fingerprint: str = Field(max_length=64)
    occurrence: int = 1
    due_date: date | None = None  # personal data: never logged
    birth_date: date | None = None
    variant: str = Field(default="ja", max_length=16)
    nickname: str | None = None
    consent_date: date | None = None  # when the resident agreed, as the municipality recorded
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=utc_column())
    subscriber_id: int | None = Field(default=None, foreign_key="subscriber.id")
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class ConsentRecord(SQLModel, table=True):
    """Consent given, withdrawn, and data erased: kept for the records after an erasure,
    when the address is replaced by a keyed hash (kizuna.consent)."""

    __tablename__ = "consent_record"

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(index=True)  # no foreign key: the record outlives everything
    channel: str = Field(max_length=16)
    event: str = Field(max_length=16)  # ConsentEvent
    version: str | None = None  # the notice agreed to (a `given` event)
    at: datetime = Field(sa_column=utc_column(nullable=False))
    address_hash: str | None = Field(default=None, max_length=64, index=True)  # set on erasure


class AuditEntry(SQLModel, table=True):
    """Who did what to whose data, and when: exports, erasures, retention runs. Ids and
    counts only, never personal data."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    actor: str = Field(max_length=120)  # operator:<name>, subscriber:<line|web>, retention
    action: str = Field(max_length=32)
    subscriber_id: int | None = Field(default=None, index=True)
    detail: str = "{}"  # JSON: counts


class DeliveryCount(SQLModel, table=True):
    """Deliveries counted per day, channel, track, variant, status and municipality: what is
    left of delivery rows once they are trimmed (retention) or their subscriber is erased."""

    __tablename__ = "delivery_count"

    day: date = Field(primary_key=True)
    channel: str = Field(primary_key=True, max_length=16)
    track: str = Field(primary_key=True, max_length=16)
    variant: str = Field(primary_key=True, max_length=16)
    status: str = Field(primary_key=True, max_length=16)
    municipality_code: str = Field(primary_key=True, max_length=6)  # "": none
    count: int = 0
