"""What a registered LINE subscriber can ask: stop, resume, help, the Japanese of the messages,
the language of Kizuna, dates, a birth, family — and, with particular care, a loss."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from kizuna import subscriptions
from kizuna.core.status import SubscriberStatus
from kizuna.enrollment import read_code
from kizuna.i18n import JAPANESE_LOCALES, paired_locale
from kizuna.line_events import command_of, date_picker, named_locale, postback
from kizuna.line_family import FAMILY_ACTIONS, FamilyCommands
from kizuna.line_privacy import PrivacyCommands
from kizuna.models import Follow
from kizuna.runtime import plan_child
from kizuna.store import set_subscriber_status


class Commands(PrivacyCommands, FamilyCommands):
    """Mixed into LineBot: text commands and the postbacks they lead to."""

    def _help(self, locale: str) -> dict:
        return self._text(locale, "help-commands")

    def _command(self, event, subscriber, locale: str, now: datetime) -> list[dict]:
        chosen = named_locale(event.text)
        if chosen is not None:
            return self._choose_locale(event.user_id, subscriber, chosen, now)
        command = command_of(event.text)
        if command == "locale":
            return [self._language_menu(locale)]
        if command == "erase":
            return self._erase_question(subscriber, event.user_id, locale)
        if subscriber is None:
            typed = self.municipality_text(event.user_id, event.text, now)
            return typed if typed is not None else self._start(locale)
        code = read_code(event.text)
        if code is not None and command != "loss":
            return self._family_code(subscriber, code, locale, now)
        if command == "invite":
            return self._invite_question(subscriber, locale)
        if command == "family":
            return self._caregiver_list(subscriber, locale)
        today = self._today(now)
        if command == "stop":
            subscriptions.stop(self.runtime.engine, subscriber_id=subscriber.id,
                               reason="asked in LINE", now=now)  # fmt: skip
            return [self._text(locale, "Your messages are stopped. Send “resume” to start again.")]
        if command == "resume":
            return self._resume(subscriber, locale, now)
        if command == "variant":
            return [self._variant_question(locale)]
        if command == "due":
            low, high = today - timedelta(days=14), today + timedelta(days=300)
            label = self._t(locale, "Choose the due date")
            picker = date_picker(label, today, low, high, a="due")
            return [self._text(locale, "When is your due date?", [picker])]
        if command == "birth":
            picker = date_picker(self._t(locale, "Choose the birth date"), today,
                                 today - timedelta(days=60), today, a="birth")  # fmt: skip
            return [self._text(locale, "Congratulations! When was your baby born?", [picker])]
        if command == "loss":
            quick = [postback(self._t(locale, "Yes, stop them"), a="loss", v="yes"),
                     postback(self._t(locale, "No"), a="loss", v="no")]  # fmt: skip
            return [self._text(locale, "loss-confirm", quick)]
        return [self._help(locale)]

    def _resume(self, subscriber, locale: str, now: datetime) -> list[dict]:
        with self.runtime.engine.begin() as connection:
            set_subscriber_status(connection, subscriber.id, SubscriberStatus.ACTIVE,
                                  reason="resumed in LINE", now=now)  # fmt: skip
        return [self._text(locale, "Your messages start again from today's stage.")]

    def _reportable_child(self, subscriber_id: int) -> int | None:
        """The newest child this subscriber may report events for."""
        with self.runtime.engine.connect() as connection:
            return connection.execute(
                sa.select(Follow.child_id)
                .where(Follow.subscriber_id == subscriber_id, Follow.may_report)
                .order_by(Follow.child_id.desc())
            ).scalar()

    def _life_event(self, event, subscriber, action, value, locale, now) -> list[dict]:
        if action == "erase":
            return self._erase_answer(subscriber, value == "yes", locale, now)
        if action in FAMILY_ACTIONS:
            return self._family_action(event, subscriber, action, value, locale, now)
        if action == "resume":
            return self._resume(subscriber, locale, now)
        if action == "variant" and value in JAPANESE_LOCALES:
            locale = paired_locale(locale, value)  # Japanese replies follow the Japanese chosen
            subscriptions.change_variant(self.runtime.engine, subscriber_id=subscriber.id,
                                         variant=value, locale=locale)  # fmt: skip
            return [self._text(locale, "Done: your messages come in this Japanese from now on.")]
        child_id = self._reportable_child(subscriber.id)
        if child_id is None:
            return [self._help(locale)]
        if action == "birth" and event.date is not None:
            return self._birth(child_id, event.date, locale, now)
        if action == "due" and event.date is not None:
            problems = subscriptions.check_dates(event.date, None, self._today(now))
            if problems:
                return [self._text(locale, "That date cannot be right: please choose it again.")]
            subscriptions.correct_due_date(self.runtime.engine, child_id=child_id,
                                           due_date=event.date)  # fmt: skip
            plan_child(self.runtime, child_id, now=now)
            return [self._text(locale, "Thank you. Your messages follow the new due date.")]
        if action == "loss" and value == "yes":
            return self._loss(child_id, locale, now)
        if action == "support":
            return self._support(subscriber.id, child_id, value == "yes", locale)
        return [self._help(locale)]

    def _birth(self, child_id: int, born: date, locale: str, now: datetime) -> list[dict]:
        if born > self._today(now):
            return [self._text(locale, "That date cannot be right: please choose it again.")]
        subscriptions.report_birth(self.runtime.engine, child_id=child_id, birth_date=born)
        plan_child(self.runtime, child_id, now=now)
        return [self._text(locale, "Congratulations on your baby's birth. From now on, messages "
                                   "follow your baby's growth.")]  # fmt: skip

    def _loss(self, child_id: int, locale: str, now: datetime) -> list[dict]:
        subscriptions.report_loss(
            self.runtime.engine, child_id=child_id, loss_date=self._today(now)
        )
        quick = [postback(self._t(locale, "Yes, please"), a="support", v="yes"),
                 postback(self._t(locale, "No, thank you"), a="support", v="no")]  # fmt: skip
        return [self._text(locale, "loss-reply"), self._text(locale, "loss-support-offer", quick)]

    def _support(self, subscriber_id, child_id, wanted: bool, locale: str) -> list[dict]:
        with self.runtime.engine.begin() as connection:
            connection.execute(
                sa.update(Follow)
                .where(Follow.subscriber_id == subscriber_id, Follow.child_id == child_id)
                .values(loss_support=wanted)
            )
        msgid = "loss-support-yes" if wanted else "loss-support-no"
        return [self._text(locale, msgid)]
