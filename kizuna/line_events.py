"""LINE webhook events and reply building blocks: parsing, commands, quick replies (pure)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import parse_qs, urlencode

from kizuna.i18n import paired_locale

COMMANDS = {
    # A loss is looked for first: a message that mentions a birth and a loss must never be
    # answered with congratulations. Words are found anywhere in a message.
    "loss": ("流産", "りゅうざん", "死産", "しざん", "亡くなりました",
             "あかちゃんがなくなりました", "お別れ", "おわかれ", "miscarriage", "stillbirth",
             "流产", "死产", "sảy thai", "thai lưu", "유산했", "사산했", "아기를 잃",
             "nakunan ako", "ipinanganak na patay", "perdi o bebê", "perdi o bebe",
             "perdi meu bebê", "perdi meu bebe", "aborto espontâneo", "natimorto",
             "गर्भपात", "मृत जन्म", "keguguran", "lahir mati"),
    # Asking to erase one's data comes before stopping, which it includes.
    "erase": ("データを消", "データをけし", "データをけす", "データを削除", "データをさくじょ",
              "データ削除", "個人情報を消", "個人情報を削除", "delete my data", "erase my data"),
    "stop": ("停止", "とめる", "ていし", "配信停止", "stop"),
    "resume": ("再開", "さいかい", "resume"),
    "help": ("ヘルプ", "へるぷ", "使い方", "つかいかた", "help"),
    "variant": ("言葉", "ことば", "やさしい日本語", "にほんご", "japanese"),
    "locale": ("言語", "げんご", "language"),
    "due": ("予定日", "よていび", "日付", "ひづけ", "予定日変更", "due date"),
    "birth": ("生まれました", "うまれました", "産まれました", "出産しました", "born"),
    "invite": ("家族を招待", "かぞくをしょうたい", "かぞくを しょうたい", "招待", "しょうたい",
               "invite"),
}  # fmt: skip
# The words each other language's help text names, matched only as a whole message: short
# words would hide inside longer ones ("parar" in "preparar", "유산" in "유산균").
WHOLE_MESSAGE_COMMANDS = {
    "loss": ("유산", "사산", "nakunan"),
    "erase": ("删除我的数据", "xóa dữ liệu", "데이터 삭제", "burahin ang data ko",
              "apagar meus dados", "डाटा मेटाउनुहोस्", "मेरो डाटा मेटाउनुहोस्", "hapus data saya"),
    "stop": ("dừng", "중지", "ihinto", "parar", "रोक्नुहोस्", "berhenti"),
    "resume": ("恢复", "tiếp tục", "재개", "ituloy", "retomar", "फेरि सुरु", "lanjut"),
    "help": ("帮助", "trợ giúp", "도움말", "tulong", "ajuda", "सहायता", "bantuan"),
    "variant": ("日语", "tiếng nhật", "일본어", "nihongo", "japonês", "japones", "जापानी",
                "bahasa jepang"),
    "locale": ("语言", "ngôn ngữ", "언어", "wika", "idioma", "भाषा", "bahasa"),
    "due": ("预产期", "ngày dự sinh", "예정일", "hpl", "data prevista", "प्रसव मिति"),
    "birth": ("出生了", "đã sinh", "태어났어요", "ipinanganak na", "nasceu", "जन्मियो",
              "sudah lahir"),
    # The caregivers who follow one's child by invitation: to remove them or trust them.
    "family": ("家族", "かぞく", "family", "caregivers"),
}  # fmt: skip
# A language typed by its own name (or in English) as a whole message chooses it at once.
LOCALE_WORDS = {
    "ja": ("日本語", "japanese language"),
    "en": ("english", "英語", "えいご"),
    "zh-Hans": ("中文", "中文（简体）", "简体中文", "汉语", "chinese", "中国語"),
    "vi": ("tiếng việt", "vietnamese", "ベトナム語"),
    "ko": ("한국어", "korean", "韓国語"),
    "fil": ("filipino", "tagalog", "フィリピン語", "タガログ語"),
    "pt-BR": ("português", "portugues", "portuguese", "ポルトガル語"),
    "ne": ("नेपाली", "nepali", "ネパール語"),
    "id": ("bahasa indonesia", "indonesia", "indonesian", "インドネシア語"),
}  # fmt: skip
VARIANT_LOCALE = {"ja": "ja", "ja-easy": "ja-easy"}
END_PUNCTUATION = ".!?。！？、,…~〜 "


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


def _normal(text: str) -> str:
    """Full-width forms, case and spaces do not matter."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def command_of(text: str) -> str | None:
    """The command a text asks for: a loss first, then a whole-message word, then any word."""
    normalized = _normal(text)
    whole = normalized.strip(END_PUNCTUATION)
    if any(_normal(word) in normalized for word in COMMANDS["loss"]):
        return "loss"
    for command, words in WHOLE_MESSAGE_COMMANDS.items():
        if any(_normal(word) == whole for word in words):
            return command
    for command, words in COMMANDS.items():
        if any(_normal(word) in normalized for word in words):
            return command
    return None


def named_locale(text: str) -> str | None:
    """The UI locale a message names when it is just a language's name ("English", "中文")."""
    whole = _normal(text).strip(END_PUNCTUATION)
    for locale, words in LOCALE_WORDS.items():
        if any(_normal(word) == whole for word in words):
            return locale
    return None


def conversation_locale(data: dict[str, str]) -> str:
    """The language of a registration so far: the one chosen, else Japanese — in the Japanese
    chosen for the messages, once chosen."""
    locale = data.get("locale") or "ja"
    return paired_locale(locale, data.get("variant", ""))


def postback(label: str, **data: str) -> dict:
    return {"type": "action", "action": {"type": "postback", "label": label[:20],
            "data": urlencode(data), "displayText": label}}  # fmt: skip


def date_picker(label: str, initial: date, low: date, high: date, **data: str) -> dict:
    action = {
        "type": "datetimepicker", "label": label[:20], "data": urlencode(data), "mode": "date",
        "initial": initial.isoformat(), "min": low.isoformat(), "max": high.isoformat(),
    }  # fmt: skip
    return {"type": "action", "action": action}
