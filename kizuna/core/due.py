"""Which dates can make a message due today: the filter that keeps planning off idle rows.

A child has a message today only if its due date, birth date or loss date is one of a few
hundred dates derived from the catalog's timings. The database selects those children by
date; the exact stage and message choice then happen in the core as usual, so this set only
has to be a superset (tests/test_core_due.py checks that property).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from kizuna.core.catalog import Timing, Unit
from kizuna.core.stage import CORRECTED_AGE_UNTIL_MONTHS, PREGNANCY_DAYS, Track, add_months


@dataclass(frozen=True, slots=True)
class DueDates:
    """Dates of children that may have a message due on one local date."""

    due_dates: frozenset[date] = field(default_factory=frozenset)  # of unborn children
    birth_dates: frozenset[date] = field(default_factory=frozenset)
    loss_dates: frozenset[date] = field(default_factory=frozenset)
    # Due dates of born children, whose corrected age counts from them. Kept apart from
    # `due_dates`: a born child's due date in the pregnancy set is no reason to read it
    # (a sixth of the candidates at 1,000,000 subscribers were such children).
    corrected_dates: frozenset[date] = field(default_factory=frozenset)


def births_reaching_month(today: date, months: int) -> set[date]:
    """Birth dates whose `months`-th calendar month is completed exactly on `today`."""
    base = add_months(today, -months)
    births = {base}
    if today.day == calendar.monthrange(today.year, today.month)[1]:
        # Today is a month's last day: births on later days of the base month (31 Jan,
        # 30 Jan … for 28 Feb) have no corresponding day and reach the month today too.
        last = calendar.monthrange(base.year, base.month)[1]
        births |= {base.replace(day=day) for day in range(base.day, last + 1)}
    return births


def due_dates_for(timings: Iterable[Timing], today: date) -> DueDates:
    """The dates whose children may have one of `timings` due on `today`."""
    due, birth, loss, corrected = set(), set(), set(), set()
    for timing in timings:
        if timing.track is Track.PREGNANCY:
            due.add(today + timedelta(days=PREGNANCY_DAYS - timing.value))
        elif timing.track is Track.LOSS:
            loss.add(today - timedelta(days=timing.value))
        else:
            if timing.unit is Unit.DAY:
                bases = {today - timedelta(days=timing.value)}
            else:
                bases = births_reaching_month(today, timing.value)
            birth |= bases
            if timing.unit is Unit.DAY or timing.value < CORRECTED_AGE_UNTIL_MONTHS:
                corrected |= bases  # corrected age counts from the due date, up to 2 years
    return DueDates(frozenset(due), frozenset(birth), frozenset(loss), frozenset(corrected))
