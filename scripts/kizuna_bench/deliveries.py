"""What the bench does to the outbox between stages, and the payloads of the bare loops.

Raw SQL on purpose: this is the bench's own bookkeeping (clearing, holding one channel back,
exporting rows), never Kizuna's work being measured.
"""

from __future__ import annotations

import json
import math
import pickle
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from kizuna.channels.base import Channels
from kizuna.claims import claimed_query
from kizuna.config import Settings
from kizuna.core.catalog import Catalog
from kizuna.core.status import ChannelName
from kizuna.db import create_engine
from kizuna.dispatcher import Claimed, Dispatcher, DispatchOptions, Outcome
from kizuna.line_body import push_body
from kizuna.planner import new_key
from kizuna.pushes import Group, form_groups
from kizuna.runtime import mail_composer
from kizuna.store import SqlStore
from kizuna_bench.databases import Target

HELD = "2999-01-01 00:00:00.000000"  # a next attempt far away: the channel waits its turn
MULTICAST_MAX = 500  # recipients per multicast request (LINE's limit)
COLUMNS = (
    "subscriber_id", "child_id", "message_id", "track", "variant", "fallback_from",
    "stage_label", "local_date", "due_at", "status", "idempotency_key", "attempts",
    "next_attempt_at", "claimed_by", "claimed_until", "last_error", "skip_reason", "sent_at",
    "created_at",
)  # fmt: skip
OF_CHANNEL = "subscriber_id IN (SELECT id FROM subscriber WHERE channel = '{}')"


def execute(target: Target, *statements: str) -> None:
    connection = target.connect()
    try:
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()


def scalar(target: Target, query: str) -> int:
    connection = target.connect()
    try:
        return connection.execute(query).fetchone()[0]
    finally:
        connection.close()


def clear(target: Target) -> None:
    execute(target, "DELETE FROM delivery" if target.kind == "sqlite" else "TRUNCATE delivery")
    if target.kind == "postgresql":
        execute(target, "VACUUM ANALYZE delivery")


def analyze(target: Target) -> None:
    execute(target, "ANALYZE delivery" if target.kind == "postgresql" else "ANALYZE")


def statuses(target: Target) -> dict[str, int]:
    connection = target.connect()
    try:
        rows = connection.execute("SELECT status, count(*) FROM delivery GROUP BY status")
        return {status: count for status, count in rows.fetchall()}
    finally:
        connection.close()


def by_channel(target: Target) -> dict[str, int]:
    connection = target.connect()
    try:
        rows = connection.execute(
            "SELECT s.channel, count(*) FROM delivery d JOIN subscriber s ON s.id = d.subscriber_id"
            " GROUP BY s.channel"
        )
        return {channel: count for channel, count in rows.fetchall()}
    finally:
        connection.close()


def open_count(target: Target) -> int:
    """Deliveries still to send, not counting a held channel's."""
    held = HELD if target.kind == "sqlite" else "2999-01-01"
    return scalar(target, "SELECT count(*) FROM delivery WHERE status IN ('planned', 'sending') "
                          f"AND next_attempt_at < '{held}'")  # fmt: skip


def hold(target: Target, channel: str) -> None:
    held = HELD if target.kind == "sqlite" else "2999-01-01"
    execute(target, f"UPDATE delivery SET next_attempt_at = '{held}' "
                    f"WHERE status = 'planned' AND {OF_CHANNEL.format(channel)}")  # fmt: skip


def release(target: Target, channel: str) -> None:
    execute(target, "UPDATE delivery SET next_attempt_at = due_at "
                    f"WHERE status = 'planned' AND {OF_CHANNEL.format(channel)}")  # fmt: skip


def back_to_planned(target: Target) -> None:
    """The day's deliveries unsent again (the peers forget their keys too)."""
    execute(target, "UPDATE delivery SET status = 'planned', attempts = 0, "
                    "next_attempt_at = due_at, claimed_by = NULL, claimed_until = NULL, "
                    "last_error = NULL, sent_at = NULL, push_key = NULL, "
                    "multicast = FALSE")  # fmt: skip


