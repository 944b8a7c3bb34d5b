"""A real message rendered with and without one value of a municipality's local information."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from kizuna.core.catalog import Catalog, Message
from kizuna.core.local_info import local_info
from kizuna.core.status import ChannelName
from kizuna.preview import at_stage
from kizuna.rendering import RenderContext, Renderer


@dataclass(frozen=True, slots=True)
class LocalPreview:
    message_id: str
    title: str
    with_value: str  # the text a resident of this municipality receives
    without_value: str  # the general wording, as if the value were not given


def message_using(catalog: Catalog, key: str, variant: str = "ja") -> Message | None:
    """The earliest message (by track and timing) whose body uses `local.<key>`."""
    using = [m for m in catalog.messages if m.variant == variant and f"local.{key}" in m.body]
    return min(using, key=lambda m: (m.track, m.at.value, m.id), default=None)


def preview(
    catalog: Catalog,
    renderer: Renderer,
    key: str,
    stored: dict[str, str],
    *,
    municipality_name: str,
    today: date,
) -> LocalPreview | None:
    """None when no message uses `key`. `stored` is the municipality's local information."""
    message = message_using(catalog, key)
    if message is None:
        return None
    stage = at_stage(message.track, str(message.at), today).label
    given = local_info(stored)
    without = {**given, key: ""}
    rendered = [
        renderer.render(
            message,
            RenderContext(
                stage_label=stage, channel=ChannelName.LINE,
                municipality_name=municipality_name, local=local,
            ),
        )
        for local in (given, without)
    ]  # fmt: skip
    return LocalPreview(message.id, rendered[0].title, rendered[0].text, rendered[1].text)
