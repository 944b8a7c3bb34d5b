"""Signed tokens: one purpose each, tamper-proof, carrying only a subscriber id."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeSerializer

from kizuna.tokens import Purpose, Tokens

TOKENS = Tokens("test-secret")


@pytest.mark.parametrize("purpose", list(Purpose))
def test_a_token_reads_back_for_its_own_purpose_only(purpose):
    token = TOKENS.issue(purpose, 42)
    assert TOKENS.read(purpose, token) == 42
    for other in set(Purpose) - {purpose}:
        assert TOKENS.read(other, token) is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        TOKENS.issue(Purpose.UNSUBSCRIBE, 42)[:-1] + "A",  # signature changed
        TOKENS.issue(Purpose.UNSUBSCRIBE, 42).replace("NDI", "NDM", 1),  # id changed
        Tokens("another-secret").issue(Purpose.UNSUBSCRIBE, 42),  # another deployment's key
        "ImFAYi5jIg.signature",  # a string payload, not an id
        "ü.nicode",
    ],
)
def test_forged_or_damaged_tokens_are_refused(token):
    assert TOKENS.read(Purpose.UNSUBSCRIBE, token) is None


def test_a_token_is_url_safe_and_reveals_no_personal_data():
    token = TOKENS.issue(Purpose.MANAGE, 123456)
    assert token.replace("-", "").replace("_", "").replace(".", "").isalnum()
    assert len(token) < 64


@pytest.mark.parametrize(
    "subscriber_id",
    [1, 9, 42, 999_999, 1_111_111_111, 9_999_999_999, 10**10, 11_111_111_111,
     11_111_111_111_111_111, 2**63 - 1, *random.Random(7).sample(range(1, 10**12), 200)],
)  # fmt: skip
def test_tokens_are_those_itsdangerous_writes(subscriber_id):
    """Issuing skips itsdangerous' zlib attempt where it cannot win: the token is the same."""
    for purpose in Purpose:
        expected = URLSafeSerializer("test-secret", salt=f"kizuna.{purpose}.v1")
        assert TOKENS.issue(purpose, subscriber_id) == expected.dumps(subscriber_id)
    assert URLSafeSerializer("s").dumps(11_111_111_111_111_111).startswith(".")  # compressed


@pytest.mark.parametrize("subscriber_id", [0, -1])
def test_tokens_are_only_for_real_subscribers(subscriber_id):
    with pytest.raises(ValueError):
        TOKENS.issue(Purpose.CONFIRM, subscriber_id)


def test_a_secret_is_required():
    with pytest.raises(ValueError):
        Tokens("")


def test_csrf_pair_matches_and_nothing_else_does():
    cookie, form_value = TOKENS.csrf_pair()
    other_cookie, other_value = TOKENS.csrf_pair()
    assert cookie != other_cookie
    assert TOKENS.csrf_valid(cookie, form_value)
    assert TOKENS.csrf_form_value(cookie) == form_value
    assert not TOKENS.csrf_valid(cookie, other_value)  # another browser's form
    assert not TOKENS.csrf_valid(other_cookie, form_value)
    assert not TOKENS.csrf_valid(None, form_value)  # a cross-site post carries no cookie
    assert not TOKENS.csrf_valid(cookie, None)
    assert not TOKENS.csrf_valid(cookie, cookie)  # an unsigned copy of the cookie
    forged = Tokens("another-secret").csrf_form_value(cookie)
    assert not TOKENS.csrf_valid(cookie, forged)


STAFF_NOW = datetime(2026, 11, 22, tzinfo=UTC)
SESSION_AGE = timedelta(hours=8)


@pytest.mark.parametrize(
    ("at", "expected"),
    [(STAFF_NOW, (7, 3)), (STAFF_NOW + SESSION_AGE, (7, 3)),
     (STAFF_NOW + SESSION_AGE + timedelta(seconds=1), None),
     (STAFF_NOW - timedelta(seconds=1), None)],  # issued "in the future": not ours
)  # fmt: skip
def test_a_staff_session_lasts_its_age(at, expected):
    cookie = TOKENS.issue_staff_session(7, 3, now=STAFF_NOW)
    assert TOKENS.read_staff_session(cookie, now=at, max_age=SESSION_AGE) == expected


@pytest.mark.parametrize(
    "cookie",
    [
        "",
        TOKENS.issue_staff_session(7, 3, now=STAFF_NOW)[:-1] + "A",
        Tokens("another-secret").issue_staff_session(7, 3, now=STAFF_NOW),
        TOKENS.issue(Purpose.MANAGE, 7),  # another purpose's token
        URLSafeSerializer("test-secret", salt="kizuna.staff-session.v1").dumps(["7", 3, 0]),
    ],
)
def test_forged_staff_sessions_are_refused(cookie):
    assert TOKENS.read_staff_session(cookie, now=STAFF_NOW, max_age=SESSION_AGE) is None
