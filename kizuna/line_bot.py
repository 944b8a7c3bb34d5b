"""The LINE registration bot: a short conversation, text commands, and life events.

Every reply text comes from the UI catalogs (`locales/`), in the reader's language. The bot
turns one webhook event into reply message objects and the changes it makes; the webhook
route handles signatures, de-duplication and sending the replies.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from kizuna import enrollment, family, subscriptions
from kizuna.consent import LINE_NOTICE, consent_version, notice_values
from kizuna.core.municipality_code import InvalidCode, normalize_code
from kizuna.core.ruby import ruby_to_text
from kizuna.core.stage import add_months
from kizuna.core.status import ChannelName, SubscriberStatus
from kizuna.i18n import Catalogs, default_variant, format_day
from kizuna.line_commands import Commands
from kizuna.line_conversation import ConversationStore
from kizuna.line_events import (
    VARIANT_LOCALE,
    BotEvent,
    conversation_locale,
    date_picker,
    parse_date,
    postback,
)
from kizuna.line_language import LanguageChoice, reply_locale
from kizuna.models import Subscriber
from kizuna.runtime import Runtime, plan_child


class LineBot(Commands, LanguageChoice):
    """Conversation and commands over the database, replies in the reader's language."""

    def __init__(self, runtime: Runtime, catalogs: Catalogs) -> None:
        self.runtime = runtime
        self.catalogs = catalogs
        self.conversations = ConversationStore(runtime.engine)

    # -- helpers -----------------------------------------------------------------------------

    def _subscriber(self, user_id: str) -> Subscriber | None:
        with sa.orm.Session(self.runtime.engine) as session:
            return session.scalars(
                sa.select(Subscriber).where(
                    Subscriber.channel == ChannelName.LINE, Subscriber.address == user_id
                )
            ).first()

    def _text(self, locale: str, msgid: str, quick: list[dict] | None = None, **values) -> dict:
        message = {"type": "text", "text": self._t(locale, msgid, **values)}
        if quick:
            message["quickReply"] = {"items": quick}
        return message

    def _t(self, locale: str, msgid: str, **values) -> str:
        """Catalog text as LINE shows it: furigana marked ｜漢字《かんじ》 becomes 漢字(かんじ)."""
        return ruby_to_text(self.catalogs.gettext(locale, msgid, **values))

    def _consent_version(self, locale: str) -> str:
        """Names the exact privacy notice shown: a change of wording makes a new version."""
        words = self._t(locale, LINE_NOTICE, **notice_values(self.runtime.settings))
        return consent_version("line", locale, words)

    def _today(self, now: datetime) -> date:
        return subscriptions.local_today(now, self.runtime.settings.timezone)

    # -- events ------------------------------------------------------------------------------

    def handle(self, event: BotEvent, now: datetime) -> list[dict]:
        """The replies to one event (possibly none), after making its changes."""
        subscriber = self._subscriber(event.user_id)
        if subscriber is not None:
            locale = reply_locale(subscriber)
        else:
            locale = self._registering_locale(event.user_id)
        if event.kind == "unfollow":
            if subscriber is not None and subscriber.status == SubscriberStatus.ACTIVE:
                subscriptions.stop(self.runtime.engine, subscriber_id=subscriber.id,
                                   reason="unfollow", now=now)  # fmt: skip
            self.conversations.clear(event.user_id)
            return []  # a blocked account cannot receive a reply
        if event.kind == "follow":
            return self._follow(event, subscriber, locale)
        if event.kind == "postback":
            return self._postback(event, subscriber, locale, now)
        return self._command(event, subscriber, locale, now)

    def _follow(self, event: BotEvent, subscriber: Subscriber | None, locale: str) -> list[dict]:
        if subscriber is not None and subscriber.status != SubscriberStatus.ACTIVE:
            resume = postback(self._t(locale, "Resume"), a="resume")
            return [self._text(locale, "Welcome back. Shall we resume your messages?", [resume])]
        if subscriber is not None:
            return [self._text(locale, "Welcome back. Your messages continue as before.")]
        return self._start(locale)

    def _start(self, locale: str) -> list[dict]:
        quick = [
            postback(self._t(locale, "I am pregnant"), a="kind", v="pregnant"),
            postback(self._t(locale, "Raising a child"), a="kind", v="child"),
            self._language_button(locale),
        ]
        return [
            self._text(
                locale,
                "Welcome to Kizuna. We send short messages for your stage of "
                "pregnancy and your child's growth.",
            ),  # fmt: skip
            self._text(locale, LINE_NOTICE, **notice_values(self.runtime.settings)),
            self._text(locale, "Are you pregnant, or raising a child?", quick),
        ]

    def _ask_date(self, locale: str, kind: str, today: date) -> list[dict]:
        if kind == "pregnant":
            low, high = today - timedelta(days=14), today + timedelta(days=300)
            label, initial = self._t(locale, "Choose the due date"), today + timedelta(days=140)
            picker = date_picker(label, initial, low, high, a="date", v="due")
            return [self._text(locale, "When is your due date?", [picker])]
        low = add_months(today, -18 * 12) + timedelta(days=1)
        picker = date_picker(self._t(locale, "Choose the birth date"), today, low, today,
                             a="date", v="birth")  # fmt: skip
        return [self._text(locale, "When was your child born?", [picker])]

    # -- the registration conversation --------------------------------------------------------

    def _postback(
        self, event: BotEvent, subscriber: Subscriber | None, locale: str, now: datetime
    ) -> list[dict]:
        action, value = event.data.get("a"), event.data.get("v", "")
        if action == "locale":
            return self._choose_locale(event.user_id, subscriber, value, now)
        conversation = self.conversations.get(event.user_id)
        if subscriber is None:
            return self._register(event, action, value, conversation, now)
        return self._life_event(event, subscriber, action, value, locale, now)

    def _register(self, event, action, value, conversation, now) -> list[dict]:
        data = dict(conversation.data)
        locale = conversation_locale(data)
        today = self._today(now)
        if action == "kind" and value in ("pregnant", "child"):
            kept = {name: data[name] for name in ("municipality", "locale") if name in data}
            self.conversations.save(event.user_id, "date", {**kept, "kind": value}, now=now)
            return self._ask_date(locale, value, today)
        if action == "date" and event.date is not None and "kind" in data:
            field_name = "due_date" if data["kind"] == "pregnant" else "birth_date"
            problems = subscriptions.check_dates(
                event.date if field_name == "due_date" else None,
                event.date if field_name == "birth_date" else None, today)  # fmt: skip
            if problems:
                return [self._text(locale, "That date cannot be right: please choose it again."),
                        *self._ask_date(locale, data["kind"], today)]  # fmt: skip
            data[field_name] = event.date.isoformat()
            self.conversations.save(event.user_id, "variant", data, now=now)
            return [self._variant_question(locale)]
        if action == "variant" and value in VARIANT_LOCALE and "kind" in data:
            data["variant"] = value
            if "municipality" in data or "family" in data:  # no municipality code to ask
                return self._confirm(event.user_id, data, now)
            self.conversations.save(event.user_id, "municipality", data, now=now)
            locale = conversation_locale(data)
            skip = postback(self._t(locale, "Skip"), a="skip")
            return [self._text(locale, "If your city or town gave you a 6-digit code, send it "
                                       "now. Otherwise tap Skip.", [skip])]  # fmt: skip
        if action == "skip" and "variant" in data:
            return self._confirm(event.user_id, data, now)
        if action == "confirm" and "variant" in data:
            return self._subscribe(event.user_id, data, now)
        return self._start(locale)  # anything else, or "restart": begin again

    def _variant_question(self, locale: str) -> dict:
        """Standard or easy Japanese for the messages; the one that suits `locale` first."""
        quick = [postback(self._t(locale, "Standard Japanese"), a="variant", v="ja"),
                 postback(self._t(locale, "Easy Japanese"), a="variant", v="ja-easy")]  # fmt: skip
        if default_variant(locale) == "ja-easy":
            quick.reverse()
        return self._text(locale, "Which Japanese would you like to read?", quick)

    def _confirm(self, user_id: str, data: dict, now: datetime) -> list[dict]:
        self.conversations.save(user_id, "confirm", data, now=now)
        locale = conversation_locale(data)
        quick = [postback(self._t(locale, "Register"), a="confirm"),
                 postback(self._t(locale, "Start again"), a="restart")]  # fmt: skip
        if "family" in data:  # the child's dates are the inviter's: never shown here
            about = self._text(locale, "You are invited to follow a child as %(role)s.",
                               role=self._role(locale, data["role"]))  # fmt: skip
        else:
            day = date.fromisoformat(data.get("birth_date") or data["due_date"])
            msgid = "Birth date: %(date)s" if "birth_date" in data else "Due date: %(date)s"
            about = self._text(locale, msgid, date=format_day(day, locale))
        return [about, self._text(locale, "Shall we register you with this?", quick)]

    def _subscribe(self, user_id: str, data: dict, now: datetime) -> list[dict]:
        locale = conversation_locale(data)
        request = subscriptions.SubscribeRequest(
            channel="line", address=user_id, variant=data["variant"],
            due_date=parse_date(data.get("due_date")),
            birth_date=parse_date(data.get("birth_date")),
            municipality_code=data.get("municipality"),
            consent_version=self._consent_version(locale),
            nickname=data.get("nickname"),
        )  # fmt: skip
        options = {"variants": self.runtime.variants(), "now": now,
                   "default_timezone": self.runtime.settings.timezone}  # fmt: skip
        try:
            if "family" in data:
                done = family.subscribe_invited(
                    self.runtime.engine, int(data["family"]), request, **options
                )
            elif "invitation" in data:
                done = enrollment.subscribe_invited(
                    self.runtime.engine, int(data["invitation"]), request, **options
                )
            else:
                done = subscriptions.subscribe(self.runtime.engine, request, **options)
        except (subscriptions.SubscribeError, enrollment.InvitationUnusable):
            self.conversations.clear(user_id)
            return [self._text(locale, "Something was not right: let us start again."),
                    *self._start(locale)]  # fmt: skip
        with self.runtime.engine.begin() as connection:
            connection.execute(sa.update(Subscriber).where(Subscriber.id == done.subscriber_id)
                               .values(locale=locale))  # fmt: skip
        self.conversations.clear(user_id)
        plan_child(self.runtime, done.child_id, now=now)  # today's message need not wait
        return [self._text(locale, "You are registered. Your first message comes soon."),
                self._help(locale)]  # fmt: skip

    def municipality_text(self, user_id: str, text: str, now: datetime) -> list[dict] | None:
        """During registration, a typed invitation code or municipality code, at any step;
        None when the text is neither and no code was asked for."""
        conversation = self.conversations.get(user_id)
        locale = conversation_locale(conversation.data)
        invitation = enrollment.read_code(text)
        if invitation is not None:
            return self._invited(user_id, invitation, conversation.data, now)
        code = self._known_municipality(text)
        if conversation.step == "municipality" and code is None:
            skip = postback(self._t(locale, "Skip"), a="skip")
            return [self._text(locale, "We do not know that code. Check it, or tap Skip.", [skip])]
        if conversation.step == "municipality":
            return self._confirm(user_id, {**conversation.data, "municipality": code}, now)
        if code is None:
            return None
        # From a municipality's link, before the questions: remembered for the registration.
        chosen = {"locale": conversation.data["locale"]} if "locale" in conversation.data else {}
        self.conversations.save(user_id, "start", {**chosen, "municipality": code}, now=now)
        return [self._text(locale, "Thank you. Your city or town is noted."), *self._start(locale)]

    def _known_municipality(self, text: str) -> str | None:
        try:
            code = normalize_code(unicodedata.normalize("NFKC", text).strip())
        except InvalidCode:
            return None
        with self.runtime.engine.connect() as connection:
            known = connection.execute(
                sa.text("SELECT 1 FROM municipality WHERE code = :code"), {"code": code}
            ).first()
        return code if known else None

    def _invited(self, user_id: str, code: str, before: dict, now: datetime) -> list[dict]:
        """A code from a municipality's resident list: the child's dates come with it; a
        language chosen `before` stays."""
        invited = self._family_invited(user_id, code, before, now)
        if invited is not None:
            return invited
        try:
            invitation = enrollment.find_invitation(self.runtime.engine, code, now=now)
        except enrollment.InvitationUnusable:
            locale = conversation_locale(before)
            return [self._text(locale, "This invitation code cannot be used. Check it, or "
                                       "register step by step."), *self._start(locale)]  # fmt: skip
        data = {"kind": "child" if invitation.birth_date else "pregnant",
                "variant": invitation.variant, "municipality": invitation.municipality_code,
                "invitation": str(invitation.id)}  # fmt: skip
        for name in ("due_date", "birth_date"):
            if getattr(invitation, name) is not None:
                data[name] = getattr(invitation, name).isoformat()
        if invitation.nickname:
            data["nickname"] = invitation.nickname
        if "locale" in before:
            data["locale"] = before["locale"]
        return self._confirm(user_id, data, now)
