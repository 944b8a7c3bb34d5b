"""Signed tokens for links and forms: opaque, one purpose each, keyed by KIZUNA_SECRET_KEY."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from itsdangerous import BadData, Signer, URLSafeSerializer
from itsdangerous.encoding import base64_encode


class Purpose(StrEnum):
    """What a token may be used for; a token made for one purpose is refused for any other."""

    CONFIRM = "confirm"  # the double opt-in link in the confirmation mail
    UNSUBSCRIBE = "unsubscribe"  # List-Unsubscribe and the footer's stop link
    MANAGE = "manage"  # the settings page linked from every mail
    FAMILY = "family"  # a family invitation's sign-up page: carries the invitation id


# zlib's output is never under 9 bytes, and itsdangerous keeps it only when it is at least 2
# bytes shorter than the JSON: a JSON of 10 bytes or fewer (an id under 10**10) is never
# compressed, so trying costs a zlib stream's set-up (~20 µs) for nothing, twice a mail.
NEVER_COMPRESSED = 10


class Tokens:
    """Makes and reads the tokens in Kizuna's links. A token carries a subscriber id, nothing
    else (no address, no date), so a leaked link reveals nothing about the person."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("a secret key is required to sign tokens")
        # The salt separates purposes: an unsubscribe token cannot confirm or manage.
        self._serializers = {
            purpose: URLSafeSerializer(secret_key, salt=f"kizuna.{purpose}.v1")
            for purpose in Purpose
        }
        self._signers = {purpose: s.make_signer() for purpose, s in self._serializers.items()}
        self._csrf = Signer(secret_key, salt="kizuna.csrf.v1")
        self._staff = URLSafeSerializer(secret_key, salt="kizuna.staff-session.v1")

    def issue(self, purpose: Purpose, subscriber_id: int) -> str:
        if subscriber_id <= 0:
            raise ValueError("tokens are issued for a real subscriber id")
        payload = str(subscriber_id).encode("ascii")  # an int's JSON
        if len(payload) > NEVER_COMPRESSED:
            return self._serializers[purpose].dumps(subscriber_id)
        # What `dumps` writes, byte for byte (tests/test_tokens.py), without the zlib attempt.
        return self._signers[purpose].sign(base64_encode(payload)).decode("ascii")

    def read(self, purpose: Purpose, token: str) -> int | None:
        """The subscriber id in `token`, or None when it is forged, damaged or for another use."""
        try:
            value = self._serializers[purpose].loads(token)
        except (BadData, UnicodeError, ValueError):
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            return None
        return value

    def issue_staff_session(self, staff_id: int, version: int, *, now: datetime) -> str:
        """The staff console's session cookie: who, which session generation, since when."""
        return self._staff.dumps([staff_id, version, int(now.timestamp())])

    def read_staff_session(
        self, value: str, *, now: datetime, max_age: timedelta
    ) -> tuple[int, int] | None:
        """(staff id, session version) of a cookie signed by us and not older than `max_age`."""
        try:
            staff_id, version, issued = self._staff.loads(value)
        except (BadData, UnicodeError, ValueError, TypeError):
            return None
        if not all(type(part) is int for part in (staff_id, version, issued)):
            return None
        age = now.timestamp() - issued
        return (staff_id, version) if 0 <= age <= max_age.total_seconds() else None

    def csrf_pair(self) -> tuple[str, str]:
        """A fresh (cookie value, form value) pair for the signed double-submit check."""
        nonce = secrets.token_urlsafe(24)
        return nonce, self._csrf.sign(nonce).decode("ascii")

    def csrf_form_value(self, cookie: str) -> str:
        """The form value that goes with an existing cookie value."""
        return self._csrf.sign(cookie).decode("ascii")

    def csrf_valid(self, cookie: str | None, form_value: str | None) -> bool:
        """True when the form carries our signature of exactly the nonce in the cookie.

        Another site can make a browser post a form, but it can neither read our cookie nor
        sign a nonce of its own, so it cannot produce a matching pair.
        """
        if not cookie or not form_value:
            return False
        try:
            nonce = self._csrf.unsign(form_value).decode("ascii")
        except (BadData, UnicodeError):
            return False
        return hmac.compare_digest(nonce, cookie)
