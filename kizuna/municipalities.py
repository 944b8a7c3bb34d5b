"""Municipalities: their identity, their API tokens and their local information."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlmodel import Session, select

from kizuna.core.local_info import LOCAL_INFO_KEYS, local_info
from kizuna.core.municipality_code import InvalidCode, normalize_code
from kizuna.models import Municipality, MunicipalityLocalInfo, MunicipalityToken
from kizuna.rendering import SENDER_LABEL_MAX

TOKEN_PREFIX = "kzm_"  # recognisable in a leaked file or a secret scanner
LOCAL_INFO_MAX = 1000  # characters per value: a few sentences, well inside a LINE message
LOCAL_INFO = MunicipalityLocalInfo.__table__
TOKENS = MunicipalityToken.__table__


Bind = sa.Engine | sa.Connection  # the read functions join a caller's transaction if given one


@contextmanager
def connected(bind: Bind) -> Iterator[sa.Connection]:
    if isinstance(bind, sa.Connection):
        yield bind
    else:
        with bind.connect() as connection:
            yield connection


class MunicipalityError(ValueError):
    """A request about a municipality that cannot be done; the text says why."""


@dataclass(frozen=True, slots=True)
class MunicipalityRecord:
    code: str
    name: str
    prefecture: str
    sender_label: str
    contact: str
    timezone: str | None
    delivery_hour: int | None

    @classmethod
    def of(cls, row: Municipality) -> MunicipalityRecord:
        return cls(
            row.code, row.name, row.prefecture, row.sender_label or f"{row.name}より",
            row.contact, row.timezone, row.delivery_hour,
        )  # fmt: skip


def code_of(text: str) -> str:
    """The 6-digit code (the 5-digit form completed); MunicipalityError when it is no code."""
    try:
        return normalize_code(text)
    except InvalidCode as error:
        raise MunicipalityError(str(error)) from None


def add(
    engine: sa.Engine,
    *,
    code: str,
    name: str,
    prefecture: str,
    now: datetime,
    sender_label: str = "",
    contact: str = "",
    timezone: str | None = None,
    delivery_hour: int | None = None,
) -> MunicipalityRecord:
    """Add a municipality; refuses a bad code, an empty name, an unknown zone or hour."""
    code = code_of(code)
    if not name.strip():
        raise MunicipalityError("a municipality needs its name (〇〇市)")
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise MunicipalityError(f"unknown time zone {timezone!r}") from None
    if delivery_hour is not None and not 0 <= delivery_hour <= 23:
        raise MunicipalityError("the delivery hour is 0 to 23")
    if len(sender_label.strip() or f"{name.strip()}より") > SENDER_LABEL_MAX:
        raise MunicipalityError(f"the sender label is at most {SENDER_LABEL_MAX} characters")
    with Session(engine) as session:
        if session.get(Municipality, code) is not None:
            raise MunicipalityError(f"municipality {code} exists already")
        row = Municipality(
            code=code, name=name.strip(), prefecture=prefecture.strip(),
            sender_label=sender_label.strip(), contact=contact.strip(), timezone=timezone,
            delivery_hour=delivery_hour, created_at=now,
        )  # fmt: skip
        session.add(row)
        session.commit()
        return MunicipalityRecord.of(row)


def find(engine: sa.Engine, code: str) -> MunicipalityRecord | None:
    with Session(engine) as session:
        row = session.get(Municipality, code)
        return MunicipalityRecord.of(row) if row else None


def get(engine: sa.Engine, code: str) -> MunicipalityRecord:
    """The municipality with `code` (5 or 6 digits); MunicipalityError when there is none."""
    found = find(engine, code_of(code))
    if found is None:
        raise MunicipalityError(f"no municipality with code {code}")
    return found


def all_municipalities(engine: sa.Engine) -> list[MunicipalityRecord]:
    with Session(engine) as session:
        rows = session.exec(select(Municipality).order_by(Municipality.code)).all()
        return [MunicipalityRecord.of(row) for row in rows]


# -- API tokens: shown once, kept as their SHA-256 ------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    municipality_code: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


def token_hash(token: str) -> str:
    """A token is 256 random bits, so a plain SHA-256 is enough to keep it unreadable."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(engine: sa.Engine, code: str, *, label: str, now: datetime) -> tuple[int, str]:
    """A new API token for one municipality: (its id, the token). The token is not stored."""
    municipality = get(engine, code)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as connection:
        token_id = connection.execute(
            TOKENS.insert().values(
                municipality_code=municipality.code, label=label.strip(),
                token_hash=token_hash(token), created_at=now,
            )
        ).inserted_primary_key[0]  # fmt: skip
    return token_id, token


