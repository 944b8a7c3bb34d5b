"""Loading message files into the catalog, reporting every problem with its file and line."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import jinja2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kizuna.core.catalog import (
    AgeBasis,
    Audience,
    Catalog,
    Message,
    Review,
    Source,
    parse_at,
)
from kizuna.core.municipality_code import is_code
from kizuna.core.stage import Track
from kizuna.line_body import text_fits
from kizuna.rendering import SENDER_LABEL_MAX, Renderer, from_municipality, sample_contexts

TRACK_DIRS = tuple(track.value for track in Track)
CATEGORIES = (
    "development", "health", "checkup", "vaccination", "procedure",
    "support", "local", "prompt", "loss",
)  # fmt: skip
MUNICIPALITIES_DIR = "municipalities"
VARIANT = re.compile(r"[a-z]{2,3}(-[a-z]+)?")


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with a message file."""

    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


class CatalogError(Exception):
    """The catalog could not be loaded; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class SourceModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://\S+$")


class ReviewModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reviewer: str = Field(min_length=1)
    role: str = Field(min_length=1)
    date: date
    content_hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    note: str = ""


class FrontMatter(BaseModel):
    """The schema of a message file's front matter (see messages/README.md)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9_]+)+$")
    track: Track
    at: str
    variant: str
    audience: Audience = Audience.EVERYONE
    category: str
    age_basis: AgeBasis = AgeBasis.CHRONOLOGICAL
    title: str = Field(min_length=1, max_length=80)
    sources: list[SourceModel] = Field(min_length=1)
    reviews: list[ReviewModel] = Field(default_factory=list)
    municipality: str | None = None  # the code: a municipality's own message

    @field_validator("municipality", mode="before")
    @classmethod
    def _municipality(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            value = f"{value:06d}"  # written unquoted: YAML read a number, and dropped a 0
        if value is not None and not (isinstance(value, str) and is_code(value)):
            raise ValueError("municipality must be a 6-digit local government code")
        return value

    @field_validator("variant")
    @classmethod
    def _variant(cls, value: str) -> str:
        if not VARIANT.fullmatch(value):
            raise ValueError("variant must look like ja or ja-easy")
        return value

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)}")
        return value


def split_front_matter(text: str) -> tuple[str, str, int]:
    """(front matter, body, line where the body starts); ValueError if there is none."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        raise ValueError("file must start with a `---` line opening the front matter")
    for index, line in enumerate(lines[1:], start=1):
        if line.rstrip() == "---":
            body = "\n".join(lines[index + 1 :]).strip("\n") + "\n"
            return "\n".join(lines[1:index]), body, index + 2
    raise ValueError("front matter is not closed by a `---` line")


def key_lines(front: str) -> dict[str, int]:
    """The file line of each top-level front matter key (front matter starts on line 2)."""
    node = yaml.compose(front, Loader=yaml.SafeLoader)
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {key.value: key.start_mark.line + 2 for key, _ in node.value}


def expected_path(front: FrontMatter) -> str:
    """Where a message belongs: `[municipalities/<code>/]<track>/<at>[-<audience>].<variant>.md`."""
    slug = front.at if front.audience is Audience.EVERYONE else f"{front.at}-{front.audience}"
    path = f"{front.track}/{slug}.{front.variant}.md"
    return f"{MUNICIPALITIES_DIR}/{front.municipality}/{path}" if front.municipality else path


def expected_id(front: FrontMatter) -> str:
    """`<track>-<slug>`, after the municipality's code for a municipality's own message."""
    slug = front.at if front.audience is Audience.EVERYONE else f"{front.at}-{front.audience}"
    own = f"{front.track}-{slug}"
    return f"{front.municipality}-{own}" if front.municipality else own


def parse_message(
    text: str, *, path: str, renderer: Renderer
) -> tuple[Message | None, list[Problem]]:
    """Parse and check one file; returns the message (if its schema holds) and its problems."""
    try:
        front_text, body, body_line = split_front_matter(text)
        raw = yaml.safe_load(front_text)
        lines = key_lines(front_text)
    except ValueError as error:
        return None, [Problem(path, 1, f"front matter: {error}")]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1  # the front matter starts on line 2
        return None, [Problem(path, line, f"front matter: {error}")]
    if not isinstance(raw, dict):
        return None, [Problem(path, 1, "front matter must be a mapping of fields")]
    try:
        front = FrontMatter.model_validate(raw)
    except ValidationError as error:
        return None, [
            Problem(path, lines.get(str(e["loc"][0]), 1), f"{_loc(e['loc'])}: {e['msg']}")
            for e in error.errors()
        ]
    problems = []
    try:
        timing = parse_at(front.track, front.at)
    except ValueError as error:
        return None, [Problem(path, lines.get("at", 1), str(error))]
    if front.id != expected_id(front):
        problems.append(Problem(path, lines.get("id", 1), f"id must be {expected_id(front)}"))
    in_municipalities = f"/{MUNICIPALITIES_DIR}/" in f"/{path}"
    if not path.endswith(expected_path(front)) or (in_municipalities and not front.municipality):
        problems.append(Problem(path, 1, f"file must be at messages/{expected_path(front)}"))
    message = Message(
        id=front.id, track=front.track, at=timing, variant=front.variant,
        audience=front.audience, category=front.category, age_basis=front.age_basis,
        title=front.title, body=body, path=path, body_line=body_line,
        sources=tuple(Source(s.title, s.url) for s in front.sources),
        reviews=tuple(Review(**r.model_dump()) for r in front.reviews),
        municipality=front.municipality,
    )  # fmt: skip
    problems.extend(check_body(message, renderer))
    return message, problems


def _loc(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


def check_body(message: Message, renderer: Renderer) -> list[Problem]:
    """Template syntax, unknown variables on every branch, and LINE's length limit."""
    try:
        renderer.compile(message.body)
    except jinja2.TemplateSyntaxError as error:
        line = message.body_line + (error.lineno or 1) - 1
        return [Problem(message.path, line, f"template syntax: {error.message}")]
    if not message.body.strip():
        return [Problem(message.path, message.body_line, "body is empty")]
    for context in sample_contexts():
        try:
            rendered = renderer.render(message, context)
        except jinja2.UndefinedError as error:
            return [Problem(message.path, message.body_line, f"template variable: {error}")]
        except jinja2.TemplateError as error:
            return [Problem(message.path, message.body_line, f"template: {error}")]
        if not rendered.text.strip():
            return [Problem(message.path, message.body_line, "renders to an empty text")]
        if message.municipality:  # sent with the municipality's mark before it
            rendered = from_municipality(rendered, "見" * SENDER_LABEL_MAX)
        if not text_fits(rendered.text):
            return [Problem(message.path, message.body_line, "text is longer than LINE allows")]
    return []


