"""plan_fit(): every way a render is matched to its clip, and the ones refused."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from comfycine.media.errors import FrameRateMismatch, LengthMismatch
from comfycine.media.fit import plan_fit
from comfycine.media.probe import VideoInfo

R24 = Fraction(24)


def rendered(frames: int, rate: Fraction | int) -> VideoInfo:
    """A render's VideoInfo (no file needed to plan)."""
    rate = Fraction(rate)
    return VideoInfo(Path("render.mp4"), rate, frames, 160, 90, "h264", "yuv420p", None, 0,
                     False, Fraction(frames) / rate)  # fmt: skip


def test_a_matching_render_needs_nothing() -> None:
    """Same rate, same count: action none, identity map, no note."""
    plan = plan_fit(rendered(48, 24), 48, R24)
    assert (plan.action, plan.notes) == ("none", [])
    assert [plan.frame_map(j) for j in (0, 47)] == [0, 47]


def test_extra_frames_are_trimmed_at_the_end_and_said() -> None:
    """53 frames for 48: the last 5 trimmed, the note says so."""
    plan = plan_fit(rendered(53, 24), 48, R24)
    assert plan.action == "trim"
    assert plan.notes == ["rendered 53 frames for a 48-frame clip: trimmed the last 5"]
    assert plan.frame_map(47) == 47


def test_missing_frames_hold_the_last_one() -> None:
    """40 frames for 48: frames 40–47 show render frame 39."""
    plan = plan_fit(rendered(40, 24), 48, R24)
    assert plan.action == "pad"
    assert [plan.frame_map(j) for j in (38, 39, 40, 47)] == [38, 39, 39, 39]
    assert "held the last frame for 8 more" in plan.notes[0]


def test_strict_length_refuses_a_trim_or_a_pad() -> None:
    """With strict_length, 53 or 40 frames for 48 raise length_mismatch (exit 5)."""
    for frames in (53, 40):
        with pytest.raises(LengthMismatch) as caught:
            plan_fit(rendered(frames, 24), 48, R24, strict_length=True)
        assert (caught.value.code, caught.value.exit_code) == ("length_mismatch", 5)
        assert f"{frames} frames" in caught.value.message


def test_another_rate_with_the_same_count_is_restamped() -> None:
    """16 fps, 48 frames for 48 at 24: frame for frame, noted; 24 for 23.976 too."""
    plan = plan_fit(rendered(48, 16), 48, R24)
    assert plan.action == "retime"
    assert plan.notes == ["rendered at 16 fps, restamped at 24 fps frame for frame"]
    assert plan.frame_map(10) == 10
    assert plan_fit(rendered(48, 24), 48, Fraction(24000, 1001)).action == "retime"


def test_an_integer_multiple_rate_keeps_every_nth_frame() -> None:
    """96 frames at 48 fps for 48 at 24: every 2nd frame."""
    plan = plan_fit(rendered(96, 48), 48, R24)
    assert (plan.action, plan.step) == ("decimate", 2)
    assert [plan.frame_map(j) for j in (0, 1, 47)] == [0, 2, 94]
    assert "kept every 2nd" in plan.notes[0]


def test_an_integer_fraction_rate_shows_each_frame_n_times() -> None:
    """24 frames at 12 fps for 48 at 24: each frame twice."""
    plan = plan_fit(rendered(24, 12), 48, R24)
    assert (plan.action, plan.step) == ("repeat", 2)
    assert [plan.frame_map(j) for j in (0, 1, 2, 47)] == [0, 0, 1, 23]
    assert "each twice" in plan.notes[0]


def test_a_rate_that_cannot_be_matched_exactly_is_refused() -> None:
    """81 frames at 16 fps for 48 at 24: frame_rate_mismatch naming both, with a hint."""
    for frames, rate in ((81, 16), (97, 48), (25, 12)):
        with pytest.raises(FrameRateMismatch) as caught:
            plan_fit(rendered(frames, rate), 48, R24)
        error = caught.value
        assert (error.code, error.exit_code) == ("frame_rate_mismatch", 5)
        assert f"{frames} frames at {rate} fps" in error.message
        assert "48-frame clip at 24 fps" in error.message
        assert "frame rate to 24" in error.hint
    with pytest.raises(FrameRateMismatch):
        plan_fit(rendered(81, 16), 48, R24, strict_length=True)


def test_the_map_refuses_frames_outside_the_clip() -> None:
    """Asking for frame 48 of a 48-frame plan is an IndexError."""
    with pytest.raises(IndexError):
        plan_fit(rendered(48, 24), 48, R24).frame_map(48)


def test_comfyuis_rounded_ntsc_rate_is_the_clips_own_then_trimmed() -> None:
    """23.976 (ComfyUI's rounding) for a 24000/1001 clip: restamped, and 49 → 48 trimmed."""
    ntsc = Fraction(24000, 1001)
    plan = plan_fit(rendered(49, Fraction(23976, 1000)), 48, ntsc)
    assert plan.action == "trim" and plan.source_rate == Fraction(23976, 1000)
    assert plan.notes[0].startswith("rendered at 23.976 fps, restamped")
    assert "trimmed the last 1" in plan.notes[1]
    same = plan_fit(rendered(48, Fraction(23976, 1000)), 48, ntsc)
    assert same.action == "retime" and len(same.notes) == 1


def test_a_rate_merely_near_is_not_taken_for_the_clips() -> None:
    """25 fps is not 24 fps: with another count it is still refused."""
    with pytest.raises(FrameRateMismatch):
        plan_fit(rendered(49, 25), 48, R24)
