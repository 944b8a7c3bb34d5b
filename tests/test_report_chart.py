"""The report's PNG chart: a real image of a size fit to paste into a document."""

from __future__ import annotations

import io
from datetime import date, timedelta

from PIL import Image

from kizuna.report_chart import write_chart
from kizuna.reports import DayFigures, Period, Report


def month_report() -> Report:
    period = Period.month("2026-11")
    found = Report("131016", period)
    found.days = [
        DayFigures(period.start + timedelta(days=n), 100 + 3 * n, 40 + n % 7, int(n % 5 == 0))
        for n in range(30)
    ]
    return found


def test_the_chart_is_a_png_of_non_trivial_size(tmp_path):
    path = write_chart(month_report(), tmp_path / "out" / "report.png", title="131016")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # two drawn panels, not an empty canvas
    image = Image.open(io.BytesIO(data))
    image.verify()
    image = Image.open(io.BytesIO(data))
    assert image.size == (1200, 780)  # 10 × 6.5 inches at 120 dpi
    colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert len(colours) > 50  # lines, bars, text: far from a blank picture


def test_an_empty_period_still_draws(tmp_path):
    found = Report(None, Period(date(2026, 11, 1), date(2026, 11, 1)))
    found.days = [DayFigures(date(2026, 11, 1), 0, 0, 0)]
    path = write_chart(found, tmp_path / "empty.png", title="all municipalities")
    assert Image.open(path).format == "PNG"
