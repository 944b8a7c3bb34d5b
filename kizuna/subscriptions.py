"""Subscribing parents and recording life events (birth, loss, stop) for their children."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, select

from kizuna import consent
from kizuna.consent import ConsentEvent
from kizuna.core.catalog import Role
from kizuna.core.stage import CHILD_TRACK_YEARS, add_months
from kizuna.core.status import ChannelName, ChildStatus, SubscriberStatus
from kizuna.models import Child, Follow, Municipality, Subscriber
from kizuna.store import cancel_planned, set_subscriber_status

LINE_USER_ID = re.compile(r"U[0-9a-f]{32}")
DUE_DATE_MAX_AHEAD = timedelta(days=300)
DUE_DATE_MAX_PAST = timedelta(days=14)  # 42w0d: the birth-report prompt is still due
EARLIEST_BIRTH_BEFORE_DUE = timedelta(days=280 - 22 * 7)  # born from 22w0d
LATEST_BIRTH_AFTER_DUE = timedelta(days=4 * 7)
NICKNAME_MAX = 40


class SubscribeError(ValueError):
    """Every problem with a subscription request, one line per field."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{name}: {text}" for name, text in problems.items()))


@dataclass(frozen=True, slots=True)
class SubscribeRequest:
    channel: str
    address: str
    due_date: date | None = None
    birth_date: date | None = None
    variant: str = "ja"
    timezone: str | None = None
    nickname: str | None = None
    municipality_code: str | None = None
    consent_version: str = "operator"


@dataclass(frozen=True, slots=True)
class Subscribed:
    subscriber_id: int
    child_id: int


def local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def check_address(channel: ChannelName, address: str) -> str:
    """The address in its canonical form; ValueError saying what is wrong."""
    if channel is ChannelName.LINE:
        if not LINE_USER_ID.fullmatch(address):
            raise ValueError("a LINE user id is U followed by 32 hex digits")
        return address
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(f"not a valid email address ({error})") from None


def check_dates(due: date | None, birth: date | None, today: date) -> dict[str, str]:
    """Problems with a due date and/or birth date, judged on the subscriber's local `today`."""
    problems: dict[str, str] = {}
    if due is None and birth is None:
        return {"date": "give a due date (pregnant) or a birth date (child born)"}
    if birth is not None:
        if birth > today:
            problems["birth_date"] = "the birth date is in the future"
        elif add_months(birth, CHILD_TRACK_YEARS * 12) <= today:
            problems["birth_date"] = "the child is 18 or older: messages end at 18"
        if due is not None and not (
            due - EARLIEST_BIRTH_BEFORE_DUE <= birth <= due + LATEST_BIRTH_AFTER_DUE
        ):
            problems["due_date"] = "due date and birth date are too far apart (birth 22w0d–44w0d)"
    elif due is not None:
        if due > today + DUE_DATE_MAX_AHEAD:
            problems["due_date"] = "the due date is more than 300 days ahead"
        elif due < today - DUE_DATE_MAX_PAST:
            problems["due_date"] = "the due date is over two weeks past: give the birth date"
    return problems


