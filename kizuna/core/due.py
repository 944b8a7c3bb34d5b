"""Which dates can make a message due today: the filter that keeps planning off idle rows.

A child has a message today only if its due date, birth date or loss date is one of a few
hundred dates derived from the catalog's timings. The database selects those children by
date; the exact stage and message choice then happen in the core as usual, so this set only
has to be a superset (tests/test_core_due.py checks that property).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from kizuna.core.catalog import AUDIENCES_BY_ROLE, Audience, Role, Timing, Unit
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
    # Due dates of unborn children whose messages are written for some roles only (12w3d
    # for partners), grouped by those roles: the other followers of those children have
    # nothing due, and at 1,000,000 subscribers they were a sixth of the candidates.
    roles_of_due_dates: tuple[tuple[frozenset[Role], frozenset[date]], ...] = ()


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


def due_dates_for(
    timings: Iterable[Timing],
    today: date,
    *,
    audiences: Mapping[Timing, Iterable[Audience]] | None = None,
) -> DueDates:
    """The dates whose children may have one of `timings` due on `today`; with the
    `audiences` each timing's messages are written for, also which followers' roles matter
    for each due date of an unborn child."""
    due, birth, loss, corrected = set(), set(), set(), set()
    roles: dict[date, set[Role]] = {}
    for timing in timings:
        if timing.track is Track.PREGNANCY:
            day = today + timedelta(days=PREGNANCY_DAYS - timing.value)
            due.add(day)
            wanted = set(Audience) if audiences is None else set(audiences[timing])
            roles.setdefault(day, set()).update(
                role for role, theirs in AUDIENCES_BY_ROLE.items() if theirs & wanted
            )
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
    return DueDates(
        frozenset(due), frozenset(birth), frozenset(loss), frozenset(corrected),
        _grouped_by_roles(roles),
    )  # fmt: skip


def _grouped_by_roles(
    roles: dict[date, set[Role]],
) -> tuple[tuple[frozenset[Role], frozenset[date]], ...]:
    """The dates whose messages are not for every role, grouped by the roles they are for."""
    grouped: dict[frozenset[Role], set[date]] = {}
    for day, of_day in roles.items():
        if len(of_day) < len(Role):
            grouped.setdefault(frozenset(of_day), set()).add(day)
    return tuple(
        (of_day, frozenset(days))
        for of_day, days in sorted(grouped.items(), key=lambda item: sorted(item[0]))
    )
