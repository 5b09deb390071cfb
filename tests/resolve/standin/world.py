"""An in-memory Resolve: project, timelines with tracks, items and markers, a media pool.

Return types follow the README: lists for ``[...]``, dicts for ``{...}``, Bool as
``bool``, strings for settings and clip properties (``""`` for an unknown key, the
README's "trivial result"). The render queue lives in :mod:`.queue`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .queue import RenderQueue
from .strict import Strict, check, is_int

_ids = itertools.count(1)
TRACK_TYPES = ("video", "audio", "subtitle")
CLIP_INFO_KEYS = {
    "mediaPoolItem",
    "startFrame",
    "endFrame",
    "mediaType",
    "trackIndex",
    "recordFrame",
}


def unique_id(kind: str) -> str:
    """A fresh id, like the README's GetUniqueId() strings."""
    return f"{kind}-{next(_ids):04d}"


class MediaPoolItem(Strict):
    """A clip in the media pool: a name and its clip properties."""

    def __init__(self, name: str, properties: dict[str, str]) -> None:
        self.name = name
        self.properties = {"Clip Name": name, **properties}
        self.uid = unique_id("mpi")

    def GetName(self) -> str:
        return self.name

    def GetClipProperty(self, propertyName: str | None = None) -> Any:
        if not propertyName:
            return dict(self.properties)
        return self.properties.get(propertyName, "")

    def GetUniqueId(self) -> str:
        return self.uid


class Folder(Strict):
    """A media pool bin."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.subfolders: list[Folder] = []
        self.clips: list[MediaPoolItem] = []
        self.uid = unique_id("folder")

    def GetName(self) -> str:
        return self.name

    def GetSubFolderList(self) -> list[Folder]:
        return list(self.subfolders)

    def GetClipList(self) -> list[MediaPoolItem]:
        return list(self.clips)

    def GetUniqueId(self) -> str:
        return self.uid


@dataclass
class TimelineItem(Strict):
    """A clip on a track: record frames absolute, ``end`` one past the last frame."""

    name: str
    start: int
    duration: int
    media: MediaPoolItem | None = None
    left_offset: int = 0
    color: str = ""
    markers: dict[float, dict[str, Any]] = field(default_factory=dict)
    source_frames: tuple[int, int] | None = None  # first and last source frame used
    uid: str = field(default_factory=lambda: unique_id("item"))

    def GetName(self) -> str:
        return self.name

    def GetStart(self, subframe_precision: bool = False) -> int:
        return self.start

    def GetEnd(self, subframe_precision: bool = False) -> int:
        return self.start + self.duration

    def GetDuration(self, subframe_precision: bool = False) -> int:
        return self.duration

    def GetLeftOffset(self, subframe_precision: bool = False) -> int:
        return self.left_offset

    def GetSourceStartFrame(self) -> int:
        first = self.source_frames[0] if self.source_frames else self.left_offset
        return first

    def GetSourceEndFrame(self) -> int:
        if self.source_frames:
            return self.source_frames[1]
        return self.left_offset + self.duration - 1

    def GetMarkers(self) -> dict[float, dict[str, Any]]:
        return dict(self.markers)

    def GetClipColor(self) -> str:
        return self.color

    def GetMediaPoolItem(self) -> MediaPoolItem | None:
        return self.media

    def GetUniqueId(self) -> str:
        return self.uid


class Timeline(Strict):
    """A timeline: video tracks of items, timeline markers, settings."""

    def __init__(self, name: str, *, rate: str = "24", start_frame: int = 86400) -> None:
        self.name = name
        self.settings = {"timelineFrameRate": rate}
        self.start_frame = start_frame
        self.video: list[list[TimelineItem]] = [[]]
        self.track_names: dict[int, str] = {}
        self.markers: dict[float, dict[str, Any]] = {}
        self.uid = unique_id("timeline")

    def add(self, track: int, item: TimelineItem) -> TimelineItem:
        """Put ``item`` on video track ``track`` (made when missing): scenario building."""
        while len(self.video) < track:
            self.video.append([])
        self.video[track - 1].append(item)
        self.video[track - 1].sort(key=lambda i: i.start)
        return item

    def GetName(self) -> str:
        return self.name

    def GetUniqueId(self) -> str:
        return self.uid

    def GetSetting(self, settingName: str | None = None) -> Any:
        return dict(self.settings) if not settingName else self.settings.get(settingName, "")

    def GetStartFrame(self) -> int:
        return self.start_frame

    def GetEndFrame(self) -> int:
        ends = [i.start + i.duration for track in self.video for i in track]
        return max(ends, default=self.start_frame)

    def GetStartTimecode(self) -> str:
        return "01:00:00:00" if self.start_frame else "00:00:00:00"

    def GetTrackCount(self, trackType: str) -> int:
        check(trackType in TRACK_TYPES, f"GetTrackCount({trackType!r})")
        return len(self.video) if trackType == "video" else 0

    def AddTrack(self, trackType: str, subTrackType: Any = None) -> bool:
        check(trackType == "video", f"AddTrack({trackType!r}): the stand-in has video only")
        self.video.append([])
        return True

    def SetTrackName(self, trackType: str, trackIndex: int, name: str) -> bool:
        check(trackType == "video" and 1 <= trackIndex <= len(self.video), "SetTrackName range")
        self.track_names[trackIndex] = name
        return True

    def GetItemListInTrack(self, trackType: str, index: int) -> list[TimelineItem]:
        check(trackType == "video", f"GetItemListInTrack({trackType!r}, ...)")
        check(is_int(index) and 1 <= index <= len(self.video), f"track index {index} out of range")
        return list(self.video[int(index) - 1])

    def GetMarkers(self) -> dict[float, dict[str, Any]]:
        return dict(self.markers)


class MediaPool(Strict):
    """The media pool: a root bin, the current bin, import and append."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.root = Folder("Master")
        self.current = self.root

    def GetRootFolder(self) -> Folder:
        return self.root

    def AddSubFolder(self, folder: Folder, name: str) -> Folder:
        check(isinstance(folder, Folder) and isinstance(name, str), "AddSubFolder(folder, name)")
        made = Folder(name)
        folder.subfolders.append(made)
        return made

    def GetCurrentFolder(self) -> Folder:
        return self.current

    def SetCurrentFolder(self, folder: Folder) -> bool:
        check(isinstance(folder, Folder), "SetCurrentFolder(Folder)")
        self.current = folder
        return True

    def ImportMedia(self, items: list[Any]) -> list[MediaPoolItem]:
        check(isinstance(items, list), "ImportMedia takes a list")
        made = []
        for entry in items:
            item = _import(entry)
            if item is not None:
                self.current.clips.append(item)
                made.append(item)
        return made

    def AppendToTimeline(self, clips: list[Any]) -> list[TimelineItem]:
        check(isinstance(clips, list), "AppendToTimeline takes a list")
        timeline = self.project.current
        check(timeline is not None, "AppendToTimeline with no current timeline")
        return [_append(timeline, info) for info in clips]


