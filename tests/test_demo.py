"""`kizuna demo`: every sample gets today's message in the outbox, in a form that parses."""

from __future__ import annotations

import json
from datetime import date
from email import policy
from email.parser import BytesParser

import pytest
from conftest import NOW
from rich.console import Console
from typer.testing import CliRunner

from kizuna.cli import app
from kizuna.demo import SAMPLES, print_demo, run_demo


@pytest.mark.parametrize(
    ("today", "without"),
    # On 29 February no yearly message can fall for a child not born on a 29 February:
    # the 17-year-old sample has nothing that day.
    [(date(2026, 11, 22), 0), (date(2027, 2, 28), 0), (date(2028, 2, 29), 1)],
)
def test_demo_sends_every_sample_a_message(tmp_path, today, without):
    result = run_demo(tmp_path / "demo", today=today, now=NOW, timezone="Asia/Tokyo")
    sent = [row for row in result.rows if row.file != "—"]
    assert len(result.rows) == len(SAMPLES) + 2  # the twins' second child and the partner
    parents = {row.who for row in sent if "けんた" not in row.who}
    assert len(parents) == len(SAMPLES) - without  # every registering parent has a message
    for row in sent:
        path = tmp_path / "demo" / row.file
        if row.channel == "line":
            body = json.loads(path.read_text(encoding="utf-8"))["request"]
            assert body["messages"][0]["text"]
        else:
            mail = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            assert mail.get_body(preferencelist=("plain",)).get_content().strip()
    assert {row.variant for row in sent} == {"ja", "ja-easy"}
    assert {row.channel for row in sent} == {"line", "email"}


def test_demo_twins_get_two_files(tmp_path):
    result = run_demo(tmp_path, today=date(2026, 11, 22), now=NOW, timezone="Asia/Tokyo")
    twins = [row for row in result.rows if "そら" in row.who]
    assert len(twins) == 2 and all(row.file != "—" for row in twins)


def test_demo_starts_fresh_and_says_content_is_unreviewed(tmp_path):
    run_demo(tmp_path, today=date(2026, 11, 22), now=NOW, timezone="Asia/Tokyo")
    result = run_demo(tmp_path, today=date(2026, 11, 22), now=NOW, timezone="Asia/Tokyo")
    files = list((tmp_path / "outbox").rglob("*.*"))
    assert len(files) == len({r.file for r in result.rows if r.file != "—"})
    console = Console(record=True, width=200)
    print_demo(result, console)
    text = console.export_text()
    assert "no doctor, midwife or other expert has reviewed them" in text
    assert "KIZUNA_ALLOW_UNREVIEWED=true" in text


def test_demo_command(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path), "--date", "2026-11-22"])
    assert result.exit_code == 0, result.output
    assert "妊娠" in result.output and "outbox/line/" in result.output
