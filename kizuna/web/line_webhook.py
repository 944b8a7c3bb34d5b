"""`POST /line/webhook`: signed events from LINE, each handled once, answered by reply."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from linebot.v3.webhook import SignatureValidator

from kizuna.core.status import ChannelName
from kizuna.line_events import parse_event

log = logging.getLogger(__name__)
router = APIRouter()


def refused(reason: str) -> JSONResponse:
    log.warning("LINE webhook refused: %s", reason)  # the reason only: never the body
    return JSONResponse({"message": reason}, status_code=400)


def signed(body: bytes, signature: str, secret: str | None) -> bool:
    """HMAC-SHA256 of the raw body with the channel secret, checked before anything else."""
    if not secret or not signature:
        return False
    try:
        return SignatureValidator(secret).validate(body.decode("utf-8"), signature)
    except (UnicodeDecodeError, ValueError):
        return False


@router.post("/line/webhook")
async def line_webhook(request: Request) -> JSONResponse:
    settings = request.app.state.runtime.settings
    secret = (
        settings.line_channel_secret.get_secret_value() if settings.line_channel_secret else None
    )
    body = await request.body()
    if not signed(body, request.headers.get("x-line-signature", ""), secret):
        return refused("invalid signature")
    try:
        events = json.loads(body)["events"]
        assert isinstance(events, list)
    except (ValueError, KeyError, TypeError, AssertionError):
        return refused("not a webhook body")
    for raw in events:
        await handle(request.app, raw)
    return JSONResponse({})


async def handle(app, raw: dict) -> None:
    """Handle one event unless it was handled before; a failure lets LINE redeliver it."""
    bot, now = app.state.line_bot, datetime.now(UTC)
    event_id = raw.get("webhookEventId")
    if event_id and not await asyncio.to_thread(bot.conversations.first_time, event_id, now=now):
        return  # a redelivery of an event already handled
    event = parse_event(raw)
    try:
        replies = await asyncio.to_thread(bot.handle, event, now) if event else []
    except Exception:
        if event_id:
            await asyncio.to_thread(bot.conversations.forget_event, event_id)
        raise
    token = raw.get("replyToken")
    channel = app.state.channels.get(ChannelName.LINE)
    if replies and token and channel is not None and hasattr(channel, "reply"):
        await channel.reply(token, replies[:5])
