"""Staff accounts of the municipal console: one-time password links, argon2 passwords, lock-out."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email

from kizuna import municipalities
from kizuna.core.status import SignInStatus
from kizuna.models import StaffMember, StaffPasswordLink, StaffUpload

LINK_LIFETIME = timedelta(hours=72)  # an operator's link may wait over a weekend, no longer
LOCK_LIFETIME = timedelta(minutes=15)  # slows guessing to a few tries per quarter hour
SESSION_LIFETIME = timedelta(hours=8)  # a working day; then sign in again
PASSWORD_MIN, PASSWORD_MAX = 12, 256  # a long passphrase; the cap keeps hashing cheap to refuse
STAFF, LINKS = StaffMember.__table__, StaffPasswordLink.__table__
UPLOADS = StaffUpload.__table__


class StaffError(ValueError):
    """An operator's request about staff that cannot be done; the text says why."""


class PasswordRefused(ValueError):
    """A new password that is not accepted; `reason` is one of short, long, email, link."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class StaffRecord:
    id: int
    municipality_code: str
    email: str  # a work address, still personal data: never logged
    has_password: bool
    locked_until: datetime | None
    session_version: int

    @classmethod
    def of(cls, row) -> StaffRecord:
        m = row._mapping
        return cls(
            m["id"], m["municipality_code"], m["email"], m["password_hash"] is not None,
            m["locked_until"], m["session_version"],
        )  # fmt: skip

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


class Passwords:
    """argon2id hashing (RFC 9106's low-memory profile: 64 MiB, 3 passes) behind one object,
    so tests can hand in cheaper parameters."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
        # Verified when the address is unknown, so that a wrong address takes as long as a
        # wrong password and the timing does not tell which addresses have accounts.
        self._decoy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._decoy, password) and bool(
                password_hash
            )
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


