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
PUSH_KEY_SET = "push_key IS NOT NULL"


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
        # At most one of Kizuna's own and one of the municipality's messages, that is.
        sa.Index(
            "uq_delivery_day",
            "subscriber_id",
            "child_id",
            "local_date",
            "from_municipality",
            unique=True,
            sqlite_where=sa.text(LIVE_DELIVERY),
            postgresql_where=sa.text(LIVE_DELIVERY),
        ),
        # A retry claims the whole request again; mostly NULL, so the partial index is small.
        sa.Index(
            "ix_delivery_push_key",
            "push_key",
            sqlite_where=sa.text(PUSH_KEY_SET),
            postgresql_where=sa.text(PUSH_KEY_SET),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: uq_delivery leads with it. (Each index is rewritten by every
    # status change on PostgreSQL; the outbox changes status twice per delivery.)
    subscriber_id: int = Field(foreign_key="subscriber.id")
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
    # A municipality's own message (messages/municipalities/<code>/), sent beside ours.
    from_municipality: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # Deliveries sent in one LINE request (one subscriber's messages of the day in one push,
    # or one text to many in a multicast) share this retry key, fixed before the first try.
    push_key: str | None = Field(default=None, max_length=36)
    multicast: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


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


class StaffMember(SQLModel, table=True):
    """A municipal officer who signs in to the staff console of one municipality. The password
    is kept as an argon2 hash only; `session_version` ends every session when it changes."""

    __tablename__ = "staff_member"

    id: int | None = Field(default=None, primary_key=True)
    municipality_code: str = Field(foreign_key="municipality.code", index=True, max_length=6)
    email: str = Field(max_length=254, unique=True)  # the sign-in name, stored lower-case
    password_hash: str | None = None  # None until the first password is set through a link
    failed_logins: int = 0  # in a row; reset by a successful sign-in
    locked_until: datetime | None = Field(default=None, sa_column=utc_column())
    session_version: int = 1
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class StaffPasswordLink(SQLModel, table=True):
    """A one-time link to set a staff member's password: only the token's SHA-256 is kept."""

    __tablename__ = "staff_password_link"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff_member.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=utc_column())


class StaffUpload(SQLModel, table=True):
    """A resident list checked in the staff console and waiting for its confirmation. Held
    under the SHA-256 of a random id for at most an hour, deleted once confirmed."""

    __tablename__ = "staff_upload"

    id_hash: str = Field(primary_key=True, max_length=64)
    staff_id: int = Field(foreign_key="staff_member.id", index=True)
    municipality_code: str = Field(max_length=6)
    content: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class FamilyInvitation(SQLModel, table=True):
    """A single-use invitation to follow a child, made by one of its followers for a
    caregiver; only the code's SHA-256 is kept. No foreign keys: erasing a subscriber or
    releasing a child never waits on an invitation."""

    __tablename__ = "family_invitation"

    id: int | None = Field(default=None, primary_key=True)
    child_id: int = Field(index=True)
    inviter_id: int = Field(index=True)  # the subscriber who made it
    role: str = Field(max_length=16)
    may_report: bool = False
    receives_local_info: bool = False  # local details can reveal where a child lives
    label: str | None = Field(default=None, max_length=40)  # the inviter's name for them
    code_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=utc_column())
    subscriber_id: int | None = Field(default=None, index=True)  # who used it
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
