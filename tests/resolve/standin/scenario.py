"""The project the bridge tests play on: a 23.976 fps reel starting at 01:00:00:00.

Video track 1, absolute frames (86400 = 01:00:00:00):

=========  ======  ====  =====  ======  ================================
clip       start   dur   left   colour  notes
=========  ======  ====  =====  ======  ================================
shot010    86400    48    10    Orange  clip marker "fix"; media TC 14:03:10:05
shot020    86448    24     0            timeline marker "VFX" at offset 60
shot030    86484    36   100    Teal    25 fps media, played at 200%
=========  ======  ====  =====  ======  ================================

Track 2 holds a title (no media-pool item) over shot010 and an Orange "overlay" clip.
"""

from __future__ import annotations

from .stage import Stage
from .world import MediaPoolItem, Project, Timeline, TimelineItem

START = 86400


def media(name: str, fps: str, start_tc: str) -> MediaPoolItem:
    """A media-pool item for a camera file that is not on this machine."""
    props = {"File Path": f"/Volumes/RAID/A001/{name}", "FPS": fps, "Start TC": start_tc}
    return MediaPoolItem(name, props)


def build() -> Stage:
    """A running Resolve with the project "Feature" open on timeline "Reel 1"."""
    stage = Stage()
    project = Project("Feature", stage)
    project.settings["timelineFrameRate"] = "23.976"
    reel = project.add_timeline(Timeline("Reel 1", rate="23.976", start_frame=START))
    reel.add(
        1,
        TimelineItem(
            "shot010",
            START,
            48,
            media("A001C003.mov", "23.976", "14:03:10:05"),
            left_offset=10,
            color="Orange",
            markers={5.0: {"name": "fix", "color": "Red", "duration": 1.0}},
        ),
    )
    reel.add(
        1, TimelineItem("shot020", START + 48, 24, media("A001C004.mov", "23.976", "14:05:00:00"))
    )
    reel.add(
        1,
        TimelineItem(
            "shot030",
            START + 84,
            36,
            media("B002C001.mov", "25", "10:00:00:00"),
            left_offset=100,
            color="Teal",
            source_frames=(100, 174),
        ),
    )
    reel.add(2, TimelineItem("Title", START, 24))
    reel.add(
        2, TimelineItem("overlay", START + 100, 10, media("logo.mov", "23.976", ""), color="Orange")
    )
    reel.markers[60.0] = {
        "name": "VFX",
        "color": "Blue",
        "duration": 1.0,
        "note": "",
        "customData": "",
    }
    project.add_timeline(Timeline("Reel 2", rate="24", start_frame=0))
    stage.project = project
    return stage
