"""A local SMTP server for load (aiosmtpd, its own process) that accepts and counts every mail.

Mails are counted, not kept: `GET /bench/stats` on the stats port reports messages, bytes,
distinct Message-IDs and the first and last acceptance times; `POST /bench/reset` starts afresh.
Usage: python -m kizuna_bench.smtp_peer SMTP_PORT STATS_PORT
"""

from __future__ import annotations

import asyncio
import re
import sys
import time

from aiohttp import web
from aiosmtpd.smtp import SMTP

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class Counter:
    """The aiosmtpd handler."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.ids: set[bytes] = set()
        self.recipients: set[str] = set()
        self.first = self.last = 0.0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        now = time.time()
        self.first = self.first or now
        self.last = now
        self.messages += 1
        self.bytes += len(envelope.content)
        found = MESSAGE_ID.search(envelope.content)
        if found:
            self.ids.add(found[1])
        self.recipients.update(envelope.rcpt_tos)
        return "250 2.0.0 accepted"

    def stats(self) -> dict[str, object]:
        return {
            "messages": self.messages, "bytes": self.bytes, "message_ids": len(self.ids),
            "recipients": len(self.recipients), "first": self.first, "last": self.last,
        }  # fmt: skip


async def main(smtp_port: int, stats_port: int) -> None:
    counter = Counter()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(counter, hostname="bench.example", enable_SMTPUTF8=True),
        "127.0.0.1",
        smtp_port,
    )

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(counter.stats())

    async def reset(_request: web.Request) -> web.Response:
        counter.reset()
        return web.json_response(counter.stats())

    application = web.Application()
    application.add_routes([web.get("/bench/stats", stats), web.post("/bench/reset", reset)])
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", stats_port).start()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