def export(target: Target, folder: Path) -> Path:
    """The planned rows exactly as stored, for the bare insert of the same rows."""
    connection = target.connect()
    try:
        query = f"SELECT {', '.join(COLUMNS)} FROM delivery ORDER BY id"
        if target.kind == "sqlite":
            path = folder / "deliveries.pickle"
            with open(path, "wb") as file:
                pickle.dump((COLUMNS, connection.execute(query).fetchall()), file)
            return path
        path = folder / "deliveries.copy"
        with (
            open(path, "wb") as file,
            connection.cursor() as cursor,
            cursor.copy(f"COPY ({query}) TO STDOUT") as copy,
        ):
            for data in copy:
                file.write(data)
        return path
    finally:
        connection.close()


@dataclass
class Payloads:
    """The bare loops' inputs: what Kizuna sends today, byte for byte."""

    line_file: Path
    mail_file: Path
    line: int  # LINE push requests (a subscriber's messages of the day go in one)
    line_deliveries: int
    mail: int
    multicast_groups: int  # distinct texts (tuples of texts) among the pushes
    multicast_requests: int  # requests if every identical push went in one multicast of ≤ 500
    multicast_bound: int  # the target: one request per 450 recipients of an identical text
    largest_group: int


def payloads(url: str, settings: Settings, catalog: Catalog, folder: Path) -> Payloads:
    """Render, group and compose every planned delivery with the dispatcher's own code (its
    private preparing method, the store's claim query, `kizuna.pushes`), so that the bare
    loops send the same requests and bytes."""
    engine = create_engine(url)
    options = DispatchOptions(worker="bench", allow_unreviewed=settings.allow_unreviewed)
    dispatcher = Dispatcher(SqlStore(engine), catalog, Channels(), options)
    composer = mail_composer(settings)
    now = datetime.now(UTC)
    line: list[Claimed] = []
    texts: dict[int, str] = {}
    mails: list[tuple[str, str, bytes]] = []
    with engine.connect() as connection:
        ids = connection.execute(sa.text("SELECT id FROM delivery ORDER BY id")).scalars().all()
        for offset in range(0, len(ids), 1000):
            for row in connection.execute(claimed_query(ids[offset : offset + 1000])):
                claimed = replace(Claimed(*row), fresh=True)
                rendered = dispatcher._prepare(claimed, now)
                if isinstance(rendered, Outcome):
                    continue
                if claimed.channel == ChannelName.LINE:
                    line.append(claimed)
                    texts[claimed.delivery_id] = rendered.text
                else:
                    alone = Group((claimed,), claimed.idempotency_key)
                    envelope = dispatcher._envelope(alone, {claimed.delivery_id: rendered}, now)
                    data = composer.to_bytes(composer.compose(envelope))
                    mails.append((composer.sender_address, envelope.address, data))
    engine.dispose()
    pushes = form_groups(line, texts, per_push=5, per_multicast=0, new_key=new_key)
    line_file = folder / "line.jsonl"
    with open(line_file, "w", encoding="utf-8") as out:
        for group in pushes:
            body = push_body(
                group.members[0].address, [texts[m.delivery_id] for m in group.members]
            )
            out.write(json.dumps(body) + "\n")
    mail_file = folder / "mails.pickle"
    with open(mail_file, "wb") as file:
        pickle.dump(mails, file)
    identical = Counter(tuple(texts[m.delivery_id] for m in group.members) for group in pushes)
    return Payloads(
        line_file=line_file, mail_file=mail_file, line=len(pushes), line_deliveries=len(line),
        mail=len(mails), multicast_groups=len(identical),
        multicast_requests=sum(math.ceil(n / MULTICAST_MAX) for n in identical.values()),
        multicast_bound=sum(math.ceil(n / 450) for n in identical.values()),
        largest_group=max(identical.values(), default=0),
    )  # fmt: skip


def split(path: Path, parts: int) -> list[Path]:
    """A payload file cut into `parts` files, for one bare process each."""
    if parts == 1:
        return [path]
    if path.suffix == ".jsonl":
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        pieces = [lines[n::parts] for n in range(parts)]
        out = [path.with_suffix(f".{n}.jsonl") for n in range(parts)]
        for target, piece in zip(out, pieces, strict=True):
            target.write_text("".join(piece), encoding="utf-8")
        return out
    with open(path, "rb") as file:
        items = pickle.load(file)
    out = [path.with_suffix(f".{n}.pickle") for n in range(parts)]
    for n, target in enumerate(out):
        with open(target, "wb") as file:
            pickle.dump(items[n::parts], file)
    return out
