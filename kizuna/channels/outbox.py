"""The outbox backend: each delivery becomes a file, exactly what the real channel would send."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import ClassVar

from kizuna.channels.base import Envelope, SendResult
from kizuna.core.status import ChannelName, SendStatus
from kizuna.line_body import (
    MESSAGES_PER_REQUEST,
    RECIPIENTS_PER_MULTICAST,
    TEXT_MAX_UTF16,
    multicast_body,
    push_body,
)
from kizuna.mail import MailComposer


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves either the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LineOutbox:
    """LINE requests as `<dir>/line/<delivery-id>.json` (a group's first delivery): the
    endpoint, the body and the retry key, as the real channel would send them."""

    name: ClassVar[ChannelName] = ChannelName.LINE
    backend: ClassVar[str] = "outbox"
    max_text_utf16: ClassVar[int | None] = TEXT_MAX_UTF16
    rate_per_second: ClassVar[float | None] = None
    max_messages: ClassVar[int] = MESSAGES_PER_REQUEST
    max_recipients: ClassVar[int] = RECIPIENTS_PER_MULTICAST

    def __init__(self, directory: Path) -> None:
        self.directory = directory / "line"

    def path_for(self, delivery_id: int) -> Path:
        return self.directory / f"{delivery_id}.json"

    async def send(self, envelope: Envelope) -> SendResult:
        try:
            if envelope.multicast:
                endpoint, body = "multicast", multicast_body(envelope.addresses, envelope.texts)
            else:
                endpoint, body = "push", push_body(envelope.address, envelope.texts)
        except ValueError as error:
            return SendResult(SendStatus.FAILED, str(error))
        record = {
            "endpoint": f"/v2/bot/message/{endpoint}",
            "retry_key": envelope.idempotency_key,
            "request": body,
        }
        data = json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8")
        try:
            atomic_write(self.path_for(envelope.delivery_id), data)
        except OSError as error:
            return SendResult(SendStatus.RETRY, f"outbox write failed: {error.strerror}")
        return SendResult(SendStatus.SENT)

    async def reply(self, reply_token: str, messages: list[dict]) -> SendResult:
        """A webhook reply as `<dir>/line/replies/<n>.json` (the reply token is not a name)."""
        replies = self.directory / "replies"
        number = len(list(replies.glob("*.json"))) + 1 if replies.is_dir() else 1
        record = {"replyToken": reply_token, "messages": messages}
        data = json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8")
        atomic_write(replies / f"{number}.json", data)
        return SendResult(SendStatus.SENT)

    async def close(self) -> None:
        return None


class EmailOutbox:
    """Email deliveries as `<dir>/email/<delivery-id>.eml`: the complete RFC 5322 message."""

    name: ClassVar[ChannelName] = ChannelName.EMAIL
    backend: ClassVar[str] = "outbox"
    max_text_utf16: ClassVar[int | None] = None
    rate_per_second: ClassVar[float | None] = None
    max_messages: ClassVar[int] = 1
    max_recipients: ClassVar[int] = 1

    def __init__(self, directory: Path, composer: MailComposer) -> None:
        self.directory = directory / "email"
        self._composer = composer

    def path_for(self, envelope: Envelope) -> Path:
        # Mail sent at once by the pages (confirmations, invitations) has no delivery row
        # (id 0): it is named by its own key, so one never overwrites another.
        if envelope.delivery_id:
            return self.directory / f"{envelope.delivery_id}.eml"
        return self.directory / f"mail-{envelope.idempotency_key}.eml"

    async def send(self, envelope: Envelope) -> SendResult:
        data = self._composer.compose(envelope).as_bytes()
        try:
            atomic_write(self.path_for(envelope), data)
        except OSError as error:
            return SendResult(SendStatus.RETRY, f"outbox write failed: {error.strerror}")
        return SendResult(SendStatus.SENT)

    async def close(self) -> None:
        return None
