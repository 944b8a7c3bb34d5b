"""`kizuna messages review …`, `export` and `import` through typer's runner."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kizuna.cli import app
from kizuna.content import load_catalog

runner = CliRunner()
APPROVE = ("review", "approve", "pregnancy-13w0d", "--reviewer", "山田", "--role", "obstetrician",
           "--variant", "ja", "--date", "2026-11-20")  # fmt: skip


@pytest.fixture
def env(settings):
    return {
        "KIZUNA_DATABASE_URL": settings.database_url,
        "KIZUNA_MESSAGES_DIR": str(settings.messages_dir),
        "COLUMNS": "200",
    }


def invoke(env, *args: str):
    return runner.invoke(app, ["messages", *args], env=env)


def test_review_approve_and_status(env, messages_dir):
    status = invoke(env, "review", "status")
    assert status.exit_code == 0, status.output
    assert "waiting for obstetrician or midwife: 2" in status.output
    result = invoke(env, *APPROVE)
    assert result.exit_code == 0, result.output
    assert "approved:" in result.output
    message = load_catalog(messages_dir).variants_of("pregnancy-13w0d")["ja"]
    assert message.reviewed and message.reviews[0].reviewer == "山田"
    assert "waiting for obstetrician or midwife: 1" in invoke(env, "review", "status").output
    again = invoke(env, *APPROVE)
    assert "nothing changed" in again.output


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (["nope-1", "--reviewer", "A", "--role", "midwife"], 2, "no message nope-1"),
        (["pregnancy-13w0d", "--reviewer", "A", "--role", "nurse"], 2, "Invalid value"),
    ],
)
def test_review_approve_refuses(env, args, code, error):
    result = invoke(env, "review", "approve", *args)
    assert result.exit_code == code
    assert error in result.output


def test_export_import_round_trip(env, messages_dir, tmp_path):
    before = {p: p.read_bytes() for p in messages_dir.rglob("*.md")}
    target = tmp_path / "catalog.csv"
    assert invoke(env, "export", str(target)).exit_code == 0
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    result = invoke(env, "import", str(target))
    assert result.exit_code == 0, result.output
    assert "0 changed, 0 new, 16 unchanged" in result.output
    assert {p: p.read_bytes() for p in messages_dir.rglob("*.md")} == before
    stdout = invoke(env, "export")
    assert stdout.output.startswith("path,id,track,at,variant")


def edit_csv(path: Path, target: str, **cells: str) -> None:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["path"] == target:
            row.update(cells)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_import_changes_what_changed_and_refuses_problems(env, messages_dir, tmp_path):
    target = tmp_path / "catalog.csv"
    invoke(env, "export", str(target))
    edit_csv(target, "child/d70.ja.md", title="予防接種のころ")
    dry = invoke(env, "import", "--dry-run", str(target))
    assert (
        "changed: child/d70.ja.md" in dry.output and "1 changed, 0 new, 15 unchanged" in dry.output
    )
    assert "予防接種のころ" not in (messages_dir / "child" / "d70.ja.md").read_text()
    assert invoke(env, "import", str(target)).exit_code == 0
    assert 'title: "予防接種のころ"' in (messages_dir / "child" / "d70.ja.md").read_text()
    edit_csv(target, "child/d70.ja.md", title="また変える", category="news")
    refused = invoke(env, "import", str(target))
    assert refused.exit_code == 1
    assert "child/d70.ja.md:7: category" in refused.output and "nothing written" in refused.output
    assert "また変える" not in (messages_dir / "child" / "d70.ja.md").read_text()
