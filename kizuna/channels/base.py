"""The one small interface every channel backend implements, and the registry of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from kizuna.core.status import ChannelName, SendStatus


@dataclass(frozen=True, slots=True)
class Envelope:
    """One delivery, rendered and addressed; everything a channel needs to send it."""

    delivery_id: int
    idempotency_key: str  # the same on every attempt: LINE's retry key, the mail's Message-ID
    channel: ChannelName
    address: str
    title: str
    text: str
    html: str
    created_at: datetime
    subscriber_id: int = 0  # for the signed links in a mail (unsubscribe, manage); 0: none
    locale: str = "ja"  # the subscriber's UI locale: the mail's footer is in it
    # Several deliveries in one request (a channel whose `max_messages` or `max_recipients`
    # allows it): the further texts, and with `multicast` the further recipients.
    more_texts: tuple[str, ...] = ()
    multicast: bool = False
    more_addresses: tuple[str, ...] = ()

    @property
    def texts(self) -> tuple[str, ...]:
        return (self.text, *self.more_texts)

    @property
    def addresses(self) -> tuple[str, ...]:
        return (self.address, *self.more_addresses)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one attempt came to. `detail` says why, for anything but SENT."""

    status: SendStatus
    detail: str = ""
    retry_after_seconds: float | None = None


class Channel(Protocol):
    """A channel backend. Capabilities are class attributes; `send` never raises for a
    delivery's own trouble (it returns RETRY, GONE or FAILED with the detail)."""

    name: ClassVar[ChannelName]
    backend: ClassVar[str]
    max_text_utf16: ClassVar[int | None]
    rate_per_second: ClassVar[float | None]
    max_messages: ClassVar[int]  # texts one request may carry to one recipient
    max_recipients: ClassVar[int]  # recipients of one request (a multicast); 1: none
    # Optional: requests it can carry at once (an SMTP pool's connections); the dispatcher
    # runs no more senders than that for it, rather than queueing the rest inside `send`.
    # max_in_flight: int

    async def send(self, envelope: Envelope) -> SendResult: ...

    async def close(self) -> None: ...


class Channels:
    """The channels registered at start-up, one per channel name; duplicates are refused."""

    def __init__(self) -> None:
        self._by_name: dict[ChannelName, Channel] = {}

    def register(self, channel: Channel) -> None:
        if channel.name in self._by_name:
            raise ValueError(f"a {channel.name} channel is already registered")
        self._by_name[channel.name] = channel

    def get(self, name: ChannelName) -> Channel | None:
        return self._by_name.get(name)

    def describe(self) -> dict[str, str]:
        return {str(name): channel.backend for name, channel in self._by_name.items()}

    async def close(self) -> None:
        for channel in self._by_name.values():
            await channel.close()
