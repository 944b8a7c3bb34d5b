"""Enrolling a municipality's residents from its list: email residents are invited to confirm
(double opt-in), LINE residents get a personal invitation code to send to the bot."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from kizuna import municipalities, subscriptions
from kizuna.core.catalog import Role
from kizuna.core.status import ChannelName, ChildStatus, SubscriberStatus
from kizuna.models import Child, Follow, LineInvitation, Subscriber
from kizuna.resident_list import Resident, Row, RowProblem, RowsRefused, check_row

BATCH_ROWS = 200  # rows per transaction: a long list never holds the database for long
# No 0/O or 1/I: a code is read from a letter and typed by hand.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10  # 50 bits: guessing one among live codes is hopeless
INVITATION_CODE = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")
INVITATIONS = LineInvitation.__table__
SUBSCRIBERS, CHILDREN, FOLLOWS = Subscriber.__table__, Child.__table__, Follow.__table__


@dataclass(frozen=True, slots=True)
class EmailInvitation:
    """A PENDING email subscriber to send the confirmation mail to."""

    line: int
    subscriber_id: int
    address: str  # personal data: never logged
    locale: str


@dataclass(frozen=True, slots=True)
class LineCode:
    """A LINE invitation code, shown once: only its hash is kept."""

    line: int
    code: str
    expires_at: datetime


@dataclass
class EnrollResult:
    rows: int = 0
    email: list[EmailInvitation] = field(default_factory=list)
    line: list[LineCode] = field(default_factory=list)
    unchanged: int = 0  # rows enrolled before (or addresses already subscribed): nothing added
    problems: list[RowProblem] = field(default_factory=list)
    dry_run: bool = False

    @property
    def added(self) -> int:
        return len(self.email) + len(self.line)


@dataclass(frozen=True, slots=True)
class EnrollOptions:
    variants: set[str]
    default_timezone: str
    invitation_days: int = 90
    dry_run: bool = False


def enroll(
    engine: sa.Engine,
    code: str,
    rows: list[Row],
    options: EnrollOptions,
    *,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> EnrollResult:
    """Check every row; add the good ones, report the bad ones with their line. Importing the
    same list again adds nothing. A dry run checks and counts, and writes nothing."""
    municipality = municipalities.get(engine, code)
    today = subscriptions.local_today(now, municipality.timezone or options.default_timezone)
    batch = _Batch(municipality.code, options, now, EnrollResult(dry_run=options.dry_run))
    for start in range(0, len(rows), BATCH_ROWS):
        chunk = rows[start : start + BATCH_ROWS]
        residents = [batch.check(line, raw, today) for line, raw in chunk]
        with engine.connect() as connection:
            transaction = connection.begin()
            batch.write(connection, [resident for resident in residents if resident])
            transaction.rollback() if options.dry_run else transaction.commit()
        if progress is not None:
            progress(len(chunk))
    if options.dry_run:  # nothing was kept: no code may be handed out
        batch.result.line = [LineCode(c.line, "", c.expires_at) for c in batch.result.line]
    return batch.result


@dataclass
class _Batch:
    """One list's import: rows checked one by one, then written a chunk at a time (one
    query finds what is known already, one statement inserts each table's new rows)."""

    municipality_code: str
    options: EnrollOptions
    now: datetime
    result: EnrollResult
    emails: dict[str, int] = field(default_factory=dict)  # address -> its first line
    references: dict[str, int] = field(default_factory=dict)
    fingerprints: Counter[str] = field(default_factory=Counter)

    def check(self, line: int, raw: dict[str, str], today: date) -> Resident | None:
        self.result.rows += 1
        try:
            resident = check_row(line, raw, variants=self.options.variants, today=today)
            self._unique(resident)
        except RowsRefused as refused:
            self.result.problems.extend(refused.problems)
            return None
        return resident

    def _unique(self, resident: Resident) -> None:
        """Within one list an address or a reference appears once."""
        seen, key, name = self.emails, resident.address, "email"
        if resident.channel is ChannelName.LINE:
            seen, key, name = self.references, resident.reference, "reference"
        if not key:
            return
        if key in seen:
            reason = f"the same {name} as line {seen[key]}"
            raise RowsRefused([RowProblem(resident.line, name, reason)])
        seen[key] = resident.line

    def write(self, connection: sa.Connection, residents: list[Resident]) -> None:
        self._email(connection, [r for r in residents if r.channel is ChannelName.EMAIL])
        self._line(connection, [r for r in residents if r.channel is ChannelName.LINE])

    def _email(self, connection: sa.Connection, residents: list[Resident]) -> None:
        known = set(
            connection.execute(
                sa.select(SUBSCRIBERS.c.address).where(
                    SUBSCRIBERS.c.channel == ChannelName.EMAIL,
                    SUBSCRIBERS.c.address.in_([r.address for r in residents]),
                )
            ).scalars()
        )  # enrolled before, or subscribed by themselves: never touched
        new = [r for r in residents if r.address not in known]
        self.result.unchanged += len(residents) - len(new)
        if not new:
            return
        subscriber_ids = _insert(connection, SUBSCRIBERS, [self._subscriber(r) for r in new])
        child_ids = _insert(connection, CHILDREN, [self._child(r) for r in new])
        connection.execute(FOLLOWS.insert(), [
            {"subscriber_id": s, "child_id": c, "role": Role.PARENT, "may_report": True,
             "receives_local_info": True, "loss_support": False, "since": self.now}
            for s, c in zip(subscriber_ids, child_ids, strict=True)
        ])  # fmt: skip
        self.result.email += [
            EmailInvitation(r.line, subscriber_id, r.address, r.variant)
            for r, subscriber_id in zip(new, subscriber_ids, strict=True)
        ]

    def _subscriber(self, resident: Resident) -> dict[str, object]:
        return {
            "channel": ChannelName.EMAIL, "address": resident.address,
            "variant": resident.variant, "locale": resident.variant, "timezone": None,
            "delivery_hour": None, "municipality_code": self.municipality_code,
            "nickname": resident.nickname, "consent_at": None,  # set when they confirm
            "consent_version": f"municipality-list/{self.municipality_code}/"
            f"{resident.consent_date.isoformat()}",
            "status": SubscriberStatus.PENDING, "status_changed_at": self.now,
            "status_reason": "enrolled from the municipality's list: waiting for confirmation",
            "consecutive_failures": 0, "created_at": self.now,
        }  # fmt: skip

    def _child(self, resident: Resident) -> dict[str, object]:
        born = resident.birth_date is not None
        return {
            "due_date": resident.due_date, "birth_date": resident.birth_date, "loss_date": None,
            "status": ChildStatus.BORN if born else ChildStatus.EXPECTED, "created_at": self.now,
        }  # fmt: skip

    def _line(self, connection: sa.Connection, residents: list[Resident]) -> None:
        keyed = []
        for resident in residents:
            fingerprint = row_fingerprint(resident)
            self.fingerprints[fingerprint] += 1
            keyed.append((resident, fingerprint, self.fingerprints[fingerprint]))
        c = INVITATIONS.c
        known = {
            (row.fingerprint, row.occurrence)
            for row in connection.execute(
                sa.select(c.fingerprint, c.occurrence).where(
                    c.municipality_code == self.municipality_code,
                    c.fingerprint.in_({fingerprint for _, fingerprint, _ in keyed}),
                )
            )
        }
        new = [(r, f, n) for r, f, n in keyed if (f, n) not in known]
        self.result.unchanged += len(keyed) - len(new)
        if not new:
            return
        expires_at = self.now + timedelta(days=self.options.invitation_days)
        codes = [new_code() for _ in new]
        connection.execute(INVITATIONS.insert(), [
            {"municipality_code": self.municipality_code, "code_hash": code_hash(code),
             "fingerprint": fingerprint, "occurrence": occurrence, "due_date": r.due_date,
             "birth_date": r.birth_date, "variant": r.variant, "nickname": r.nickname,
             "consent_date": r.consent_date, "expires_at": expires_at, "used_at": None,
             "subscriber_id": None, "created_at": self.now}
            for code, (r, fingerprint, occurrence) in zip(codes, new, strict=True)
        ])  # fmt: skip
        self.result.line += [
            LineCode(r.line, display_code(code), expires_at)
            for code, (r, _, _) in zip(codes, new, strict=True)
        ]


