"""Coverage of the catalog: which days of each track and variant have a message, and the gaps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kizuna.core.catalog import Message, Timing, Unit
from kizuna.core.stage import Track

DAYS_PER_MONTH = 365.2425 / 12  # a month timing on the day axis, for gaps and the timeline

# The longest interval between two messages before it counts as a gap, by track and by the
# day the interval starts: the starter library's cadence (weekly in pregnancy and the first
# 12 weeks, monthly to 3 years, every 3 months to 6 years, then yearly). None: no cadence
# (the loss set is sparse on purpose).
CADENCE: dict[Track, list[tuple[int, int]] | None] = {
    Track.PREGNANCY: [(300, 7)],
    Track.CHILD: [(90, 7), (1090, 31), (2185, 92), (6600, 366)],  # to 3m, 3y, 6y, 18y
    Track.LOSS: None,
}


def day_of(timing: Timing) -> int:
    """The day on the track a timing falls on (months at their average length)."""
    if timing.unit is Unit.MONTH:
        return round(timing.value * DAYS_PER_MONTH)
    return timing.value


@dataclass(frozen=True, slots=True)
class Gap:
    after: Timing
    before: Timing
    days: int


@dataclass(frozen=True, slots=True)
class Coverage:
    """One track in one variant: the timings with a message and the gaps between them."""

    track: Track
    variant: str
    timings: tuple[Timing, ...]
    audiences: dict[Timing, str]
    gaps: tuple[Gap, ...]
    missing: tuple[Timing, ...]  # timings another variant of the track has and this one lacks

    @property
    def days(self) -> list[int]:
        return [day_of(t) for t in self.timings]


def longest_allowed(track: Track, day: int) -> int | None:
    rules = CADENCE[track]
    if rules is None:
        return None
    for until, interval in rules:
        if day < until:
            return interval
    return rules[-1][1]


def gaps_of(track: Track, timings: list[Timing]) -> list[Gap]:
    """Intervals between consecutive messages longer than the track's cadence allows."""
    gaps = []
    for after, before in zip(timings, timings[1:], strict=False):
        allowed = longest_allowed(track, day_of(after))
        length = day_of(before) - day_of(after)
        if allowed is not None and length > allowed:
            gaps.append(Gap(after, before, length))
    return gaps


def coverage(messages: Iterable[Message], *, track: Track | None = None) -> list[Coverage]:
    """Coverage per track and variant, tracks in their natural order."""
    by_key: dict[tuple[Track, str], dict[Timing, str]] = {}
    every: dict[Track, set[Timing]] = {}
    for message in messages:
        if track is None or message.track is track:
            by_key.setdefault((message.track, message.variant), {})[message.at] = message.audience
            every.setdefault(message.track, set()).add(message.at)
    order = list(Track)
    result = []
    for (found, variant), audiences in sorted(
        by_key.items(), key=lambda item: (order.index(item[0][0]), item[0][1])
    ):
        timings = sorted(audiences, key=day_of)
        missing = sorted(every[found] - set(timings), key=day_of)
        gaps = gaps_of(found, timings)
        result.append(
            Coverage(found, variant, tuple(timings), audiences, tuple(gaps), tuple(missing))
        )
    return result


AUDIENCE_COLOURS = {"everyone": "#2b6cb0", "birthing_parent": "#b83280", "partner": "#2f855a"}


def write_timeline(rows: list[Coverage], path: Path) -> Path:
    """A PNG timeline: one panel per track, one row per variant, gaps shaded."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file is all we want
    from matplotlib import pyplot

    tracks = list(dict.fromkeys(row.track for row in rows))
    figure, axes = pyplot.subplots(
        len(tracks), 1, figsize=(12, 1.2 + 1.1 * len(rows)), squeeze=False
    )
    for axis, track in zip(axes[:, 0], tracks, strict=True):
        _draw_track(axis, [row for row in rows if row.track is track], track)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def _draw_track(axis, rows: list[Coverage], track: Track) -> None:
    # Pregnancy in weeks, the child track in months on a log scale (weekly at first,
    # yearly at the end), the loss set in days.
    scale = {Track.PREGNANCY: 7.0, Track.CHILD: DAYS_PER_MONTH, Track.LOSS: 1.0}[track]
    unit = {Track.PREGNANCY: "weeks", Track.CHILD: "months (log)", Track.LOSS: "days"}[track]
    for index, row in enumerate(rows):
        for gap in row.gaps:
            start, end = day_of(gap.after) / scale, day_of(gap.before) / scale
            axis.broken_barh([(start, end - start)], (index - 0.3, 0.6), color="#fed7d7", zorder=0)
        colours = [AUDIENCE_COLOURS.get(row.audiences[t], "#333333") for t in row.timings]
        axis.scatter([d / scale for d in row.days], [index] * len(row.days), c=colours, s=18)
        for timing in row.missing:
            axis.scatter([day_of(timing) / scale], [index], marker="x", color="#c53030", s=30)
    axis.set_yticks(range(len(rows)), [row.variant for row in rows])
    axis.set_ylim(-0.7, len(rows) - 0.3)
    if track is Track.CHILD:
        axis.set_xscale("log")
    axis.set_title(f"{track}: dots = messages (blue everyone, pink birthing parent, green "
                   "partner), red band = gap, x = missing in this variant", fontsize=9)  # fmt: skip
    axis.set_xlabel(unit)
