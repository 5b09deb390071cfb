"""What a Resolve timeline is, read through the documented calls.

Frames: ``Timeline.GetStartFrame()`` is the timeline's first frame as an absolute frame
number (86400 for a 24 fps timeline starting at 01:00:00:00); timeline items report
``GetStart()``/``GetEnd()`` on that same absolute count, the end one past the last frame
(``GetEnd() - GetStart() == GetDuration()``). Marker positions from ``GetMarkers()`` are
offsets: from the timeline's start for timeline markers, from the clip's start for clip
markers (README: "a single green marker at timeline offset 96").
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .rates import is_drop_frame, parse_rate

RATE_SETTING = "timelineFrameRate"

# A Resolve scripting object (fusionscript proxy, or the test stand-in): untyped.
ResolveObject = Any


@dataclass(frozen=True)
class TimelineInfo:
    """The current project's timeline: names, exact rate, frame range, video tracks."""

    project: str
    timeline: str
    timeline_id: str
    rate: Fraction
    drop_frame: bool
    start_frame: int  # absolute frame number of the timeline's first frame
    end_frame: int  # absolute, one past the last (GetEndFrame)
    start_timecode: str
    video_tracks: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``data.timeline``): the rate as ``24000/1001``."""
        return {
            "project": self.project,
            "timeline": self.timeline,
            "timeline_id": self.timeline_id,
            "rate": rate_text(self.rate),
            "drop_frame": self.drop_frame,
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "start_timecode": self.start_timecode,
            "video_tracks": self.video_tracks,
        }


@dataclass(frozen=True)
class Marker:
    """A marker on absolute timeline frames (``frame`` to ``frame + duration``)."""

    frame: int
    duration: int
    name: str
    color: str
    note: str = ""

    def overlaps(self, start: int, end: int) -> bool:
        """True when the marker touches ``[start, end)`` (a point marker counts as 1 frame)."""
        return self.frame < end and self.frame + max(1, self.duration) > start


def rate_text(rate: Fraction) -> str:
    """``24``, or ``24000/1001`` when the rate is not whole."""
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def read_info(project: ResolveObject, timeline: ResolveObject) -> TimelineInfo:
    """The timeline's facts; its rate is the timeline's own setting, else the project's."""
    setting = timeline.GetSetting(RATE_SETTING) or project.GetSetting(RATE_SETTING)
    return TimelineInfo(
        project=str(project.GetName()),
        timeline=str(timeline.GetName()),
        timeline_id=str(timeline.GetUniqueId() or ""),
        rate=parse_rate(setting),
        drop_frame=is_drop_frame(setting),
        start_frame=int(timeline.GetStartFrame()),
        end_frame=int(timeline.GetEndFrame()),
        start_timecode=str(timeline.GetStartTimecode() or ""),
        video_tracks=int(timeline.GetTrackCount("video")),
    )


def read_markers(raw: object, origin: int) -> list[Marker]:
    """Markers from a ``GetMarkers()`` answer (``{offset: {name, color, duration, ...}}``),
    placed at ``origin + offset``, in frame order."""
    if not isinstance(raw, dict):
        return []
    markers = []
    for offset, fields in raw.items():
        fields = fields if isinstance(fields, dict) else {}
        markers.append(
            Marker(
                frame=origin + round(float(offset)),
                duration=round(float(fields.get("duration") or 1)),
                name=str(fields.get("name") or ""),
                color=str(fields.get("color") or ""),
                note=str(fields.get("note") or ""),
            )
        )
    return sorted(markers, key=lambda marker: marker.frame)
