"""`kizuna serve` and `kizuna worker` as real processes: health, metrics, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from kizuna import subscriptions
from kizuna.content import load_catalog
from kizuna.models import Delivery
from kizuna.planner import PlanOptions, plan_day
from kizuna.store import SqlStore

KIZUNA = str(Path(sys.executable).parent / "kizuna")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def env(settings):
    return {
        **os.environ,
        "KIZUNA_DATABASE_URL": settings.database_url,
        "KIZUNA_OUTBOX_DIR": str(settings.outbox_dir),
        "KIZUNA_MESSAGES_DIR": str(settings.messages_dir),
        "KIZUNA_LINE_BACKEND": "outbox",
        "KIZUNA_EMAIL_BACKEND": "outbox",
        "KIZUNA_HTTP_PORT": str(free_port()),
    }


def wait_for(condition, timeout=30.0, what="condition"):
    """Poll `condition` until it holds (never a fixed sleep standing in for readiness)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return None


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def test_serve_health_metrics_and_clean_shutdown(env):
    process = subprocess.Popen([KIZUNA, "serve"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{env['KIZUNA_HTTP_PORT']}"
    try:
        status, body = wait_for(lambda: get(f"{base}/healthz"), what="the web app")
        health = json.loads(body)
        assert status == 200 and health["database"] == "ok" and health["scheduler"] == "running"
        wait_for(lambda: "dispatch" in json.loads(get(f"{base}/healthz")[1])["last_success"],
                 what="the first dispatch run")  # fmt: skip
        status, metrics = get(f"{base}/metrics")
        assert status == 200 and "kizuna_run_seconds_count" in metrics
    finally:
        code = stop(process)
    output = process.stdout.read()
    # uvicorn re-raises the signal after a graceful shutdown, so the exit status is SIGTERM's.
    assert code in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output


def test_serve_refuses_without_a_backend(env):
    bare = {k: v for k, v in env.items() if not k.endswith("_BACKEND")}
    result = subprocess.run([KIZUNA, "serve"], env=bare, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "KIZUNA_LINE_BACKEND=outbox" in result.stderr + result.stdout


def test_worker_drains_due_deliveries_and_stops_cleanly(env, engine, messages_dir):
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Asia/Tokyo")).date()
    for n in range(5):
        request = subscriptions.SubscribeRequest(
            "line", f"U{n:032x}", birth_date=today - timedelta(days=7)
        )
        subscriptions.subscribe(engine, request, variants={"ja", "ja-easy"},
                                default_timezone="Asia/Tokyo", now=now)  # fmt: skip
    # Due at midnight local: already due whatever the hour the test runs.
    options = PlanOptions(allow_unreviewed=False, default_timezone="Asia/Tokyo", default_hour=0)
    assert (
        plan_day(SqlStore(engine), load_catalog(messages_dir), today, options, now=now).planned == 5
    )

    def statuses():
        with engine.connect() as connection:
            return sorted(connection.execute(sa.select(Delivery.status)).scalars())

    process = subprocess.Popen([KIZUNA, "worker"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait_for(lambda: statuses() == ["sent"] * 5, what="the worker to send everything")
    finally:
        code = stop(process)
    assert code == 0, process.stdout.read()
    assert len(list(Path(env["KIZUNA_OUTBOX_DIR"], "line").glob("*.json"))) == 5
