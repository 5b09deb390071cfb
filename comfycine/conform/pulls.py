"""Pulls: each shot's source range cut from its media into a file ComfyUI can load.

A template takes a whole file, so each chosen shot becomes one short clip holding
exactly its frames (the *pull*), in a folder the batch machinery then runs like any
folder of inputs. Pulls are made on the Mac with PyAV and are deterministic: the same
shot gives the same bytes, so a conform run again finds its renders by content hash
(the batch's item keys) and sends nothing twice.

The folder is per timeline and selection (``<data>/conform/<id>/pulls``); a small
manifest beside it records what each pull holds, so one whose shot moved is cut again
rather than reused.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .records import read_record, write_record
from .shots import Shot

SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Pull:
    """One shot's frames cut from its media: what the template renders from."""

    shot: Shot
    path: Path
    first: int  # the pull's first frame in the media file (0 = the file's first frame)
    frames: int
    rate: Fraction  # the media's rate: the pull's and the conformed result's
    # The pull's first frame on the media's clock, in frames at ``rate`` (its timecode).
    timecode_frame: int
    # Black and frozen stretches the source itself has (a fade, a static shot): QC
    # does not blame the render for them.
    source_scan: Any = None
    drop_frame: bool = False  # 29.97/59.94 drop-frame timecode, as the source has it

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``data.shots[].pull``)."""
        return {
            "path": str(self.path),
            "first": self.first,
            "frames": self.frames,
            "rate": fraction_text(self.rate),
            "timecode_frame": self.timecode_frame,
        }


def fraction_text(rate: Fraction) -> str:
    """``24``, or ``24000/1001`` when the rate is not whole."""
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def conform_id(timeline: Path, shots: list[Shot]) -> str:
    """A stable id for "these shots of this timeline": the pulls' folder."""
    text = json.dumps(
        {
            "timeline": str(timeline.absolute()),
            "shots": [[s.track, str(s.record_start), str(s.source_start), s.name] for s in shots],
        },
        sort_keys=True,
    )
    return "c" + hashlib.sha256(text.encode()).hexdigest()[:11]


def pull_name(shot: Shot) -> str:
    """``003-shot010.mp4``: the order on the timeline, then a file-safe clip name."""
    name = shot.name.rsplit(".", 1)[0] if "." in shot.name[-5:] else shot.name
    stem = SAFE.sub("_", name).strip("._") or "clip"
    return f"{shot.index:03d}-{stem[:60]}.mp4"


def plan_pull(shot: Shot, probe: Any) -> tuple[int, int, Fraction, int]:
    """Where the shot's frames lie in its file: (first, frames, rate, timecode frame).

    ``probe`` is the media's :class:`comfycine.media.probe.VideoInfo`. The media's
    rate wins over the timeline's: a 25 fps clip in a 24 fps timeline is pulled at 25,
    covering the same seconds. Raises UsageError when the range lies outside the file.
    """
    rate = shot.media_rate or probe.rate
    if probe.rate and rate != probe.rate:
        rate = probe.rate  # the file is the truth; the timeline's idea of it may be rounded
    media_start = shot.media_start
    if media_start is None:
        media_start = Fraction(probe.start_frame) / rate if rate else Fraction(0)
    first = round((shot.source_start - media_start) * rate)
    frames = max(1, round(shot.duration * rate))
    timecode_frame = round(shot.source_start * rate)
    if first < 0 or first + frames > probe.frames:
        raise UsageError(
            f"Clip {shot.name!r} uses frames {first}–{first + frames - 1} of "
            f"{probe.path.name}, which has {probe.frames} (from timecode "
            f"{probe.timecode or '00:00:00:00'}).",
            hint="Relink the clip to its full-length media with --relink FOLDER, "
            "or leave it out of the selection.",
            code="source_range_outside_media",
            details={"shot": shot.index, "media": str(probe.path)},
        )
    return first, frames, rate, timecode_frame


def plan_pulls(shots: list[Shot], folder: Path) -> list[Pull]:
    """What :func:`make_pulls` would cut, from the media's headers only (a dry run)."""
    from ..media.probe import probe as probe_media

    planned = []
    for shot in shots:
        assert shot.media is not None
        info = probe_media(shot.media)
        first, frames, rate, timecode_frame = plan_pull(shot, info)
        path = folder / pull_name(shot)
        planned.append(Pull(shot, path, first, frames, rate, timecode_frame, None, info.drop_frame))
    return planned


def make_pulls(shots: list[Shot], folder: Path, *, scan_source: bool = True) -> list[Pull]:
    """Cut every shot's pull into ``folder`` (those already there and current are kept).

    Shots must have their media (offline ones are the caller's to report).
    """
    from ..media.probe import probe as probe_media
    from ..media.pull import extract_range
    from ..media.scan import scan

    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder.parent / "pulls.json"  # not in the folder the batch lists
    manifest = read_record(manifest_path)
    pulls: list[Pull] = []
    for shot in shots:
        assert shot.media is not None
        info = probe_media(shot.media)
        first, frames, rate, timecode_frame = plan_pull(shot, info)
        path = folder / pull_name(shot)
        spec = {
            "media": str(shot.media),
            "size": shot.media.stat().st_size,
            "mtime": shot.media.stat().st_mtime_ns,
            "first": first,
            "frames": frames,
            "timecode_frame": timecode_frame,
        }
        if manifest.get(path.name) != spec or not path.exists():
            path.unlink(missing_ok=True)
            extract_range(shot.media, first, frames, path, timecode_frame=timecode_frame)
            manifest[path.name] = spec
            write_record(manifest_path, manifest)
        source_scan = scan(path, rate=rate) if scan_source else None
        pulls.append(
            Pull(shot, path, first, frames, rate, timecode_frame, source_scan, info.drop_frame)
        )
    return pulls
