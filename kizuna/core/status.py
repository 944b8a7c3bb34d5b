"""The domain's statuses and channels, one StrEnum each (stored as their string values)."""

from __future__ import annotations

from enum import StrEnum


class ChannelName(StrEnum):
    """How a subscriber is reached."""

    LINE = "line"
    EMAIL = "email"


class SubscriberStatus(StrEnum):
    PENDING = "pending"  # signed up, waiting for the double opt-in (the link in the mail)
    ACTIVE = "active"
    STOPPED = "stopped"  # the subscriber asked to stop
    GONE = "gone"  # the address no longer reaches anyone (blocked, unknown, bounced)
    PAUSED = "paused"  # too many consecutive failures


class ChildStatus(StrEnum):
    EXPECTED = "expected"
    BORN = "born"
    LOSS = "loss"


class DeliveryStatus(StrEnum):
    PLANNED = "planned"  # waiting for its due time (or its next attempt)
    SENDING = "sending"  # claimed by a dispatcher until `claimed_until`
    SENT = "sent"
    FAILED = "failed"  # given up, with `last_error`
    SKIPPED = "skipped"  # not sent on purpose, with `skip_reason`
    CANCELLED = "cancelled"  # withdrawn before sending (birth, loss, stop)


class SendStatus(StrEnum):
    """What a channel says about one attempt; only the dispatcher decides what follows."""

    SENT = "sent"
    RETRY = "retry"
    GONE = "gone"
    FAILED = "failed"


class SignInStatus(StrEnum):
    """What one attempt to sign in to the staff console came to."""

    OK = "ok"
    WRONG = "wrong"  # unknown address, no password set yet, or a wrong password
    LOCKED = "locked"  # too many wrong passwords in a row: refused until the lock ends
