"""The bundled starter library: valid, honest about review, and without gaps in its cadence."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kizuna.config import bundled_dir
from kizuna.content import load_catalog
from kizuna.core.catalog import AUDIENCES_BY_ROLE, Audience, Catalog, Role, Timing, Unit
from kizuna.core.stage import Track, stage_of_child


@pytest.fixture(scope="module")
def library() -> Catalog:
    return load_catalog(bundled_dir("messages"))


def at(track: Track, unit: Unit, value: int) -> Timing:
    return Timing(track, unit, value)


EXPECTED = (
    # pregnancy: weekly from 4w0d to 41w0d, then the birth-report prompt at 42w0d
    [at(Track.PREGNANCY, Unit.DAY, w * 7) for w in range(4, 43)]
    # child: weekly to 3 months, monthly to 36 months, 3-monthly to 6 years, yearly to 17
    + [at(Track.CHILD, Unit.DAY, d) for d in range(7, 85, 7)]
    + [at(Track.CHILD, Unit.MONTH, m) for m in range(3, 37)]
    + [at(Track.CHILD, Unit.MONTH, m) for m in range(39, 73, 3)]
    + [at(Track.CHILD, Unit.MONTH, y * 12) for y in range(7, 18)]
)


def test_cadence_has_no_gaps(library):
    have = {message.at for message in library.messages}
    missing = [str(timing) for timing in EXPECTED if timing not in have]
    assert missing == []


def test_every_message_in_both_variants(library):
    variants: dict[str, set[str]] = {}
    for message in library.messages:
        variants.setdefault(message.id, set()).add(message.variant)
    assert {frozenset(v) for v in variants.values()} == {frozenset({"ja", "ja-easy"})}


def test_starter_library_is_marked_unreviewed(library):
    assert [m.id for m in library.messages if m.reviews] == []


def test_every_message_cites_its_sources(library):
    for message in library.messages:
        assert message.sources, message.path
        assert all(source.url.startswith(("https://", "http://")) for source in message.sources)


def test_partner_messages_in_pregnancy_and_the_first_months(library):
    partner = {
        (m.track, m.at.unit, m.at.value) for m in library.messages if m.audience is Audience.PARTNER
    }
    assert any(track is Track.PREGNANCY for track, _, _ in partner)
    assert any(
        track is Track.CHILD and unit is Unit.DAY and value < 90 for track, unit, value in partner
    )


def test_loss_support_set_is_opt_in(library):
    assert {m.at.value for m in library.messages if m.track is Track.LOSS} >= {1, 7, 30}
    loss_day = date(2026, 11, 1)
    for opted_in, expected in ((False, None), (True, "loss-d7")):
        stage = stage_of_child(
            today=loss_day + timedelta(days=7),
            due_date=date(2027, 3, 1),
            loss_date=loss_day,
            loss_support=opted_in,
        )
        choice = stage and library.choose(
            stage, audiences=AUDIENCES_BY_ROLE[Role.PARENT], variant="ja", allow_unreviewed=True
        )
        assert (choice.message.id if choice else None) == expected


def test_a_child_gets_a_message_every_week_of_the_first_three_months(library):
    birth = date(2026, 1, 31)
    for day in range(7, 85, 7):
        stage = stage_of_child(today=birth + timedelta(days=day), birth_date=birth)
        assert library.choose(
            stage,
            audiences=AUDIENCES_BY_ROLE[Role.PARENT],
            variant="ja-easy",
            allow_unreviewed=True,
        ), day
