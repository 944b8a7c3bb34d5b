"""The date filter of planning is a superset: no child with a message due is ever left out."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuna.core.catalog import (
    AUDIENCES_BY_ROLE,
    AgeBasis,
    Audience,
    Catalog,
    Message,
    Role,
    Source,
    Timing,
    Unit,
)
from kizuna.core.due import DueDates, births_reaching_month, due_dates_for
from kizuna.core.stage import Track, latest_preterm_birth, stage_of_child


def message(
    track: Track, unit: Unit, value: int, basis: AgeBasis, audience: Audience = Audience.EVERYONE
) -> Message:
    timing = Timing(track, unit, value)
    return Message(
        id=f"{track}-{timing}-{basis}-{audience}", track=track, at=timing, variant="ja",
        audience=audience, category="development", age_basis=basis, title="t",
        body="b", sources=(Source("s", "https://www.cfa.go.jp/"),),
    )  # fmt: skip


# Pregnancy days for everyone, for birthing parents or partners only, or for both of those.
AUDIENCES_OF_DAY = [
    {Audience.EVERYONE}, {Audience.BIRTHING_PARENT}, {Audience.PARTNER},
    {Audience.BIRTHING_PARENT, Audience.PARTNER},
]  # fmt: skip
EVERY_TIMING = Catalog(
    [
        message(Track.PREGNANCY, Unit.DAY, d, AgeBasis.CHRONOLOGICAL, audience)
        for d in range(28, 295)
        for audience in AUDIENCES_OF_DAY[d % 4]
    ]  # fmt: skip
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
    role=st.sampled_from(list(Role)),
)
def test_every_child_with_a_message_today_is_selected(today, birth_offset, early, state, role):
    birth = today - timedelta(days=birth_offset)
    due = birth + timedelta(days=early) if state != "expected" else today + timedelta(days=early)
    loss = today - timedelta(days=birth_offset % 90) if state == "loss" else None
    stage = stage_of_child(today=today, due_date=due, birth_date=None if state == "expected"
                           else birth, loss_date=loss, loss_support=True)  # fmt: skip
    if stage is None:
        return
    chosen = EVERY_TIMING.choose(stage, audiences=AUDIENCES_BY_ROLE[role], variant="ja",
                                 allow_unreviewed=True)  # fmt: skip
    if chosen is None:
        return
    dates = due_dates_for(EVERY_TIMING.timings(), today, audiences=EVERY_TIMING.audiences())
    born = state != "expected"  # as the database selects (kizuna.store.follows_query)
    selected = (
        (not born and due in dates.due_dates)
        or (born and due in dates.corrected_dates and birth <= latest_preterm_birth(due))
        or (born and birth in dates.birth_dates)
        or (loss is not None and loss in dates.loss_dates)
    )
    assert selected, (stage, chosen.message.id)
    assert not left_out_for_role(dates, due, born or loss is not None, role), chosen.message.id


def left_out_for_role(dates: DueDates, due: date, born_or_lost: bool, role: Role) -> bool:
    """As kizuna.store._role_may_be_due leaves out a follower."""
    return not born_or_lost and any(
        due in days and role not in roles for roles, days in dates.roles_of_due_dates
    )


def test_due_dates_know_which_roles_their_messages_are_for():
    today = date(2026, 11, 22)
    dates = due_dates_for(EVERY_TIMING.timings(), today, audiences=EVERY_TIMING.audiences())
    roles_of = {day: roles for roles, days in dates.roles_of_due_dates for day in days}
    at = {d: today + timedelta(days=280 - d) for d in (28, 29, 30, 31)}  # d % 4 = 0, 1, 2, 3
    assert at[28] not in roles_of  # for everyone: nobody is left out
    assert roles_of[at[29]] == {Role.PARENT}
    assert roles_of[at[30]] == {Role.PARTNER}
    assert roles_of[at[31]] == {Role.PARENT, Role.PARTNER}
    # Without the audiences, every role may have something due.
    assert due_dates_for(EVERY_TIMING.timings(), today).roles_of_due_dates == ()
