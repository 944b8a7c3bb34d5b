"""Real `kizuna worker` processes against a local LINE peer: killed with SIGKILL at several
points and restarted, or two at once on PostgreSQL: every delivery accepted exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from kizuna import subscriptions
from kizuna.content import load_catalog
from kizuna.db import create_engine, upgrade
from kizuna.models import Delivery
from kizuna.planner import PlanOptions, plan_day
from kizuna.store import SqlStore

KIZUNA = str(Path(sys.executable).parent / "kizuna")
COUNT = 60


def wait_for(condition, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def seed(url: str, messages_dir: Path, channel: str = "line") -> None:
    """COUNT subscribers, each with a child 7 days old, and their deliveries due now."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Asia/Tokyo")).date()
    for n in range(COUNT):
        address = f"U{n:032x}" if channel == "line" else f"parent{n}@example.com"
        request = subscriptions.SubscribeRequest(
            channel, address, birth_date=today - timedelta(days=7)
        )
        subscriptions.subscribe(engine, request, variants={"ja", "ja-easy"},
                                default_timezone="Asia/Tokyo", now=now)  # fmt: skip
    options = PlanOptions(allow_unreviewed=False, default_timezone="Asia/Tokyo", default_hour=0)
    planned = plan_day(SqlStore(engine), load_catalog(messages_dir), today, options, now=now)
    assert planned.planned == COUNT
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path, messages_dir):
    """A database with COUNT deliveries due now, each to its own LINE subscriber."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'workers.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    engine = create_engine(url)
    upgrade(engine)
    seed(url, messages_dir)
    yield url, engine
    engine.dispose()


def worker_env(url: str, peer, messages_dir: Path, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KIZUNA_DATABASE_URL": url,
        "KIZUNA_MESSAGES_DIR": str(messages_dir),
        "KIZUNA_LINE_CHANNEL_ACCESS_TOKEN": peer.state.token,
        "KIZUNA_LINE_API_URL": peer.api_url,
        "KIZUNA_EMAIL_BACKEND": "outbox",
        "KIZUNA_OUTBOX_DIR": str(tmp_path / "outbox"),
        "KIZUNA_CLAIM_SECONDS": "2",
        "KIZUNA_DISPATCH_INTERVAL_SECONDS": "1",
        "KIZUNA_DISPATCH_BATCH_SIZE": "5",
        "KIZUNA_DISPATCH_CONCURRENCY": "2",
    }


def start(env) -> subprocess.Popen:
    return subprocess.Popen([KIZUNA, "worker"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def handles_sigterm(process: subprocess.Popen) -> bool:
    """True once the worker catches SIGTERM (its event loop is running): before that, during
    start-up, the signal ends it as it would any process, with nothing claimed yet."""
    status = Path(f"/proc/{process.pid}/status").read_text()
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & 1 << (signal.SIGTERM - 1))


def all_sent(engine) -> bool:
    with engine.connect() as connection:
        statuses = connection.execute(sa.select(Delivery.status)).scalars().all()
    return statuses == ["sent"] * COUNT


def keys(engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(sa.select(Delivery.idempotency_key)).scalars())


def test_kill_9_at_several_points_loses_nothing_and_sends_nothing_twice(
    database, messages_dir, tmp_path, peer
):
    url, engine = database
    peer.state.delay_seconds = 0.03  # slow enough that a kill lands mid-run
    env = worker_env(url, peer, messages_dir, tmp_path)
    for accepted in (5, 20, 40):
        process = start(env)
        wait_for(lambda n=accepted: len(peer.state.accepted) >= n, what=f"{accepted} pushes")
        process.send_signal(signal.SIGKILL)  # no chance to record what it sent
        process.wait(timeout=10)
    process = start(env)
    try:
        wait_for(lambda: all_sent(engine), what="every delivery to be recorded as sent")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, process.stderr.read()
    recipients = sorted(body["to"] for body in peer.state.accepted.values())
    accepted = set(peer.state.accepted)
    assert accepted == keys(engine)  # zero lost: every delivery's key was accepted
    # Zero duplicates: every resend after a kill reused its key (LINE answered 409), so no
    # user received a second push under a new key.
    assert recipients == sorted(f"U{n:032x}" for n in range(COUNT))


def test_two_workers_on_postgresql_drain_one_outbox_once(postgres, messages_dir, tmp_path, peer):
    url = postgres.new_database()
    engine = create_engine(url)
    upgrade(engine)
    seed(url, messages_dir)
    peer.state.delay_seconds = 0.01
    env = {**worker_env(url, peer, messages_dir, tmp_path), "KIZUNA_CLAIM_SECONDS": "300"}
    workers = [start(env), start(env)]
    try:
        wait_for(lambda: all_sent(engine), what="both workers to drain the outbox")
        # One may drain it all while the other still starts: stop them once both run.
        wait_for(lambda: all(map(handles_sigterm, workers)), what="both workers to run")
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=30) for process in workers]
    answers = [status for _, status in peer.state.answers]
    accepted = set(peer.state.accepted)
    assert codes == [0, 0]
    assert accepted == keys(engine)
    assert answers == [200] * COUNT  # no delivery was ever claimed by both
    engine.dispose()


def test_kill_9_sends_every_mail_and_a_resend_carries_the_same_message_id(
    messages_dir, tmp_path, peer
):
    from collections import Counter

    from mailserver import smtp_server

    url = f"sqlite:///{tmp_path / 'mail.db'}"
    engine = create_engine(url)
    upgrade(engine)
    seed(url, messages_dir, channel="email")
    with smtp_server() as (mailbox, port):
        env = {
            **worker_env(url, peer, messages_dir, tmp_path),
            "KIZUNA_SMTP_HOST": "127.0.0.1", "KIZUNA_SMTP_PORT": str(port),
            "KIZUNA_SMTP_TLS": "none", "KIZUNA_SECRET_KEY": "kill-test-secret",
            "KIZUNA_SENDER_POSTAL_ADDRESS": "東京都千代田区1-1",
            "KIZUNA_SENDER_CONTACT": "info@example.org",
        }  # fmt: skip
        del env["KIZUNA_EMAIL_BACKEND"]  # the SMTP host selects the smtp backend
        for arrived in (5, 25):
            process = start(env)
            wait_for(lambda n=arrived: len(mailbox.arrived) >= n, what=f"{arrived} mails")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        process = start(env)
        try:
            wait_for(lambda: all_sent(engine), what="every mail to be recorded as sent")
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, process.stderr.read()
        ids = Counter(a.mail["Message-ID"] for a in mailbox.arrived)
    assert set(ids) == {f"<{key}@kizuna.invalid>" for key in keys(engine)}  # zero lost
    # SMTP has no retry key: a mail accepted but not yet recorded when its worker is killed
    # arrives once more, with the same Message-ID (mail clients show it once). Never more
    # than once, and only what was in flight: at most two batches of 5 per kill.
    assert max(ids.values()) <= 2
    assert sum(ids.values()) - len(ids) <= 2 * 2 * 5
