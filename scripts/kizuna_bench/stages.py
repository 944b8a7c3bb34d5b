"""The measured stages: Kizuna's (plan, dispatch with real `kizuna worker` processes) and the
bare limits', each in processes of its own against the same database and peers."""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from kizuna_bench import deliveries
from kizuna_bench.databases import Target
from kizuna_bench.processes import Child, Sampled, Usage, free_port, python_env, run

KIZUNA = str(Path(sys.executable).parent / "kizuna")
TOKEN = "bench-token"


@dataclass
class World:
    """The peers and the settings every Kizuna process of the bench gets."""

    workdir: Path
    settings: dict[str, str]  # KIZUNA_* without the prefix, lower case
    line_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    stats_port: int = field(default_factory=free_port)
    children: list[Child] = field(default_factory=list)
    samplers: list[Sampled] = field(default_factory=list)

    @property
    def line_url(self) -> str:
        return f"http://127.0.0.1:{self.line_port}"

    def start(self) -> World:
        peers = [("line-peer", "kizuna_bench.line_peer", [str(self.line_port), TOKEN]),
                 ("smtp-peer", "kizuna_bench.smtp_peer",
                  [str(self.smtp_port), str(self.stats_port)])]  # fmt: skip
        for name, module, args in peers:
            child = Child.module(name, module, args, python_env())
            self.children.append(child)
            self.samplers.append(Sampled(name, child.process.pid))
        for port in (self.line_port, self.stats_port):
            wait_ready(f"http://127.0.0.1:{port}/bench/stats", self.children)
        return self

    def stop(self) -> list[Usage]:
        return [child.finish(stop=True, killed_ok=True, timeout=30) for child in self.children]

    def env(self, target: Target, worker: int = 0, extra: dict | None = None) -> dict[str, str]:
        """A Kizuna process's environment; worker n has a LINE token of its own."""
        token = f"{TOKEN}-{worker}" if worker else TOKEN
        values = {
            **self.settings, **(extra or {}), "database_url": target.url,
            "line_channel_access_token": token,
            "line_api_url": self.line_url, "smtp_host": "127.0.0.1",
            "smtp_port": str(self.smtp_port), "smtp_tls": "none",
        }  # fmt: skip
        return python_env({f"KIZUNA_{key.upper()}": value for key, value in values.items()})

    def stats(self, channel: str, *, reset: bool = False) -> dict[str, object]:
        port = self.line_port if channel == "line" else self.stats_port
        return http_json(f"http://127.0.0.1:{port}/bench/{'reset' if reset else 'stats'}",
                         post=reset)  # fmt: skip


