"""Medians over runs, ratios to the bare limits, the targets met or missed, and the tables."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from statistics import median

RSS_LIMIT_MB = 400
KIZUNA_PROCESSES = ("kizuna plan", "kizuna worker")


def plain(value: object) -> dict:
    """A dataclass as JSON-ready data (paths as text)."""
    data = dataclasses.asdict(value)
    return {key: str(item) if isinstance(item, Path) else item for key, item in data.items()}


def summarise(results: dict) -> dict:
    runs = results["runs"]
    kinds = [kind for kind in results["databases"]]
    summary: dict = {"stages": [], "targets": [], "processes": processes(runs)}
    rows, targets = summary["stages"], summary["targets"]

    def mid(*path: str) -> float:
        values = [dig(run, path) for run in runs]
        return median(values) if values else 0.0

    for kind in kinds:
        plan, insert = mid(kind, "plan", "seconds"), mid(kind, "bare_insert", "seconds")
        planned = runs[-1][kind]["plan"]["planned"] if runs else 0
        rows.append(
            stage_row(
                f"plan, {kind} ({planned} rows)",
                plan,
                insert,
                "s",
                f"bare {'executemany' if kind == 'sqlite' else 'COPY'}",
            )
        )
        targets.append(target(f"plan on {kind} within 2× the bare insert", plan / insert
                              if insert else 0, "≤ 2.0", plan <= 2 * insert))  # fmt: skip
        for workers in runs[0][kind]["dispatch"] if runs else []:
            for channel, bare_kind, bare_name in (
                ("line", "bare_line", "line-bot-sdk loop"),
                ("email", "bare_smtp", "aiosmtplib loop"),
            ):
                ours = mid(kind, "dispatch", workers, channel, "per_second")
                bare = mid(bare_kind, workers, "per_second")
                rows.append(
                    stage_row(
                        f"{channel} dispatch, {kind}, {workers} worker(s)",
                        ours,
                        bare,
                        "/s",
                        f"bare {bare_name} × {workers}",
                    )
                )
                targets.append(target(f"{channel} dispatch on {kind} with {workers} worker(s) "
                                      "≥ 0.8× the bare loop", ours / bare if bare else 0,
                                      "≥ 0.8", ours >= 0.8 * bare))  # fmt: skip
                if channel == "line" and kind == "postgresql" and workers == "2":
                    targets.append(target("LINE pushes per second, 2 workers, PostgreSQL",
                                          ours, "> 2000", ours > 2000))  # fmt: skip
    peak = max((p["peak_rss_mb"] for p in summary["processes"]
                if p["process"].startswith(KIZUNA_PROCESSES)), default=0.0)  # fmt: skip
    subscribers = results["config"]["subscribers"]
    targets.append(target(f"peak RSS of any Kizuna process ({subscribers} subscribers)", peak,
                          f"< {RSS_LIMIT_MB} MB", peak < RSS_LIMIT_MB))  # fmt: skip
    payload = results.get("payloads") or {}
    multicast = results.get("multicast") or {}
    if multicast:
        sent, bound = multicast["count"], payload.get("multicast_bound", 0)
        targets.append(target(
            f"multicast mode: requests for the {payload.get('line', 0):,} pushes of the day "
            f"(at most one per 450 recipients of an identical text: {bound:,})", sent,
            f"≤ {bound:,}", sent <= bound))  # fmt: skip
    return summary


def dig(data: dict, path: tuple[str, ...]) -> float:
    for key in path:
        data = data[key]
    return float(data)


def stage_row(stage: str, ours: float, bare: float, unit: str, limit: str) -> dict:
    """Kizuna ÷ bare: for a time (unit "s") lower is better, for a rate higher is better."""
    ratio = ours / bare if bare else 0.0
    return {"stage": stage, "kizuna": ours, "bare": bare, "unit": unit, "limit": limit,
            "ratio": ratio}  # fmt: skip


def target(name: str, value: float, goal: str, met: bool) -> dict:
    return {"target": name, "value": value, "goal": goal, "met": bool(met)}


def processes(runs: list[dict]) -> list[dict]:
    """Every process of every stage: median wall and CPU over runs, the largest peak RSS."""
    seen: dict[tuple[str, str], list[dict]] = {}
    for run in runs:
        for stage, usages in stage_processes(run):
            for usage in usages:
                seen.setdefault((stage, usage["name"]), []).append(usage)
    return [{"stage": stage, "process": name,
             "wall": median(u["wall"] for u in usages),
             "cpu": median(u["cpu"] for u in usages),
             "peak_rss_mb": max(u["peak_rss_mb"] for u in usages)}
            for (stage, name), usages in seen.items()]  # fmt: skip


def stage_processes(run: dict):
    for kind, record in run.items():
        if kind.startswith("bare_"):
            for workers, result in record.items():
                yield f"{kind.replace('_', ' ')} × {workers}", result["processes"]
            continue
        yield f"{kind} bare insert", [record["bare_insert"]["process"]]
        yield f"{kind} plan", [record["plan"]["process"]]
        for workers, channels in record["dispatch"].items():
            for channel in ("line", "email"):
                yield f"{kind} {channel} × {workers}", channels[channel]["processes"]


def markdown(results: dict) -> str:
    config, summary = results["config"], results["summary"]
    lines = [
        f"Subscribers: {config['subscribers']:,}; local date {config['date']}; "
        f"{config['runs']} run(s), medians; concurrency {config['concurrency']}, batch "
        f"{config['batch_size']}, SMTP pool {config['pool_size']} per process; "
        f"{config.get('cpus')} CPUs, load average {fmt_load(config.get('load_before'))} before, "
        f"{fmt_load(config.get('load_after'))} after.",
        "",
        "| stage | Kizuna | bare limit | ratio (Kizuna ÷ bare) | bare limit is |",
        "|---|---:|---:|---:|---|",
    ]
    for row in summary["stages"]:
        lines.append(
            f"| {row['stage']} | {number(row['kizuna'], row['unit'])} | "
            f"{number(row['bare'], row['unit'])} | {row['ratio']:.2f} | {row['limit']} |"
        )
    lines += ["", "| target | value | goal | met |", "|---|---:|---|---|"]
    for item in summary["targets"]:
        lines.append(
            f"| {item['target']} | {item['value']:,.2f} | {item['goal']} | "
            f"{'yes' if item['met'] else '**no**'} |"
        )
    lines += ["", "| stage | process | wall s | CPU s | peak RSS MB |", "|---|---|---:|---:|---:|"]
    for p in summary["processes"]:
        lines.append(
            f"| {p['stage']} | {p['process']} | {p['wall']:.2f} | {p['cpu']:.2f} | "
            f"{p['peak_rss_mb']:.0f} |"
        )
    lines += ["", *details(results)]
    return "\n".join(lines) + "\n"


def details(results: dict) -> list[str]:
    lines = ["| database | generate s | subscribers | children | follows | due today |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for kind, data in results["databases"].items():
        lines.append(
            f"| {kind} | {data['generate_seconds']:.1f} | {data['subscribers']:,} | "
            f"{data['children']:,} | {data['follows']:,} | "
            f"{sum(data['by_channel'].values()):,} ({data['by_channel']}) |"
        )
    payload = results.get("payloads") or {}
    if payload:
        multicast = results.get("multicast") or {}
        peer = multicast.get("peer") or {}
        lines += ["", f"LINE today: {payload.get('line_deliveries', 0):,} deliveries in "
                  f"{payload['line']:,} pushes (a subscriber's messages of a day in one). "
                  f"With every identical text in one multicast of ≤ 500 they would take "
                  f"{payload['multicast_requests']:,} requests ({payload['multicast_groups']:,} "
                  f"distinct texts, largest {payload['largest_group']:,} recipients); "
                  f"in multicast mode Kizuna sent {multicast.get('count', 0):,} requests: "
                  f"{peer.get('multicasts', 0):,} multicasts to "
                  f"{peer.get('multicast_recipients', 0):,} recipients, the rest pushes."
                  ]  # fmt: skip
    return lines


def number(value: float, unit: str) -> str:
    return f"{value:.2f} s" if unit == "s" else f"{value:,.0f}/s"


def fmt_load(load) -> str:
    return "?" if not load else f"{load[0]:.1f}"
