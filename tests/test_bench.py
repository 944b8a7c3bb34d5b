"""The benchmark (scripts/bench): a smoke run on a few hundred subscribers checks that it runs
and that its counts add up, on each database. Never its speed: that is BENCHMARKS.md's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))

from kizuna_bench.population import Generator  # noqa: E402


def test_the_population_has_the_mix_asked_for():
    generator = Generator(20_000, date(2026, 11, 20), datetime(2026, 11, 22, tzinfo=UTC), 7)
    chunks = list(generator.chunks())
    counts = generator.counts
    subscribers = [s for chunk in chunks for s in chunk.subscribers]
    follows = [f for chunk in chunks for f in chunk.follows]
    assert counts.subscribers == len(subscribers) == 20_000
    assert len({s[0] for s in subscribers}) == 20_000  # ids
    assert len({(s[1], s[2]) for s in subscribers}) == 20_000  # addresses
    assert 0.83 < counts.line / counts.subscribers < 0.87
    assert 0.18 < counts.easy / counts.subscribers < 0.22
    assert set(counts.by_track) == {"pregnancy", "child", "loss"}
    assert {f[3] for f in follows} == {"parent", "partner", "grandparent", "co_parent"}
    assert len({s[5] for s in subscribers}) > 5  # time zones
    assert len({s[7] for s in subscribers}) > 10  # municipalities


def bench(tmp_path: Path, *args: str) -> dict:
    """A run in temporary folders of its own, which it removes. (Not under `tmp_path`: as
    root, PostgreSQL's files are the `postgres` user's, who may not enter pytest's folders.)"""
    out = tmp_path / "results.json"
    before = set(Path(tempfile.gettempdir()).glob("kizuna-bench-*"))
    env = {**os.environ, "PYTHONPATH": str(SCRIPTS)}
    done = subprocess.run(
        [sys.executable, "-m", "kizuna_bench", "--subscribers", "300", "--runs", "1",
         "--json", str(out), *args],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert "| target | value | goal | met |" in done.stdout
    # Its database, the bare loops' payloads and PostgreSQL's cluster are gone.
    assert set(Path(tempfile.gettempdir()).glob("kizuna-bench-*")) <= before
    return json.loads(out.read_text(encoding="utf-8"))


def test_a_small_run_counts_add_up(tmp_path):
    """One run over SQLite and, where its binaries are installed, PostgreSQL (1 and 2 workers)."""
    kinds = ["sqlite"]
    if list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        kinds.append("postgresql")
    else:  # the SQLite half still runs
        print("PostgreSQL server binaries not found (Debian package `postgresql`): SQLite only")
    results = bench(tmp_path, "--databases", ",".join(kinds), "--workers", "1,2")
    [run] = results["runs"]
    for kind in kinds:
        check_database(results, run, kind, ["1", "2"] if kind == "postgresql" else ["1"])
    due = results["databases"]["sqlite"]["by_channel"]
    payloads = results["payloads"]
    for n in ["1", "2"] if "postgresql" in kinds else ["1"]:
        assert run["bare_line"][n]["count"] == run["bare_line"][n]["peer"]["accepted"]
        assert run["bare_line"][n]["count"] == payloads["line"]  # the same pushes as Kizuna's
        assert run["bare_smtp"][n]["count"] == run["bare_smtp"][n]["peer"]["messages"]
        assert run["bare_smtp"][n]["count"] == due["email"]
    assert (payloads["line_deliveries"], payloads["mail"]) == (due["line"], due["email"])
    assert payloads["multicast_groups"] <= payloads["multicast_requests"] <= payloads["line"]
    assert payloads["multicast_requests"] <= payloads["multicast_bound"]
    multicast = results["multicast"]  # every LINE delivery again, in multicast mode
    pushed = run["sqlite"]["dispatch"]["1"]["line"]["peer"]
    assert multicast["peer"]["recipients"] == pushed["recipients"]
    assert multicast["peer"]["conflicts"] == multicast["peer"]["refused"] == 0
    assert payloads["multicast_requests"] <= multicast["count"] <= payloads["line"]
    processes = results["summary"]["processes"]
    assert all(p["cpu"] > 0 and p["peak_rss_mb"] > 0 for p in processes if "kizuna" in p["process"])


def check_database(results: dict, run: dict, kind: str, workers: list[str]) -> None:
    population = results["databases"][kind]
    assert population["subscribers"] == 300
    due = population["by_channel"]
    assert due["line"] > 0 and due["email"] > 0  # the seeded mix has both today
    record = run[kind]
    planned = sum(due.values())
    assert record["plan"]["planned"] == record["bare_insert"]["count"] == planned
    assert record["by_channel"] == due
    assert sorted(record["dispatch"]) == workers
    for count, dispatch in record["dispatch"].items():
        assert dispatch["statuses"] == {"sent": planned}, count  # every delivery, once
        line, email = dispatch["line"], dispatch["email"]
        assert line["count"] == results["payloads"]["line"]  # pushes: one per subscriber
        assert line["peer"]["recipients"] <= due["line"]
        assert line["peer"]["conflicts"] == line["peer"]["refused"] == 0
        assert email["count"] == email["peer"]["message_ids"] == due["email"]
        started = [p for p in line["processes"] if p["name"].startswith("kizuna worker")]
        assert len(started) == int(count)
    targets = {t["target"] for t in results["summary"]["targets"]}
    assert any(t.startswith(f"plan on {kind}") for t in targets)