def check_catalog(messages: Iterable[Message]) -> list[Problem]:
    """Problems between files: duplicates, two messages on one day, variants out of step."""
    problems: list[Problem] = []
    seen: dict[tuple[str, str], Message] = {}
    ids_by_timing: dict[object, set[str]] = defaultdict(set)
    variants: dict[str, dict[str, Message]] = defaultdict(dict)
    for message in messages:
        key = (message.id, message.variant)
        if key in seen:
            problems.append(Problem(message.path, 1, f"duplicate of {seen[key].path}"))
            continue
        seen[key] = message
        # A municipality's message may share a day with ours: it is sent beside it.
        ids_by_timing[message.municipality, message.at].add(message.id)
        variants[message.id][message.variant] = message
    for (_, timing), ids in ids_by_timing.items():
        if len(ids) > 1:
            for message_id in sorted(ids)[1:]:
                first = next(iter(variants[message_id].values()))
                problems.append(Problem(first.path, 1, f"same day as {sorted(ids)[0]} ({timing})"))
    for message_id, by_variant in variants.items():
        problems.extend(_variants_in_step(message_id, by_variant))
    return problems


def needs_rereview(message: Message) -> bool:
    """Approved once, but not this body: a "never reviewed" message is merely unreviewed."""
    return bool(message.reviews) and not message.reviewed


def check_reviews(messages: Iterable[Message]) -> list[Problem]:
    """A body changed after its approval. Only `validate` reports it: the catalog still loads,
    and choosing leaves such a message out unless unreviewed content is allowed."""
    return [
        Problem(m.path, m.body_line, "needs re-review: the body changed after it was approved")
        for m in messages
        if needs_rereview(m)
    ]


def _variants_in_step(message_id: str, by_variant: dict[str, Message]) -> list[Problem]:
    problems = []
    for have, need in (("ja", "ja-easy"), ("ja-easy", "ja")):
        if have in by_variant and need not in by_variant:
            problems.append(
                Problem(by_variant[have].path, 1, f"{message_id} has no {need} variant")
            )
    if len({m.age_basis for m in by_variant.values()}) > 1:
        first = next(iter(by_variant.values()))
        problems.append(Problem(first.path, 1, f"variants of {message_id} differ in age_basis"))
    return problems


def message_files(root: Path) -> list[Path]:
    """The message files under a messages folder: the tracks', and each municipality's."""
    folders = [root, *sorted(p for p in (root / MUNICIPALITIES_DIR).glob("*") if p.is_dir())]
    return sorted(
        p for folder in folders for track in TRACK_DIRS for p in (folder / track).rglob("*.md")
    )


def check_files(
    paths: Iterable[Path], *, root: Path, across: bool = True
) -> tuple[list[Message], list[Problem]]:
    """Parse and check files; `across` adds the checks between files (off for a subset)."""
    renderer = Renderer()
    messages, problems = [], []
    for path in paths:
        shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(Problem(shown, 1, f"cannot read: {error}"))
            continue
        message, found = parse_message(text, path=shown, renderer=renderer)
        problems.extend(found)
        if message is not None:
            messages.append(message)
    if across:
        problems.extend(check_catalog(messages))
    return messages, problems


def load_catalog(root: Path, *, fallbacks: dict[str, list[str]] | None = None) -> Catalog:
    """Load and check every message under `root`; raise CatalogError listing all problems."""
    if not root.is_dir():
        raise CatalogError([Problem(str(root), 0, "messages folder not found")])
    messages, problems = check_files(message_files(root), root=root)
    if problems:
        raise CatalogError(problems)
    chains = {variant: tuple(chain) for variant, chain in (fallbacks or {}).items()}
    return Catalog(messages=messages, fallbacks=chains)