def _append(timeline: Timeline, info: Any) -> TimelineItem:
    check(isinstance(info, dict) and set(info) <= CLIP_INFO_KEYS, f"clipInfo keys {info}")
    media = info["mediaPoolItem"]
    check(isinstance(media, MediaPoolItem), "clipInfo mediaPoolItem")
    first, end = info["startFrame"], info["endFrame"]
    check(is_int(first) and is_int(end) and 0 <= first < end, "clipInfo startFrame/endFrame")
    track = info.get("trackIndex", 1)
    check(is_int(track) and 1 <= track <= len(timeline.video), f"trackIndex {track}")
    check(info.get("mediaType", 1) in (1, 2), "clipInfo mediaType")
    record = info.get("recordFrame", timeline.GetEndFrame())
    check(is_int(record), "clipInfo recordFrame")
    item = TimelineItem(media.name, int(record), int(end - first), media, left_offset=int(first))
    for other in timeline.video[int(track) - 1]:
        overlap = (
            other.start < item.start + item.duration and item.start < other.start + other.duration
        )
        check(not overlap, f"{item.name} would cover {other.name} on track {track}")
    return timeline.add(int(track), item)


def _import(entry: Any) -> MediaPoolItem | None:
    """A media pool item for a path or an image-sequence clipInfo; None when the file
    is missing (Resolve leaves it out of the answer)."""
    if isinstance(entry, str):
        path = Path(entry)
        if not path.is_file():
            return None
        rate, frames = _probe(path)
        return MediaPoolItem(path.name, _properties(path, rate, frames))
    check(
        isinstance(entry, dict) and {"FilePath", "StartIndex", "EndIndex"} <= set(entry), "clipInfo"
    )
    pattern = str(entry["FilePath"])
    digits = re.search(r"%0(\d+)d", pattern)
    check(digits is not None, f"sequence pattern {pattern}")
    assert digits is not None
    first, last = int(entry["StartIndex"]), int(entry["EndIndex"])
    width = int(digits.group(1))
    files = [
        Path(pattern.replace(digits.group(0), str(n).zfill(width))) for n in range(first, last + 1)
    ]
    if not all(f.is_file() for f in files):
        return None
    return MediaPoolItem(files[0].name, _properties(files[0], None, last - first + 1))


def _properties(path: Path, rate: Any, frames: int) -> dict[str, str]:
    fps = "" if rate is None else f"{float(rate):.3f}".rstrip("0").rstrip(".")
    return {"File Path": str(path), "FPS": fps, "Frames": str(frames), "Start TC": "00:00:00:00"}


def _probe(path: Path) -> tuple[Any, int]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = stream.frames or sum(1 for _ in container.decode(stream))
        return stream.average_rate, frames


class Project(Strict):
    """A project: its timelines, media pool, settings and render queue."""

    def __init__(self, name: str, stage: Any) -> None:
        self.name = name
        self.timelines: list[Timeline] = []
        self.current: Timeline | None = None
        self.settings = {"timelineFrameRate": "24"}
        self.media_pool = MediaPool(self)
        self.queue = RenderQueue(self, stage)

    def add_timeline(self, timeline: Timeline) -> Timeline:
        """Scenario building: a timeline, current when it is the first."""
        self.timelines.append(timeline)
        self.current = self.current or timeline
        return timeline

    def GetName(self) -> str:
        return self.name

    def GetMediaPool(self) -> MediaPool:
        return self.media_pool

    def GetCurrentTimeline(self) -> Timeline | None:
        return self.current

    def SetCurrentTimeline(self, timeline: Timeline) -> bool:
        check(timeline in self.timelines, "SetCurrentTimeline with a foreign timeline")
        self.current = timeline
        return True

    def GetTimelineCount(self) -> int:
        return len(self.timelines)

    def GetTimelineByIndex(self, idx: int) -> Timeline | None:
        check(is_int(idx) and 1 <= idx <= len(self.timelines), f"GetTimelineByIndex({idx})")
        return self.timelines[idx - 1]

    def GetSetting(self, settingName: str | None = None) -> Any:
        return dict(self.settings) if not settingName else self.settings.get(settingName, "")

    def __getattr__(self, name: str) -> Any:
        # The render calls are the queue's (Project's methods in the README).
        if name in RenderQueue.CALLS:
            return getattr(self.queue, name)
        return super().__getattr__(name)
