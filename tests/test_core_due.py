"""The date filter of planning is a superset: no child with a message due is ever left out."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuna.core.catalog import AgeBasis, Audience, Catalog, Message, Source, Timing, Unit
from kizuna.core.due import births_reaching_month, due_dates_for
from kizuna.core.stage import Track, latest_preterm_birth, stage_of_child


def message(track: Track, unit: Unit, value: int, basis: AgeBasis) -> Message:
    timing = Timing(track, unit, value)
    return Message(
        id=f"{track}-{timing}-{basis}", track=track, at=timing, variant="ja",
        audience=Audience.EVERYONE, category="development", age_basis=basis, title="t",
        body="b", sources=(Source("s", "https://www.cfa.go.jp/"),),
    )  # fmt: skip


EVERY_TIMING = Catalog(
    [message(Track.PREGNANCY, Unit.DAY, d, AgeBasis.CHRONOLOGICAL) for d in range(28, 295)]
    + [message(Track.CHILD, Unit.DAY, d, b) for d in range(0, 120) for b in AgeBasis]
    + [message(Track.CHILD, Unit.MONTH, m, b) for m in range(1, 216) for b in AgeBasis]
    + [message(Track.LOSS, Unit.DAY, d, AgeBasis.CHRONOLOGICAL) for d in range(0, 90)]
)


@pytest.mark.parametrize(
    ("today", "months", "births"),
    [
        (date(2026, 2, 28), 1, {date(2026, 1, 28), date(2026, 1, 29), date(2026, 1, 30),
                                 date(2026, 1, 31)}),
        (date(2026, 2, 27), 1, {date(2026, 1, 27)}),
        (date(2025, 2, 28), 12, {date(2024, 2, 28), date(2024, 2, 29)}),
        (date(2026, 4, 30), 1, {date(2026, 3, 30), date(2026, 3, 31)}),
    ],
)  # fmt: skip
def test_births_reaching_a_month(today, months, births):
    assert births_reaching_month(today, months) == births


days = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))


@settings(max_examples=400)
@given(
    today=days,
    birth_offset=st.integers(min_value=0, max_value=18 * 366),
    early=st.integers(min_value=-28, max_value=120),
    state=st.sampled_from(["expected", "born", "loss"]),
)
def test_every_child_with_a_message_today_is_selected(today, birth_offset, early, state):
    birth = today - timedelta(days=birth_offset)
    due = birth + timedelta(days=early) if state != "expected" else today + timedelta(days=early)
    loss = today - timedelta(days=birth_offset % 90) if state == "loss" else None
    stage = stage_of_child(today=today, due_date=due, birth_date=None if state == "expected"
                           else birth, loss_date=loss, loss_support=True)  # fmt: skip
    if stage is None:
        return
    chosen = EVERY_TIMING.choose(stage, audiences={Audience.EVERYONE}, variant="ja",
                                 allow_unreviewed=True)  # fmt: skip
    if chosen is None:
        return
    dates = due_dates_for(EVERY_TIMING.timings(), today)
    born = state != "expected"  # as the database selects (kizuna.store._due_children)
    selected = (
        (not born and due in dates.due_dates)
        or (born and due in dates.corrected_dates and birth <= latest_preterm_birth(due))
        or (born and birth in dates.birth_dates)
        or (loss is not None and loss in dates.loss_dates)
    )
    assert selected, (stage, chosen.message.id)