def token_hash(token: str) -> str:
    """Link tokens and upload ids are 256 random bits: a plain SHA-256 keeps them unusable."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normal_email(text: str) -> str:
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise StaffError(f"not a valid email address ({error})") from None


def _row(connection: sa.Connection, *where) -> StaffRecord | None:
    row = connection.execute(sa.select(STAFF).where(*where)).first()
    return StaffRecord.of(row) if row else None


def add(engine: sa.Engine, code: str, email: str, *, now: datetime) -> tuple[StaffRecord, str]:
    """A staff member of municipality `code`, and the token of their first-password link."""
    municipality = municipalities.get(engine, code)
    address = normal_email(email)
    with engine.begin() as connection:
        if _row(connection, STAFF.c.email == address):
            raise StaffError("a staff member with this address exists already")
        staff_id = connection.execute(
            STAFF.insert().values(
                municipality_code=municipality.code, email=address, failed_logins=0,
                session_version=1, created_at=now,
            )
        ).inserted_primary_key[0]  # fmt: skip
    return find(engine, staff_id), password_link(engine, staff_id, now=now)


def password_link(engine: sa.Engine, staff_id: int, *, now: datetime) -> str:
    """A new one-time link token (for a first or a forgotten password); older links stop."""
    token = secrets.token_urlsafe(32)
    with engine.begin() as connection:
        if _row(connection, STAFF.c.id == staff_id) is None:
            raise StaffError(f"no staff member {staff_id}")
        connection.execute(LINKS.delete().where(LINKS.c.staff_id == staff_id))
        connection.execute(
            LINKS.insert().values(
                staff_id=staff_id, token_hash=token_hash(token), expires_at=now + LINK_LIFETIME
            )
        )
    return token


def find(bind: sa.Engine | sa.Connection, staff_id: int) -> StaffRecord | None:
    with municipalities.connected(bind) as connection:
        return _row(connection, STAFF.c.id == staff_id)


def members(engine: sa.Engine, code: str) -> list[StaffRecord]:
    municipality = municipalities.get(engine, code)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(STAFF)
            .where(STAFF.c.municipality_code == municipality.code)
            .order_by(STAFF.c.id)
        ).all()
    return [StaffRecord.of(row) for row in rows]


def remove(engine: sa.Engine, staff_id: int) -> bool:
    """Delete a staff member, their links and pending uploads; their sessions end with them."""
    with engine.begin() as connection:
        connection.execute(LINKS.delete().where(LINKS.c.staff_id == staff_id))
        connection.execute(UPLOADS.delete().where(UPLOADS.c.staff_id == staff_id))
        return connection.execute(STAFF.delete().where(STAFF.c.id == staff_id)).rowcount == 1


def unlock(engine: sa.Engine, staff_id: int) -> bool:
    with engine.begin() as connection:
        updated = connection.execute(
            STAFF.update().where(STAFF.c.id == staff_id).values(failed_logins=0, locked_until=None)
        )
    return updated.rowcount == 1


def link_staff(engine: sa.Engine, token: str, *, now: datetime) -> StaffRecord | None:
    """The staff member of a live (unused, unexpired) password link; None for any other."""
    with engine.connect() as connection:
        staff_id = connection.execute(
            sa.select(LINKS.c.staff_id).where(
                LINKS.c.token_hash == token_hash(token), LINKS.c.used_at.is_(None),
                LINKS.c.expires_at > now,
            )
        ).scalar()  # fmt: skip
        return None if staff_id is None else _row(connection, STAFF.c.id == staff_id)


def check_password(password: str, email: str) -> None:
    """PasswordRefused when a new password is too short, too long or the address itself."""
    if len(password) < PASSWORD_MIN:
        raise PasswordRefused("short")
    if len(password) > PASSWORD_MAX:
        raise PasswordRefused("long")
    if email.lower() in password.lower():
        raise PasswordRefused("email")


def set_password(
    engine: sa.Engine, passwords: Passwords, token: str, password: str, *, now: datetime
) -> StaffRecord:
    """Set the password through a link, which is used up; every older session ends."""
    staff = link_staff(engine, token, now=now)
    if staff is None:
        raise PasswordRefused("link")
    check_password(password, staff.email)
    hashed = passwords.hash(password)
    with engine.begin() as connection:
        used = connection.execute(
            LINKS.update()
            .where(LINKS.c.token_hash == token_hash(token), LINKS.c.used_at.is_(None))
            .values(used_at=now)
        )
        if used.rowcount != 1:  # the same link used twice at once: only one wins
            raise PasswordRefused("link")
        connection.execute(
            STAFF.update().where(STAFF.c.id == staff.id).values(
                password_hash=hashed, failed_logins=0, locked_until=None,
                session_version=STAFF.c.session_version + 1,
            )
        )  # fmt: skip
        return _row(connection, STAFF.c.id == staff.id)


@dataclass(frozen=True, slots=True)
class SignIn:
    status: SignInStatus
    staff: StaffRecord | None = None
    locked_now: bool = False  # this attempt caused the lock (for the audit log)


def sign_in(
    engine: sa.Engine,
    passwords: Passwords,
    email: str,
    password: str,
    *,
    now: datetime,
    max_failed: int,
) -> SignIn:
    """Check a password. `max_failed` wrong ones in a row lock the account for
    LOCK_LIFETIME, during which even the right one is refused."""
    try:
        address = normal_email(email)
    except StaffError:
        address = ""
    with engine.connect() as connection:
        row = connection.execute(sa.select(STAFF).where(STAFF.c.email == address)).first()
    if row is None:
        passwords.verify(None, password[:PASSWORD_MAX])
        return SignIn(SignInStatus.WRONG)
    staff = StaffRecord.of(row)
    if staff.locked(now):
        return SignIn(SignInStatus.LOCKED, staff)
    if passwords.verify(row.password_hash, password[:PASSWORD_MAX]):
        values: dict[str, object] = {"failed_logins": 0, "locked_until": None}
        if passwords.needs_rehash(row.password_hash):
            values["password_hash"] = passwords.hash(password)
        with engine.begin() as connection:
            connection.execute(STAFF.update().where(STAFF.c.id == staff.id).values(**values))
        return SignIn(SignInStatus.OK, staff)
    return _failed(engine, staff, now=now, max_failed=max_failed)


def _failed(engine: sa.Engine, staff: StaffRecord, *, now: datetime, max_failed: int) -> SignIn:
    c = STAFF.c
    with engine.begin() as connection:
        # Counted in the database, so that parallel guesses cannot each read a stale count.
        connection.execute(
            STAFF.update().where(c.id == staff.id).values(failed_logins=c.failed_logins + 1)
        )
        locked = connection.execute(
            STAFF.update()
            .where(c.id == staff.id, c.failed_logins >= max_failed)
            .values(failed_logins=0, locked_until=now + LOCK_LIFETIME)
        ).rowcount
    if locked:
        return SignIn(SignInStatus.LOCKED, find(engine, staff.id), locked_now=True)
    return SignIn(SignInStatus.WRONG, staff)


def session_staff(engine: sa.Engine, staff_id: int, version: int) -> StaffRecord | None:
    """The staff member of a session cookie, while that session has not been ended."""
    staff = find(engine, staff_id)
    return staff if staff is not None and staff.session_version == version else None


def end_sessions(engine: sa.Engine, staff_id: int) -> None:
    """Signing out ends every session of this staff member (a lost phone's too)."""
    with engine.begin() as connection:
        connection.execute(
            STAFF.update()
            .where(STAFF.c.id == staff_id)
            .values(session_version=STAFF.c.session_version + 1)
        )
