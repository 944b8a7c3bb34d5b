"""Previews: the message due for a timing or for dates, rendered as LINE or the email sends it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from kizuna.content import load_catalog
from kizuna.core.catalog import Role
from kizuna.core.stage import Track
from kizuna.core.status import ChannelName
from kizuna.line_body import TEXT_MAX_UTF16
from kizuna.models import Municipality
from kizuna.preview import (
    PreviewError,
    at_stage,
    context_for,
    email,
    find,
    line_push,
    municipality_name,
)
from kizuna.rendering import Renderer
from kizuna.runtime import mail_composer

NOW = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.mark.parametrize(
    ("track", "at", "on", "label"),
    [
        (Track.PREGNANCY, "12w3d", date(2026, 11, 22), "妊娠12週3日"),
        (Track.PREGNANCY, "42w0d", date(2026, 11, 22), "妊娠42週0日"),
        (Track.CHILD, "d14", date(2026, 11, 22), "生後14日"),
        (Track.CHILD, "3m", date(2026, 11, 22), "生後3か月"),
        (Track.CHILD, "1m", date(2026, 3, 31), "生後1か月"),  # born 28 February
        (Track.CHILD, "1y6m", date(2026, 11, 22), "1歳6か月"),
        (Track.LOSS, "d7", date(2026, 11, 22), ""),
    ],
)
def test_at_stage_is_exactly_that_timing(track, at, on, label):
    stage = at_stage(track, at, on)
    assert stage.track is track
    assert stage.label == label


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"at": "12w0d"}, ("pregnancy-12w0d", "ja", "妊娠12週0日")),
        (
            {"at": "12w3d", "variant": "ja-easy"},
            ("pregnancy-12w3d-partner", "ja-easy", "妊娠12週3日"),
        ),
        ({"at": "d1", "track": Track.LOSS}, ("loss-d1", "ja", "")),
        ({"due_date": date(2027, 6, 6)}, ("pregnancy-12w0d", "ja", "妊娠12週0日")),
        (
            {"due_date": date(2027, 6, 3), "role": Role.PARTNER},
            ("pregnancy-12w3d-partner", "ja", "妊娠12週3日"),
        ),
        ({"birth_date": date(2026, 11, 15)}, ("child-d7", "ja", "生後7日")),
    ],
)
def test_find(messages_dir, query, expected):
    found = find(load_catalog(messages_dir), on=date(2026, 11, 22), **{"variant": "ja", **query})
    assert (found.message.id, found.message.variant, found.stage_label) == expected


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"at": "20w0d"}, "no pregnancy message at 20w0d"),
        ({"at": "12w0d", "variant": "en"}, "has no en variant"),
        ({}, "give --at, --due-date or --birth-date"),
        ({"due_date": date(2027, 5, 1), "role": Role.PARTNER}, "no message is due"),
        ({"birth_date": date(2000, 1, 1)}, "the child track ends"),
        ({"at": "12w9d"}, "must look like 12w3d"),
    ],
)
def test_find_says_why_there_is_nothing(messages_dir, query, error):
    with pytest.raises((PreviewError, ValueError), match=error):
        find(load_catalog(messages_dir), on=date(2026, 11, 22), **{"variant": "ja", **query})


def test_find_follows_the_variant_fallback(messages_dir):
    catalog = load_catalog(messages_dir, fallbacks={"en": ["ja"]})
    found = find(catalog, on=date(2026, 11, 22), at="12w0d", variant="en")
    assert (found.message.variant, found.fallback_from) == ("ja", "en")


def test_line_push_is_the_request_line_gets(messages_dir):
    found = find(load_catalog(messages_dir), on=date(2026, 11, 22), at="d7", track=Track.CHILD,
                 variant="ja")  # fmt: skip
    context = context_for(found, ChannelName.LINE, nickname="さくら")
    body = line_push(Renderer(), found, context)
    assert body["messages"] == [{"type": "text", "text": "さくらさん、生後7日。赤(あか)ちゃん"}]


def test_line_push_refuses_what_line_would(messages_dir):
    found = find(load_catalog(messages_dir), on=date(2026, 11, 22), at="12w0d", variant="ja")
    found = replace(found, message=replace(found.message, body="あ" * (TEXT_MAX_UTF16 + 1)))
    with pytest.raises(ValueError, match="5,000"):
        line_push(Renderer(), found, context_for(found, ChannelName.LINE))


def test_email_is_the_mail_the_channel_sends(messages_dir, settings):
    found = find(load_catalog(messages_dir), on=date(2026, 11, 22), at="d7", track=Track.CHILD,
                 variant="ja-easy")  # fmt: skip
    context = context_for(found, ChannelName.EMAIL)
    mail = email(Renderer(), mail_composer(settings), found, context, NOW)
    assert mail["Subject"] == "見出し"
    assert mail.get_body(("plain",)).get_content().startswith("生後7日。赤(あか)ちゃん\n")
    html = mail.get_body(("html",)).get_content()
    assert "<ruby>赤<rp>(</rp><rt>あか</rt><rp>)</rp></ruby>ちゃん" in html


def test_municipality_name_from_the_database(engine):
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Municipality.__table__).values(code="131016", name="千代田区", created_at=NOW)
        )
    assert municipality_name(engine, "131016") == "千代田区"
    with pytest.raises(PreviewError, match="no municipality with code 999999"):
        municipality_name(engine, "999999")


def test_municipality_name_without_a_schema(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(PreviewError, match="cannot read municipalities"):
        municipality_name(engine, "131016")
