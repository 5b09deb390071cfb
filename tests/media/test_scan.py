"""scan(): black and frozen stretches found by one decoding pass; none in a normal clip."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from comfycine.media.scan import Stretch, scan
from tests.media.media import held, make_video
from tests.takes.clips import cut

RATE = Fraction(24)


def test_a_normal_clip_has_no_stretch(tmp_path: Path) -> None:
    """Every frame another colour: decoded to the end, nothing black or frozen."""
    found = scan(make_video(tmp_path / "a.mp4", frames=48), rate=RATE)
    assert (found.frames, found.decoded_to_end, found.error) == (48, True, None)
    assert (found.black, found.frozen, found.runs) == ([], [], [])


def test_a_black_stretch_is_found_where_it_is(tmp_path: Path) -> None:
    """Frames 10–33 black: one 1 s black stretch from frame 10, not reported as frozen."""
    path = make_video(tmp_path / "a.mp4", frames=48, picture=held(48, range(10, 34), (0, 0, 0)))
    found = scan(path, rate=RATE)
    assert found.black == [Stretch("black", 10, 24, RATE)]
    assert found.black[0].seconds == 1 and found.black[0].start == Fraction(10, 24)
    assert found.frozen == []


def test_a_near_black_frame_is_black_and_a_dark_one_is_not(tmp_path: Path) -> None:
    """Grey level 20 (under 10 % of the range) counts as black; 40 does not."""
    near = make_video(tmp_path / "near.mp4", frames=24, picture=held(24, range(24), (20, 20, 20)))
    dark = make_video(tmp_path / "dark.mp4", frames=24, picture=held(24, range(24), (40, 40, 40)))
    assert [s.count for s in scan(near, rate=RATE).black] == [24]
    assert scan(dark, rate=RATE).black == []


def test_a_frozen_stretch_is_found(tmp_path: Path) -> None:
    """Frames 20–45 one picture: a frozen stretch of 26 frames from frame 20."""
    path = make_video(tmp_path / "a.mp4", frames=60, picture=held(60, range(20, 46)))
    found = scan(path, rate=RATE)
    assert found.frozen == [Stretch("frozen", 20, 26, RATE)]
    assert found.black == []


def test_short_stretches_are_kept_apart(tmp_path: Path) -> None:
    """A 6-frame black run (0.25 s) is under the 0.5 s threshold: in runs, not black."""
    path = make_video(tmp_path / "a.mp4", frames=30, picture=held(30, range(0, 6), (0, 0, 0)))
    found = scan(path, rate=RATE)
    assert found.black == []
    assert found.runs == [Stretch("black", 0, 6, RATE)]
    assert scan(path, rate=RATE, black_seconds=0.25).black == [Stretch("black", 0, 6, RATE)]


def test_a_file_cut_short_does_not_decode_to_the_end(tmp_path: Path) -> None:
    """A Matroska file missing its second half: decoded_to_end False, the error said."""
    path = cut(make_video(tmp_path / "a.mkv", frames=48, size=(320, 180)), 0.6)
    found = scan(path, rate=RATE)
    assert not found.decoded_to_end
    assert found.error
    assert 0 < found.frames < 48
