"""The LINE backend: push messages through the Messaging API with line-bot-sdk v3 (async)."""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.request
from typing import ClassVar
from urllib.parse import urlsplit

import aiohttp
from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
)
from linebot.v3.messaging.exceptions import ApiException

from kizuna.channels.base import Envelope, SendResult
from kizuna.channels.rate import RateLimiter
from kizuna.core.status import ChannelName, SendStatus
from kizuna.line_body import (
    MESSAGES_PER_REQUEST,
    RECIPIENTS_PER_MULTICAST,
    TEXT_MAX_UTF16,
    multicast_body,
    push_body,
)

LINE_API_URL = "https://api.line.me"


class LineChannel:
    """Pushes each envelope (one delivery, or a group's) with its key as `X-Line-Retry-Key`;
    a multicast envelope goes to all its recipients in one request.

    The SDK client is created on first use inside the running event loop, reused for the
    whole run and closed by `close()`; its connection pool is sized to the concurrency.
    """

    name: ClassVar[ChannelName] = ChannelName.LINE
    backend: ClassVar[str] = "api"
    max_text_utf16: ClassVar[int | None] = TEXT_MAX_UTF16
    rate_per_second: ClassVar[float | None] = 2000.0  # LINE's own limit for push, per channel
    max_messages: ClassVar[int] = MESSAGES_PER_REQUEST
    max_recipients: ClassVar[int] = RECIPIENTS_PER_MULTICAST

    def __init__(
        self,
        *,
        access_token: str,
        api_url: str = LINE_API_URL,
        concurrency: int = 16,
        timeout_seconds: float = 10.0,
        rate_per_second: float = 1000.0,
    ) -> None:
        self._configuration = Configuration(access_token=access_token, host=api_url)
        self._configuration.connection_pool_maxsize = concurrency
        self._timeout = timeout_seconds
        self._limiter = RateLimiter(rate_per_second)
        self._client: AsyncApiClient | None = None
        self._api: AsyncMessagingApi | None = None
        self._creating = asyncio.Lock()

    async def _messaging(self) -> AsyncMessagingApi:
        if self._api is None:
            async with self._creating:  # the first sends of a run arrive together
                if self._api is None:
                    client = AsyncApiClient(self._configuration)
                    await _without_lookups_per_request(client, self._configuration)
                    self._client, self._api = client, AsyncMessagingApi(client)
        return self._api

    async def send(self, envelope: Envelope) -> SendResult:
        try:
            if envelope.multicast:
                body = multicast_body(envelope.addresses, envelope.texts)
                call = (await self._messaging()).multicast_with_http_info
                request = MulticastRequest.from_dict(body)
            else:
                call = (await self._messaging()).push_message_with_http_info
                request = PushMessageRequest.from_dict(push_body(envelope.address, envelope.texts))
        except ValueError as error:
            return SendResult(SendStatus.FAILED, str(error))
        await self._limiter.acquire()
        try:
            await call(
                request, x_line_retry_key=envelope.idempotency_key, _request_timeout=self._timeout
            )
        except ApiException as error:
            return classify(error.status, error.body)
        except (TimeoutError, aiohttp.ClientError) as error:
            # The push may or may not have been accepted: the retry key makes a retry safe.
            return SendResult(SendStatus.RETRY, f"no answer: {type(error).__name__}")
        return SendResult(SendStatus.SENT)

    async def reply(self, reply_token: str, messages: list[dict]) -> SendResult:
        """Answer a webhook event (replies are free and need no retry key)."""
        request = ReplyMessageRequest.from_dict({"replyToken": reply_token, "messages": messages})
        try:
            await (await self._messaging()).reply_message_with_http_info(
                request, _request_timeout=self._timeout
            )
        except ApiException as error:
            return classify(error.status, error.body)
        except (TimeoutError, aiohttp.ClientError) as error:
            return SendResult(SendStatus.RETRY, f"no answer: {type(error).__name__}")
        return SendResult(SendStatus.SENT)

    async def remaining_quota(self) -> int | None:
        """Pushes left this month (GET quota and consumption), or None when unlimited."""
        api = await self._messaging()
        quota = await api.get_message_quota(_request_timeout=self._timeout)
        if quota.type != "limited" or quota.value is None:
            return None
        used = await api.get_message_quota_consumption(_request_timeout=self._timeout)
        return max(quota.value - used.total_usage, 0)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = self._api = None


async def _without_lookups_per_request(
    client: AsyncApiClient, configuration: Configuration
) -> None:
    """The SDK's session trusts the environment, so aiohttp reads the proxy variables and
    ~/.netrc again for every request, each time in a worker thread: a third of a push's CPU
    in the profile (BENCHMARKS.md). The proxy is read once here, and the session replaced by
    one that does not look again, with the same pool size and certificates."""
    if configuration.proxy is None:
        parts = urlsplit(configuration.host)
        proxy = urllib.request.getproxies().get(parts.scheme)
        bypass = urllib.request.proxy_bypass(parts.hostname or "")  # no_proxy
        configuration.proxy = proxy if proxy and not bypass else None
    rest = client.rest_client
    rest.proxy = configuration.proxy
    await rest.pool_manager.close()
    connector = aiohttp.TCPConnector(
        limit=configuration.connection_pool_maxsize,
        ssl=ssl.create_default_context(cafile=configuration.ssl_ca_cert),
    )
    rest.pool_manager = aiohttp.ClientSession(connector=connector, trust_env=False)


def classify(status: int | None, body: bytes | str | None) -> SendResult:
    """What a LINE error answer means for the delivery."""
    detail = _detail(status, body)
    if status == 409:  # the retry key was accepted before: the message went out
        return SendResult(SendStatus.SENT, detail)
    if status == 429 or status is None or status >= 500:
        return SendResult(SendStatus.RETRY, detail)
    if status == 400 and _about_recipient(body):
        return SendResult(SendStatus.GONE, detail)  # no such user for this channel
    return SendResult(SendStatus.FAILED, detail)


def _detail(status: int | None, body: bytes | str | None) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        message = json.loads(text).get("message", "")
    except (ValueError, AttributeError):
        message = text[:200]
    return f"LINE {status}: {message}".strip()


def _about_recipient(body: bytes | str | None) -> bool:
    """LINE answers 400 naming the `to` property when the user id is unknown to the channel."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        details = json.loads(text).get("details") or []
    except (ValueError, AttributeError):
        return False
    return any(item.get("property") == "to" for item in details if isinstance(item, dict))
