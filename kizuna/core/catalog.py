"""The message catalog: which message is due for a stage, an audience and a variant.

Pure: messages arrive already parsed (see `kizuna.content` for the files); nothing here
reads files, renders templates or looks at the clock.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from kizuna.core.stage import Stage, Track


class Audience(StrEnum):
    """Who among a child's followers a message is written for."""

    EVERYONE = "everyone"
    BIRTHING_PARENT = "birthing_parent"
    PARTNER = "partner"


class Role(StrEnum):
    """A follower's relation to the child."""

    PARENT = "parent"  # the pregnant or birthing parent
    PARTNER = "partner"
    CO_PARENT = "co_parent"
    GRANDPARENT = "grandparent"
    OTHER = "other"


AUDIENCES_BY_ROLE: dict[Role, frozenset[Audience]] = {
    Role.PARENT: frozenset({Audience.EVERYONE, Audience.BIRTHING_PARENT}),
    Role.PARTNER: frozenset({Audience.EVERYONE, Audience.PARTNER}),
    Role.CO_PARENT: frozenset({Audience.EVERYONE}),
    Role.GRANDPARENT: frozenset({Audience.EVERYONE}),
    Role.OTHER: frozenset({Audience.EVERYONE}),
}


class AgeBasis(StrEnum):
    """Whether a child message is timed by chronological or corrected age."""

    CHRONOLOGICAL = "chronological"
    CORRECTED = "corrected"


class Unit(StrEnum):
    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True, slots=True, order=True)
class Timing:
    """A parsed `at`: a number of days or of completed months on a track."""

    track: Track
    unit: Unit
    value: int

    def __str__(self) -> str:
        if self.track is Track.PREGNANCY:
            return f"{self.value // 7}w{self.value % 7}d"
        if self.unit is Unit.DAY:
            return f"d{self.value}"
        years, months = divmod(self.value, 12)
        if years == 0:
            return f"{months}m"
        return f"{years}y" if months == 0 else f"{years}y{months}m"


PREGNANCY_AT = re.compile(r"(\d{1,2})w([0-6])d")
DAY_AT = re.compile(r"d(\d{1,4})")
MONTH_AT = re.compile(r"(?:(\d{1,2})y)?(?:(\d{1,2})m)?")
PREGNANCY_FIRST, PREGNANCY_LAST = 4 * 7, 42 * 7  # 4w0d … 42w0d (the birth-report prompt)
CHILD_LAST_MONTH = 18 * 12 - 1


def parse_at(track: Track, text: str) -> Timing:
    """Parse `at` for a track; raise ValueError with the reason when it is not valid.

    Only the canonical spelling is accepted (`1y6m`, not `18m` or `1y06m`), so the file
    name, the id and the timing agree.
    """
    if track is Track.PREGNANCY:
        match = PREGNANCY_AT.fullmatch(text)
        if not match:
            raise ValueError(f"pregnancy `at` must look like 12w3d, got {text!r}")
        days = int(match[1]) * 7 + int(match[2])
        if not PREGNANCY_FIRST <= days <= PREGNANCY_LAST:
            raise ValueError(f"pregnancy `at` must be between 4w0d and 42w0d, got {text!r}")
        timing = Timing(track, Unit.DAY, days)
    elif match := DAY_AT.fullmatch(text):
        timing = Timing(track, Unit.DAY, int(match[1]))
    elif track is Track.CHILD and text and (match := MONTH_AT.fullmatch(text)):
        years, months = int(match[1] or 0), int(match[2] or 0)
        if match[2] is not None and months >= 12:
            raise ValueError(f"child `at` must write 12 months or more with y, got {text!r}")
        timing = Timing(track, Unit.MONTH, years * 12 + months)
        if not 1 <= timing.value <= CHILD_LAST_MONTH:
            raise ValueError(f"child `at` must be between 1m and 17y11m, got {text!r}")
    else:
        forms = "d14, 3m, 1y6m or 6y" if track is Track.CHILD else "d7"
        raise ValueError(f"{track} `at` must look like {forms}, got {text!r}")
    if str(timing) != text:
        raise ValueError(f"`at` must be written {timing}, got {text!r}")
    return timing


