"""CPU per push of Kizuna's LINE channel alone, against the bench's LINE peer.

The peer runs in a process of its own; this one sends N pushes with 16 in flight and prints
the wall time and its own CPU time per push. With `--profile`, pyinstrument's tree follows
(`.venv/bin/pip install pyinstrument`).
Usage: PYTHONPATH=scripts .venv/bin/python -m kizuna_bench.line_send [N] [--profile]
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime

from kizuna.channels.base import Envelope
from kizuna.channels.line import LineChannel
from kizuna.core.status import ChannelName
from kizuna_bench.processes import Child, free_port, python_env
from kizuna_bench.stages import wait_ready

TOKEN = "line-send-token"
CONCURRENCY = 16


async def send_all(url: str, count: int) -> None:
    now = datetime.now(UTC)
    envelopes = iter(
        Envelope(delivery_id=n, idempotency_key=str(uuid.uuid4()), channel=ChannelName.LINE,
                 address=f"U{n:032x}", title="", text="今日で妊娠12週3日です。" * 20, html="",
                 created_at=now)
        for n in range(count)
    )  # fmt: skip
    channel = LineChannel(access_token=TOKEN, api_url=url, concurrency=CONCURRENCY,
                          rate_per_second=2000)  # fmt: skip

    async def sender() -> None:
        for envelope in envelopes:  # one shared iterator: each push is sent once
            await channel.send(envelope)

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await channel.close()
    print(f"{count} pushes: {wall:.2f} s, {count / wall:,.0f}/s; "
          f"CPU {cpu:.2f} s, {cpu / count * 1000:.3f} ms per push")  # fmt: skip


def main(args: list[str]) -> None:
    count = int(next((a for a in args if a.isdigit()), "5000"))
    port = free_port()
    peer = Child.module("line-peer", "kizuna_bench.line_peer", [str(port), TOKEN], python_env())
    try:
        wait_ready(f"http://127.0.0.1:{port}/bench/stats", [peer])
        if "--profile" in args:
            from pyinstrument import Profiler

            with Profiler() as profiler:
                asyncio.run(send_all(f"http://127.0.0.1:{port}", count))
            print(profiler.output_text(color=False))
        else:
            asyncio.run(send_all(f"http://127.0.0.1:{port}", count))
    finally:
        peer.finish(stop=True, killed_ok=True, timeout=30)


if __name__ == "__main__":
    main(sys.argv[1:])
