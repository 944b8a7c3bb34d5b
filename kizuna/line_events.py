"""LINE webhook events and reply building blocks: parsing, commands, quick replies (pure)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import parse_qs, urlencode

COMMANDS = {
    # A loss is looked for first: a message that mentions a birth and a loss must never be
    # answered with congratulations.
    "loss": ("流産", "りゅうざん", "死産", "しざん", "亡くなりました",
             "あかちゃんがなくなりました", "お別れ", "おわかれ", "miscarriage", "stillbirth"),
    "stop": ("停止", "とめる", "ていし", "配信停止", "stop"),
    "resume": ("再開", "さいかい", "resume"),
    "help": ("ヘルプ", "へるぷ", "使い方", "つかいかた", "help"),
    "variant": ("言葉", "ことば", "言語", "げんご", "やさしい日本語", "にほんご", "language"),
    "due": ("予定日", "よていび", "日付", "ひづけ", "予定日変更", "due date"),
    "birth": ("生まれました", "うまれました", "産まれました", "出産しました", "born"),
}  # fmt: skip
VARIANT_LOCALE = {"ja": "ja", "ja-easy": "ja-easy"}


@dataclass(frozen=True)
class BotEvent:
    """One webhook event, reduced to what the bot needs."""

    kind: str  # follow, unfollow, text, postback
    user_id: str
    text: str = ""
    data: dict[str, str] = field(default_factory=dict)  # postback data
    date: date | None = None  # from a datetimepicker
    unblocked: bool = False


def parse_event(raw: dict) -> BotEvent | None:
    """A webhook event (webhook.yml shape) from a user, or None for what the bot ignores."""
    source = raw.get("source") or {}
    user_id = source.get("userId")
    if source.get("type") != "user" or not user_id:
        return None
    kind = raw.get("type")
    if kind == "follow":
        unblocked = bool((raw.get("follow") or {}).get("isUnblocked"))
        return BotEvent("follow", user_id, unblocked=unblocked)
    if kind == "unfollow":
        return BotEvent("unfollow", user_id)
    if kind == "message" and (raw.get("message") or {}).get("type") == "text":
        return BotEvent("text", user_id, text=raw["message"].get("text", ""))
    if kind == "postback":
        postback = raw.get("postback") or {}
        data = {k: v[0] for k, v in parse_qs(postback.get("data", "")).items()}
        picked = (postback.get("params") or {}).get("date")
        return BotEvent("postback", user_id, data=data, date=parse_date(picked))
    return None


def parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def command_of(text: str) -> str | None:
    """The command a text asks for: full-width forms, case and spaces do not matter."""
    normalized = "".join(unicodedata.normalize("NFKC", text).lower().split())
    for command, words in COMMANDS.items():
        if any("".join(word.lower().split()) in normalized for word in words):
            return command
    return None


def postback(label: str, **data: str) -> dict:
    return {"type": "action", "action": {"type": "postback", "label": label[:20],
            "data": urlencode(data), "displayText": label}}  # fmt: skip


def date_picker(label: str, initial: date, low: date, high: date, **data: str) -> dict:
    action = {
        "type": "datetimepicker", "label": label[:20], "data": urlencode(data), "mode": "date",
        "initial": initial.isoformat(), "min": low.isoformat(), "max": high.isoformat(),
    }  # fmt: skip
    return {"type": "action", "action": action}
