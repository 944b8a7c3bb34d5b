"""Signed tokens: one purpose each, tamper-proof, carrying only a subscriber id."""

from __future__ import annotations

import pytest

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
