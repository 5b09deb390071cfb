"""Choosing shots by track, marker, colour, keyword and time range."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from comfycine.conform.shots import Shot
from comfycine.errors import UsageError
from comfycine.timeline.formats import read_timeline
from comfycine.timeline.selection import Selection, parse_span, select
from comfycine.timeline.shots import list_shots

from .conftest import Stage


def shots_of(stage: Stage, name: str) -> list[Shot]:
    """The shots of a staged sample timeline."""
    return list_shots(read_timeline(stage(name))).shots


def names(shots: list[Shot]) -> list[str]:
    """The shots' names, in order."""
    return [s.name for s in shots]


def test_an_empty_selection_takes_every_shot(stage: Stage) -> None:
    """No criterion: all shots, in timeline order."""
    shots = shots_of(stage, "edit.xml")
    assert Selection().is_empty() and select(shots, Selection()) == shots


@pytest.mark.parametrize(
    ("name", "selection", "chosen"),
    [
        ("edit.xml", Selection(track="v2"), ["shot030"]),
        ("edit.otio", Selection(track="VFX"), ["shot030"]),
        ("edit.otio", Selection(track="V2"), ["shot030"]),  # V<n> counts video tracks
        ("edit.fcpxml", Selection(track="lane 1"), ["shot030"]),
        ("edit.fcpxml", Selection(track="primary"), ["shot010", "shot020"]),
    ],
)
def test_track_by_the_editors_name_or_v_number(
    stage: Stage, name: str, selection: Selection, chosen: list[str]
) -> None:
    """A track is chosen by its own name or V<n>, case-insensitively."""
    assert names(select(shots_of(stage, name), selection)) == chosen


def test_marker_on_the_clip_or_over_it(stage: Stage) -> None:
    """Clip markers and timeline markers over a clip choose it; patterns work."""
    shots = shots_of(stage, "edit.xml")
    assert names(select(shots, Selection(marker="vfx SKY"))) == ["shot010"]
    assert names(select(shots, Selection(marker="Review"))) == ["shot020"]
    assert names(select(shots, Selection(marker="*"))) == ["shot010", "shot020"]


def test_colour_of_the_clip_or_of_its_markers(stage: Stage) -> None:
    """Clip colour (OTIO, FCP7 label) and marker colour (FCPXML to-do, EDL LOC) choose."""
    assert names(select(shots_of(stage, "edit.otio"), Selection(color="Orange"))) == ["shot020"]
    assert names(select(shots_of(stage, "edit.otio"), Selection(color="green"))) == ["shot010"]
    assert names(select(shots_of(stage, "edit.xml"), Selection(color="iris"))) == ["shot010"]
    assert names(select(shots_of(stage, "edit.fcpxml"), Selection(color="red"))) == ["shot010"]
    assert names(select(shots_of(stage, "edit.edl"), Selection(color="red"))) == ["shot030.mov"]


def test_keyword_from_fcpxml(stage: Stage) -> None:
    """An FCPXML keyword (the clip's or its browser clip's) chooses the clip."""
    shots = shots_of(stage, "edit.fcpxml")
    assert names(select(shots, Selection(keyword="exterior"))) == ["shot010"]
    assert names(select(shots, Selection(keyword="HERO"))) == ["shot010"]


def test_span_chooses_shots_over_any_part_of_it(stage: Stage) -> None:
    """A range chooses the shots overlapping it, however little."""
    shots = shots_of(stage, "edit.xml")
    doc_rate, start = Fraction(24), Fraction(3600)
    span = parse_span("01:00:00:11-01:00:00:19", doc_rate, start)
    assert span == (Fraction(11, 24), Fraction(19, 24))
    assert names(select(shots, Selection(span=span))) == ["shot010", "shot020"]
    with pytest.raises(UsageError):  # 0.5 s is where shot010 ends; shot020 starts at 0.75 s
        select(shots, Selection(span=parse_span("0.5-0.7", doc_rate, start)))


def test_criteria_combine(stage: Stage) -> None:
    """Several criteria must all hold (the lead adds the span with ``replace``)."""
    shots = shots_of(stage, "edit.xml")
    both = replace(Selection(track="V1"), span=(Fraction(0), Fraction(1, 24)))
    assert names(select(shots, both)) == ["shot010"]


def test_nothing_matching_lists_what_the_timeline_has(stage: Stage) -> None:
    """No match: no_clips_selected (exit 2) naming the tracks, markers, colours, keywords."""
    shots = shots_of(stage, "edit.fcpxml")
    with pytest.raises(UsageError) as caught:
        select(shots, Selection(marker="Grade"))
    error = caught.value
    assert error.code == "no_clips_selected" and "marker 'Grade'" in error.message
    assert error.details["tracks"] == ["primary", "lane 1"]
    assert error.details["markers"] == ["VFX sky"]
    assert error.details["keywords"] == ["hero", "sky", "exterior"]
    assert "VFX sky" in error.hint


@pytest.mark.parametrize(
    ("text", "rate", "expected"),
    [
        ("12.5-20", Fraction(24), (Fraction(25, 2), Fraction(20))),
        ("01:00:10:00-01:00:20:00", Fraction(24), (Fraction(10), Fraction(20))),
        (
            "01:00:00:12 - 01:00:01:00",
            Fraction(24000, 1001),
            (Fraction(12 * 1001, 24000), Fraction(24 * 1001, 24000)),
        ),
    ],
)
def test_parse_span_reads_seconds_and_timeline_timecode(
    text: str, rate: Fraction, expected: tuple[Fraction, Fraction]
) -> None:
    """Seconds from the start, or timecodes on the timeline's clock (its start taken off)."""
    start = Fraction(86400) / rate
    assert parse_span(text, rate, start) == expected


@pytest.mark.parametrize(
    "text", ["20-10", "soon", "00:00:01:00-00:00:02:00", "01:00:00:30-01:00:01:00"]
)
def test_parse_span_refuses_bad_ranges(text: str) -> None:
    """Backwards, unreadable, before the timeline's start or impossible frames: invalid_range."""
    with pytest.raises(UsageError) as caught:
        parse_span(text, Fraction(24), Fraction(3600))
    assert caught.value.code == "invalid_range" and "--range" in caught.value.hint