def tokens(engine: sa.Engine, code: str) -> list[TokenRecord]:
    municipality = get(engine, code)
    c = TOKENS.c
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(c.id, c.municipality_code, c.label, c.created_at, c.revoked_at)
            .where(c.municipality_code == municipality.code)
            .order_by(c.id)
        ).all()
    return [TokenRecord(*row) for row in rows]


def revoke_token(engine: sa.Engine, token_id: int, *, now: datetime) -> bool:
    """Revoke a token at once; False when there is no such token or it was revoked before."""
    c = TOKENS.c
    with engine.begin() as connection:
        updated = connection.execute(
            TOKENS.update().where(c.id == token_id, c.revoked_at.is_(None)).values(revoked_at=now)
        )
    return updated.rowcount == 1


def token_municipality(engine: sa.Engine, token: str) -> str | None:
    """The municipality a live token belongs to; None for an unknown or revoked token."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    c = TOKENS.c
    with engine.connect() as connection:
        return connection.execute(
            sa.select(c.municipality_code).where(
                c.token_hash == token_hash(token), c.revoked_at.is_(None)
            )
        ).scalar()


# -- local information ----------------------------------------------------------------------


def check_local_info(values: Mapping[str, str]) -> dict[str, str]:
    """The values cleaned (stripped); MunicipalityError naming unknown keys or long values."""
    unknown = sorted(set(values) - set(LOCAL_INFO_KEYS))
    if unknown:
        raise MunicipalityError(
            f"unknown local info key(s): {', '.join(unknown)} (known: {', '.join(LOCAL_INFO_KEYS)})"
        )
    cleaned = {key: str(value).strip() for key, value in values.items()}
    for key, value in cleaned.items():
        if len(value) > LOCAL_INFO_MAX:
            raise MunicipalityError(f"{key}: longer than {LOCAL_INFO_MAX} characters")
    return cleaned


def stored_local_info(bind: Bind, code: str) -> dict[str, str]:
    """Only the values the municipality has given, in the documented key order."""
    c = LOCAL_INFO.c
    with connected(bind) as connection:
        rows = dict(
            connection.execute(sa.select(c.key, c.value).where(c.municipality_code == code)).all()
        )
    return {key: rows[key] for key in LOCAL_INFO_KEYS if key in rows}


def local_info_for(engine: sa.Engine, code: str | None) -> dict[str, str]:
    """Every local info key for rendering: the municipality's value, or "" where it gave none
    (so a template falls back to its general wording). No code: all ""."""
    return local_info(stored_local_info(engine, code) if code else {})


def local_info_by_code(bind: Bind, codes: Iterable[str]) -> dict[str, dict[str, str]]:
    """`local_info_for` of several municipalities in one query (for a batch of deliveries)."""
    wanted = sorted(set(codes))
    found: dict[str, dict[str, str]] = {code: {} for code in wanted}
    c = LOCAL_INFO.c
    with connected(bind) as connection:
        rows = connection.execute(
            sa.select(c.municipality_code, c.key, c.value).where(c.municipality_code.in_(wanted))
        ).all()
    for code, key, value in rows:
        if key in LOCAL_INFO_KEYS:  # a key retired from the core is ignored, never an error
            found[code][key] = value
    return {code: local_info(values) for code, values in found.items()}


def sender_labels(bind: Bind, codes: Iterable[str]) -> dict[str, str]:
    """How each municipality marks its own information (〇〇市より), for a batch of codes."""
    m = Municipality.__table__.c
    with connected(bind) as connection:
        rows = connection.execute(
            sa.select(m.code, m.name, m.sender_label).where(m.code.in_(sorted(set(codes))))
        ).all()
    return {code: label or f"{name}より" for code, name, label in rows}


def update_local_info(
    engine: sa.Engine,
    code: str,
    *,
    set_values: Mapping[str, str] | None = None,
    unset: Iterable[str] = (),
    replace: bool = False,
    now: datetime,
) -> dict[str, str]:
    """Set and unset values (an empty value unsets); `replace` drops every value not set.
    Returns what is stored afterwards. Unknown keys are refused before anything changes."""
    municipality = get(engine, code)
    values = check_local_info(set_values or {})
    unset = list(unset)
    check_local_info(dict.fromkeys(unset, ""))
    c = LOCAL_INFO.c
    with engine.begin() as connection:
        mine = c.municipality_code == municipality.code
        if replace:
            connection.execute(LOCAL_INFO.delete().where(mine))
        dropped = set(unset) | {key for key, value in values.items() if not value}
        if dropped:
            connection.execute(LOCAL_INFO.delete().where(mine, c.key.in_(sorted(dropped))))
        for key, value in values.items():
            if not value:
                continue
            connection.execute(LOCAL_INFO.delete().where(mine, c.key == key))
            connection.execute(
                LOCAL_INFO.insert().values(
                    municipality_code=municipality.code, key=key, value=value, updated_at=now
                )
            )
    return stored_local_info(engine, municipality.code)
