"""Previewing a message exactly as a subscriber would receive it, on LINE or by email."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage

import sqlalchemy as sa
from sqlmodel import Session

from kizuna.channels.base import Envelope
from kizuna.core.catalog import AUDIENCES_BY_ROLE, Catalog, Message, Role, Unit, parse_at
from kizuna.core.stage import Stage, Track, add_months, stage_of_child
from kizuna.core.status import ChannelName
from kizuna.line_body import push_body
from kizuna.mail import MailComposer
from kizuna.models import Municipality
from kizuna.rendering import RenderContext, Renderer

LOCALES = ("ja", "ja-easy", "en")  # a reader of a variant has the UI locale of the same name
PREVIEW_ADDRESS = {ChannelName.LINE: "U0000preview", ChannelName.EMAIL: "preview@kizuna.invalid"}


class PreviewError(LookupError):
    """Nothing to preview for what was asked; the text says why."""


@dataclass(frozen=True, slots=True)
class Found:
    """The message a subscriber would get, and the stage label it is rendered with."""

    message: Message
    stage_label: str
    fallback_from: str | None = None


def at_stage(track: Track, at: str, on: date) -> Stage:
    """A stage that is exactly `at` on `on`, from dates chosen to make it so."""
    timing = parse_at(track, at)
    if track is Track.PREGNANCY:
        stage = stage_of_child(today=on, due_date=on + timedelta(days=280 - timing.value))
    elif track is Track.LOSS:
        stage = stage_of_child(
            today=on, loss_date=on - timedelta(days=timing.value), loss_support=True
        )
    elif timing.unit is Unit.DAY:
        stage = stage_of_child(today=on, birth_date=on - timedelta(days=timing.value))
    else:
        stage = stage_of_child(today=on, birth_date=add_months(on, -timing.value))
    assert stage is not None
    return stage


def find_at(catalog: Catalog, track: Track, at: str, variant: str, on: date) -> Found:
    """The message (any audience) due at `at` on a track, in `variant` or its fallback."""
    timing = parse_at(track, at)
    ids = sorted({m.id for m in catalog.messages if m.at == timing})
    if not ids:
        raise PreviewError(f"no {track} message at {at}")
    variants = catalog.variants_of(ids[0])
    for candidate in (variant, *catalog.fallbacks.get(variant, ())):
        if candidate in variants:
            fallback = None if candidate == variant else variant
            return Found(variants[candidate], at_stage(track, at, on).label, fallback)
    raise PreviewError(f"{ids[0]} has no {variant} variant")


def find_for_child(catalog: Catalog, stage: Stage | None, variant: str, role: Role) -> Found:
    """What planning would choose for a follower in `role`, reviewed or not."""
    if stage is None:
        raise PreviewError("nothing is timed for these dates (the child track ends at 18)")
    choice = catalog.choose(
        stage, audiences=AUDIENCES_BY_ROLE[role], variant=variant, allow_unreviewed=True
    )
    if choice is None:
        raise PreviewError(f"no message is due on {stage.label or stage.track} for a {role}")
    return Found(choice.message, stage.label, choice.fallback_from)


def find(
    catalog: Catalog,
    *,
    on: date,
    variant: str,
    at: str | None = None,
    track: Track | None = None,
    due_date: date | None = None,
    birth_date: date | None = None,
    role: Role = Role.PARENT,
) -> Found:
    """By timing (`at`, on `track`; pregnancy when it is written 12w3d) or by the dates."""
    if at is not None:
        chosen = track or (Track.PREGNANCY if "w" in at else Track.CHILD)
        return find_at(catalog, chosen, at, variant, on)
    if due_date is None and birth_date is None:
        raise PreviewError("give --at, --due-date or --birth-date")
    stage = stage_of_child(today=on, due_date=due_date, birth_date=birth_date)
    return find_for_child(catalog, stage, variant, role)


def context_for(
    found: Found, channel: ChannelName, *, nickname: str = "", municipality_name: str = ""
) -> RenderContext:
    # Local information per municipality is not stored yet: the general wording is shown.
    return RenderContext(
        stage_label=found.stage_label,
        channel=channel,
        nickname=nickname,
        municipality_name=municipality_name,
    )


def line_push(renderer: Renderer, found: Found, context: RenderContext) -> dict[str, object]:
    """The LINE push request body; ValueError when LINE would refuse the text."""
    text = renderer.render(found.message, context).text
    return push_body(PREVIEW_ADDRESS[ChannelName.LINE], [text])


def email(
    renderer: Renderer, composer: MailComposer, found: Found, context: RenderContext, now: datetime
) -> EmailMessage:
    """The complete mail, as the email channel would send it (footer in the variant's locale).

    No subscriber exists, so the footer shows how to stop by mail instead of signed links.
    """
    rendered = renderer.render(found.message, context)
    envelope = Envelope(
        delivery_id=0,
        idempotency_key="preview",
        channel=ChannelName.EMAIL,
        address=PREVIEW_ADDRESS[ChannelName.EMAIL],
        title=rendered.title,
        text=rendered.text,
        html=rendered.html,
        created_at=now,
        locale=found.message.variant if found.message.variant in LOCALES else "ja",
    )
    return composer.compose(envelope)


def municipality_name(engine: sa.Engine, code: str) -> str:
    """The municipality's name from the database; PreviewError when there is none."""
    try:
        with Session(engine) as session:
            municipality = session.get(Municipality, code)
    except sa.exc.OperationalError as error:
        raise PreviewError(f"cannot read municipalities: {error.orig}") from None
    if municipality is None:
        raise PreviewError(f"no municipality with code {code}")
    return municipality.name
