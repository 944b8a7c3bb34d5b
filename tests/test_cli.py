"""The `kizuna` command through typer's runner, with settings from an explicit environment."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from kizuna.cli import app

runner = CliRunner()
# Subscribing records the real time, and a follower gets nothing from before they joined, so
# the send tests use a child who is 7 days old today (Tokyo): the d7 message is due today.
TODAY = datetime.now(ZoneInfo("Asia/Tokyo")).date()
BORN = (TODAY - timedelta(days=7)).isoformat()


@pytest.fixture
def env(settings):
    return {
        "KIZUNA_DATABASE_URL": settings.database_url,
        "KIZUNA_OUTBOX_DIR": str(settings.outbox_dir),
        "KIZUNA_MESSAGES_DIR": str(settings.messages_dir),
        "KIZUNA_TIMEZONE": "Asia/Tokyo",
        "KIZUNA_LINE_BACKEND": "outbox",
        "KIZUNA_EMAIL_BACKEND": "outbox",
    }


def invoke(env, *args):
    return runner.invoke(app, list(args), env=env)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--due-date", "2027-05-01", "--on", "2026-10-20"],
            {
                "track": "pregnancy",
                "days": 87,
                "weeks": 12,
                "day_of_week": 3,
                "label": "妊娠12週3日",
            },
        ),
        (
            ["--birth-date", "2025-05-22", "--on", "2026-11-22"],
            {"track": "child", "days": 549, "months": 18, "years": 1, "label": "1歳6か月"},
        ),
        (
            ["--due-date", "2026-12-31", "--birth-date", "2026-11-05", "--on", "2027-02-05"],
            {
                "track": "child",
                "days": 92,
                "months": 3,
                "years": 0,
                "label": "生後3か月",
                "corrected": {"days": 36, "months": 1, "label": "生後1か月"},
            },
        ),
        (
            ["--birth-date", "2008-11-22", "--on", "2026-11-22"],
            {"track": "ended", "label": "18歳以上（配信は終了）"},
        ),
    ],
)
def test_stage_json(env, args, expected):
    result = invoke(env, "stage", *args, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == expected


def test_stage_label(env):
    result = invoke(env, "stage", "--due-date", "2027-05-01", "--on", "2026-10-20")
    assert result.output.strip() == "妊娠12週3日"


def test_stage_needs_a_date(env):
    assert invoke(env, "stage", "--on", "2026-10-20").exit_code == 2


def test_subscribe_and_send_twice(env, settings):
    ok = invoke(
        env,
        "subscribe",
        "--channel",
        "line",
        "--address",
        "U" + "a" * 32,
        "--birth-date",
        BORN,
        "--nickname",
        "さくら",
    )
    assert ok.exit_code == 0, ok.output
    assert "subscriber 1 follows child 1" in ok.output
    first = invoke(env, "send", "--date", TODAY.isoformat())  # d7
    assert first.exit_code == 0, first.output
    assert "1 newly planned" in first.output and "sent 1" in first.output
    again = invoke(env, "send", "--date", TODAY.isoformat())
    assert "0 newly planned" in again.output and "nothing due" in again.output
    assert len(list((settings.outbox_dir / "line").glob("*.json"))) == 1


def test_dry_run_writes_nothing(env, settings):
    invoke(
        env,
        "subscribe",
        "--channel",
        "line",
        "--address",
        "U" + "a" * 32,
        "--birth-date",
        BORN,
    )
    dry = invoke(env, "send", "--date", TODAY.isoformat(), "--dry-run")
    assert "1 would be planned" in dry.output and "child-d7: 1" in dry.output
    assert not (settings.outbox_dir / "line").exists()
    real = invoke(env, "send", "--date", TODAY.isoformat())
    assert "1 newly planned" in real.output


def test_subscribe_errors_are_named(env):
    result = invoke(
        env,
        "subscribe",
        "--channel",
        "line",
        "--address",
        "nobody",
        "--due-date",
        "2030-01-01",
        "--variant",
        "xx",
    )
    assert result.exit_code == 2
    for text in (
        "--address:",
        "--due-date: the due date is more than 300 days ahead",
        "--variant:",
    ):
        assert text in result.output


def test_bad_date_format_is_refused(env):
    result = invoke(
        env,
        "subscribe",
        "--channel",
        "line",
        "--address",
        "U" + "a" * 32,
        "--due-date",
        "01/05/2027",
    )
    assert result.exit_code == 2


def test_bad_configuration_is_explained(env):
    result = invoke({**env, "KIZUNA_TIMEZONE": "Nowhere/Town"}, "send", "--date", TODAY.isoformat())
    assert result.exit_code == 2
    assert "KIZUNA_TIMEZONE" in result.output and "unknown time zone" in result.output


def test_broken_catalog_stops_before_sending(env, messages_dir):
    (messages_dir / "pregnancy" / "12w0d.ja.md").write_text("broken\n", encoding="utf-8")
    result = invoke(env, "send", "--date", TODAY.isoformat())
    assert result.exit_code == 2
    assert "pregnancy/12w0d.ja.md:1" in result.output


def test_birth_and_loss_commands(env):
    invoke(
        env,
        "subscribe",
        "--channel",
        "line",
        "--address",
        "U" + "a" * 32,
        "--due-date",
        "2027-06-06",
    )
    invoke(env, "send", "--date", "2026-11-22", "--dry-run")
    birth = invoke(env, "children", "birth", "1", "--date", "2026-11-20")
    assert birth.exit_code == 0 and "birth recorded" in birth.output
    assert invoke(env, "children", "loss", "7", "--date", "2026-11-20").exit_code == 2


def test_validate_reports_problems_with_file_and_line(env, messages_dir):
    assert invoke(env, "messages", "validate").exit_code == 0
    (messages_dir / "child" / "d7.ja.md").write_text("---\nid: x\n---\n", encoding="utf-8")
    result = invoke(env, "messages", "validate", str(messages_dir))
    assert result.exit_code == 1
    assert "child/d7.ja.md:2: id:" in result.output


def test_db_upgrade(env):
    result = invoke(env, "db", "upgrade")
    assert result.exit_code == 0 and "up to date" in result.output


def test_send_refuses_without_a_chosen_backend(env):
    bare = {k: v for k, v in env.items() if not k.endswith("_BACKEND")}
    invoke(bare, "subscribe", "--channel", "line", "--address", "U" + "a" * 32,
           "--birth-date", BORN)  # fmt: skip
    result = invoke(bare, "send", "--date", TODAY.isoformat())
    assert result.exit_code == 2
    assert "KIZUNA_LINE_BACKEND=outbox" in result.output
    dry = invoke(env, "send", "--date", TODAY.isoformat(), "--dry-run")
    assert "1 would be planned" in dry.output  # nothing was planned by the refused run
