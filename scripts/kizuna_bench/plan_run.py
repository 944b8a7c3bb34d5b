"""Kizuna's planning of one local date, in a process of its own (what `kizuna send` plans).

Settings come from the environment, as for every Kizuna entry point. Opening the runtime
(schema check, catalog) happens before the clock starts; the clock covers `plan`: the due
query, stage arithmetic, message choice and the delivery rows written.
Usage: python -m kizuna_bench.plan_run YYYY-MM-DD
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, date, datetime

from kizuna.config import Settings
from kizuna.runtime import open_runtime, plan
from kizuna_bench.processes import own_peak_rss_mb


def main(day: str) -> None:
    runtime = open_runtime(Settings())
    now = datetime.now(UTC)
    start, cpu = time.time(), time.process_time()
    summary = plan(runtime, date.fromisoformat(day), now=now)
    end, cpu = time.time(), time.process_time() - cpu
    print(json.dumps({
        "followers": summary.followers, "due": summary.due, "planned": summary.planned,
        "by_message": summary.by_message, "start": start, "end": end, "cpu": cpu,
        "peak_rss_mb": own_peak_rss_mb(),
    }))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
