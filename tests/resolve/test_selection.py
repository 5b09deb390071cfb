"""Which clips a send chooses, and the shots made of them."""

from __future__ import annotations

from fractions import Fraction
from types import ModuleType

import pytest

from comfycine.errors import UsageError
from comfycine.resolve import connect
from comfycine.resolve.rates import timecode_frames

RATE = Fraction(24000, 1001)


def names(shots: list) -> list[str]:
    return [shot.name for shot in shots]


def test_no_filter_chooses_every_clip_on_video_track_1(standin: ModuleType) -> None:
    """Default: all of V1, numbered in record order."""
    shots = connect(standin).select()
    assert names(shots) == ["shot010", "shot020", "shot030"]
    assert [s.index for s in shots] == [1, 2, 3] and {s.track for s in shots} == {"V1"}


def test_shot_times_are_exact_on_the_media_clock(standin: ModuleType) -> None:
    """Record start from the timeline's first frame; source start = Start TC + left offset."""
    first, _, third = connect(standin).select()
    assert first.record_start == 0 and first.duration == 48 / RATE
    media_start = Fraction(timecode_frames("14:03:10:05", RATE)) / RATE
    assert first.media_start == media_start and first.source_start == media_start + 10 / RATE
    assert (first.media_rate, first.media_name, first.media) == (RATE, "A001C003.mov", None)
    assert (first.color, first.markers, first.locator) == ("orange", ("fix",), (1, 0))
    assert first.metadata["record_frames"] == [86400, 86448]
    assert third.record_start == 84 / RATE and third.media_rate == 25


def test_speed_changes_are_listed_as_ignored(standin: ModuleType) -> None:
    """A clip playing 75 source frames at 25 fps over 36 frames at 23.976 notes ~200%."""
    first, _, third = connect(standin).select()
    assert first.ignored == ()
    assert len(third.ignored) == 1 and "~200%" in third.ignored[0]


@pytest.mark.parametrize("marker", ["VFX", " vfx "])
def test_timeline_marker_chooses_the_clips_it_overlaps(standin: ModuleType, marker: str) -> None:
    """A timeline marker named so (any case) over a clip chooses it."""
    assert names(connect(standin).select(marker=marker)) == ["shot020"]


def test_clip_marker_chooses_its_clip(standin: ModuleType) -> None:
    """A clip marker named so chooses its clip, wherever it sits in the clip."""
    assert names(connect(standin).select(marker="fix")) == ["shot010"]


def test_colour_chooses_clips_of_that_colour_on_the_track(standin: ModuleType) -> None:
    """Clip colour on V1 by default; on V2 with track=2 (the title, no media, never)."""
    session = connect(standin)
    assert names(session.select(color="orange")) == ["shot010"]
    assert names(session.select(track=2, color="Orange")) == ["overlay"]
    assert names(session.select(track=2)) == ["overlay"]


@pytest.mark.parametrize(
    ("frames", "chosen"),
    [((50, 60), ["shot020"]), ((47, 48), ["shot010", "shot020"]), ((72, 83), [])],
)
def test_frames_choose_clips_overlapping_the_record_range(
    standin: ModuleType, frames: tuple[int, int], chosen: list[str]
) -> None:
    """IN..OUT, both included, from the timeline's first frame; a gap chooses nothing."""
    assert names(connect(standin).select(frames=frames)) == chosen


def test_filters_combine(standin: ModuleType) -> None:
    """Every filter given must hold."""
    session = connect(standin)
    assert names(session.select(color="Orange", frames=(0, 10))) == ["shot010"]
    assert session.select(color="Orange", marker="VFX") == []


def test_a_track_that_does_not_exist_is_a_usage_error(standin: ModuleType) -> None:
    """--track beyond the timeline's video tracks: invalid_parameter naming the count."""
    with pytest.raises(UsageError) as caught:
        connect(standin).select(track=5)
    assert caught.value.code == "invalid_parameter" and "2 video track" in caught.value.message


def test_a_reversed_range_is_a_usage_error(standin: ModuleType) -> None:
    """--frames OUT before IN: invalid_parameter."""
    with pytest.raises(UsageError):
        connect(standin).select(frames=(10, 5))
