"""Stage arithmetic: where a pregnancy or a child is on a given local calendar date.

Pure: no clock, no I/O. `today` is always an argument, and a stage is derived from the
dates every time (never a stored counter), so a corrected date re-times everything.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

PREGNANCY_DAYS = 280  # the due date is 40w0d by the 280-day rule
TERM_DAY = 37 * 7  # born before 37w0d is preterm
CHILD_TRACK_YEARS = 18  # the child track ends on the 18th birthday
CORRECTED_AGE_UNTIL_MONTHS = 24  # corrected age is used for development up to 2 years


class Track(StrEnum):
    """A sequence of messages timed from one date."""

    PREGNANCY = "pregnancy"
    CHILD = "child"
    LOSS = "loss"


def add_months(start: date, months: int) -> date:
    """`start` moved by whole calendar months; a missing day becomes the month's last day.

    This is the Japanese civil-law reading: born on 31 January, one month later is the
    last day of February; born on 29 February, a year later is 28 February.
    """
    month_index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(month_index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last_day))


def completed_months(start: date, today: date) -> int:
    """Whole calendar months from `start` to `today` (0 if `today` is before `start`)."""
    if today < start:
        return 0
    months = (today.year - start.year) * 12 + (today.month - start.month)
    # add_months is monotonic in its argument, so at most one step back is needed.
    if add_months(start, months) > today:
        months -= 1
    return months


@dataclass(frozen=True, slots=True)
class ChildAge:
    """An age counted from one date: days since, completed months, and the month just completed."""

    days: int
    months: int
    month_reached_today: int | None  # completed months, if today is the day they were reached

    @property
    def label(self) -> str:
        if self.days < 0:
            return f"予定日まであと{-self.days}日"
        if self.months < 1:
            return f"生後{self.days}日"
        if self.months < 12:
            return f"生後{self.months}か月"
        years, months = divmod(self.months, 12)
        return f"{years}歳{months}か月"

    @property
    def years(self) -> int:
        return self.months // 12


def child_age(start: date, today: date) -> ChildAge:
    """The age on `today` of a child counted from `start` (birth date, or due date if corrected)."""
    days = (today - start).days
    months = completed_months(start, today)
    reached = None
    if days > 0 and months != completed_months(start, today - timedelta(days=1)):
        reached = months
    return ChildAge(days=days, months=months, month_reached_today=reached)


@dataclass(frozen=True, slots=True)
class Stage:
    """Where a child (or pregnancy) is on one local date.

    `days` counts gestational days on the pregnancy track, days since birth on the child
    track and days since the loss on the loss track. `corrected` is set for a preterm child
    while corrected age is in use.
    """

    track: Track
    days: int
    age: ChildAge | None = None
    corrected: ChildAge | None = None

    @property
    def weeks(self) -> int:
        return self.days // 7

    @property
    def day_of_week(self) -> int:
        return self.days % 7

    @property
    def label(self) -> str:
        if self.track is Track.PREGNANCY:
            return f"妊娠{self.weeks}週{self.day_of_week}日"
        if self.track is Track.LOSS:
            return ""
        assert self.age is not None
        return self.age.label


def pregnancy_stage(due_date: date, today: date) -> Stage:
    """Gestational age on `today`: 280 − (due − today) days."""
    return Stage(track=Track.PREGNANCY, days=PREGNANCY_DAYS - (due_date - today).days)


def is_preterm(due_date: date | None, birth_date: date) -> bool:
    """Born before 37w0d (knowable only when the due date is known)."""
    if due_date is None:
        return False
    return PREGNANCY_DAYS - (due_date - birth_date).days < TERM_DAY


def latest_preterm_birth(due_date: date) -> date:
    """The last birth date that is preterm for `due_date`: `is_preterm` as a date bound."""
    return due_date - timedelta(days=PREGNANCY_DAYS - TERM_DAY + 1)


def child_stage(birth_date: date, today: date, *, due_date: date | None = None) -> Stage | None:
    """Age on `today`; None from the 18th birthday, when the child track ends.

    Corrected age (修正月齢) = chronological age − (due − birth), i.e. age counted from the
    due date; it is attached for a preterm child until the corrected age reaches 2 years.
    """
    age = child_age(birth_date, today)
    if age.months >= CHILD_TRACK_YEARS * 12:
        return None
    corrected = None
    if due_date is not None and is_preterm(due_date, birth_date):
        corrected_age = child_age(due_date, today)
        if corrected_age.months < CORRECTED_AGE_UNTIL_MONTHS:
            corrected = corrected_age
    return Stage(track=Track.CHILD, days=age.days, age=age, corrected=corrected)


def loss_stage(loss_date: date, today: date) -> Stage:
    """Days since a loss was reported (the opt-in support set is timed from it)."""
    return Stage(track=Track.LOSS, days=(today - loss_date).days)


def stage_of_child(
    *,
    today: date,
    due_date: date | None = None,
    birth_date: date | None = None,
    loss_date: date | None = None,
    loss_support: bool = False,
) -> Stage | None:
    """The stage a follower's messages are timed by, or None when nothing is to be timed.

    After a loss nothing on the pregnancy or child track is ever due again; only a follower
    who opted in to the support set is on the loss track.
    """
    if loss_date is not None:
        return loss_stage(loss_date, today) if loss_support else None
    if birth_date is not None:
        return child_stage(birth_date, today, due_date=due_date)
    if due_date is not None:
        return pregnancy_stage(due_date, today)
    return None


def stage_key(
    *,
    due_date: date | None = None,
    birth_date: date | None = None,
    loss_date: date | None = None,
    loss_support: bool = False,
) -> tuple[date | None, date | None, date | None, bool]:
    """Only the dates `stage_of_child` reads, as its arguments: children with the same key are
    at the same stage on every day (a due date matters after birth only for a preterm child)."""
    if loss_date is not None:
        return (None, None, loss_date, loss_support)
    if birth_date is not None:
        return (due_date if is_preterm(due_date, birth_date) else None, birth_date, None, False)
    return (due_date, None, None, False)
