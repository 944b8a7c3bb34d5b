"""A report as a PNG chart a municipal officer can paste into a document."""

from __future__ import annotations

from pathlib import Path

from kizuna.reports import Report


def write_chart(found: Report, path: Path, *, title: str) -> Path:
    """Subscribers over the period (top) and deliveries sent and failed per day (bottom).

    `title` should be ASCII unless a CJK font is installed: matplotlib's bundled font has no
    Japanese glyphs.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display: a file is all we want
    from matplotlib import dates as mdates
    from matplotlib import pyplot

    days = [figures.day for figures in found.days]
    figure, (top, bottom) = pyplot.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    try:
        top.plot(days, [f.subscribed for f in found.days], color="#1f6f8b", marker="o",
                 markersize=3)  # fmt: skip
        top.set_ylabel("subscribers")
        top.set_title(f"{title}: subscribers (registered, not stopped), {found.period.label()}")
        top.set_ylim(0, max([f.subscribed for f in found.days] + [1]) * 1.1)
        top.grid(alpha=0.3)
        sent = [f.sent for f in found.days]
        bottom.bar(days, sent, color="#4c9f70", label="sent")
        bottom.bar(days, [f.failed for f in found.days], bottom=sent, color="#d1495b",
                   label="failed")  # fmt: skip
        bottom.set_ylabel("deliveries per day")
        highest = max([f.sent + f.failed for f in found.days] + [1])
        bottom.set_ylim(0, highest * 1.3)  # room for the legend above the bars
        bottom.legend(loc="upper left", ncol=2)
        bottom.grid(axis="y", alpha=0.3)
        bottom.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
        figure.autofmt_xdate()
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=120)
    finally:
        pyplot.close(figure)
    return path
