"""A real SMTP server for tests (aiosmtpd on 127.0.0.1) that can refuse, stall and drop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    # aiosmtpd has no port 0: ask the OS for a free one, then hand it over.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Arrived:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    mail: EmailMessage
    peer: tuple[str, int]


class Mailbox:
    """The aiosmtpd handler: keeps what arrives; scripted replies and drops per test."""

    def __init__(self) -> None:
        self.arrived: list[Arrived] = []
        self.rcpt_replies: dict[str, str] = {}  # recipient -> reply to RCPT TO
        self.data_replies: dict[str, str] = {}  # recipient -> reply to DATA
        self.drops: Counter[str] = Counter()  # "MAIL"/"DATA" -> connections still to drop there
        self.stall: set[str] = set()  # recipients whose DATA is never answered
        self.connections: set[tuple[str, int]] = set()
        self._changed = threading.Condition()

    def _drop(self, server, phase: str) -> bool:
        with self._changed:
            if self.drops[phase] <= 0:
                return False
            self.drops[phase] -= 1
        server.transport.abort()  # no reply, no goodbye: the connection is simply gone
        return True

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        self.connections.add(session.peer)
        if self._drop(server, "MAIL"):
            return "421 dropped"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        recipient = envelope.rcpt_tos[0]
        if recipient in self.stall:
            await asyncio.Event().wait()  # a server that hangs: only the client's timeout helps
        if self._drop(server, "DATA"):
            return "421 dropped"
        if recipient in self.data_replies:
            return self.data_replies[recipient]
        raw = envelope.original_content or envelope.content
        mail = BytesParser(policy=policy.default).parsebytes(raw)
        with self._changed:
            self.arrived.append(
                Arrived(envelope.mail_from, list(envelope.rcpt_tos), raw, mail, session.peer)
            )
            self._changed.notify_all()
        return "250 2.0.0 accepted"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Arrived]:
        """Block until `count` messages have arrived (never a fixed sleep)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.arrived) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.arrived)} of {count} mails arrived")
                self._changed.wait(left)
            return list(self.arrived)


class Passwords:
    """An aiosmtpd authenticator accepting one login."""

    def __init__(self, login: str, password: str) -> None:
        self.expected = LoginPassword(login.encode(), password.encode())

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = auth_data == self.expected
        return AuthResult(success=ok, handled=ok)  # a refusal is answered with 535


@contextmanager
def smtp_server(**smtp_options) -> Iterator[tuple[Mailbox, int]]:
    """A running server on 127.0.0.1 (aiosmtpd defaults to ::1) and its port."""
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
