"""Proxy planning: durations from ffmpeg's banner, bitrates that fit the limit."""

from __future__ import annotations

from pathlib import Path

from comfycine.notify.proxy import media_kind, parse_duration, video_proxy_args

BANNER = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'master.mov':
  Duration: 00:01:02.50, start: 0.000000, bitrate: 147000 kb/s
"""


def test_duration_is_read_from_the_banner() -> None:
    """``Duration: HH:MM:SS.ss`` in seconds; None when absent or N/A."""
    assert parse_duration(BANNER) == 62.5
    assert parse_duration("  Duration: N/A, bitrate: N/A") is None


def test_media_kinds() -> None:
    """Images and videos by suffix, case-insensitive."""
    assert [media_kind(Path(n)) for n in ("a.PNG", "b.mov", "c.gif")] == [
        "image",
        "video",
        "other",
    ]


def option(argv: list[str], name: str) -> str:
    """The value following ``name`` in ``argv``."""
    return argv[argv.index(name) + 1]


def test_bitrate_fits_the_limit_over_the_duration() -> None:
    """Video plus audio over the duration stays under 85 % of the limit, at 720p when rich."""
    limit = 50 * 1024 * 1024
    argv = video_proxy_args("ffmpeg", Path("a.mov"), Path("a.mp4"), duration=120.0, limit=limit)
    assert argv is not None
    total = int(option(argv, "-b:v")) + int(option(argv, "-b:a"))
    assert total * 120 / 8 <= limit * 0.85
    assert "min(720,ih)" in option(argv, "-vf")
    assert option(argv, "-c:v") == "libx264" and option(argv, "-pix_fmt") == "yuv420p"


def test_short_videos_are_capped_and_long_ones_refused() -> None:
    """A short clip does not get more than 4 Mb/s; a feature film gets no proxy at all."""
    limit = 50 * 1024 * 1024
    short = video_proxy_args("ffmpeg", Path("a.mov"), Path("a.mp4"), duration=5.0, limit=limit)
    assert short is not None and int(option(short, "-b:v")) == 4_000_000
    assert video_proxy_args("ffmpeg", Path("a"), Path("b"), duration=36_000, limit=limit) is None


def test_unknown_duration_uses_constant_quality() -> None:
    """Without a duration the encode is constant-quality at 540 lines (size checked after)."""
    argv = video_proxy_args("ffmpeg", Path("a.mov"), Path("a.mp4"), duration=None, limit=1)
    assert argv is not None and option(argv, "-crf") == "30"
    assert "-b:v" not in argv and "min(540,ih)" in option(argv, "-vf")