def check_nickname(nickname: str | None) -> str | None:
    if nickname is None or not nickname.strip():
        return None
    nickname = unicodedata.normalize("NFC", nickname.strip())
    if len(nickname) > NICKNAME_MAX:
        raise ValueError(f"the nickname is longer than {NICKNAME_MAX} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in nickname):
        raise ValueError("the nickname contains control characters")
    return nickname


def _check(
    request: SubscribeRequest,
    *,
    session: Session,
    variants: set[str],
    default_timezone: str,
    now: datetime,
    dates: bool,
) -> tuple[ChannelName, str, str | None]:
    problems: dict[str, str] = {}
    address = nickname = None
    channel = ChannelName(request.channel) if request.channel in set(ChannelName) else None
    if channel is None:
        problems["channel"] = "the channel must be line or email"
    else:
        try:
            address = check_address(channel, request.address)
        except ValueError as error:
            problems["address"] = str(error)
    try:
        nickname = check_nickname(request.nickname)
    except ValueError as error:
        problems["nickname"] = str(error)
    if request.variant not in variants:
        problems["variant"] = (
            f"unknown variant {request.variant!r} (one of {', '.join(sorted(variants))})"
        )
    timezone = request.timezone or default_timezone
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems["timezone"] = f"unknown time zone {timezone!r}"
        timezone = default_timezone
    if request.municipality_code and session.get(Municipality, request.municipality_code) is None:
        problems["municipality"] = f"no municipality with code {request.municipality_code}"
    if dates:
        problems.update(
            check_dates(request.due_date, request.birth_date, local_today(now, timezone))
        )
    if (
        address
        and channel
        and session.exec(
            select(Subscriber.id).where(
                Subscriber.channel == channel, Subscriber.address == address
            )
        ).first()
    ):
        problems["address"] = "this address is already subscribed"
    if problems:
        raise SubscribeError(problems)
    return channel, address, nickname


def subscribe(
    engine: sa.Engine,
    request: SubscribeRequest,
    *,
    variants: set[str],
    default_timezone: str,
    now: datetime,
    follow_child: int | None = None,
    role: Role = Role.PARENT,
) -> Subscribed:
    """Add a subscriber following a new child, or the existing `follow_child` in `role`.

    SubscribeError lists every bad value.
    """
    with Session(engine) as session:
        channel, address, nickname = _check(
            request, session=session, variants=variants, default_timezone=default_timezone,
            now=now, dates=follow_child is None,
        )  # fmt: skip
        subscriber = Subscriber(
            channel=channel, address=address, variant=request.variant, nickname=nickname,
            timezone=request.timezone, municipality_code=request.municipality_code or None,
            consent_at=now, consent_version=request.consent_version, created_at=now,
            status=SubscriberStatus.ACTIVE, status_changed_at=now,
        )  # fmt: skip
        session.add(subscriber)
        session.flush()
        if follow_child is None:
            child_id = _add_child(session, request.due_date, request.birth_date, now=now)
        elif session.get(Child, follow_child) is None:
            raise SubscribeError({"child": f"no child {follow_child}"})
        else:
            child_id = follow_child
        # Someone who follows a child they did not register gets no local details unless
        # the registering parent allows it: they can reveal where the child lives.
        session.add(
            Follow(
                subscriber_id=subscriber.id, child_id=child_id, role=role, since=now,
                may_report=follow_child is None, receives_local_info=follow_child is None,
            )
        )  # fmt: skip
        consent.record(session.connection(), subscriber.id, ConsentEvent.GIVEN, at=now,
                       version=request.consent_version)  # fmt: skip
        session.commit()
        return Subscribed(subscriber_id=subscriber.id, child_id=child_id)


def _add_child(session: Session, due: date | None, birth: date | None, *, now: datetime) -> int:
    status = ChildStatus.BORN if birth else ChildStatus.EXPECTED
    child = Child(due_date=due, birth_date=birth, status=status, created_at=now)
    session.add(child)
    session.flush()
    return child.id


def add_child(
    engine: sa.Engine,
    *,
    subscriber_id: int,
    due_date: date | None,
    birth_date: date | None,
    default_timezone: str,
    now: datetime,
) -> int:
    """A further child (a sibling, a twin) followed by an existing subscriber as parent."""
    with Session(engine) as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            raise SubscribeError({"subscriber": f"no subscriber {subscriber_id}"})
        timezone = subscriber.timezone or default_timezone
        problems = check_dates(due_date, birth_date, local_today(now, timezone))
        if problems:
            raise SubscribeError(problems)
        child_id = _add_child(session, due_date, birth_date, now=now)
        session.add(
            Follow(subscriber_id=subscriber_id, child_id=child_id, role=Role.PARENT, since=now)
        )
        session.commit()
        return child_id


def report_birth(
    engine: sa.Engine, *, child_id: int, birth_date: date, due_date: date | None = None
) -> int:
    """Move a child to the child track; planned pregnancy deliveries are cancelled at once.

    A corrected due date may come with the report. Returns how many were cancelled.
    """
    with engine.begin() as connection:
        values: dict[str, object] = {"birth_date": birth_date, "status": ChildStatus.BORN}
        if due_date is not None:
            values["due_date"] = due_date
        _update_child(connection, child_id, values)
        return cancel_planned(
            connection, child_id=child_id, reason="birth reported", track="pregnancy"
        )


def correct_due_date(engine: sa.Engine, *, child_id: int, due_date: date) -> int:
    """A corrected due date re-times the pregnancy: what was planned from the old date is
    cancelled (the caller plans again); a message already sent is never sent again, because
    a delivery is unique per follower, child and message."""
    with engine.begin() as connection:
        _update_child(connection, child_id, {"due_date": due_date})
        return cancel_planned(connection, child_id=child_id, reason="due date corrected")


def report_loss(engine: sa.Engine, *, child_id: int, loss_date: date) -> int:
    """Stop every message about a child for every follower, queued ones included."""
    with engine.begin() as connection:
        _update_child(connection, child_id, {"status": ChildStatus.LOSS, "loss_date": loss_date})
        return cancel_planned(connection, child_id=child_id, reason="loss reported")


def stop(engine: sa.Engine, *, subscriber_id: int, reason: str, now: datetime) -> int:
    """The subscriber stops at once; returns how many planned deliveries were cancelled."""
    with engine.begin() as connection:
        return set_subscriber_status(
            connection, subscriber_id, SubscriberStatus.STOPPED, reason=reason, now=now
        )


def _update_child(connection: sa.Connection, child_id: int, values: dict[str, object]) -> None:
    table = Child.__table__
    updated = connection.execute(table.update().where(table.c.id == child_id).values(**values))
    if updated.rowcount != 1:
        raise LookupError(f"no child {child_id}")


# -- signing up on the web: double opt-in, then the parent's own settings page ---------------


@dataclass(frozen=True, slots=True)
class SignedUp:
    subscriber_id: int
    pending: bool  # False: the address was subscribed already and nothing was changed


def sign_up(
    engine: sa.Engine,
    request: SubscribeRequest,
    *,
    variants: set[str],
    default_timezone: str,
    locale: str,
    now: datetime,
) -> SignedUp:
    """A PENDING subscriber following a new child, activated only by `confirm`.

    An address signed up before but not confirmed is replaced by this request; an address
    already subscribed is left as it is, so the form never tells a stranger whether an address
    is on our list. SubscribeError lists every bad value.
    """
    try:
        address = check_address(ChannelName(request.channel), request.address)
    except ValueError as error:
        raise SubscribeError({"address": str(error)}) from None
    with Session(engine) as session:
        known = session.exec(
            select(Subscriber).where(
                Subscriber.channel == request.channel, Subscriber.address == address
            )
        ).first()
        if known is not None and known.status != SubscriberStatus.PENDING:
            return SignedUp(subscriber_id=known.id, pending=False)
        if known is not None:
            _forget_pending(session, known)
        channel, address, nickname = _check(
            request, session=session, variants=variants, default_timezone=default_timezone,
            now=now, dates=True,
        )  # fmt: skip
        subscriber = Subscriber(
            channel=channel, address=address, variant=request.variant, locale=locale,
            nickname=nickname, timezone=request.timezone,
            municipality_code=request.municipality_code or None, consent_at=now,
            consent_version=request.consent_version, created_at=now,
            status=SubscriberStatus.PENDING, status_changed_at=now,
        )  # fmt: skip
        session.add(subscriber)
        session.flush()
        child_id = _add_child(session, request.due_date, request.birth_date, now=now)
        session.add(Follow(subscriber_id=subscriber.id, child_id=child_id, since=now))
        session.commit()
        return SignedUp(subscriber_id=subscriber.id, pending=True)


def _forget_pending(session: Session, subscriber: Subscriber) -> None:
    """Remove an unconfirmed sign-up and the children only it followed (nothing was sent)."""
    follows = session.exec(select(Follow).where(Follow.subscriber_id == subscriber.id)).all()
    for follow in follows:
        session.delete(follow)
    session.flush()
    for follow in follows:
        others = session.exec(select(Follow.id).where(Follow.child_id == follow.child_id)).first()
        child = session.get(Child, follow.child_id)
        if others is None and child is not None:
            session.delete(child)
    session.delete(subscriber)
    session.flush()


def confirm(engine: sa.Engine, *, subscriber_id: int, now: datetime) -> bool:
    """The double opt-in: a PENDING subscriber becomes active. False when none was pending."""
    table = Subscriber.__table__
    with engine.begin() as connection:
        updated = connection.execute(
            table.update()
            .where(table.c.id == subscriber_id, table.c.status == SubscriberStatus.PENDING,
                   table.c.erased_at.is_(None))
            .values(status=SubscriberStatus.ACTIVE, status_reason="confirmed by the link in "
                    "the confirmation mail", status_changed_at=now)
        )  # fmt: skip
        if updated.rowcount != 1:
            return False
        # Someone enrolled from a municipality's list consents here, by confirming.
        connection.execute(
            table.update()
            .where(table.c.id == subscriber_id, table.c.consent_at.is_(None))
            .values(consent_at=now)
        )
        version = connection.execute(
            sa.select(table.c.consent_version).where(table.c.id == subscriber_id)
        ).scalar()
        consent.record(connection, subscriber_id, ConsentEvent.GIVEN, at=now, version=version)
        return True


@dataclass(frozen=True, slots=True)
class FollowedChild:
    child_id: int
    status: str
    due_date: date | None
    birth_date: date | None
    may_report: bool
    loss_support: bool


@dataclass(frozen=True, slots=True)
class Subscription:
    """What a subscriber's own settings page shows."""

    subscriber_id: int
    status: str
    variant: str
    locale: str
    timezone: str | None
    children: list[FollowedChild]


def subscription(engine: sa.Engine, *, subscriber_id: int) -> Subscription | None:
    """A subscriber's settings; None for an unknown or erased one."""
    with Session(engine) as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None or subscriber.erased_at is not None:
            return None  # an erased subscriber's links lead nowhere
        rows = session.exec(
            select(Child, Follow)
            .join(Follow, Follow.child_id == Child.id)
            .where(Follow.subscriber_id == subscriber_id)
            .order_by(Child.id)
        ).all()
        children = [
            FollowedChild(child.id, child.status, child.due_date, child.birth_date,
                          follow.may_report, follow.loss_support)
            for child, follow in rows
        ]  # fmt: skip
        return Subscription(
            subscriber_id, subscriber.status, subscriber.variant, subscriber.locale,
            subscriber.timezone, children,
        )  # fmt: skip


def change_variant(engine: sa.Engine, *, subscriber_id: int, variant: str, locale: str) -> None:
    """Messages from now on come in `variant`; pages and mail footers in `locale`."""
    table = Subscriber.__table__
    with engine.begin() as connection:
        connection.execute(
            table.update().where(table.c.id == subscriber_id).values(variant=variant, locale=locale)
        )


def set_loss_support(engine: sa.Engine, *, subscriber_id: int, child_id: int, on: bool) -> None:
    """Opt in to (or out of) the gentle support messages after a loss."""
    table = Follow.__table__
    with engine.begin() as connection:
        connection.execute(
            table.update()
            .where(table.c.subscriber_id == subscriber_id, table.c.child_id == child_id)
            .values(loss_support=on)
        )
