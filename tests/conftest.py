"""Shared fixtures: a fresh database, a small messages folder, settings built explicitly."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from kizuna.config import Settings
from kizuna.core.catalog import content_hash
from kizuna.db import create_engine, upgrade

NOW = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo


def message_text(*, body: str = "{{ stage_label }}です。", reviewed: bool = False, **fields) -> str:
    """A message file's text; `fields` override the front matter."""
    front = {
        "id": "pregnancy-12w0d", "track": "pregnancy", "at": "12w0d", "variant": "ja",
        "audience": "everyone", "category": "development", "age_basis": "chronological",
        "title": "見出し", "sources": [{"title": "出典", "url": "https://www.cfa.go.jp/"}],
        "reviews": [],
    }  # fmt: skip
    front.update(fields)
    body = body.strip("\n") + "\n"
    if reviewed:
        front["reviews"] = [{
            "reviewer": "Test Reviewer", "role": "midwife", "date": "2026-11-01",
            "content_hash": content_hash(body),
        }]  # fmt: skip
    return "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n" + body


def write_message(root: Path, *, variants=("ja", "ja-easy"), **fields) -> list[Path]:
    """Write a message in each variant at its conventional path; returns the paths."""
    paths = []
    track, at = fields.get("track", "pregnancy"), fields.get("at", "12w0d")
    audience = fields.get("audience", "everyone")
    slug = at if audience == "everyone" else f"{at}-{audience}"
    code = fields.get("municipality")  # a municipality's own message
    fields.setdefault("id", f"{code}-{track}-{slug}" if code else f"{track}-{slug}")
    folder = root / "municipalities" / code / track if code else root / track
    for variant in variants:
        path = folder / f"{slug}.{variant}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(message_text(variant=variant, **fields), encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture
def messages_dir(tmp_path: Path) -> Path:
    """A small, valid library: a few pregnancy, child and loss messages in both variants."""
    root = tmp_path / "messages"
    write_message(root, track="pregnancy", at="12w0d", reviewed=True)
    write_message(root, track="pregnancy", at="12w1d", audience="birthing_parent", reviewed=True)
    write_message(root, track="pregnancy", at="12w3d", audience="partner", reviewed=True)
    write_message(root, track="pregnancy", at="13w0d")  # unreviewed
    write_message(
        root,
        track="child",
        at="d7",
        reviewed=True,
        body="{% if nickname %}{{ nickname }}さん、{% endif %}"
        "{{ stage_label }}。｜赤《あか》ちゃん",
    )
    write_message(
        root, track="child", at="3m", age_basis="corrected", category="development", reviewed=True
    )
    write_message(root, track="child", at="d70", category="vaccination", reviewed=True)
    write_message(root, track="loss", at="d1", category="loss", reviewed=True)
    return root


@pytest.fixture
def settings(tmp_path: Path, messages_dir: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'kizuna.db'}",
        outbox_dir=tmp_path / "outbox",
        messages_dir=messages_dir,
        timezone="Asia/Tokyo",
        secret_key="test-secret",
        line_backend="outbox",
        email_backend="outbox",
    )


@pytest.fixture
def engine(settings: Settings):
    engine = create_engine(settings.database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the whole run (skipped, saying why, where it cannot start)."""
    from pg import MISSING, PostgresServer, bindir

    if bindir() is None:
        pytest.skip(MISSING)
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request, tmp_path):
    """An upgraded engine on SQLite and on PostgreSQL, for storage that must behave the same."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'any.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    engine = create_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


SPEC = Path(__file__).resolve().parents[2] / "shared" / "line-openapi" / "messaging-api.strict.yml"
PRISM = Path(os.environ.get("KIZUNA_PRISM_DIR", Path.home() / ".cache" / "kizuna-prism"))
PRISM_BIN = PRISM / "node_modules" / ".bin" / "prism"


@pytest.fixture(scope="session")
def line_peer_session():
    from line_peer import LinePeer

    with LinePeer() as running:
        yield running


@pytest.fixture(scope="session")
def prism(line_peer_session):
    """Prism in proxy mode with LINE's official spec in front of the peer: every request the
    suite sends to LINE is validated against it (422 when invalid). None where unavailable."""
    from pg import free_port

    if not SPEC.is_file() or not PRISM_BIN.is_file():
        yield None
        return
    port = free_port()
    process = subprocess.Popen(
        [str(PRISM_BIN), "proxy", "-h", "127.0.0.1", "-p", str(port), "--errors", str(SPEC),
         line_peer_session.url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # readiness, polled
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    # One request before the tests: Prism's first answer is slow while it warms up.
    warm_up = urllib.request.Request(
        f"{url}/v2/bot/message/quota",
        headers={"Authorization": f"Bearer {line_peer_session.state.token}"},
    )
    urllib.request.urlopen(warm_up, timeout=30).read()
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def peer(line_peer_session, prism):
    """The LINE peer, reset; its `api_url` goes through Prism where Prism is available."""
    line_peer_session.reset()
    line_peer_session.api_url = prism or line_peer_session.url
    yield line_peer_session