def content_hash(body: str) -> str:
    """The hash a review is bound to: any change to the body breaks the approval."""
    return "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Source:
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Review:
    reviewer: str
    role: str
    date: date
    content_hash: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """One variant of one message: its timing, audience, sources, reviews and template body."""

    id: str
    track: Track
    at: Timing
    variant: str
    audience: Audience
    category: str
    age_basis: AgeBasis
    title: str
    body: str
    sources: tuple[Source, ...]
    reviews: tuple[Review, ...] = ()
    path: str = ""
    body_line: int = 1  # line of the file where the body starts, for error reports
    municipality: str | None = None  # a municipality's own message, for its residents only

    @property
    def reviewed(self) -> bool:
        """True when some review was made of exactly this body."""
        current = content_hash(self.body)
        return any(review.content_hash == current for review in self.reviews)


@dataclass(frozen=True, slots=True)
class Choice:
    """The message chosen for a follower on a date, and the variant actually used."""

    message: Message
    requested_variant: str

    @property
    def fallback_from(self) -> str | None:
        return None if self.message.variant == self.requested_variant else self.requested_variant


@dataclass
class Catalog:
    """All messages, indexed by timing, ready to answer "what is due today?"."""

    messages: Sequence[Message]
    fallbacks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _index: dict[tuple[str | None, Timing], dict[str, dict[str, Message]]] = field(
        init=False, repr=False
    )
    _by_id: dict[str, dict[str, Message]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # (municipality or None, timing) -> message id -> variant -> message
        self._index = {}
        for message in self.messages:
            by_id = self._index.setdefault((message.municipality, message.at), {})
            by_id.setdefault(message.id, {})[message.variant] = message
        # message id -> variant -> message (the dispatcher asks for every delivery)
        self._by_id = {i: v for by_id in self._index.values() for i, v in by_id.items()}

    def timings(self) -> set[Timing]:
        """Every timing with a message, Kizuna's own or a municipality's."""
        return {timing for _, timing in self._index}

    def audiences(self) -> dict[Timing, frozenset[Audience]]:
        """Every timing with a message, and whom its messages (all variants) are written for."""
        found: dict[Timing, set[Audience]] = {}
        for (_, timing), by_id in self._index.items():
            found.setdefault(timing, set()).update(
                message.audience for variants in by_id.values() for message in variants.values()
            )
        return {timing: frozenset(audiences) for timing, audiences in found.items()}

    def municipalities(self) -> set[str]:
        """The municipalities with messages of their own."""
        return {code for code, _ in self._index if code is not None}

    def ids(self) -> set[str]:
        return {message.id for message in self.messages}

    def variants_of(self, message_id: str) -> dict[str, Message]:
        return self._by_id[message_id]

    def choose(
        self,
        stage: Stage,
        *,
        audiences: Iterable[Audience],
        variant: str,
        allow_unreviewed: bool,
        municipality: str | None = None,
    ) -> Choice | None:
        """The message due for this stage, audience and variant, or None: from Kizuna's own
        library, or with `municipality`, from that municipality's messages only.

        A variant falls back only along the configured chain; a message whose chosen
        variant is unreviewed is not due unless unreviewed content is allowed.
        """
        wanted = set(audiences)
        candidates: list[Message] = []
        for timing, basis in due_timings(stage):
            for variants in self._index.get((municipality, timing), {}).values():
                message = self._pick_variant(variants, variant)
                if message is None or message.audience not in wanted:
                    continue
                if message.age_basis is not basis and stage.track is Track.CHILD:
                    continue
                if allow_unreviewed or message.reviewed:
                    candidates.append(message)
        if not candidates:
            return None
        # Validation keeps one message per day; should two meet anyway, the audience-specific
        # one is the more relevant, and the id makes the choice stable across runs.
        candidates.sort(key=lambda m: (m.audience is Audience.EVERYONE, m.id))
        return Choice(message=candidates[0], requested_variant=variant)

    def _pick_variant(self, variants: dict[str, Message], variant: str) -> Message | None:
        for candidate in (variant, *self.fallbacks.get(variant, ())):
            if candidate in variants:
                return variants[candidate]
        return None


def due_timings(stage: Stage) -> list[tuple[Timing, AgeBasis]]:
    """The timings that fall on this stage's day, each with the age basis it answers to."""
    if stage.track is not Track.CHILD:
        return [(Timing(stage.track, Unit.DAY, stage.days), AgeBasis.CHRONOLOGICAL)]
    assert stage.age is not None
    corrected = stage.corrected or stage.age
    timings = []
    for basis, age in ((AgeBasis.CHRONOLOGICAL, stage.age), (AgeBasis.CORRECTED, corrected)):
        if age.days >= 0:
            timings.append((Timing(Track.CHILD, Unit.DAY, age.days), basis))
        if age.month_reached_today is not None:
            timings.append((Timing(Track.CHILD, Unit.MONTH, age.month_reached_today), basis))
    return timings
