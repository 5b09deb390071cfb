"""Choosing a timeline's shots: by track, marker, colour, keyword and time range.

Each criterion given must hold (they combine with AND); none given chooses every
shot. Names match case-insensitively, and may be shell-style patterns (``VFX*``).

- ``track``: the track's name as the editor shows it (``V2``, ``lane 1``, ``primary``,
  a named track) or ``V<n>`` counting video tracks from the bottom;
- ``marker``: a marker on the clip, or a timeline/track marker over the clip;
- ``color``: the clip's colour label (OTIO clip colour, FCP7 ``label2``; Resolve keeps
  it in its OTIO export) or the colour of a marker on or over the clip (FCPXML: to-do
  markers are red, completed green, standard blue, chapter orange; EDL ``* LOC:``
  colours; OTIO marker colours);
- ``keyword``: an FCPXML keyword on the clip's used range (its own or its browser
  clip's);
- ``span``: (start, end) seconds from the timeline's start; a shot over any part of it
  is chosen (:func:`parse_span` reads ``01:00:10:00-01:00:20:00`` or ``12.5-20``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from fractions import Fraction
from typing import Any

from ..conform.shots import Shot
from ..errors import UsageError
from .timing import parse_timecode, timecode

SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$")
TIMECODE_SPAN = re.compile(r"^\s*(\S+?)\s*-\s*(\S+)\s*$")


@dataclass(frozen=True)
class Selection:
    """Which shots to conform; a None field does not narrow the choice."""

    track: str | None = None
    marker: str | None = None
    color: str | None = None
    keyword: str | None = None
    span: tuple[Fraction, Fraction] | None = None

    def is_empty(self) -> bool:
        """True when nothing narrows the choice (every shot is chosen)."""
        return not (self.track or self.marker or self.color or self.keyword or self.span)

    def describe(self) -> str:
        """``track V2, marker 'VFX*'`` for messages."""
        parts = [
            f"{name} {value!r}"
            for name, value in (
                ("track", self.track),
                ("marker", self.marker),
                ("colour", self.color),
                ("keyword", self.keyword),
            )
            if value
        ]
        if self.span:
            parts.append(f"range {float(self.span[0]):g}-{float(self.span[1]):g} s")
        return ", ".join(parts) or "everything"


def parse_span(text: str, rate: Fraction, start: Fraction) -> tuple[Fraction, Fraction]:
    """``IN-OUT`` as seconds from the timeline's start.

    ``01:00:10:00-01:00:20:00`` is timeline timecode (the timeline starting at
    ``start`` seconds, counted at ``rate``); ``12.5-20`` is seconds from the start.
    Raises UsageError ``invalid_range`` for anything else or an empty range.
    """
    hint = "e.g. --range 01:00:10:00-01:00:20:00 (timeline timecode) or --range 12.5-20 (seconds)"
    seconds = SECONDS.match(text)
    if seconds:
        first, last = Fraction(seconds[1]), Fraction(seconds[2])
    else:
        parts = TIMECODE_SPAN.match(text)
        try:
            if parts is None:
                raise ValueError(text)
            first = parse_timecode(parts[1], rate) - start
            last = parse_timecode(parts[2], rate) - start
        except ValueError as exc:
            raise UsageError(
                f"Cannot read the range {text!r}.", hint=hint, code="invalid_range"
            ) from exc
        if first < 0:
            raise UsageError(
                f"The range {text!r} starts before the timeline, which starts at "
                f"{timecode(start, rate)}.",
                hint=hint,
                code="invalid_range",
            )
    if last <= first:
        raise UsageError(
            f"The range {text!r} ends before it starts.", hint=hint, code="invalid_range"
        )
    return first, last


def _matches(pattern: str, values: Any) -> bool:
    wanted = pattern.strip().casefold()
    return any(fnmatchcase(str(v).casefold(), wanted) for v in values if v)


def _marker_colours(shot: Shot) -> list[str]:
    return [str(m.get("color") or "") for m in shot.metadata.get("markers", [])]


def chosen(shot: Shot, selection: Selection) -> bool:
    """True when ``shot`` meets every criterion of ``selection``."""
    if selection.track and not _matches(
        selection.track, [shot.track, *shot.metadata.get("track_aliases", [])]
    ):
        return False
    if selection.marker and not _matches(selection.marker, shot.markers):
        return False
    if selection.color and not _matches(selection.color, [shot.color, *_marker_colours(shot)]):
        return False
    if selection.keyword and not _matches(selection.keyword, shot.keywords):
        return False
    if selection.span:
        first, last = selection.span
        if not (shot.record_start < last and shot.record_start + shot.duration > first):
            return False
    return True


def select(shots: list[Shot], selection: Selection) -> list[Shot]:
    """The shots ``selection`` chooses, in timeline order.

    Raises UsageError ``no_clips_selected`` (listing the tracks, markers, colours and
    keywords the timeline has) when it chooses none.
    """
    picked = [shot for shot in shots if chosen(shot, selection)]
    if picked:
        return picked
    exists = {
        "tracks": _distinct(s.track for s in shots),
        "markers": _distinct(m for s in shots for m in s.markers),
        "colors": _distinct(c for s in shots for c in [s.color, *_marker_colours(s)]),
        "keywords": _distinct(k for s in shots for k in s.keywords),
    }
    told = "; ".join(
        f"{name}: {', '.join(values[:12])}" for name, values in exists.items() if values
    )
    raise UsageError(
        f"No clip matches {selection.describe()} ({len(shots)} clip(s) on the timeline).",
        hint=f"The timeline has {told}." if told else "The timeline has no clips to choose.",
        code="no_clips_selected",
        details=exists | {"clips": len(shots)},
    )


def _distinct(values: Any) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values if v))
