"""The catalog: timing syntax, and which message a follower gets on a given stage."""

from __future__ import annotations

from datetime import date

import pytest

from kizuna.core.catalog import (
    AUDIENCES_BY_ROLE,
    AgeBasis,
    Audience,
    Catalog,
    Message,
    Review,
    Role,
    Source,
    Timing,
    Unit,
    content_hash,
    parse_at,
)
from kizuna.core.stage import Track, child_stage, loss_stage, pregnancy_stage

D = date.fromisoformat


@pytest.mark.parametrize(
    ("track", "text", "unit", "value"),
    [
        (Track.PREGNANCY, "4w0d", Unit.DAY, 28),
        (Track.PREGNANCY, "12w3d", Unit.DAY, 87),
        (Track.PREGNANCY, "42w0d", Unit.DAY, 294),
        (Track.CHILD, "d0", Unit.DAY, 0),
        (Track.CHILD, "d14", Unit.DAY, 14),
        (Track.CHILD, "3m", Unit.MONTH, 3),
        (Track.CHILD, "1y", Unit.MONTH, 12),
        (Track.CHILD, "1y6m", Unit.MONTH, 18),
        (Track.CHILD, "17y11m", Unit.MONTH, 215),
        (Track.LOSS, "d7", Unit.DAY, 7),
    ],
)
def test_parse_at(track, text, unit, value):
    timing = parse_at(track, text)
    assert (timing.unit, timing.value) == (unit, value)
    assert str(timing) == text


