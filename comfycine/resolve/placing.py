"""Bring conformed results into Resolve: a bin named after the template, a new track.

Documented calls only: ``MediaPool.GetRootFolder()``, ``Folder.GetSubFolderList()`` /
``GetName()`` / ``GetClipList()``, ``MediaPool.AddSubFolder(root, name)``,
``GetCurrentFolder()``/``SetCurrentFolder(folder)``, ``ImportMedia([path])`` (a PNG
sequence as ``[{"FilePath": "name.%07d.png", "StartIndex", "EndIndex"}]``),
``MediaPoolItem.GetClipProperty("File Path")``, ``Timeline.AddTrack("video")``,
``GetTrackCount("video")``, ``SetTrackName``, and ``MediaPool.AppendToTimeline`` with
``[{"mediaPoolItem", "startFrame", "endFrame", "mediaType": 1, "trackIndex",
"recordFrame"}]``.

``recordFrame`` is an absolute frame (timeline start + the shot's record offset) and
``endFrame`` is one past the last media frame; both observed on Resolve 21
(samuelgursky/davinci-resolve-mcp issues 82 and 164), the README only names the keys.
Existing tracks are never written to: every clip goes on the track this call adds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..conform.shots import Placement
from .errors import ResolveImportFailed
from .rates import frames_at
from .timeline import ResolveObject, TimelineInfo

VIDEO_ONLY = 1


@dataclass(frozen=True)
class PlacedClip:
    """One result: where it went on the new track, or why it did not."""

    shot: int
    name: str
    media: str
    record_frame: int  # absolute timeline frame of its first frame
    frames: int
    placed: bool
    reused: bool = False  # already in the bin from an earlier receive
    error: str | None = None
    item_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``data.clips[]``)."""
        return {
            "shot": self.shot,
            "name": self.name,
            "media": self.media,
            "record_frame": self.record_frame,
            "frames": self.frames,
            "placed": self.placed,
            "reused": self.reused,
            "error": self.error,
            "item_id": self.item_id,
        }


@dataclass(frozen=True)
class ImportReport:
    """What ``import_results`` did: the bin, the new track, each clip."""

    bin: str
    track: int | None  # the new video track, None when nothing was to be placed
    clips: tuple[PlacedClip, ...]

    @property
    def placed(self) -> int:
        """How many results are on the new track."""
        return sum(1 for clip in self.clips if clip.placed)

    def failure(self) -> ResolveImportFailed | None:
        """The error to end with when some result was not placed (exit 5), else None."""
        missed = [clip for clip in self.clips if not clip.placed]
        if not missed:
            return None
        return ResolveImportFailed(
            f"Resolve did not place {len(missed)} of {len(self.clips)} result(s): "
            + "; ".join(f"{clip.name}: {clip.error}" for clip in missed),
            details={"clips": [clip.to_dict() for clip in missed], "bin": self.bin},
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``data``)."""
        return {
            "bin": self.bin,
            "track": self.track,
            "placed": self.placed,
            "clips": [clip.to_dict() for clip in self.clips],
        }


def find_bin(media_pool: ResolveObject, name: str) -> ResolveObject:
    """The bin ``name`` under the media pool's root: the existing one, else a new one."""
    root = media_pool.GetRootFolder()
    for folder in root.GetSubFolderList() or []:
        if str(folder.GetName()) == name:
            return folder
    made = media_pool.AddSubFolder(root, name)
    if not made:
        raise ResolveImportFailed(
            f"Resolve refused to make the bin {name!r} in the media pool.",
            hint="Check the project is not read-only (collaboration lock), then receive again.",
        )
    return made


def import_results(
    media_pool: ResolveObject,
    timeline: ResolveObject,
    info: TimelineInfo,
    bin_name: str,
    placements: Sequence[Placement],
) -> ImportReport:
    """Import ``placements`` into the bin ``bin_name`` and lay them on a new video track
    at their shots' record positions; ``timeline`` must be the project's current one."""
    if not placements:
        return ImportReport(bin_name, None, ())
    folder = find_bin(media_pool, bin_name)
    previous = media_pool.GetCurrentFolder()
    media_pool.SetCurrentFolder(folder)
    try:
        known = _clips_by_path(folder)
        items = [_media_item(media_pool, known, placement) for placement in placements]
    finally:
        if previous:
            media_pool.SetCurrentFolder(previous)
    track = _add_track(timeline, bin_name)
    clips = []
    for placement, (item, reused, error) in zip(placements, items, strict=True):
        record = info.start_frame + frames_at(placement.shot.record_start, info.rate)
        clip = PlacedClip(
            shot=placement.shot.index,
            name=placement.name,
            media=str(placement.media),
            record_frame=record,
            frames=placement.frames,
            placed=False,
            reused=reused,
            error=error,
        )
        if item is not None:
            clip = _append(media_pool, item, placement, track, clip)
        clips.append(clip)
    return ImportReport(bin_name, track, tuple(clips))


def _clips_by_path(folder: ResolveObject) -> dict[str, ResolveObject]:
    found = {}
    for clip in folder.GetClipList() or []:
        path = str(clip.GetClipProperty("File Path") or "")
        if path:
            found[path] = clip
    return found


def _media_item(
    media_pool: ResolveObject, known: dict[str, ResolveObject], placement: Placement
) -> tuple[ResolveObject | None, bool, str | None]:
    """(media-pool item, reused, error): the bin's item for the file, else imported."""
    if placement.sequence is None:
        source: Any = str(placement.media)
        if source in known:
            return known[source], True, None
    else:
        folder, prefix, digits, suffix = placement.sequence
        first = int(placement.media.name[len(prefix) : len(placement.media.name) - len(suffix)])
        source = {
            "FilePath": str(folder / f"{prefix}%0{digits}d{suffix}"),
            "StartIndex": first,
            "EndIndex": first + placement.frames - 1,
        }
    if not Path(placement.media).exists():
        return None, False, f"file not found: {placement.media}"
    imported = media_pool.ImportMedia([source]) or []
    if not imported:
        return None, False, "Resolve refused to import the file"
    return imported[0], False, None


def _add_track(timeline: ResolveObject, name: str) -> int:
    before = int(timeline.GetTrackCount("video"))
    if not timeline.AddTrack("video") or int(timeline.GetTrackCount("video")) != before + 1:
        raise ResolveImportFailed(
            "Resolve refused to add a video track to the timeline.",
            hint="Unlock the timeline's tracks in Resolve, then receive again.",
        )
    track = before + 1
    with contextlib.suppress(AttributeError, TypeError):  # a courtesy: older Resolves lack it
        timeline.SetTrackName("video", track, name)
    return track


def _append(
    media_pool: ResolveObject,
    item: ResolveObject,
    placement: Placement,
    track: int,
    clip: PlacedClip,
) -> PlacedClip:
    info = {
        "mediaPoolItem": item,
        "startFrame": 0,
        "endFrame": placement.frames,
        "mediaType": VIDEO_ONLY,
        "trackIndex": track,
        "recordFrame": clip.record_frame,
    }
    appended = media_pool.AppendToTimeline([info]) or []
    if not appended:
        return replace(clip, error="Resolve refused to place the clip on the new track")
    return replace(clip, placed=True, item_id=str(appended[0].GetUniqueId() or ""))
