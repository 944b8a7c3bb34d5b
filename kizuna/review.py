"""Expert review of messages: approvals bound to the body's hash, and what waits for whom."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path

from kizuna.content import check_files, message_files, needs_rereview, split_front_matter
from kizuna.core.catalog import Message, content_hash
from kizuna.core.stage import Track
from kizuna.front_matter import read_fields, set_field, split_file


class ReviewerRole(StrEnum):
    """The expertise a reviewer brings."""

    OBSTETRICIAN = "obstetrician"
    PEDIATRICIAN = "pediatrician"
    MIDWIFE = "midwife"
    DIETITIAN = "dietitian"
    PUBLIC_HEALTH_NURSE = "public-health-nurse"
    EDITOR = "editor"


class ReviewState(StrEnum):
    REVIEWED = "reviewed"
    UNREVIEWED = "unreviewed"  # no one has approved any version
    NEEDS_REREVIEW = "needs re-review"  # approved once, but the body changed since


# Who a never-reviewed message waits for: the experts of its track, or an editor for
# procedures and prompts, which are about paperwork rather than health.
EXPERTS_BY_TRACK = {
    Track.PREGNANCY: (ReviewerRole.OBSTETRICIAN, ReviewerRole.MIDWIFE),
    Track.CHILD: (ReviewerRole.PEDIATRICIAN, ReviewerRole.PUBLIC_HEALTH_NURSE),
    Track.LOSS: (ReviewerRole.MIDWIFE, ReviewerRole.PUBLIC_HEALTH_NURSE),
}
EXPERTS_BY_CATEGORY = {
    "procedure": (ReviewerRole.EDITOR,),
    "prompt": (ReviewerRole.EDITOR,),
    "local": (ReviewerRole.EDITOR,),
}


class ReviewError(Exception):
    """The approval cannot be recorded; the text says why."""


@dataclass(frozen=True, slots=True)
class Approval:
    reviewer: str
    role: ReviewerRole
    on: date
    note: str = ""


def approve(
    root: Path, message_id: str, approval: Approval, *, variants: Iterable[str] = ()
) -> list[Path]:
    """Record an approval of the current body in each chosen variant's file (all by default).

    Only the `reviews` list of those files is rewritten; bodies stay byte-identical. A file
    with problems is refused: an approval is of a message that validates.
    """
    messages, problems = check_files(message_files(root), root=root, across=False)
    chosen = [m for m in messages if m.id == message_id]
    wanted = set(variants)
    if wanted:
        missing = wanted - {m.variant for m in chosen}
        if missing:
            raise ReviewError(f"{message_id} has no variant {', '.join(sorted(missing))}")
        chosen = [m for m in chosen if m.variant in wanted]
    if not chosen:
        raise ReviewError(f"no message {message_id} under {root}")
    broken = [p for p in problems if p.path in {m.path for m in chosen}]
    if broken:
        raise ReviewError("fix these first: " + "; ".join(str(p) for p in broken))
    return [path for message in chosen if (path := _record(root / message.path, approval))]


def _record(path: Path, approval: Approval) -> Path | None:
    """Append the approval to one file; None when this very approval is already there."""
    text = path.read_bytes().decode("utf-8")  # bytes: line endings stay as they are
    parts = split_file(text)
    body = split_front_matter(text)[1]  # the body exactly as the loader hashes it
    record = {
        "reviewer": approval.reviewer, "role": str(approval.role), "date": approval.on,
        "content_hash": content_hash(body), "note": approval.note,
    }  # fmt: skip
    reviews = list(read_fields(parts).get("reviews") or [])
    same = ("reviewer", "role", "content_hash")
    if any(all(r.get(k) == record[k] for k in same) for r in reviews):
        return None
    path.write_bytes(set_field(text, "reviews", [*reviews, record]).encode("utf-8"))
    return path


@dataclass(frozen=True, slots=True)
class Waiting:
    """A message variant that no current approval covers, and who it waits for."""

    message: Message
    state: ReviewState
    roles: tuple[str, ...]
    previous: str  # who approved an earlier body, for a re-review


def state_of(message: Message) -> ReviewState:
    if message.reviewed:
        return ReviewState.REVIEWED
    return ReviewState.NEEDS_REREVIEW if needs_rereview(message) else ReviewState.UNREVIEWED


def waiting(messages: Iterable[Message]) -> list[Waiting]:
    """Every unreviewed variant: a re-review goes back to the roles that approved before."""
    found = []
    for message in sorted(messages, key=lambda m: (m.track, m.at, m.id, m.variant)):
        state = state_of(message)
        if state is ReviewState.REVIEWED:
            continue
        if state is ReviewState.NEEDS_REREVIEW:
            roles = tuple(dict.fromkeys(r.role for r in message.reviews))
            previous = ", ".join(f"{r.reviewer} ({r.role}, {r.date})" for r in message.reviews)
        else:
            default = EXPERTS_BY_TRACK[message.track]
            roles = tuple(map(str, EXPERTS_BY_CATEGORY.get(message.category, default)))
            previous = ""
        found.append(Waiting(message, state, roles, previous))
    return found
