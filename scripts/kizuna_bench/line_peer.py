"""A fast local LINE peer for load (aiohttp, its own process): answers push like the Messaging API.

200 with `sentMessages` for a new `X-Line-Retry-Key`, 409 for one already accepted (as LINE
does), 401 without the token (or a token starting with it: each worker gets its own, so the
bench can tell them apart), 400 for a body LINE would refuse. Counts requests and keeps the
first and last acceptance times; `GET /bench/stats` reports, `POST /bench/reset` starts afresh.
Usage: python -m kizuna_bench.line_peer PORT TOKEN
"""

from __future__ import annotations

import json
import sys
import time
import uuid

from aiohttp import web

PUSH = "/v2/bot/message/push"
MULTICAST = "/v2/bot/message/multicast"


class Peer:
    def __init__(self, token: str) -> None:
        self.authorization = f"Bearer {token}"  # or this followed by "-" and a name
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.multicasts = 0
        self.multicast_recipients = 0
        self.conflicts = 0
        self.refused = 0
        self.quota_requests: dict[str, int] = {}  # per token: each dispatch run asks once
        self.keys: set[str] = set()
        self.recipients: set[str] = set()
        self.first = self.last = 0.0

    def stats(self) -> dict[str, object]:
        return {
            "requests": self.requests, "accepted": len(self.keys), "conflicts": self.conflicts,
            "refused": self.refused, "recipients": len(self.recipients),
            "multicasts": self.multicasts, "multicast_recipients": self.multicast_recipients,
            "quota_requests": self.quota_requests,
            "first": self.first, "last": self.last,
        }  # fmt: skip

    async def push(self, request: web.Request) -> web.Response:
        self.requests += 1
        if not self.authorized(request):
            return self._refuse(401, "Authentication failed")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self._refuse(400, "The request body is not JSON")
        multicast = request.path == MULTICAST
        problem = invalid_multicast(body) if multicast else invalid_push(body)
        if problem:
            return self._refuse(400, problem)
        key = request.headers.get("X-Line-Retry-Key")
        if key is not None and key in self.keys:
            self.conflicts += 1
            return reply(409, {"message": "The retry key is already accepted",
                               "sentMessages": []})  # fmt: skip
        now = time.time()
        self.first = self.first or now
        self.last = now
        if key is not None:
            self.keys.add(key)
        if multicast:  # LINE answers a multicast with an empty object
            self.multicasts += 1
            self.multicast_recipients += len(body["to"])
            self.recipients.update(body["to"])
            return reply(200, {})
        self.recipients.add(body["to"])
        sent = [{"id": str(uuid.uuid4().int)[:18], "quoteToken": uuid.uuid4().hex}
                for _ in body["messages"]]  # fmt: skip
        return reply(200, {"sentMessages": sent})

    def authorized(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "")
        return given == self.authorization or given.startswith(self.authorization + "-")

    def _refuse(self, status: int, message: str) -> web.Response:
        self.refused += 1
        return reply(status, {"message": message})


def invalid_multicast(body: object) -> str | None:
    to = body.get("to") if isinstance(body, dict) else None
    if not isinstance(to, list) or not 1 <= len(to) <= 500 or len(set(to)) != len(to):
        return "The property, 'to', must hold 1 to 500 distinct user ids"
    return invalid_push({**body, "to": to[0]})


def invalid_push(body: object) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("to"), str) or not body["to"]:
        return "The property, 'to', in the request body is invalid"
    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return "Size must be between 1 and 5"
    for message in messages:
        text = message.get("text", "") if isinstance(message, dict) else ""
        if message.get("type") != "text" or not 1 <= len(text.encode("utf-16-le")) // 2 <= 5000:
            return "Length must be between 1 and 5000"
    return None


def reply(status: int, body: dict) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(),
                        content_type="application/json",
                        headers={"x-line-request-id": uuid.uuid4().hex})  # fmt: skip


def app(token: str) -> web.Application:
    peer = Peer(token)

    async def stats(_request: web.Request) -> web.Response:
        return reply(200, peer.stats())

    async def reset(_request: web.Request) -> web.Response:
        peer.reset()
        return reply(200, peer.stats())

    async def quota(request: web.Request) -> web.Response:
        if not peer.authorized(request):
            return reply(401, {"message": "Authentication failed"})
        token = request.headers["Authorization"].removeprefix("Bearer ")
        peer.quota_requests[token] = peer.quota_requests.get(token, 0) + 1
        return reply(200, {"type": "none"})

    application = web.Application()
    application.add_routes([
        web.post(PUSH, peer.push), web.post(MULTICAST, peer.push),
        web.get("/bench/stats", stats), web.post("/bench/reset", reset),
        web.get("/v2/bot/message/quota", quota),
    ])  # fmt: skip
    return application


if __name__ == "__main__":
    port, token = int(sys.argv[1]), sys.argv[2]
    web.run_app(app(token), host="127.0.0.1", port=port, print=None, access_log=None)
