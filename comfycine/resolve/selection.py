"""Which clips of a Resolve timeline become shots, and what each shot is.

The rule (Resolve's API has no call that reads the timeline's selection):

* one video track is looked at: ``track`` (1-based), video track 1 when not given;
* ``marker NAME``: clips that a timeline marker named NAME overlaps, or that carry a
  clip marker named NAME (names compared without case or surrounding spaces);
* ``color NAME``: clips whose clip colour is NAME (Orange, Teal... without case);
* ``frames (IN, OUT)``: clips overlapping the record frames IN..OUT, both included,
  counted from the timeline's first frame (0);
* the filters combine (all must hold); none given: every clip on the track.

Items without a media-pool item (generators, titles) are never shots.

A shot's source is read from its media-pool item: ``File Path``, ``FPS`` and ``Start TC``
clip properties (the Clip Attributes names), and the item's ``GetLeftOffset()``: the
frames trimmed off the clip's head, counted on the timeline. Speed changes are seen
only through ``GetSourceStartFrame``/``GetSourceEndFrame`` (README: Resolve 19.0.2 and
later); on older versions ``ignored`` stays empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path, PureWindowsPath
from typing import Any

from ..conform.shots import Shot
from ..errors import UsageError
from .rates import parse_rate, timecode_frames
from .timeline import Marker, ResolveObject, TimelineInfo, read_markers


@dataclass(frozen=True)
class Criteria:
    """What to choose; see the module docstring for the rule."""

    track: int | None = None
    marker: str | None = None
    color: str | None = None
    frames: tuple[int, int] | None = None

    def check(self, info: TimelineInfo) -> int:
        """The track to read, after checking every value (UsageError otherwise)."""
        track = 1 if self.track is None else self.track
        if not 1 <= track <= info.video_tracks:
            raise UsageError(
                f"Track {track} does not exist: {info.timeline!r} has "
                f"{info.video_tracks} video track(s).",
                hint="Give --track between 1 and the number of video tracks.",
                code="invalid_parameter",
            )
        if self.frames is not None:
            first, last = self.frames
            if first < 0 or last < first:
                raise UsageError(
                    f"--frames {first}-{last} is not a range of frames.",
                    hint="Give --frames IN-OUT with 0 <= IN <= OUT, from the timeline's start.",
                    code="invalid_parameter",
                )
        return track


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def select_shots(timeline: ResolveObject, info: TimelineInfo, criteria: Criteria) -> list[Shot]:
    """The shots ``criteria`` chooses on ``timeline``, numbered from 1 in record order."""
    track = criteria.check(info)
    markers = read_markers(timeline.GetMarkers(), info.start_frame)
    items = list(timeline.GetItemListInTrack("video", track) or [])
    chosen: list[tuple[int, int, ResolveObject, Any]] = []
    for position, item in enumerate(items):
        media_item = item.GetMediaPoolItem()
        if media_item is None:
            continue
        start, end = int(item.GetStart()), int(item.GetEnd())
        if _chosen(item, start, end, markers, criteria, info):
            chosen.append((start, position, item, media_item))
    chosen.sort(key=lambda entry: entry[0])
    return [
        make_shot(index, item, media_item, track, position, info, markers)
        for index, (_, position, item, media_item) in enumerate(chosen, start=1)
    ]


def _chosen(
    item: ResolveObject,
    start: int,
    end: int,
    markers: list[Marker],
    criteria: Criteria,
    info: TimelineInfo,
) -> bool:
    if criteria.frames is not None:
        first = info.start_frame + criteria.frames[0]
        last = info.start_frame + criteria.frames[1]
        if not (start <= last and end > first):
            return False
    if criteria.color is not None and not _same(str(item.GetClipColor() or ""), criteria.color):
        return False
    if criteria.marker is not None:
        name = criteria.marker
        on_timeline = any(_same(m.name, name) and m.overlaps(start, end) for m in markers)
        on_clip = any(_same(m.name, name) for m in read_markers(item.GetMarkers(), start))
        if not (on_timeline or on_clip):
            return False
    return True


def make_shot(
    index: int,
    item: ResolveObject,
    media_item: ResolveObject,
    track: int,
    position: int,
    info: TimelineInfo,
    markers: list[Marker],
) -> Shot:
    """One timeline item as a :class:`Shot` (times exact, on the rates Resolve gives)."""
    rate = info.rate
    start, end = int(item.GetStart()), int(item.GetEnd())
    left = round(float(item.GetLeftOffset() or 0))
    file_path = str(media_item.GetClipProperty("File Path") or "")
    fps = media_item.GetClipProperty("FPS")
    media_rate = parse_rate(fps) if fps else rate
    start_tc = str(media_item.GetClipProperty("Start TC") or "")
    media_start = Fraction(timecode_frames(start_tc, media_rate)) / media_rate
    clip_markers = read_markers(item.GetMarkers(), start)
    names = [m.name for m in clip_markers] + [m.name for m in markers if m.overlaps(start, end)]
    media = Path(file_path) if file_path else None
    color = str(item.GetClipColor() or "").strip().lower() or None
    return Shot(
        index=index,
        name=str(item.GetName() or media_item.GetName() or f"clip {index}"),
        track=f"V{track}",
        rate=rate,
        record_start=Fraction(start - info.start_frame) / rate,
        duration=Fraction(end - start) / rate,
        source_start=media_start + Fraction(left) / rate,
        media_name=_file_name(file_path) or str(media_item.GetName() or ""),
        media=media if media is not None and media.is_file() else None,
        media_start=media_start,
        media_rate=media_rate,
        ignored=_speed_change(item, end - start, rate, media_rate),
        markers=tuple(dict.fromkeys(n for n in names if n)),
        color=color,
        locator=(track, position),
        metadata={
            "resolve_item_id": str(item.GetUniqueId() or ""),
            "resolve_media_id": str(media_item.GetUniqueId() or ""),
            "record_frames": [start, end],
            "left_offset": left,
            "file_path": file_path,
        },
    )


def _file_name(path: str) -> str:
    # Resolve on Windows gives backslashed paths; the manifest may be read elsewhere.
    return PureWindowsPath(path).name if "\\" in path else Path(path).name


def _speed_change(
    item: ResolveObject, frames: int, rate: Fraction, media_rate: Fraction
) -> tuple[str, ...]:
    """A one-line note when the clip plays its source faster or slower than real time."""
    try:
        first, last = item.GetSourceStartFrame(), item.GetSourceEndFrame()
    except (AttributeError, TypeError):  # before Resolve 19.0.2: no such call
        return ()
    if first is None or last is None or frames <= 0:
        return ()
    # GetSourceEndFrame is the last source frame used (observed; the README is silent).
    source_seconds = Fraction(round(float(last)) - round(float(first)) + 1) / media_rate
    record_seconds = Fraction(frames) / rate
    if abs(source_seconds - record_seconds) * rate <= Fraction(3, 2):
        return ()
    percent = round(100 * source_seconds / record_seconds)
    return (
        f"speed change (~{percent}%): the pull is rendered with it; "
        "the source timecode is approximate",
    )
