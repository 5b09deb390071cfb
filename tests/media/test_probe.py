"""probe(): exact rates, frame counts and start timecodes of real files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from comfycine.errors import MediaNotFound
from comfycine.media.errors import MediaError
from comfycine.media.probe import probe
from tests.media.media import make_video
from tests.takes.clips import make_animation


def test_a_24_fps_clip_without_timecode(tmp_path: Path) -> None:
    """Rate 24, its frames, size, codec, no timecode (start 0), duration frames / rate."""
    info = probe(make_video(tmp_path / "a.mp4", frames=30))
    assert (info.rate, info.frames, info.width, info.height) == (Fraction(24), 30, 160, 90)
    assert (info.codec, info.pix_fmt, info.bit_depth) == ("h264", "yuv420p", 8)
    assert (info.timecode, info.start_frame, info.drop_frame) == (None, 0, False)
    assert info.duration == Fraction(30, 24)
    assert not info.has_audio


def test_an_ntsc_clip_keeps_its_exact_rate_and_timecode(tmp_path: Path) -> None:
    """24000/1001 stays a fraction; 01:00:00:00 is frame 86400."""
    rate = Fraction(24000, 1001)
    path = make_video(tmp_path / "a.mov", frames=12, fps=rate, timecode="01:00:00:00")
    info = probe(path)
    assert info.rate == rate
    assert (info.timecode, info.start_frame) == ("01:00:00:00", 86400)
    assert info.duration == Fraction(12) / rate


def test_a_drop_frame_timecode_is_numbered(tmp_path: Path) -> None:
    """A 29.97 DF start of 00:10:00;00 is frame 17982, marked drop-frame."""
    path = make_video(tmp_path / "df.mov", frames=3, fps=Fraction(30000, 1001),
                      timecode="00:10:00;00")  # fmt: skip
    info = probe(path)
    assert (info.start_frame, info.drop_frame) == (17982, True)


def test_frames_are_counted_when_the_container_does_not_say(tmp_path: Path) -> None:
    """Matroska has no frame count: the packets are counted; count=True agrees on MP4."""
    assert probe(make_video(tmp_path / "a.mkv", frames=17)).frames == 17
    assert probe(make_video(tmp_path / "a.mp4", frames=17), count=True).frames == 17


def test_audio_is_noticed(tmp_path: Path) -> None:
    """A clip with a sound track says has_audio."""
    assert probe(make_video(tmp_path / "a.mov", frames=4, audio=True)).has_audio


def test_a_file_that_is_not_video_is_media_unreadable(tmp_path: Path) -> None:
    """Text, an empty file: media_unreadable naming the file; a missing one: not found."""
    text = tmp_path / "notes.mov"
    text.write_text("not a movie\n" * 50)
    empty = tmp_path / "empty.mov"
    empty.touch()
    for path in (text, empty):
        with pytest.raises(MediaError) as caught:
            probe(path)
        assert caught.value.code == "media_unreadable"
        assert caught.value.exit_code == 2
        assert path.name in caught.value.message
    with pytest.raises(MediaNotFound):
        probe(tmp_path / "missing.mov")


def test_an_animated_webp_is_refused_with_the_reason(tmp_path: Path) -> None:
    """FFmpeg reads an animated WebP as one empty frame: media_unreadable says why."""
    with pytest.raises(MediaError) as caught:
        probe(make_animation(tmp_path / "take.webp"))
    assert "animated WebP" in caught.value.message
