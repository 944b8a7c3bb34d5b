"""The SMTP backend: mail through a relay, over a small pool of connections kept open."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from aiosmtplib import (
    SMTP,
    SMTPException,
    SMTPRecipientsRefused,
    SMTPResponseException,
)

from kizuna.channels.base import Envelope, SendResult
from kizuna.core.status import ChannelName, SendStatus
from kizuna.mail import MailComposer

CLOSING = 421  # the server is shutting the connection: try again on a new one, later


class SmtpTls(StrEnum):
    """How the connection to the relay is protected."""

    NONE = "none"  # plain SMTP, for a relay on the same host or network
    STARTTLS = "starttls"  # upgrade after connecting; refuse a server that cannot
    TLS = "tls"  # TLS from the first byte (SMTPS)


DEFAULT_PORTS = {SmtpTls.NONE: 25, SmtpTls.STARTTLS: 587, SmtpTls.TLS: 465}


@dataclass(frozen=True, slots=True)
class SmtpOptions:
    """What the SMTP backend needs from the settings."""

    host: str
    port: int | None = None
    username: str | None = None
    password: str | None = None
    tls: SmtpTls = SmtpTls.STARTTLS
    pool_size: int = 4
    timeout_seconds: float = 30.0

    def client(self) -> SMTP:
        """A new, unconnected client."""
        return SMTP(
            hostname=self.host,
            port=self.port or DEFAULT_PORTS[self.tls],
            username=self.username,
            password=self.password,
            use_tls=self.tls is SmtpTls.TLS,
            start_tls=self.tls is SmtpTls.STARTTLS,
            timeout=self.timeout_seconds,
        )


class _Lost(Exception):
    """The connection broke before the server answered for this message."""


def _answer(error: SMTPResponseException) -> SendResult:
    """A refusal by the server: 4xx is temporary; 5xx to the recipient is a bounce."""
    reply = f"{error.code} {error.message}".strip()
    if 400 <= error.code < 500:
        return SendResult(SendStatus.RETRY, f"deferred: {reply}")
    return SendResult(SendStatus.FAILED, f"refused: {reply}")


def _refused(error: SMTPRecipientsRefused) -> SendResult:
    first = error.recipients[0]
    if 500 <= first.code < 600:
        return SendResult(SendStatus.GONE, f"bounced: {first.code} {first.message}".strip())
    return _answer(first)


class SmtpEmail:
    """Email through an SMTP relay.

    Up to `pool_size` connections are kept open and reused. A connection that turns out to be
    dropped is reopened and the same message tried once more; beyond that the answer is RETRY,
    and the dispatcher sends it again later with the same Message-ID.
    """

    name: ClassVar[ChannelName] = ChannelName.EMAIL
    backend: ClassVar[str] = "smtp"
    max_text_utf16: ClassVar[int | None] = None
    rate_per_second: ClassVar[float | None] = None
    max_messages: ClassVar[int] = 1  # one mail per delivery: each has its own Message-ID
    max_recipients: ClassVar[int] = 1

    def __init__(self, options: SmtpOptions, composer: MailComposer) -> None:
        self._options = options
        self._composer = composer
        self._idle: list[SMTP] = []
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def max_in_flight(self) -> int:
        return self._options.pool_size

    def _bind_loop(self) -> asyncio.Semaphore:
        """Connections belong to the event loop that opened them; a new loop starts afresh."""
        loop = asyncio.get_running_loop()
        if self._slots is None or loop is not self._loop:
            for client in self._idle:
                with contextlib.suppress(RuntimeError):  # its loop may be closed already
                    client.close()
            self._idle = []
            self._slots = asyncio.Semaphore(self._options.pool_size)
            self._loop = loop
        return self._slots

    async def send(self, envelope: Envelope) -> SendResult:
        try:
            data = self._composer.compose_bytes(envelope)
        except (ValueError, TypeError, UnicodeError) as error:
            return SendResult(SendStatus.FAILED, f"could not compose the mail: {error}")
        async with self._bind_loop():
            slot = _Slot(self._idle.pop() if self._idle else None)
            try:
                async with asyncio.timeout(self._options.timeout_seconds):
                    result = await self._deliver(slot, envelope.address, data)
            except TimeoutError:
                slot.discard()  # stopped mid-command: what the server saw is unknown
                seconds = self._options.timeout_seconds
                result = SendResult(SendStatus.RETRY, f"timed out after {seconds:g}s")
            except BaseException:
                slot.discard()
                raise
            if slot.client is not None and slot.client.is_connected:
                self._idle.append(slot.client)
        return result

    async def _deliver(self, slot: _Slot, recipient: str, data: bytes) -> SendResult:
        """One message on the slot's connection, reopening it once if it was dropped."""
        lost = ""
        for _ in range(2):
            try:
                if slot.client is None or not slot.client.is_connected:
                    slot.discard()
                    opened = await self._connect(slot)
                    if opened is not None:
                        return opened
                return await self._transaction(slot.client, recipient, data)
            except _Lost as error:
                slot.discard()
                lost = str(error)
        return SendResult(SendStatus.RETRY, f"connection lost: {lost}")

    async def _connect(self, slot: _Slot) -> SendResult | None:
        """Open the slot's connection; an answer when the server would not have us.

        Refusals here (greeting, STARTTLS, login) are not about the message: RETRY, so mail
        waits for the relay or the settings to be fixed rather than being given up.
        """
        slot.client = self._options.client()
        try:
            await slot.client.connect()
        except TimeoutError:
            raise
        except SMTPResponseException as error:
            slot.discard()
            return SendResult(SendStatus.RETRY, f"relay refused us: {error.code} {error.message}")
        except OSError as error:  # unreachable, reset, or dropped while greeting
            raise _Lost(str(error) or type(error).__name__) from error
        except SMTPException as error:  # e.g. no STARTTLS where it is required
            slot.discard()
            return SendResult(SendStatus.RETRY, f"could not open a connection: {error}")
        return None

    async def _transaction(self, client: SMTP, recipient: str, data: bytes) -> SendResult:
        try:
            options = [] if recipient.isascii() else ["SMTPUTF8"]
            await client.sendmail(
                self._composer.sender_address, [recipient], data, mail_options=options
            )
        except SMTPRecipientsRefused as error:
            return _refused(error)
        except SMTPResponseException as error:
            if error.code == CLOSING:
                client.close()
            return _answer(error)
        except TimeoutError:
            raise  # the message's time is up: send() answers RETRY
        except OSError as error:  # dropped or reset mid-transaction (SMTPServerDisconnected)
            raise _Lost(str(error) or type(error).__name__) from error
        except SMTPException as error:  # e.g. the server cannot carry a non-ASCII address
            return SendResult(SendStatus.FAILED, f"not sendable: {error}")
        return SendResult(SendStatus.SENT)

    async def close(self) -> None:
        """Say goodbye on every idle connection of the current loop; drop the rest."""
        idle, self._idle = self._idle, []
        same_loop = self._loop is asyncio.get_running_loop()
        for client in idle:
            if same_loop and client.is_connected:
                try:
                    async with asyncio.timeout(self._options.timeout_seconds):
                        await client.quit()
                except (SMTPException, OSError):
                    pass
            client.close()


@dataclass
class _Slot:
    """The connection one send is using, if any."""

    client: SMTP | None = None

    def discard(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None
