"""Stage arithmetic: every edge as a row of dates, and invariants over all dates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kizuna.core.stage import (
    Track,
    add_months,
    child_stage,
    completed_months,
    is_preterm,
    latest_preterm_birth,
    pregnancy_stage,
    stage_key,
    stage_of_child,
)

D = date.fromisoformat


@pytest.mark.parametrize(
    ("due", "today", "days", "label"),
    [
        ("2027-05-01", "2027-05-01", 280, "妊娠40週0日"),  # the due date is 40w0d
        ("2027-05-01", "2026-07-25", 0, "妊娠0週0日"),  # 280 days before
        ("2027-05-01", "2026-08-22", 28, "妊娠4週0日"),  # first message day
        ("2027-05-01", "2026-10-20", 87, "妊娠12週3日"),
        ("2027-05-01", "2027-05-14", 293, "妊娠41週6日"),  # last pregnancy message day
        ("2027-05-01", "2027-05-15", 294, "妊娠42週0日"),  # the birth-report prompt
        ("2028-03-01", "2028-02-29", 279, "妊娠39週6日"),  # across a leap day
    ],
)
def test_pregnancy_stage(due, today, days, label):
    stage = pregnancy_stage(D(due), D(today))
    assert (stage.track, stage.days, stage.label) == (Track.PREGNANCY, days, label)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2026-01-31", 1, "2026-02-28"),  # no 31 Feb: the last day of the month
        ("2028-01-31", 1, "2028-02-29"),  # leap year
        ("2026-01-31", 2, "2026-03-31"),
        ("2026-03-31", 1, "2026-04-30"),
        ("2024-02-29", 12, "2025-02-28"),  # born on 29 Feb: a year later is 28 Feb
        ("2024-02-29", 48, "2028-02-29"),
        ("2026-11-22", -3, "2026-08-22"),
        ("2026-12-15", 1, "2027-01-15"),  # across the year end
    ],
)
def test_add_months_civil_law(start, months, expected):
    assert add_months(D(start), months) == D(expected)


@pytest.mark.parametrize(
    ("birth", "today", "label", "months", "years"),
    [
        ("2026-11-22", "2026-11-22", "生後0日", 0, 0),
        ("2026-11-01", "2026-11-22", "生後21日", 0, 0),
        ("2026-01-31", "2026-02-27", "生後27日", 0, 0),
        ("2026-01-31", "2026-02-28", "生後1か月", 1, 0),  # one month: the last day of February
        ("2026-01-31", "2026-03-30", "生後1か月", 1, 0),
        ("2026-01-31", "2026-03-31", "生後2か月", 2, 0),
        ("2026-08-22", "2026-11-22", "生後3か月", 3, 0),
        ("2025-05-22", "2026-11-22", "1歳6か月", 18, 1),
        ("2024-02-29", "2025-02-27", "生後11か月", 11, 0),
        ("2024-02-29", "2025-02-28", "1歳0か月", 12, 1),  # 29 Feb: a year later is 28 Feb
        ("2009-11-23", "2026-11-22", "16歳11か月", 203, 16),  # the day before the 17th birthday
    ],
)
def test_child_stage(birth, today, label, months, years):
    stage = child_stage(D(birth), D(today))
    assert stage is not None and stage.track is Track.CHILD
    assert (stage.label, stage.age.months, stage.age.years) == (label, months, years)
    assert stage.days == (D(today) - D(birth)).days


@pytest.mark.parametrize(
    ("birth", "today", "ended"),
    [
        ("2008-11-23", "2026-11-22", False),  # the last day of the track
        ("2008-11-22", "2026-11-22", True),  # the 18th birthday: the track has ended
        ("2008-02-29", "2026-02-28", True),
    ],
)
def test_child_track_ends_at_18(birth, today, ended):
    assert (child_stage(D(birth), D(today)) is None) is ended


@pytest.mark.parametrize(
    ("birth", "today", "reached"),
    [
        ("2026-01-31", "2026-02-28", 1),
        ("2026-01-31", "2026-03-01", None),
        ("2026-01-30", "2026-02-28", 1),  # the 30th and the 31st both reach it on 28 Feb
        ("2026-08-22", "2026-11-22", 3),
        ("2026-08-22", "2026-11-21", None),
        ("2026-11-21", "2026-11-22", None),  # one day old is not a month
    ],
)
def test_month_reached_today(birth, today, reached):
    stage = child_stage(D(birth), D(today))
    assert stage.age.month_reached_today == reached


@pytest.mark.parametrize(
    ("due", "birth", "preterm"),
    [
        ("2026-12-31", "2026-12-10", False),  # 37w0d exactly: term
        ("2026-12-31", "2026-12-09", True),  # 36w6d: preterm
        ("2026-12-31", "2027-01-05", False),  # post-term
        (None, "2026-12-09", False),  # without a due date it cannot be known
    ],
)
def test_is_preterm(due, birth, preterm):
    assert is_preterm(due and D(due), D(birth)) is preterm


@given(due=st.dates(date(2000, 1, 1), date(2060, 12, 31)), gap=st.integers(-60, 200))
def test_latest_preterm_birth_is_is_preterm_as_a_bound(due, gap):
    birth = due - timedelta(days=gap)
    assert is_preterm(due, birth) is (birth <= latest_preterm_birth(due))


def test_corrected_age_for_preterm_child():
    # Born at 32w0d: eight weeks early.
    due, birth = D("2026-12-31"), D("2026-11-05")
    stage = child_stage(birth, D("2027-02-05"), due_date=due)
    assert stage.age.label == "生後3か月"
    assert stage.corrected is not None
    assert (stage.corrected.days, stage.corrected.months) == (36, 1)
    assert stage.corrected.label == "生後1か月"


def test_corrected_age_before_the_due_date():
    stage = child_stage(D("2026-11-05"), D("2026-11-25"), due_date=D("2026-12-31"))
    assert stage.corrected.days == -36
    assert stage.corrected.label == "予定日まであと36日"


def test_corrected_age_ends_at_two_corrected_years():
    due, birth = D("2026-12-31"), D("2026-11-05")
    assert child_stage(birth, D("2028-12-30"), due_date=due).corrected is not None
    assert child_stage(birth, D("2028-12-31"), due_date=due).corrected is None


def test_term_child_has_no_corrected_age():
    assert child_stage(D("2026-12-20"), D("2027-03-01"), due_date=D("2026-12-31")).corrected is None


@pytest.mark.parametrize(
    ("fields", "track", "label"),
    [
        ({"due_date": D("2027-05-01")}, Track.PREGNANCY, "妊娠12週3日"),
        ({"due_date": D("2027-05-01"), "birth_date": D("2026-10-01")}, Track.CHILD, "生後19日"),
        (
            {"birth_date": D("2026-10-01"), "loss_date": D("2026-10-18"), "loss_support": True},
            Track.LOSS,
            "",
        ),
    ],
)
def test_stage_of_child(fields, track, label):
    stage = stage_of_child(today=D("2026-10-20"), **fields)
    assert (stage.track, stage.label) == (track, label)


def test_after_a_loss_without_the_support_set_nothing_is_timed():
    assert (
        stage_of_child(
            today=D("2026-10-20"),
            due_date=D("2027-05-01"),
            birth_date=None,
            loss_date=D("2026-10-18"),
        )
        is None
    )


dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))


@given(birth=dates, today=dates)
def test_completed_months_is_exact(birth, today):
    months = completed_months(birth, today)
    if today >= birth:
        assert add_months(birth, months) <= today < add_months(birth, months + 1)
    else:
        assert months == 0


@given(birth=dates, offset=st.integers(min_value=0, max_value=18 * 366))
def test_child_stage_never_goes_backwards(birth, offset):
    today = birth + timedelta(days=offset)
    today_stage = child_stage(birth, today)
    next_stage = child_stage(birth, today + timedelta(days=1))
    if today_stage is None:
        assert next_stage is None  # once ended, the track stays ended
        return
    if next_stage is not None:
        assert next_stage.days == today_stage.days + 1
        assert next_stage.age.months in (today_stage.age.months, today_stage.age.months + 1)


@given(birth=dates, offset=st.integers(min_value=1, max_value=17 * 366))
def test_each_month_is_reached_on_exactly_one_day(birth, offset):
    today = birth + timedelta(days=offset)
    months = child_stage(birth, today).age.months
    if months >= 1:
        reached = [
            d
            for d in (add_months(birth, months) + timedelta(days=k) for k in range(-1, 2))
            if child_stage(birth, d).age.month_reached_today == months
        ]
        assert reached == [add_months(birth, months)]


@given(due=dates, offset=st.integers(min_value=-400, max_value=400))
def test_pregnancy_day_maps_to_one_stage(due, offset):
    today = due + timedelta(days=offset)
    stage = pregnancy_stage(due, today)
    following = pregnancy_stage(due, today + timedelta(days=1))
    assert following.days == stage.days + 1
    assert stage.weeks * 7 + stage.day_of_week == stage.days


@given(
    today=dates,
    due=st.none() | dates,
    birth=st.none() | dates,
    loss=st.none() | dates,
    support=st.booleans(),
)
def test_stage_key_keeps_exactly_what_the_stage_depends_on(today, due, birth, loss, support):
    fields = {"due_date": due, "birth_date": birth, "loss_date": loss, "loss_support": support}
    due_k, birth_k, loss_k, support_k = stage_key(**fields)
    keyed = stage_of_child(today=today, due_date=due_k, birth_date=birth_k, loss_date=loss_k,
                           loss_support=support_k)  # fmt: skip
    assert keyed == stage_of_child(today=today, **fields)
