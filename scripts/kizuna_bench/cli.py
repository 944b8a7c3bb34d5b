"""The bench's command line and the order of its stages (see BENCHMARKS.md)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from kizuna.config import Settings
from kizuna.content import load_catalog
from kizuna_bench import deliveries, report, stages
from kizuna_bench.databases import PostgresCluster, Target, create_schema, load, sqlite_target
from kizuna_bench.population import Generator

SETTINGS = {
    "allow_unreviewed": "true",  # the starter library is unreviewed
    "timezone": "Asia/Tokyo",
    "delivery_hour": "8",
    "line_rate_per_second": "2000",  # the most a process may be allowed
    "dispatch_interval_seconds": "1",
    "stale_after_days": "7",  # the bench's day lies in the past; it must not count as stale
    "secret_key": "bench-secret",
    "sender_postal_address": "〒100-0001 東京都千代田区千代田1-1（bench）",
    "sender_contact": "bench@kizuna.invalid",
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="medians of this many runs")
    parser.add_argument("--date", type=date.fromisoformat,
                        help="the local date planned (default: two days ago, so every "
                             "delivery hour in every zone has passed)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--workers", default="1,2", help="worker counts on PostgreSQL")
    parser.add_argument("--concurrency", type=int, default=16, help="sends in flight per process")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--pool-size", type=int, default=4, help="SMTP connections per process")
    parser.add_argument("--workdir", type=Path, help="default: a new temporary folder")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument("--markdown", type=Path, help="write the results tables here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    # Stopped with SIGTERM, the bench still stops its peers, workers and PostgreSQL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    day = args.date or datetime.now(UTC).date() - timedelta(days=2)
    # A folder of our own goes when the bench ends: at 1,000,000 subscribers it holds 800 MB
    # (the SQLite database, the bare loops' payloads). One given with --workdir stays.
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kizuna-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    settings = {**SETTINGS, "dispatch_concurrency": str(args.concurrency),
                "dispatch_batch_size": str(args.batch_size),
                "smtp_pool_size": str(args.pool_size)}  # fmt: skip
    kinds = [kind.strip() for kind in args.databases.split(",") if kind.strip()]
    pg_workers = [int(n) for n in args.workers.split(",")]
    results: dict = {"config": {**vars(args), "date": day.isoformat(), "settings": settings,
                                "python": sys.version.split()[0], "cpus": os.cpu_count(),
                                "load_before": os.getloadavg()},
                     "databases": {}, "runs": []}  # fmt: skip
    world = stages.World(workdir, settings).start()
    cluster = PostgresCluster().start() if "postgresql" in kinds else None
    try:
        targets, exports = {}, {}
        for kind in kinds:
            target = sqlite_target(workdir) if kind == "sqlite" else cluster.target("kizuna_bench")
            targets[kind] = target
            results["databases"][kind], exports[kind] = prepare(world, target, args, day)
        first = targets[kinds[0]]
        say(f"rendering today's {sum(by_channel(first).values())} deliveries for the bare loops")
        payload = deliveries.payloads(first.url, bench_settings(settings, first),
                                      load_catalog(Settings().messages_dir), workdir)  # fmt: skip
        results["payloads"] = report.plain(payload)
        counts = sorted({1, *([n for n in pg_workers] if "postgresql" in kinds else [])})
        for number in range(1, args.runs + 1):
            say(f"run {number} of {args.runs}")
            record = {kind: run_database(world, targets[kind], exports[kind], day,
                                         [1] if kind == "sqlite" else pg_workers)
                      for kind in kinds}  # fmt: skip
            record["bare_line"] = {
                str(n): stages.bare_line(world, payload.line_file, n, args.concurrency)
                for n in counts
            }
            record["bare_smtp"] = {
                str(n): stages.bare_smtp(world, payload.mail_file, n, args.pool_size)
                for n in counts
            }
            results["runs"].append(record)
        say(f"  {kinds[0]}: LINE dispatch in multicast mode (requests counted)")
        deliveries.back_to_planned(first)
        results["multicast"] = stages.dispatch(world, first, "line", 1, {"line_multicast": "true"})
        results["peers"] = [usage.as_dict() for usage in world.stop()]
    finally:
        for child in world.children:
            if child.alive():
                child.process.kill()
        if cluster is not None:
            cluster.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    # Other work on the machine slows Kizuna and the bare loops alike; it is recorded.
    results["config"]["load_after"] = os.getloadavg()
    results["summary"] = report.summarise(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    tables = report.markdown(results)
    if args.markdown:
        args.markdown.write_text(tables, encoding="utf-8")
    print(tables)
    return results


def bench_settings(settings: dict[str, str], target: Target) -> Settings:
    return Settings(**settings, database_url=target.url)


def prepare(world: stages.World, target: Target, args, day: date) -> tuple[dict, Path]:
    """Schema, population, and a first planning (not counted) whose rows the bare insert uses."""
    create_schema(target)
    generator = Generator(args.subscribers, day, datetime.now(UTC), args.seed)
    say(f"{target.kind}: generating {args.subscribers} subscribers")
    started = time.perf_counter()
    load(target, generator)
    generated = time.perf_counter() - started
    warmup = stages.plan(world, target, day.isoformat())
    folder = world.workdir / target.kind
    folder.mkdir(exist_ok=True)
    export = deliveries.export(target, folder)
    return {"generate_seconds": generated, **report.plain(generator.counts),
            "warmup_plan": warmup, "by_channel": by_channel(target)}, export  # fmt: skip


def run_database(world: stages.World, target: Target, export: Path, day: date,
                 workers: list[int]) -> dict:  # fmt: skip
    say(f"  {target.kind}: bare insert, plan, dispatch with {workers} worker(s)")
    deliveries.clear(target)
    target.warm()  # each stage starts with the database in the kernel's cache
    bare = stages.bare_insert(target, export)
    deliveries.clear(target)
    target.warm()
    planned = stages.plan(world, target, day.isoformat())
    # Statistics as autovacuum has them by the delivery hour (planning runs at midnight):
    # PostgreSQL plans the workers' claims from them.
    deliveries.analyze(target)
    channels = by_channel(target)
    dispatch = {}
    for n, count in enumerate(workers):
        if n:
            deliveries.back_to_planned(target)
        dispatch[str(count)] = {channel: stages.dispatch(world, target, channel, count)
                                for channel in ("line", "email")}  # fmt: skip
        dispatch[str(count)]["statuses"] = deliveries.statuses(target)
    return {"bare_insert": bare, "plan": planned, "by_channel": channels, "dispatch": dispatch}


def by_channel(target: Target) -> dict[str, int]:
    return deliveries.by_channel(target)


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)