def _insert(connection: sa.Connection, table: sa.Table, rows: list[dict]) -> list[int]:
    """Insert rows; their new ids in the order given."""
    statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    return list(connection.execute(statement, rows).scalars())


def row_fingerprint(resident: Resident) -> str:
    """What makes a LINE row the same row when the list is imported again: the municipality's
    reference when it gives one, else the row's content (the n-th identical row is kept
    apart by its occurrence)."""
    if resident.reference:
        parts = ["ref", resident.reference]
    else:
        parts = [str(value or "") for value in (resident.due_date, resident.birth_date,
                 resident.variant, resident.nickname, resident.consent_date)]  # fmt: skip
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


# -- invitation codes -----------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def display_code(code: str) -> str:
    half = CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def read_code(text: str) -> str | None:
    """The invitation code in a typed text (full-width, lower case, spaces and hyphens
    allowed), or None when the text is not one."""
    typed = unicodedata.normalize("NFKC", text).upper()
    typed = "".join(ch for ch in typed if not ch.isspace() and ch not in "-ー−")
    return typed if INVITATION_CODE.fullmatch(typed) else None


@dataclass(frozen=True, slots=True)
class Invitation:
    id: int
    municipality_code: str
    due_date: date | None
    birth_date: date | None
    variant: str
    nickname: str | None


