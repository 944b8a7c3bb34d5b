"""Where each LINE user is in the registration conversation, and which webhook events were
already handled (LINE redelivers; each event is processed once)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kizuna.models import LineConversation, LineWebhookEvent

CONVERSATION = LineConversation.__table__
EVENTS = LineWebhookEvent.__table__


@dataclass(frozen=True)
class Conversation:
    step: str = ""
    data: dict[str, str] = field(default_factory=dict)


class ConversationStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def get(self, user_id: str) -> Conversation:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(CONVERSATION.c.step, CONVERSATION.c.data).where(
                    CONVERSATION.c.user_id == user_id
                )
            ).first()
        return Conversation(row.step, json.loads(row.data)) if row else Conversation()

    def save(self, user_id: str, step: str, data: dict, *, now: datetime) -> None:
        values = {"step": step, "data": json.dumps(data), "updated_at": now}
        with self._engine.begin() as connection:
            updated = connection.execute(
                CONVERSATION.update().where(CONVERSATION.c.user_id == user_id).values(**values)
            )
            if updated.rowcount == 0:
                connection.execute(CONVERSATION.insert().values(user_id=user_id, **values))

    def clear(self, user_id: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(CONVERSATION.delete().where(CONVERSATION.c.user_id == user_id))

    def first_time(self, event_id: str, *, now: datetime) -> bool:
        """Record a webhook event id; False if it was recorded before (a redelivery)."""
        try:
            with self._engine.begin() as connection:
                connection.execute(EVENTS.insert().values(event_id=event_id, received_at=now))
        except IntegrityError:
            return False
        return True

    def forget_event(self, event_id: str) -> None:
        """Let a redelivery of an event whose handling failed be handled again."""
        with self._engine.begin() as connection:
            connection.execute(EVENTS.delete().where(EVENTS.c.event_id == event_id))
