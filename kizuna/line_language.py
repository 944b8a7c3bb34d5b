"""Choosing the language Kizuna speaks in LINE: a menu of every UI locale by its own name, or
a language's name typed as a message. The messages themselves keep their Japanese variant."""

from __future__ import annotations

from datetime import datetime

from kizuna import subscriptions
from kizuna.i18n import LOCALE_NAMES, LOCALES
from kizuna.line_events import conversation_locale, postback
from kizuna.models import Subscriber


def reply_locale(subscriber: Subscriber) -> str:
    """The language a subscriber reads Kizuna in: their choice, else their variant's."""
    return subscriber.locale if subscriber.locale in LOCALES else subscriber.variant


class LanguageChoice:
    """Mixed into LineBot: the language menu and the choice, before or after registering."""

    def _language_button(self, locale: str) -> dict:
        return postback(self._t(locale, "🌐 Language"), a="locale")

    def _language_menu(self, locale: str) -> dict:
        quick = [postback(LOCALE_NAMES[code], a="locale", v=code) for code in LOCALES]
        return self._text(locale, "Which language shall Kizuna use with you?", quick)

    def _choose_locale(
        self, user_id: str, subscriber: Subscriber | None, chosen: str, now: datetime
    ) -> list[dict]:
        """Registered: from now on in `chosen`. Registering: begin again in `chosen`, so that
        the privacy notice is read in a language the reader understands before agreeing."""
        if chosen not in LOCALES:
            current = reply_locale(subscriber) if subscriber else self._registering_locale(user_id)
            return [self._language_menu(current)]
        if subscriber is None:
            data = self.conversations.get(user_id).data
            if "family" in data:  # invited: the invitation stays, asked again in `chosen`
                data = {**data, "locale": chosen}
                self.conversations.save(user_id, "variant", data, now=now)
                return self._family_welcome(data)
            kept = {"municipality": data["municipality"]} if "municipality" in data else {}
            self.conversations.save(user_id, "start", {**kept, "locale": chosen}, now=now)
            return self._start(chosen)
        subscriptions.change_variant(
            self.runtime.engine, subscriber_id=subscriber.id, variant=subscriber.variant,
            locale=chosen,
        )  # fmt: skip
        return [self._text(chosen, "locale-changed")]

    def _registering_locale(self, user_id: str) -> str:
        return conversation_locale(self.conversations.get(user_id).data)