@pytest.mark.parametrize(
    ("track", "text", "reason"),
    [
        (Track.PREGNANCY, "3w6d", "between 4w0d and 42w0d"),
        (Track.PREGNANCY, "42w1d", "between 4w0d and 42w0d"),
        (Track.PREGNANCY, "12w7d", "look like 12w3d"),
        (Track.PREGNANCY, "d14", "look like 12w3d"),
        (Track.CHILD, "18m", "with y"),
        (Track.CHILD, "1y0m", "must be written 1y"),
        (Track.CHILD, "18y", "between 1m and 17y11m"),
        (Track.CHILD, "0m", "between 1m and 17y11m"),
        (Track.CHILD, "d014", "must be written d14"),
        (Track.CHILD, "", "look like d14"),
        (Track.CHILD, "3 months", "look like d14"),
        (Track.LOSS, "3m", "look like d7"),
    ],
)
def test_parse_at_refuses(track, text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_at(track, text)


def message(
    at: str,
    *,
    track=Track.PREGNANCY,
    variant="ja",
    audience=Audience.EVERYONE,
    basis=AgeBasis.CHRONOLOGICAL,
    reviewed=True,
    body="本文",
) -> Message:
    reviews = (Review("R", "midwife", D("2026-11-01"), content_hash(body)),) if reviewed else ()
    return Message(
        id=f"{track}-{at}" + ("" if audience is Audience.EVERYONE else f"-{audience}"),
        track=track, at=parse_at(track, at), variant=variant, audience=audience,
        category="development", age_basis=basis, title="t", body=body,
        sources=(Source("s", "https://www.cfa.go.jp/"),), reviews=reviews,
    )  # fmt: skip


EVERYONE = AUDIENCES_BY_ROLE[Role.GRANDPARENT]
PARENT = AUDIENCES_BY_ROLE[Role.PARENT]
PARTNER = AUDIENCES_BY_ROLE[Role.PARTNER]


def choose(catalog, stage, audiences=PARENT, variant="ja", allow_unreviewed=False):
    choice = catalog.choose(
        stage, audiences=audiences, variant=variant, allow_unreviewed=allow_unreviewed
    )
    return (
        None
        if choice is None
        else (choice.message.id, choice.message.variant, choice.fallback_from)
    )


DUE = D("2027-05-01")  # 12w0d on 2026-10-17


def test_message_due_on_its_day_only():
    catalog = Catalog([message("12w0d")])
    assert choose(catalog, pregnancy_stage(DUE, D("2026-10-17"))) == ("pregnancy-12w0d", "ja", None)
    assert choose(catalog, pregnancy_stage(DUE, D("2026-10-18"))) is None


@pytest.mark.parametrize(
    ("audience", "role", "due"),
    [
        (Audience.EVERYONE, Role.GRANDPARENT, True),
        (Audience.BIRTHING_PARENT, Role.PARENT, True),
        (Audience.BIRTHING_PARENT, Role.PARTNER, False),
        (Audience.BIRTHING_PARENT, Role.CO_PARENT, False),
        (Audience.PARTNER, Role.PARTNER, True),
        (Audience.PARTNER, Role.PARENT, False),
    ],
)
def test_audience_filtering(audience, role, due):
    catalog = Catalog([message("12w0d", audience=audience)])
    found = choose(catalog, pregnancy_stage(DUE, D("2026-10-17")), AUDIENCES_BY_ROLE[role])
    assert (found is not None) is due


def test_unreviewed_only_when_allowed():
    catalog = Catalog([message("12w0d", reviewed=False)])
    stage = pregnancy_stage(DUE, D("2026-10-17"))
    assert choose(catalog, stage) is None
    assert choose(catalog, stage, allow_unreviewed=True) is not None


def test_review_is_bound_to_the_body():
    reviewed = message("12w0d")
    changed = Message(**{**{f: getattr(reviewed, f) for f in reviewed.__slots__}, "body": "変更"})
    assert reviewed.reviewed and not changed.reviewed


def test_variant_falls_back_only_when_configured():
    messages = [message("12w0d", variant="ja")]
    stage = pregnancy_stage(DUE, D("2026-10-17"))
    assert choose(Catalog(messages), stage, variant="ja-easy") is None
    with_chain = Catalog(messages, fallbacks={"ja-easy": ("ja",)})
    assert choose(with_chain, stage, variant="ja-easy") == ("pregnancy-12w0d", "ja", "ja-easy")


def test_own_variant_preferred_over_fallback():
    catalog = Catalog(
        [message("12w0d", variant="ja"), message("12w0d", variant="ja-easy")],
        fallbacks={"ja-easy": ("ja",)},
    )
    found = choose(catalog, pregnancy_stage(DUE, D("2026-10-17")), variant="ja-easy")
    assert found == ("pregnancy-12w0d", "ja-easy", None)


def test_month_message_on_the_civil_law_day():
    catalog = Catalog([message("1m", track=Track.CHILD)])
    birth = D("2026-01-31")
    assert choose(catalog, child_stage(birth, D("2026-02-28"))) is not None
    assert choose(catalog, child_stage(birth, D("2026-03-01"))) is None


def test_corrected_and_chronological_messages_for_a_preterm_child():
    due, birth = D("2026-12-31"), D("2026-11-05")  # born at 32w0d
    catalog = Catalog([
        message("1m", track=Track.CHILD, basis=AgeBasis.CORRECTED),
        message("d70", track=Track.CHILD, basis=AgeBasis.CHRONOLOGICAL),
    ])  # fmt: skip
    # corrected 1 month: 2027-01-31 (1 month after the due date), chronological d87
    assert choose(catalog, child_stage(birth, D("2027-01-31"), due_date=due))[0] == "child-1m"
    # 1 month after birth, the corrected-age message is not yet due
    assert choose(catalog, child_stage(birth, D("2026-12-05"), due_date=due)) is None
    # chronological messages keep the birth date
    assert choose(catalog, child_stage(birth, D("2027-01-14"), due_date=due))[0] == "child-d70"


def test_corrected_message_for_a_term_child_uses_the_birth_date():
    catalog = Catalog([message("1m", track=Track.CHILD, basis=AgeBasis.CORRECTED)])
    assert choose(catalog, child_stage(D("2026-01-15"), D("2026-02-15"))) is not None


def test_loss_track_messages_by_days_since():
    catalog = Catalog([message("d7", track=Track.LOSS)])
    assert choose(catalog, loss_stage(D("2026-11-01"), D("2026-11-08"))) is not None
    assert choose(catalog, loss_stage(D("2026-11-01"), D("2026-11-09"))) is None


def test_timing_order_and_text():
    assert str(Timing(Track.CHILD, Unit.MONTH, 72)) == "6y"
    assert Timing(Track.CHILD, Unit.DAY, 7) < Timing(Track.CHILD, Unit.DAY, 14)


def test_audiences_of_each_timing_gather_every_message_and_variant():
    catalog = Catalog([
        message("12w1d", audience=Audience.BIRTHING_PARENT),
        message("12w1d", audience=Audience.BIRTHING_PARENT, variant="ja-easy"),
        message("12w3d", audience=Audience.PARTNER),
        message("12w3d", audience=Audience.BIRTHING_PARENT),
        message("d7", track=Track.CHILD),
    ])  # fmt: skip
    assert catalog.audiences() == {
        parse_at(Track.PREGNANCY, "12w1d"): {Audience.BIRTHING_PARENT},
        parse_at(Track.PREGNANCY, "12w3d"): {Audience.PARTNER, Audience.BIRTHING_PARENT},
        parse_at(Track.CHILD, "d7"): {Audience.EVERYONE},
    }
    assert set(catalog.audiences()) == catalog.timings()