def http_json(url: str, *, post: bool = False) -> dict[str, object]:
    request = urllib.request.Request(url, data=b"" if post else None)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def wait_ready(url: str, children: list[Child], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            http_json(url)
            return
        except OSError:
            if time.monotonic() > deadline or not all(child.alive() for child in children):
                raise RuntimeError(f"a peer did not start ({url})") from None
            time.sleep(0.05)  # the server is still binding its port


def plan(world: World, target: Target, day: str) -> dict[str, object]:
    usage, result = run("kizuna plan", "kizuna_bench.plan_run", [day], world.env(target))
    return {"seconds": result["end"] - result["start"], "cpu": result["cpu"],
            "planned": result["planned"], "followers": result["followers"],
            "due": result["due"], "messages": len(result["by_message"]),
            "process": usage.as_dict()}  # fmt: skip


def bare_insert(target: Target, export: Path) -> dict[str, object]:
    if target.kind == "sqlite":
        args = ["insert-sqlite", str(target.path), str(export)]
    else:
        args = ["insert-postgresql", target.dsn, str(export), ", ".join(deliveries.COLUMNS)]
    usage, result = run(f"bare {target.kind} insert", "kizuna_bench.bare", args, python_env())
    return {"seconds": result["end"] - result["start"], "count": result["count"],
            "process": usage.as_dict()}  # fmt: skip


def dispatch(
    world: World, target: Target, channel: str, workers: int, extra: dict | None = None
) -> dict[str, object]:
    """Real `kizuna worker` processes send one channel's deliveries; stopped once drained.

    Both channels are held back until every worker has started (its first dispatch run asks
    the LINE peer for the quota), so start-up is not counted; the other channel stays held,
    so each channel's throughput is its own.
    """
    other = "email" if channel == "line" else "line"
    for held in (channel, other):
        deliveries.hold(target, held)
    world.stats("line", reset=True)
    world.stats("email", reset=True)
    target.warm()
    children = [Child(f"kizuna worker {n}", [KIZUNA, "worker"], world.env(target, n, extra))
                for n in range(1, workers + 1)]  # fmt: skip
    try:
        started, drained, samplers = drain(world, target, channel, children)
        usages = [child.finish(stop=True, timeout=120) for child in children]
    finally:
        for child in children:
            if child.alive():
                child.process.kill()
    servers = [sampler.end() for sampler in samplers]
    stats = world.stats(channel)
    deliveries.release(target, other)
    first = stats["first"] or drained
    count = stats["accepted"] if channel == "line" else stats["messages"]
    window = drained - first
    return {"count": count, "wall": drained - started, "window": window,
            "per_second": count / window if window else 0.0, "peer": stats,
            "processes": [u.as_dict() for u in usages + servers]}  # fmt: skip


def drain(world: World, target: Target, channel: str, children: list[Child]):
    """Release the channel once every worker runs; return when none of it is left to send."""
    wait_started(world, children)
    samplers = list(world.samplers)
    if target.server_pid:
        samplers.append(Sampled("postgresql", target.server_pid, tree=True))
    for sampler in samplers:
        sampler.begin()
    started = time.time()
    deliveries.release(target, channel)
    poller = target.connect()
    try:
        while open_count(poller, target) > 0:
            if not all(child.alive() for child in children):
                raise RuntimeError(f"a worker stopped early:\n{failures(children)}")
            time.sleep(0.05)  # polling the outbox; the workers do the work
    finally:
        poller.close()
    return started, time.time(), samplers


def wait_started(world: World, children: list[Child], timeout: float = 120.0) -> None:
    """Until each worker has made its first dispatch run (each asks the peer for the quota
    with its own token)."""
    deadline = time.monotonic() + timeout
    tokens = {f"{TOKEN}-{n}" for n in range(1, len(children) + 1)}
    while not tokens <= set(world.stats("line")["quota_requests"]):
        if not all(child.alive() for child in children) or time.monotonic() > deadline:
            raise RuntimeError(f"workers did not start:\n{failures(children)}")
        time.sleep(0.05)  # the workers are importing and loading the catalog


def failures(children: list[Child]) -> str:
    found = []
    for child in children:
        if not child.alive():
            try:
                child.finish(timeout=5)
            except RuntimeError as error:
                found.append(str(error))
    return "\n".join(found)


def open_count(connection, target: Target) -> int:
    held = deliveries.HELD if target.kind == "sqlite" else "2999-01-01"
    query = ("SELECT count(*) FROM delivery WHERE status IN ('planned', 'sending') "
             f"AND next_attempt_at < '{held}'")  # fmt: skip
    return connection.execute(query).fetchone()[0]


def bare_line(world: World, payload: Path, processes: int, concurrency: int) -> dict[str, object]:
    world.stats("line", reset=True)
    files = deliveries.split(payload, processes)
    args = [[world.line_url, TOKEN, str(f), str(concurrency)] for f in files]
    result = _bare_parallel("bare line-bot-sdk loop", "line", args)
    result["peer"] = world.stats("line")
    return result


def bare_smtp(world: World, payload: Path, processes: int, connections: int) -> dict[str, object]:
    world.stats("email", reset=True)
    files = deliveries.split(payload, processes)
    args = [["127.0.0.1", str(world.smtp_port), str(f), str(connections)] for f in files]
    result = _bare_parallel("bare aiosmtplib loop", "smtp", args)
    result["peer"] = world.stats("email")
    return result


def _bare_parallel(name: str, kind: str, arg_lists: list[list[str]]) -> dict[str, object]:
    children = [Child.module(f"{name} {n + 1}", "kizuna_bench.bare", [kind, *args], python_env())
                for n, args in enumerate(arg_lists)]  # fmt: skip
    usages = [child.finish() for child in children]
    results = [json.loads(child.output) for child in children]
    for usage, result in zip(usages, results, strict=True):
        usage.peak_rss_mb = result["peak_rss_mb"]
    start = min(r["start"] for r in results)
    window = max(r["end"] for r in results) - start
    count = sum(r["count"] for r in results)
    return {"count": count, "window": window, "per_second": count / window if window else 0.0,
            "loop_cpu": sum(r["cpu"] for r in results),
            "processes": [u.as_dict() for u in usages]}  # fmt: skip
