"""A parent's data in LINE: 「データを消して」 shows what is held, asks, and then erases it."""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from kizuna import audit, privacy
from kizuna.core.status import ChildStatus, DeliveryStatus
from kizuna.i18n import format_day
from kizuna.line_events import postback

log = logging.getLogger(__name__)


class PrivacyCommands:
    """Mixed into the bot's commands: the erasure conversation (ask, then confirm)."""

    def _erase_question(self, subscriber, user_id: str, locale: str) -> list[dict]:
        """What Kizuna holds about this person (theirs only), and whether to erase it."""
        if subscriber is None:  # a registration begun and not finished holds dates too
            self.conversations.clear(user_id)
            return [self._text(locale, "Kizuna holds nothing about you now.")]
        quick = [postback(self._t(locale, "Delete my data"), a="erase", v="yes"),
                 postback(self._t(locale, "Do not delete"), a="erase", v="no")]  # fmt: skip
        return [self._held(subscriber.id, locale), self._text(locale, "erase-confirm", quick)]

    def _held(self, subscriber_id: int, locale: str) -> dict:
        data = privacy.export_subscriber(self.runtime.engine, subscriber_id)
        subscriber = data["subscriber"]
        zone = ZoneInfo(subscriber["timezone"] or self.runtime.settings.timezone)
        agreed = subscriber["consent_at"] or subscriber["created_at"]
        variant = "Standard Japanese" if subscriber["variant"] == "ja" else "Easy Japanese"
        places = [row["name"] for row in data["municipality"]]
        sent = [d for d in data["deliveries"] if d["status"] == DeliveryStatus.SENT]
        return self._text(
            locale, "erase-summary: %(variant)s, %(municipality)s, %(children)s, %(count)s, "
                    "%(consent)s",
            variant=self._t(locale, variant),
            municipality=places[0] if places else self._t(locale, "not given"),
            children="\n".join(self._child_line(child, locale) for child in data["children"]),
            count=len(sent),
            consent=format_day(datetime.fromisoformat(agreed).astimezone(zone).date(), locale),
        )  # fmt: skip

    def _child_line(self, child: dict, locale: str) -> str:
        if child["status"] == ChildStatus.LOSS:
            return "・" + self._t(locale, "We send nothing about this child.")
        if child["birth_date"]:
            day = format_day(date.fromisoformat(child["birth_date"]), locale)
            return "・" + self._t(locale, "Born on %(date)s", date=day)
        day = format_day(date.fromisoformat(child["due_date"]), locale)
        return "・" + self._t(locale, "Due date: %(date)s", date=day)

    def _erase_answer(self, subscriber, wanted: bool, locale: str, now: datetime) -> list[dict]:
        if not wanted:
            return [self._text(locale, "Nothing was deleted.")]
        secret = self.runtime.settings.secret_key
        if secret is None:
            log.error("erasure asked in LINE by subscriber %d: KIZUNA_SECRET_KEY is not set",
                      subscriber.id)  # fmt: skip
            return [self._text(locale, "We could not delete your data just now. Please try "
                                       "again a little later.")]  # fmt: skip
        privacy.forget_subscriber(
            self.runtime.engine, subscriber.id, now=now, secret=secret.get_secret_value(),
            actor=audit.subscriber_actor("line"),
        )  # fmt: skip
        return [self._text(locale, "erase-done")]
