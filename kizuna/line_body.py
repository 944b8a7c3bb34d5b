"""The JSON body of a LINE push request, within LINE's limits."""

from __future__ import annotations

from collections.abc import Sequence

TEXT_MAX_UTF16 = 5000  # LINE counts a text message's length in UTF-16 code units
MESSAGES_PER_REQUEST = 5
RECIPIENTS_PER_MULTICAST = 500


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def text_fits(text: str) -> bool:
    """True if `text` fits in one LINE text message."""
    return utf16_length(text) <= TEXT_MAX_UTF16


def text_objects(texts: Sequence[str]) -> list[dict[str, str]]:
    """One text message object per text; refuses what LINE would refuse."""
    if not 1 <= len(texts) <= MESSAGES_PER_REQUEST:
        raise ValueError(f"a push carries 1 to {MESSAGES_PER_REQUEST} messages, got {len(texts)}")
    for text in texts:
        if not text or not text_fits(text):
            raise ValueError("a LINE text must hold 1 to 5,000 UTF-16 code units")
    return [{"type": "text", "text": text} for text in texts]


def push_body(to: str, texts: Sequence[str]) -> dict[str, object]:
    """The body of `POST /v2/bot/message/push`."""
    return {"to": to, "messages": text_objects(texts)}


def multicast_body(to: Sequence[str], texts: Sequence[str]) -> dict[str, object]:
    """The body of `POST /v2/bot/message/multicast`: the same texts to up to 500 users."""
    if not 1 <= len(to) <= RECIPIENTS_PER_MULTICAST:
        raise ValueError(
            f"a multicast goes to 1 to {RECIPIENTS_PER_MULTICAST} users, got {len(to)}"
        )
    return {"to": list(to), "messages": text_objects(texts)}
