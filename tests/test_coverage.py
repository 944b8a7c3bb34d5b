"""Coverage: days with a message per track and variant, gaps against the cadence, a PNG."""

from __future__ import annotations

import pytest
from conftest import write_message
from matplotlib import image

from kizuna.config import bundled_dir
from kizuna.content import check_files, load_catalog, message_files
from kizuna.core.catalog import Timing, Unit, parse_at
from kizuna.core.stage import Track
from kizuna.coverage import coverage, day_of, gaps_of, write_timeline


@pytest.mark.parametrize(
    ("track", "at", "day"),
    [(Track.PREGNANCY, "12w3d", 87), (Track.CHILD, "d14", 14), (Track.CHILD, "1y", 365),
     (Track.CHILD, "3m", 91), (Track.LOSS, "d30", 30)],
)  # fmt: skip
def test_day_of(track, at, day):
    assert day_of(parse_at(track, at)) == day


@pytest.mark.parametrize(
    ("track", "ats", "gaps"),
    [
        (Track.PREGNANCY, ["4w0d", "5w0d", "6w0d"], []),
        (Track.PREGNANCY, ["4w0d", "5w0d", "7w0d"], [("5w0d", "7w0d", 14)]),
        (Track.CHILD, ["d77", "d84", "3m", "4m"], []),
        (Track.CHILD, ["d70", "d84"], [("d70", "d84", 14)]),
        (Track.CHILD, ["2y", "2y2m"], [("2y", "2y2m", 61)]),
        (Track.CHILD, ["3y", "3y3m", "6y", "7y"], [("3y3m", "6y", 1004)]),
        (Track.CHILD, ["6y", "7y", "8y"], []),
        (Track.LOSS, ["d1", "d60"], []),  # the loss set has no cadence
    ],
)
def test_gaps_against_the_cadence(track, ats, gaps):
    timings = [parse_at(track, at) for at in ats]
    found = [(str(g.after), str(g.before), g.days) for g in gaps_of(track, timings)]
    assert found == gaps


def test_coverage_per_track_and_variant(tmp_path):
    write_message(tmp_path, track="pregnancy", at="12w0d")
    write_message(tmp_path, track="pregnancy", at="13w0d", variants=("ja",))  # out of step
    write_message(tmp_path, track="pregnancy", at="14w0d", audience="partner")
    write_message(tmp_path, track="child", at="d7")
    messages, _ = check_files(message_files(tmp_path), root=tmp_path)
    rows = {(str(r.track), r.variant): r for r in coverage(messages)}
    assert list(rows) == [
        ("pregnancy", "ja"), ("pregnancy", "ja-easy"), ("child", "ja"), ("child", "ja-easy"),
    ]  # fmt: skip
    easy = rows[("pregnancy", "ja-easy")]
    assert [str(t) for t in easy.timings] == ["12w0d", "14w0d"]
    assert [str(t) for t in easy.missing] == ["13w0d"]
    assert [(str(g.after), str(g.before)) for g in easy.gaps] == [("12w0d", "14w0d")]
    assert easy.audiences[Timing(Track.PREGNANCY, Unit.DAY, 98)] == "partner"
    assert rows[("pregnancy", "ja")].missing == () and rows[("pregnancy", "ja")].gaps == ()
    assert [r.variant for r in coverage(messages, track=Track.CHILD)] == ["ja", "ja-easy"]


def test_starter_library_has_no_gaps():
    rows = coverage(load_catalog(bundled_dir("messages")).messages)
    assert {(str(r.track), r.variant): len(r.gaps) + len(r.missing) for r in rows} == {
        (track, variant): 0
        for track in ("pregnancy", "child", "loss")
        for variant in ("ja", "ja-easy")
    }


def test_timeline_png(tmp_path, messages_dir):
    rows = coverage(load_catalog(messages_dir).messages)
    path = write_timeline(rows, tmp_path / "out" / "coverage.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000
    pixels = image.imread(path)
    assert pixels.shape[0] > 200 and pixels.shape[1] > 800
    assert pixels[..., :3].std() > 0.05  # something is drawn, not a blank canvas
