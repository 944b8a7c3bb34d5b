"""Consent records: given, withdrawn and given again as they happen; the keyed hash of an
address that lets an erased subscriber's records be found again, and only with the key."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import NOW

from kizuna import consent, subscriptions
from kizuna.core.status import SubscriberStatus
from kizuna.models import ConsentRecord
from kizuna.store import set_subscriber_status

SECRET = "test-secret"
HASH = consent.address_hash("email", "Parent@Example.com", secret=SECRET)


@pytest.mark.parametrize(
    ("channel", "address", "secret", "same"),
    [
        ("email", "Parent@Example.com", SECRET, True),
        ("email", "parent@example.com", SECRET, True),  # mailboxes: case does not matter
        ("email", " parent@example.com ", SECRET, True),
        ("line", "Parent@Example.com", SECRET, False),  # another channel, another person
        ("email", "parent2@example.com", SECRET, False),
        ("email", "parent@example.com", "another key", False),  # no key, no match
    ],
)
def test_the_keyed_hash_of_an_address(channel, address, secret, same):
    hashed = consent.address_hash(channel, address, secret=secret)
    assert (hashed == HASH) is same
    assert len(hashed) == 64 and "example" not in hashed


def test_no_hash_without_a_key():
    with pytest.raises(ValueError, match="KIZUNA_SECRET_KEY"):
        consent.address_hash("email", "parent@example.com", secret="")


def events(engine) -> list[tuple[str, str | None]]:
    with engine.connect() as connection:
        query = sa.select(ConsentRecord.event, ConsentRecord.version).order_by(ConsentRecord.id)
        return [tuple(row) for row in connection.execute(query)]


def test_consent_is_recorded_as_it_is_given_withdrawn_and_given_again(engine):
    done = subscriptions.subscribe(
        engine,
        subscriptions.SubscribeRequest(channel="line", address="U" + "1" * 32,
                                       birth_date=NOW.date(), consent_version="line-v1"),
        variants={"ja"}, default_timezone="Asia/Tokyo", now=NOW,
    )  # fmt: skip
    subscriptions.stop(engine, subscriber_id=done.subscriber_id, reason="asked", now=NOW)
    subscriptions.stop(engine, subscriber_id=done.subscriber_id, reason="again", now=NOW)
    with engine.begin() as connection:
        set_subscriber_status(connection, done.subscriber_id, SubscriberStatus.ACTIVE,
                              reason="resumed", now=NOW)  # fmt: skip
        set_subscriber_status(connection, done.subscriber_id, SubscriberStatus.PAUSED,
                              reason="failures", now=NOW)  # fmt: skip
    assert events(engine) == [
        ("given", "line-v1"),
        ("withdrawn", None),
        ("given", "line-v1"),
    ]  # a second stop and a pause by failures are no consent events


def test_a_web_sign_up_consents_when_it_is_confirmed(engine):
    request = subscriptions.SubscribeRequest(
        channel="email", address="parent@example.com", birth_date=NOW.date(),
        consent_version="web-v1",
    )  # fmt: skip
    signed = subscriptions.sign_up(engine, request, variants={"ja"},
                                   default_timezone="Asia/Tokyo", locale="ja", now=NOW)  # fmt: skip
    assert events(engine) == []
    assert subscriptions.confirm(engine, subscriber_id=signed.subscriber_id, now=NOW)
    assert events(engine) == [("given", "web-v1")]


def test_history_of_an_address_that_was_never_erased(engine):
    subscriptions.subscribe(
        engine,
        subscriptions.SubscribeRequest(channel="email", address="parent@example.com",
                                       birth_date=NOW.date()),
        variants={"ja"}, default_timezone="Asia/Tokyo", now=NOW,
    )  # fmt: skip
    found = consent.history(engine, "email", "parent@example.com", secret=SECRET)
    assert [(h.event, h.version) for h in found] == [("given", "operator")]
    assert consent.history(engine, "email", "other@example.com", secret=SECRET) == []
