"""A realistic population of subscribers, children and follows, written with bulk inserts.

Seeded, so the same arguments give the same rows. Generated in chunks and written as it goes
(never the whole population in memory). The mix: pregnancy and child tracks over every stage
(weighted toward pregnancy and the first years, where people sign up), a few losses, 85% LINE
and 15% email, 20% やさしい日本語, partners and grandparents following the same child, some
siblings, several municipalities and time zones.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

CHUNK = 20_000  # subscribers per written chunk

MUNICIPALITIES = [  # (code, name, prefecture, time zone, delivery hour)
    ("131016", "千代田区", "東京都", None, None),
    ("131130", "渋谷区", "東京都", None, 7),
    ("141003", "横浜市", "神奈川県", "Asia/Tokyo", None),
    ("271004", "大阪市", "大阪府", None, 9),
    ("011002", "札幌市", "北海道", None, None),
    ("231002", "名古屋市", "愛知県", None, 8),
    ("261009", "京都市", "京都府", None, None),
    ("401307", "福岡市", "福岡県", None, 20),
    ("472018", "那覇市", "沖縄県", "Asia/Tokyo", None),
    ("222135", "浜松市", "静岡県", None, None),
    ("112038", "川口市", "埼玉県", None, 12),
    ("342025", "呉市", "広島県", None, None),
]
# Subscribers living (or following a grandchild) abroad, by share of all subscribers.
ZONES = [
    ("Asia/Tokyo", 0.04), ("Asia/Manila", 0.015), ("Asia/Ho_Chi_Minh", 0.015),
    ("Asia/Shanghai", 0.01), ("Asia/Kathmandu", 0.005), ("America/Sao_Paulo", 0.005),
    ("Europe/London", 0.005), ("America/Los_Angeles", 0.005),
]  # fmt: skip
NICKNAMES = ["さくら", "ひなた", "ゆい", "はると", "Maria", "Linh", "Ana", "ミン", "あおい"]
# Born children by age band (days), as a share of born children.
AGE_BANDS = [(0, 91, 0.12), (91, 365, 0.25), (365, 3 * 365, 0.28), (3 * 365, 6 * 365, 0.17),
             (6 * 365, 18 * 365 - 1, 0.18)]  # fmt: skip
STATUSES = [("active", 0.96), ("stopped", 0.02), ("paused", 0.01), ("gone", 0.01)]


@dataclass
class Counts:
    """What was generated."""

    subscribers: int = 0
    children: int = 0
    follows: int = 0
    line: int = 0
    email: int = 0
    easy: int = 0
    by_track: dict[str, int] = field(default_factory=dict)


@dataclass
class Chunk:
    subscribers: list[tuple] = field(default_factory=list)
    children: list[tuple] = field(default_factory=list)
    follows: list[tuple] = field(default_factory=list)


SUBSCRIBER_COLUMNS = (
    "id", "channel", "address", "variant", "locale", "timezone", "delivery_hour",
    "municipality_code", "nickname", "consent_at", "consent_version", "status",
    "status_changed_at", "consecutive_failures", "created_at",
)  # fmt: skip
CHILD_COLUMNS = ("id", "due_date", "birth_date", "status", "loss_date", "created_at")
FOLLOW_COLUMNS = (
    "id", "subscriber_id", "child_id", "role", "may_report", "receives_local_info",
    "loss_support", "since",
)  # fmt: skip
MUNICIPALITY_COLUMNS = ("code", "name", "prefecture", "timezone", "delivery_hour", "created_at")


def pick(rng: random.Random, table: list[tuple[str, float]], default: str | None) -> str | None:
    roll = rng.random()
    for value, share in table:
        if roll < share:
            return value
        roll -= share
    return default


class Generator:
    """Families (a child and its followers) until `subscribers` subscribers exist."""

    def __init__(self, subscribers: int, local_date: date, now: datetime, seed: int) -> None:
        self.total = subscribers
        self.day = local_date
        self.now = naive_utc(now)
        self.rng = random.Random(seed)
        self.counts = Counts()
        self._child_id = 0
        self._follow_id = 0

    def municipalities(self) -> list[tuple]:
        created = self.now - timedelta(days=800)
        return [(*row, created) for row in MUNICIPALITIES]

    def chunks(self) -> Iterator[Chunk]:
        chunk = Chunk()
        while self.counts.subscribers < self.total:
            self._family(chunk)
            if len(chunk.subscribers) >= CHUNK:
                yield chunk
                chunk = Chunk()
        if chunk.subscribers:
            yield chunk

    def _family(self, chunk: Chunk) -> None:
        rng = self.rng
        child = self._child(chunk)
        parent = self._subscriber(chunk)
        self._follow(chunk, parent, child, "parent", own=True, loss=child[3] == "loss")
        for role, share in (("partner", 0.25), ("grandparent", 0.05), ("co_parent", 0.02)):
            if rng.random() < share and self.counts.subscribers < self.total:
                follower = self._subscriber(chunk)
                self._follow(chunk, follower, child, role, own=False, loss=False)
        if rng.random() < 0.06:  # an older sibling
            sibling = self._child(chunk, born_only=True)
            self._follow(chunk, parent, sibling, "parent", own=True, loss=False)

    def _child(self, chunk: Chunk, *, born_only: bool = False) -> tuple:
        rng, day = self.rng, self.day
        self._child_id += 1
        roll = 1.0 if born_only else rng.random()
        loss_date = None
        if roll < 0.36:  # pregnancy, 4w0d … 42w0d today
            track, status, birth = "pregnancy", "expected", None
            due = day + timedelta(days=280 - rng.randint(28, 294))
        elif roll < 0.37:  # a loss reported in the last 90 days
            track, status, birth = "loss", "loss", None
            loss_date = day - timedelta(days=rng.randint(0, 90))
            due = loss_date + timedelta(days=rng.randint(60, 250))
        else:
            track, status = "child", "born"
            low, high, _ = pick_band(rng)
            birth = day - timedelta(days=rng.randint(low, high))
            due = self._due_of(birth)
        self.counts.children += 1
        self.counts.by_track[track] = self.counts.by_track.get(track, 0) + 1
        created = self.now - timedelta(days=rng.randint(1, 300))
        row = (self._child_id, due, birth, status, loss_date, created)
        chunk.children.append(row)
        return row

    def _due_of(self, birth: date) -> date | None:
        rng = self.rng
        if rng.random() < 0.25:
            return None  # registered after the birth, no due date given
        if rng.random() < 0.06:  # preterm: born 28w0d … 36w6d
            return birth + timedelta(days=rng.randint(22, 84))
        return birth + timedelta(days=rng.randint(-14, 14))

    def _subscriber(self, chunk: Chunk) -> tuple[int, datetime]:
        rng = self.rng
        self.counts.subscribers += 1
        sid = self.counts.subscribers
        line = rng.random() < 0.85
        if line:
            self.counts.line += 1
            address = f"U{(sid * 0x9E3779B97F4A7C15F39CC0605CEDC835) % 2**128:032x}"
        else:
            self.counts.email += 1
            address = f"parent{sid}@bench.example"
        variant = "ja-easy" if rng.random() < 0.20 else "ja"
        self.counts.easy += variant == "ja-easy"
        municipality = rng.choice(MUNICIPALITIES)[0] if rng.random() < 0.8 else None
        hour = rng.randint(6, 21) if rng.random() < 0.25 else None
        nickname = rng.choice(NICKNAMES) if rng.random() < 0.35 else None
        created = self.now - timedelta(days=rng.randint(30, 400), seconds=rng.randint(0, 86399))
        status = pick(rng, STATUSES, "active")
        chunk.subscribers.append((
            sid, "line" if line else "email", address, variant, variant,
            pick(rng, ZONES, None), hour, municipality, nickname, created, "bench", status,
            created, 0, created,
        ))  # fmt: skip
        return sid, created

    def _follow(self, chunk: Chunk, subscriber: tuple[int, datetime], child: tuple, role: str,
                *, own: bool, loss: bool) -> None:  # fmt: skip
        self._follow_id += 1
        self.counts.follows += 1
        sid, since = subscriber  # following since they subscribed
        support = loss and self.rng.random() < 0.5
        chunk.follows.append((self._follow_id, sid, child[0], role, own, own, support, since))


def pick_band(rng: random.Random) -> tuple[int, int, float]:
    roll = rng.random()
    for band in AGE_BANDS:
        if roll < band[2]:
            return band
        roll -= band[2]
    return AGE_BANDS[-1]


def naive_utc(moment: datetime) -> datetime:
    """Kizuna stores UTC without an offset; bulk writers get it that way."""
    return moment.astimezone(UTC).replace(tzinfo=None)
