"""What editors do with message files: gather them, validate them, scaffold a new one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kizuna.content import (
    CATEGORIES,
    MUNICIPALITIES_DIR,
    VARIANT,
    Problem,
    check_files,
    check_reviews,
    message_files,
)
from kizuna.core.catalog import AgeBasis, Audience, Catalog, Message, Timing, parse_at
from kizuna.core.municipality_code import is_code
from kizuna.core.stage import Track
from kizuna.front_matter import compose_file

DEFAULT_CATEGORY = {Track.PREGNANCY: "development", Track.CHILD: "development", Track.LOSS: "loss"}
FIRST_LINE = {
    "ja": "{% if nickname %}{{ nickname }}さん、{% endif %}今日で{{ stage_label }}です。",
    "ja-easy": "{% if nickname %}{{ nickname }}さん、{% endif %}きょうで{{ stage_label }}です。",
}


@dataclass
class Checked:
    """Message files read from folders and files, with every problem found."""

    messages: list[Message] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def unreviewed(self) -> int:
        return sum(not m.reviewed for m in self.messages)


def read_targets(targets: list[Path], *, across: bool = True) -> Checked:
    """Parse and check each folder (with the checks between its files) or single file."""
    checked = Checked()
    for target in targets:
        if target.is_dir():
            messages, found = check_files(message_files(target), root=target, across=across)
        elif target.is_file():
            messages, found = check_files([target], root=Path.cwd(), across=False)
        else:
            messages, found = [], [Problem(str(target), 0, "no such file or folder")]
        checked.messages.extend(messages)
        checked.problems.extend(found)
    return checked


def loose_catalog(root: Path, fallbacks: dict[str, list[str]]) -> Catalog:
    """Every message that parses: a preview need not wait for unrelated files to be fixed."""
    messages, _ = check_files(message_files(root), root=root)
    return Catalog(messages=messages, fallbacks={v: tuple(c) for v, c in fallbacks.items()})


def validate(targets: list[Path]) -> Checked:
    """Everything `kizuna messages validate` reports, review freshness included."""
    checked = read_targets(targets)
    checked.problems.extend(check_reviews(checked.messages))
    checked.problems.sort()
    return checked


class ScaffoldError(Exception):
    """The new message would clash with what is there."""


@dataclass(frozen=True, slots=True)
class NewMessage:
    """What `kizuna messages new` is asked for."""

    track: Track
    at: str
    variant: str
    audience: Audience = Audience.EVERYONE
    category: str | None = None
    title: str = "（見出し）"
    municipality: str | None = None  # a municipality's own message (its code)


def scaffold(root: Path, request: NewMessage) -> Path:
    """Write a new message file with complete front matter at its conventional path.

    Refuses a message already there and a second message on the same day of the track.
    A partner variant of the same message lends its category, age basis, title and sources.
    """
    timing = parse_at(request.track, request.at)  # ValueError names the accepted forms
    if not VARIANT.fullmatch(request.variant):
        raise ValueError("variant must look like ja or ja-easy")
    if request.category is not None and request.category not in CATEGORIES:
        raise ValueError(f"category must be one of {', '.join(CATEGORIES)}")
    audience, code = request.audience, request.municipality
    if code is not None and not is_code(code):
        raise ValueError("municipality must be a 6-digit local government code")
    slug = request.at if audience is Audience.EVERYONE else f"{request.at}-{audience}"
    own_id = f"{request.track}-{slug}"
    fields: dict[str, object] = {
        "id": f"{code}-{own_id}" if code else own_id, "track": str(request.track), "at": request.at,
        "variant": request.variant, "audience": str(audience),
        "category": request.category or DEFAULT_CATEGORY[request.track],
        "age_basis": str(AgeBasis.CHRONOLOGICAL), "title": request.title,
        "sources": [], "reviews": [],
    }  # fmt: skip
    partner = _refuse_clash(root, request, str(fields["id"]), timing)
    if partner is not None and request.category is None:
        fields.update(
            category=partner.category, age_basis=str(partner.age_basis), title=partner.title,
            sources=[{"title": s.title, "url": s.url} for s in partner.sources],
        )  # fmt: skip
    if code:
        fields.update(category=request.category or "local", municipality=code)
    folder = root / MUNICIPALITIES_DIR / code if code else root
    path = folder / str(request.track) / f"{slug}.{request.variant}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = FIRST_LINE.get(request.variant, FIRST_LINE["ja"]) + "\n\n（本文）\n"
    with path.open("x", encoding="utf-8") as handle:  # never overwrite a file made meanwhile
        handle.write(compose_file(fields, body))
    return path


def _refuse_clash(
    root: Path, request: NewMessage, message_id: str, timing: Timing
) -> Message | None:
    """Raise ScaffoldError on a clash; return another variant of the same message, if any."""
    partner = None
    for message in check_files(message_files(root), root=root, across=False)[0]:
        if message.id == message_id and message.variant == request.variant:
            raise ScaffoldError(f"{message.id} ({message.variant}) already exists: {message.path}")
        same_day = message.track is request.track and message.at == timing
        if same_day and message.municipality == request.municipality and message.id != message_id:
            raise ScaffoldError(f"{message.id} is already due on {timing}: {message.path}")
        if message.id == message_id:
            partner = message
    return partner