class InvitationUnusable(LookupError):
    """Unknown, used or expired: the bot says the same for each, so nothing can be probed."""


def find_invitation(engine: sa.Engine, code: str, *, now: datetime) -> Invitation:
    """The live invitation with this code (as `read_code` returns it)."""
    c = INVITATIONS.c
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(
                c.id, c.municipality_code, c.due_date, c.birth_date, c.variant, c.nickname
            ).where(c.code_hash == code_hash(code), c.used_at.is_(None), c.expires_at > now)
        ).first()
    if row is None:
        raise InvitationUnusable(code)
    return Invitation(*row)


def subscribe_invited(
    engine: sa.Engine,
    invitation_id: int,
    request: subscriptions.SubscribeRequest,
    *,
    variants: set[str],
    default_timezone: str,
    now: datetime,
) -> subscriptions.Subscribed:
    """Subscribe with an invitation, using it up; InvitationUnusable when it was used or
    expired meanwhile. A subscription refused leaves the invitation usable."""
    c = INVITATIONS.c
    live = sa.and_(c.id == invitation_id, c.used_at.is_(None), c.expires_at > now)
    with engine.begin() as connection:  # claimed first: two chats can never both use it
        if connection.execute(INVITATIONS.update().where(live).values(used_at=now)).rowcount != 1:
            raise InvitationUnusable(str(invitation_id))
    return subscribe_claimed(
        engine, INVITATIONS, invitation_id,
        lambda: subscriptions.subscribe(
            engine, request, variants=variants, default_timezone=default_timezone, now=now
        ),
    )  # fmt: skip


def subscribe_claimed(
    engine: sa.Engine,
    invitations: sa.Table,
    invitation_id: int,
    subscribe: Callable[[], subscriptions.Subscribed],
) -> subscriptions.Subscribed:
    """Subscribe with an invitation already claimed (its `used_at` set): a subscription
    refused gives the invitation back, one made is recorded on it. For the municipalities'
    invitations and the families' alike."""
    row = invitations.c.id == invitation_id
    try:
        done = subscribe()
    except subscriptions.SubscribeError:
        with engine.begin() as connection:
            connection.execute(invitations.update().where(row).values(used_at=None))
        raise
    with engine.begin() as connection:
        connection.execute(invitations.update().where(row).values(subscriber_id=done.subscriber_id))
    return done
