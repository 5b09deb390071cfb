"""Smaller copies of results too big for Telegram, made with ffmpeg when it is installed.

A video becomes an H.264 MP4 (up to 720p, yuv420p, AAC audio, fast start) at the bitrate
that fits the upload limit over its duration; an image becomes a JPEG no larger than
2560 px on its long side. Nothing here raises: a proxy that cannot be made, or comes
out too big, is ``None`` with a reason, and the caller sends the path instead.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .command import run_process

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi"})
# An encode of a long master on a laptop takes a while; a notification is not worth more.
PROXY_TIMEOUT = 300.0
PROBE_TIMEOUT = 20.0
# Single-pass bitrate targets overshoot a little: aim below the limit.
FILL = 0.85
AUDIO_BPS = 96_000
LOW_AUDIO_BPS = 32_000
MAX_VIDEO_BPS = 4_000_000
MIN_VIDEO_BPS = 40_000
IMAGE_EDGE = 2560

_DURATION = re.compile(r"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")


def media_kind(path: Path) -> str:
    """``image``, ``video`` or ``other``, from the file's suffix."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return "other"


def find_ffmpeg(command: str | None) -> str | None:
    """The ffmpeg executable for ``command`` (a name on PATH or a path), or None."""
    return shutil.which(command) if command else None


def parse_duration(ffmpeg_stderr: str) -> float | None:
    """The duration in seconds that ``ffmpeg -i FILE`` prints, or None when absent."""
    match = _DURATION.search(ffmpeg_stderr)
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    total = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return total if total > 0 else None


def video_proxy_args(
    ffmpeg: str, source: Path, target: Path, *, duration: float | None, limit: int
) -> list[str] | None:
    """The ffmpeg argv for an MP4 proxy of ``source`` under ``limit`` bytes.

    With a known duration the video bitrate is what fits (capped at 4 Mb/s, which a phone
    preview never needs), and the height follows the bitrate (720, 540 or 360 lines);
    None when even the lowest useful bitrate would not fit. Without a duration a
    constant-quality 540p encode is tried and its size checked afterwards.
    """
    audio_bps = AUDIO_BPS
    if duration is None:
        height, rate = 540, ["-crf", "30"]
    else:
        total_bps = int(limit * 8 * FILL / duration)
        # A small budget goes to the picture: speech survives 32 kb/s AAC.
        audio_bps = AUDIO_BPS if total_bps >= 1_000_000 else LOW_AUDIO_BPS
        video_bps = min(MAX_VIDEO_BPS, total_bps - audio_bps)
        if video_bps < MIN_VIDEO_BPS:
            return None
        height = 720 if video_bps >= 1_500_000 else 540 if video_bps >= 600_000 else 360
        rate = ["-b:v", str(video_bps), "-maxrate", str(video_bps * 3 // 2)]
        rate += ["-bufsize", str(video_bps * 2)]
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source),
        "-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn",
        "-vf", f"scale=-2:'trunc(min({height},ih)/2)*2',setsar=1",
        "-c:v", "libx264", "-preset", "veryfast", *rate, "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", str(audio_bps), "-ac", "2",
        "-movflags", "+faststart", str(target),
    ]  # fmt: skip


def image_proxy_args(ffmpeg: str, source: Path, target: Path) -> list[str]:
    """The ffmpeg argv for a JPEG of ``source`` fitting in 2560 × 2560 px."""
    edge = IMAGE_EDGE
    box = f"scale='min({edge},iw)':'min({edge},ih)':force_original_aspect_ratio=decrease"
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source),
        "-frames:v", "1", "-vf", box, "-q:v", "3", str(target),
    ]  # fmt: skip


async def probe_duration(ffmpeg: str, source: Path) -> float | None:
    """The duration of a media file, from ffmpeg's own banner (no ffprobe needed)."""
    try:
        _, stderr = await run_process(
            [ffmpeg, "-nostdin", "-hide_banner", "-i", str(source)], PROBE_TIMEOUT
        )
    except OSError:
        return None
    return parse_duration(stderr)


async def make_proxy(
    ffmpeg: str, source: Path, workdir: Path, *, limit: int
) -> tuple[Path | None, str]:
    """A smaller copy of ``source`` in ``workdir``, at most ``limit`` bytes; or None, why."""
    kind = media_kind(source)
    if kind == "video":
        target = workdir / f"{source.stem}-proxy.mp4"
        duration = await probe_duration(ffmpeg, source)
        argv = video_proxy_args(ffmpeg, source, target, duration=duration, limit=limit)
        if argv is None:
            return None, "too long for a proxy under the limit"
    elif kind == "image":
        target = workdir / f"{source.stem}-proxy.jpg"
        argv = image_proxy_args(ffmpeg, source, target)
    else:
        return None, "no proxy for this file type"
    try:
        status, stderr = await run_process(argv, PROXY_TIMEOUT)
    except OSError as exc:
        return None, f"ffmpeg could not run: {exc}"
    if status is None:
        return None, f"ffmpeg took longer than {PROXY_TIMEOUT:g} s"
    if status != 0 or not target.is_file():
        last = stderr.strip().splitlines()[-1:] or [f"exit {status}"]
        return None, f"ffmpeg failed: {last[0][:200]}"
    size = target.stat().st_size
    if size > limit:
        return None, f"the proxy is still {size} bytes"
    return target, f"a smaller {kind} ({size} bytes) made with ffmpeg"
