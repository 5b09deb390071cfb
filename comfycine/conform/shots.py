"""The shared words of a conform: a shot to render and a result to place back.

A *shot* is one clip chosen on an editor's timeline (read by :mod:`comfycine.timeline`
or by the Resolve bridge). Times are exact: seconds as :class:`~fractions.Fraction`
and rates as fractions (24000/1001, not 23.976), because a conform that rounds drifts a
frame every few minutes of NTSC material.

A *placement* is a rendered, conformed result put back on the timeline, at its shot's
record position, on a new track above the originals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Shot:
    """One chosen clip: where its frames come from and where it sits on the timeline."""

    index: int  # 1-based, in timeline order
    name: str  # the clip's name in the editor
    track: str  # the track it lies on, as the editor names it ("V1", a lane, a track name)
    rate: Fraction  # the timeline's frame rate
    record_start: Fraction  # seconds from the timeline's start (not its start timecode)
    duration: Fraction  # seconds on the timeline
    # The source range: seconds on the media's own clock (its start timecode included,
    # as timelines give it: an EDL's source in, an FCPXML clip's start).
    source_start: Fraction
    media_name: str  # the file name the timeline refers to (for relinking and reports)
    media: Path | None = None  # the file on this machine; None while offline
    # The media's own start on that clock when the timeline says it (FCPXML asset start,
    # OTIO available range); None: read it from the file (its timecode, else 0).
    media_start: Fraction | None = None
    media_rate: Fraction | None = None  # the media's rate when the timeline says it
    # What the render ignores: speed changes, effects, transitions (one line each).
    ignored: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()  # marker names on the clip
    color: str | None = None  # the clip's colour label, lower case, when the format has one
    keywords: tuple[str, ...] = ()
    # Where the clip is in the reader's structure, for writing back (track, item).
    locator: tuple[int, int] = (0, 0)
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Placement:
    """A conformed result to lay on the new track at its shot's record position."""

    shot: Shot
    name: str  # the new clip's name (carries the template and the job)
    media: Path  # the delivered file, or the first image of a PNG sequence
    media_rate: Fraction
    frames: int  # frames in the delivered media
    # The delivered media's first frame on its own clock, in frames at media_rate (its
    # timecode; the source's start so the editor's source ranges line up).
    media_start_frame: int
    # A PNG sequence: the folder, the name before the frame number, the digits, and
    # the suffix (``shot.0086400.png`` → prefix ``shot.``, 7 digits, ``.png``).
    sequence: tuple[Path, str, int, str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)
