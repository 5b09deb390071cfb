"""extract_range(): the exact frames, the rate and the timecode, the same bytes twice."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import pytest

from comfycine.media import pull
from comfycine.media.errors import MediaError, SourceRangeError
from comfycine.media.pull import extract_range
from tests.media.media import make_video, middle_colours
from tests.takes.clips import close, colour

NTSC = Fraction(24000, 1001)
KEYS = {"g": "12", "bf": "2"}  # a keyframe every 12 frames, B-frames: a real seek


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """72 frames at 23.976 with a keyframe every 12, timecode 01:00:00:00."""
    folder = tmp_path_factory.mktemp("pull")
    return make_video(folder / "source.mov", frames=72, fps=NTSC, timecode="01:00:00:00",
                      options=KEYS)  # fmt: skip


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_range_is_cut_exactly(source: Path, tmp_path: Path) -> None:
    """Frames 30–49 come out: 20 frames, first and last the source's, rate and TC kept."""
    info = extract_range(source, 30, 20, tmp_path / "p.mp4", timecode_frame=86400 + 30)
    assert (info.frames, info.rate, info.codec) == (20, NTSC, "h264")
    assert (info.timecode, info.start_frame, info.notes) == ("01:00:01:06", 86430, ())
    got = middle_colours(tmp_path / "p.mp4")
    assert len(got) == 20
    assert close(got[0], colour(30, 72)) and close(got[-1], colour(49, 72))
    assert not close(got[0], colour(29, 72)) and not close(got[-1], colour(50, 72))


def test_the_range_at_the_start_and_at_the_end(source: Path, tmp_path: Path) -> None:
    """Frames 0–4 and 60–71 (the last): right colours, no timecode when none given."""
    head = extract_range(source, 0, 5, tmp_path / "head.mov", timecode_frame=None)
    tail = extract_range(source, 60, 12, tmp_path / "tail.mov", timecode_frame=None)
    assert (head.timecode, tail.frames) == (None, 12)
    assert close(middle_colours(tmp_path / "head.mov")[0], colour(0, 72))
    assert close(middle_colours(tmp_path / "tail.mov")[-1], colour(71, 72))


def test_two_pulls_are_the_same_bytes(source: Path, tmp_path: Path) -> None:
    """The same range twice gives identical files (a resumed conform finds its hash)."""
    extract_range(source, 13, 30, tmp_path / "a.mov", timecode_frame=86413)
    extract_range(source, 13, 30, tmp_path / "b.mov", timecode_frame=86413)
    assert digest(tmp_path / "a.mov") == digest(tmp_path / "b.mov")


def test_counting_from_the_start_gives_what_the_seek_gives(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seek is used, and decoding from frame 0 instead (VFR) makes the same file."""
    by_order = pull._by_order

    def unwanted(*args: object) -> object:
        raise AssertionError("decoded from the start although the seek works")

    def irregular(*args: object) -> object:
        raise pull._Irregular

    monkeypatch.setattr(pull, "_by_order", unwanted)
    extract_range(source, 30, 20, tmp_path / "seek.mov", timecode_frame=None)
    monkeypatch.setattr(pull, "_by_order", by_order)
    monkeypatch.setattr(pull, "_by_timestamp", irregular)
    extract_range(source, 30, 20, tmp_path / "order.mov", timecode_frame=None)
    assert digest(tmp_path / "seek.mov") == digest(tmp_path / "order.mov")


def test_an_odd_size_is_padded_and_said(tmp_path: Path) -> None:
    """A 161×91 ProRes source becomes 162×92 H.264, with a note saying so."""
    odd = make_video(tmp_path / "odd.mov", frames=6, size=(161, 91), codec="prores_ks",
                     pix_fmt="yuv422p10le")  # fmt: skip
    info = extract_range(odd, 1, 4, tmp_path / "p.mov", timecode_frame=None)
    assert (info.width, info.height, info.frames) == (162, 92, 4)
    assert "161×91 to 162×92" in info.notes[0]
    assert close(middle_colours(tmp_path / "p.mov")[0], colour(1, 6))


def test_a_range_past_the_end_names_both(source: Path, tmp_path: Path) -> None:
    """Frames 60–79 of a 72-frame file: source_range_outside_media, exit 2, nothing left."""
    with pytest.raises(SourceRangeError) as caught:
        extract_range(source, 60, 20, tmp_path / "p.mov", timecode_frame=None)
    error = caught.value
    assert (error.code, error.exit_code) == ("source_range_outside_media", 2)
    assert "60–79" in error.message and "72 frames" in error.message
    assert list(tmp_path.iterdir()) == []


def test_an_existing_pull_is_never_written_over(source: Path, tmp_path: Path) -> None:
    """output_exists, and the file there is untouched."""
    out = tmp_path / "p.mov"
    out.write_bytes(b"keep me")
    with pytest.raises(MediaError) as caught:
        extract_range(source, 0, 4, out, timecode_frame=None)
    assert caught.value.code == "output_exists"
    assert out.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["p.mov"]
