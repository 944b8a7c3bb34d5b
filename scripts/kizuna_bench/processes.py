"""Child processes and what they cost: wall time, CPU time and peak RSS, from the kernel.

A process we start is reaped with `os.wait4`, which returns its own CPU time. Its peak RSS
is VmHWM from /proc (read just before we stop it, or reported by the process itself as it
ends): rusage's ru_maxrss would also count the bench's own memory, copied by fork before exec.
Servers that outlive a stage (the peers, PostgreSQL) are sampled from /proc before and after.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)  # scripts/, for `-m kizuna_bench`


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Usage:
    """One process over one stage."""

    name: str
    wall: float
    cpu: float  # user + system seconds
    peak_rss_mb: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def python_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment without any KIZUNA_ setting of the caller's, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


class Child:
    """A process we started; `finish` stops it if asked and returns what it cost."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 (read and closed by finish)
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        self.started = time.perf_counter()
        self.process = subprocess.Popen(argv, env=env, stdout=self._out, stderr=self._err)
        self.output = ""
        self.errors = ""
        self._reaped = None
        self._usage: Usage | None = None

    @classmethod
    def module(cls, name: str, module: str, args: list[str], env: dict[str, str]) -> Child:
        return cls(name, [sys.executable, "-m", module, *args], env)

    def alive(self) -> bool:
        """True while it runs. (Never Popen.poll: that would reap it and lose its rusage.)"""
        return self._reap() is None

    def _reap(self):
        if self._reaped is None:
            pid, status, rusage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                self._reaped = (time.perf_counter(), status, rusage)
                self.process.returncode = os.waitstatus_to_exitcode(status)
        return self._reaped

    def finish(
        self, *, stop: bool = False, timeout: float = 3600.0, killed_ok: bool = False
    ) -> Usage:
        """Wait for the process (after SIGTERM if `stop`); raise if it failed (an exit by that
        SIGTERM counts as success only if `killed_ok`: servers without a handler for it).

        Without `stop`, the peak RSS is unknown here (0): the process reports its own.
        """
        if self._usage is not None:
            return self._usage
        peak_kb = 0
        if stop and self.alive():
            peak_kb = _peak_rss_kb(self.process.pid)
            self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self._reap() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                raise TimeoutError(f"{self.name} did not finish in {timeout:.0f}s")
            time.sleep(0.02)  # polling a child we cannot select on
        ended, _status, rusage = self._reaped
        if not self._out.closed:
            self._out.seek(0)
            self._err.seek(0)
            self.output = self._out.read().decode("utf-8", "replace")
            self.errors = self._err.read().decode("utf-8", "replace")
            self._out.close()
            self._err.close()
        if self.process.returncode != 0 and not (killed_ok and self.process.returncode < 0):
            raise RuntimeError(f"{self.name} exited {self.process.returncode}:\n{self.errors}")
        cpu = rusage.ru_utime + rusage.ru_stime
        self._usage = Usage(self.name, ended - self.started, cpu, peak_kb / 1024)
        return self._usage


def run(name: str, module: str, args: list[str], env: dict[str, str]) -> tuple[Usage, dict]:
    """Run a module to its end; its usage and the JSON it printed (with its own peak RSS)."""
    child = Child.module(name, module, args, env)
    usage = child.finish()
    result = json.loads(child.output)
    usage.peak_rss_mb = result["peak_rss_mb"]
    return usage, result


def own_peak_rss_mb() -> float:
    """This process's peak RSS since it started its program (for the JSON it prints)."""
    return _peak_rss_kb(os.getpid()) / 1024


class Sampled:
    """A long-running process (and, for PostgreSQL, its backends) sampled from /proc."""

    def __init__(self, name: str, pid: int, *, tree: bool = False) -> None:
        self.name = name
        self.pid = pid
        self.tree = tree
        self._cpu = 0.0
        self._wall = 0.0

    def begin(self) -> None:
        self._cpu = self.cpu()
        self._wall = time.perf_counter()

    def end(self) -> Usage:
        return Usage(self.name, time.perf_counter() - self._wall, self.cpu() - self._cpu,
                     self.peak_rss_mb())  # fmt: skip

    def cpu(self) -> float:
        """CPU seconds so far: the process, its reaped children, and (tree) its live ones."""
        fields = _stat(self.pid)
        total = sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS
        if self.tree:
            for pid in _children(self.pid):
                child = _stat(pid)
                if child:
                    total += (int(child[11]) + int(child[12])) / TICKS
        return total

    def peak_rss_mb(self) -> float:
        pids = [self.pid, *(_children(self.pid) if self.tree else [])]
        return max(_peak_rss_kb(pid) for pid in pids) / 1024


def _stat(pid: int) -> list[str]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text[text.rindex(")") + 2 :].split()  # fields after the command name, from state


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _peak_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
