"""A local LINE peer for tests: answers like the Messaging API, over real HTTP.

It records every request, accepts each `X-Line-Retry-Key` once (a repeat gets 409, as LINE
does within 24 h), knows which user ids exist, and can be told to fail the next requests
with 429, 500, or "accepted, then too slow to answer" (the client times out although the
push went through).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class PeerState:
    token: str = "test-token"
    unknown_users: set[str] = field(default_factory=set)
    faults: deque[str] = field(default_factory=deque)  # "429", "500", "slow-accept"
    slow_seconds: float = 6.0
    delay_seconds: float = 0.0  # every push answers this late (a busy API)
    quota: int | None = None  # monthly limit; None: unlimited
    accepted: dict[str, dict] = field(default_factory=dict)  # retry key -> push body
    sent: dict[str, list[dict]] = field(default_factory=dict)  # retry key -> sentMessages
    # (retry key, status) of every answer to a push request
    answers: list[tuple[str | None, int]] = field(default_factory=list)
    replies: list[dict] = field(default_factory=list)  # reply bodies, in order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pushes_to(self, user: str) -> list[dict]:
        """Every accepted request that reached `user`: pushes and multicasts."""
        return [
            body
            for body in self.accepted.values()
            if body["to"] == user or (isinstance(body["to"], list) and user in body["to"])
        ]

    def texts_to(self, user: str) -> list[str]:
        return [m["text"] for body in self.pushes_to(user) for m in body["messages"]]


class Handler(BaseHTTPRequestHandler):
    server: LinePeer

    def log_message(self, *args) -> None:  # keep test output quiet
        return None

    def _reply(self, status: int, body: dict, key: str | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-line-request-id", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)
        if self.path in SENDING:
            with self.server.state.lock:
                self.server.state.answers.append((key, status))

    def do_GET(self) -> None:
        state = self.server.state
        if self.path == "/v2/bot/message/quota":
            body = (
                {"type": "none"}
                if state.quota is None
                else {"type": "limited", "value": state.quota}
            )
            return self._reply(200, body)
        if self.path == "/v2/bot/message/quota/consumption":
            return self._reply(200, {"totalUsage": len(state.accepted)})
        return self._reply(404, {"message": "Not found"})

    def do_POST(self) -> None:
        state = self.server.state
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        key = self.headers.get("X-Line-Retry-Key")
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            return self._reply(401, {"message": "Authentication failed"}, key)
        body = json.loads(raw)
        if self.path == "/v2/bot/message/reply":
            return self._answer_reply(body)
        if self.path not in SENDING:
            return self._reply(404, {"message": "Not found"}, key)
        multicast = self.path == "/v2/bot/message/multicast"
        problem = invalid_multicast(body) if multicast else invalid_push(body)
        if problem:
            return self._reply(400, {"message": problem}, key)
        if not multicast and body["to"] in state.unknown_users:
            detail = {"message": "invalid user", "property": "to"}
            return self._reply(400, {"message": "The request body has 1 error(s)",
                                     "details": [detail]}, key)  # fmt: skip
        sent = [{"id": str(uuid.uuid4().int)[:18], "quoteToken": uuid.uuid4().hex}
                for _ in body["messages"]]  # fmt: skip
        with state.lock:
            fault = state.faults.popleft() if state.faults else None
            seen = key is not None and key in state.accepted
            if fault in (None, "slow-accept") and not seen and key is not None:
                state.accepted[key] = body
                state.sent[key] = sent
        if fault in ("429", "500"):
            return self._reply(int(fault), {"message": "injected"}, key)
        if seen:  # as LINE does: 409 with the messages the first request sent
            return self._reply(409, {"message": "The retry key is already accepted",
                                     "sentMessages": state.sent[key]}, key)  # fmt: skip
        if fault == "slow-accept":
            time.sleep(state.slow_seconds)  # the peer is slow; the client's timeout fires first
        elif state.delay_seconds:
            time.sleep(state.delay_seconds)
        return self._reply(200, {} if multicast else {"sentMessages": sent}, key)

    def _answer_reply(self, body: dict) -> None:
        messages = body.get("messages")
        if (
            not body.get("replyToken")
            or not isinstance(messages, list)
            or not 1 <= len(messages) <= 5
        ):
            return self._reply(400, {"message": "invalid reply"})
        with self.server.state.lock:
            self.server.state.replies.append(body)
        return self._reply(200, {"sentMessages": [{"id": "1", "quoteToken": "q"}] * len(messages)})


SENDING = ("/v2/bot/message/push", "/v2/bot/message/multicast")


def invalid_multicast(body: dict) -> str | None:
    to = body.get("to")
    if not isinstance(to, list) or not 1 <= len(to) <= 500 or len(set(to)) != len(to):
        return "The property, 'to', must hold 1 to 500 distinct user ids"
    return invalid_push({**body, "to": to[0]})


def invalid_push(body: dict) -> str | None:
    if not isinstance(body.get("to"), str) or not body["to"]:
        return "The property, 'to', in the request body is invalid"
    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return "Size must be between 1 and 5"
    for message in messages:
        text = message.get("text", "")
        if message.get("type") != "text" or not 1 <= len(text.encode("utf-16-le")) // 2 <= 5000:
            return "Length must be between 1 and 5000"
    return None


class LinePeer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = PeerState()
        self.api_url = self.url  # where clients send requests: the peer, or Prism in front
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def reset(self) -> None:
        self.state = PeerState()

    def handle_error(self, request, client_address) -> None:
        # A client killed mid-request (the kill -9 tests do that on purpose) is not an error.
        return None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> LinePeer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()
