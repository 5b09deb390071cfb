"""Which format a timeline file is, and reading it into OpenTimelineIO.

The adapter comes from the suffix: ``.fcpxml`` and ``.fcpxmld`` bundles (a folder
holding ``Info.fcpxml``) → ``fcpx_xml`` (read exactly, :mod:`.fcpxml`); ``.edl`` →
``cmx_3600``; ``.xml`` → ``fcp_xml`` (FCP7 XML, as Resolve and Premiere export it) or
``fcpx_xml`` when the root element says ``<fcpxml>``; ``.otio`` → ``otio_json``;
``.otioz``/``.otiod`` → OTIO's bundles; anything else → OTIO's own suffix lookup (any
installed adapter plug-in).

An EDL carries no frame rate: it is read at ``rate`` (default 24; ``23.976`` means
24000/1001). An EDL has no timeline start either: its earliest record-in stands for
it. Every reader's result is normalised so that track time 0 is the timeline's start
and ``global_start_time`` its start timecode.

A file holding several timelines (FCPXML with several projects, an OTIO collection)
gives the one named ``timeline_name``, else the first (said in ``TimelineDoc.notes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .timing import exact_rate, parse_rate, rational_time, seconds_of, timecode

SUFFIXES = {
    ".fcpxml": "fcpx_xml",
    ".fcpxmld": "fcpx_xml",
    ".edl": "cmx_3600",
    ".xml": "fcp_xml",
    ".otio": "otio_json",
    ".otioz": "otioz",
    ".otiod": "otiod",
}
LABELS = {
    "fcpx_xml": "Final Cut Pro XML",
    "fcp_xml": "FCP7/Resolve XML",
    "cmx_3600": "CMX 3600 EDL",
    "otio_json": "OpenTimelineIO",
    "otioz": "OpenTimelineIO zip bundle",
    "otiod": "OpenTimelineIO folder bundle",
}
READABLE = (
    "FCPXML (.fcpxml, .fcpxmld), FCP7/Resolve XML (.xml), CMX 3600 EDL (.edl), "
    "OpenTimelineIO (.otio, .otioz, .otiod)"
)
EDL_DEFAULT_RATE = Fraction(24)


@dataclass
class TimelineDoc:
    """A timeline read from a file: the OTIO Timeline and what the conform needs of it."""

    path: Path  # the file (or bundle) given
    adapter: str  # the OTIO adapter name: fcpx_xml, fcp_xml, cmx_3600, otio_json, ...
    timeline: Any  # opentimelineio.schema.Timeline (track time 0 = the timeline's start)
    rate: Fraction  # the timeline's frame rate, exact (24000/1001, not 23.976)
    start: Fraction  # its start timecode in seconds (01:00:00:00 at 24 fps → 3600)
    label: str  # the format for people: "Final Cut Pro XML"
    name: str = ""  # the timeline's (project's, sequence's) name
    document: Path | None = None  # the file actually read (Info.fcpxml in a bundle)
    index: int = 0  # which of the file's timelines this is
    notes: list[str] = field(default_factory=list)

    @property
    def start_timecode(self) -> str:
        """The start as ``HH:MM:SS:FF``."""
        return timecode(self.start, self.rate)


def adapter_for(path: Path) -> str:
    """The adapter name for ``path`` (raises UsageError ``timeline_unreadable``)."""
    suffix = path.suffix.lower()
    if suffix in {".xml", ".fcpxml"} and path.is_file():
        head = path.read_bytes()[:4096].lower()
        if b"<fcpxml" in head:
            return "fcpx_xml"
        if b"<xmeml" in head:
            return "fcp_xml"
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    import opentimelineio as otio

    try:
        return str(otio.adapters.from_filepath(str(path)).name)
    except Exception as exc:
        raise unreadable(
            path, f"no OpenTimelineIO adapter reads {suffix or 'files without a suffix'}"
        ) from exc


def unreadable(path: Path, reason: str) -> UsageError:
    """The ``timeline_unreadable`` error: the reason in one line and the formats read."""
    line = " ".join(reason.split())[:240] or "unknown error"
    return UsageError(
        f"Cannot read the timeline {path.name}: {line}.",
        hint=f"Export the timeline again from the editor. Readable: {READABLE}.",
        code="timeline_unreadable",
        details={"path": str(path), "reason": line, "readable": READABLE},
    )


def read_timeline(
    path: Path | str,
    *,
    rate: str | float | Fraction | None = None,
    timeline_name: str | None = None,
) -> TimelineDoc:
    """Read the timeline file ``path`` (never writing to it).

    ``rate`` is the EDL's frame rate (ignored, with a note, for formats that say theirs).
    Raises UsageError: ``timeline_not_found`` (no such file, or no timeline of that
    name), ``timeline_unreadable`` (not a timeline OTIO can read), ``timeline_empty``
    (no video clip), ``invalid_parameter`` (a bad ``rate``).
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(
            f"No timeline at {path}.",
            hint="Export the timeline from the editor (Final Cut: File > Export XML; "
            "Resolve: File > Export > Timeline) and give that file.",
            code="timeline_not_found",
            details={"path": str(path)},
        )
    adapter = adapter_for(path)
    edl_rate = parse_rate(rate, EDL_DEFAULT_RATE) if adapter == "cmx_3600" else None
    document = path
    if adapter == "fcpx_xml" and path.is_dir():
        document = path / "Info.fcpxml"
        if not document.is_file():
            raise unreadable(path, "the .fcpxmld bundle holds no Info.fcpxml")
    try:
        result = _read(document, adapter, edl_rate)
    except UsageError:
        raise
    except Exception as exc:
        error = unreadable(path, f"{type(exc).__name__}: {exc}")
        if adapter == "cmx_3600" and "frames beyond" in str(exc):
            error.hint = _edl_rate_hint(document, edl_rate)
        raise error from exc
    timelines = _timelines(result)
    notes: list[str] = []
    timeline, index = _choose(path, timelines, timeline_name, notes)
    if adapter == "cmx_3600":
        assert edl_rate is not None
        _normalise_edl(timeline, edl_rate)
        notes.append(
            f"An EDL has no frame rate: read at {_rate_text(edl_rate)} fps"
            + (" (the default; give the timeline's with --rate)." if rate in (None, "") else ".")
        )
    elif rate not in (None, ""):
        notes.append(f"--rate is for EDLs; {LABELS.get(adapter, adapter)} gives its own rate.")
    if adapter == "otioz":
        notes.append("An .otioz keeps its media inside the zip: unzip it, or relink with --relink.")
    timeline_rate = edl_rate or _timeline_rate(timeline)
    _require_video(path, timeline)
    start = seconds_of(timeline.global_start_time) if timeline.global_start_time else Fraction(0)
    return TimelineDoc(
        path=path,
        adapter=adapter,
        timeline=timeline,
        rate=timeline_rate,
        start=start,
        label=LABELS.get(adapter, adapter),
        name=str(timeline.name or ""),
        document=document,
        index=index,
        notes=notes,
    )


def _read(document: Path, adapter: str, edl_rate: Fraction | None) -> Any:
    import opentimelineio as otio

    if adapter == "fcpx_xml":
        from .fcpxml import read_fcpxml

        return read_fcpxml(document.read_bytes())
    if adapter == "cmx_3600":
        return otio.adapters.read_from_file(
            str(document), adapter_name=adapter, rate=float(edl_rate or EDL_DEFAULT_RATE)
        )
    if adapter == "otiod":
        return otio.adapters.read_from_file(
            str(document), adapter_name=adapter, absolute_media_reference_paths=True
        )
    return otio.adapters.read_from_file(str(document), adapter_name=adapter)


def _timelines(result: Any) -> list[Any]:
    """Every Timeline in an adapter's result, in order (collections searched deeply)."""
    import opentimelineio as otio

    if isinstance(result, otio.schema.Timeline):
        return [result]
    found: list[Any] = []
    if isinstance(result, otio.schema.SerializableCollection):
        for child in result:
            found.extend(_timelines(child))
    return found


def _choose(
    path: Path, timelines: list[Any], wanted: str | None, notes: list[str]
) -> tuple[Any, int]:
    names = [str(t.name or f"timeline {i + 1}") for i, t in enumerate(timelines)]
    if not timelines:
        raise UsageError(
            f"{path.name} holds no timeline (no project or sequence, only clips).",
            hint="Export the project or timeline itself, not a clip or a bin.",
            code="timeline_empty",
            details={"path": str(path)},
        )
    if wanted:
        for index, name in enumerate(names):
            if name.casefold() == wanted.casefold():
                return timelines[index], index
        raise UsageError(
            f"{path.name} has no timeline named {wanted!r}; it has: {', '.join(names)}.",
            hint="Give one of those names.",
            code="timeline_not_found",
            details={"path": str(path), "timelines": names},
        )
    if len(timelines) > 1:
        notes.append(
            f"{path.name} holds {len(timelines)} timelines ({', '.join(names)}): "
            f"conforming the first, {names[0]!r}."
        )
    return timelines[0], 0


def _normalise_edl(timeline: Any, rate: Fraction) -> None:
    """Make track time 0 the EDL's earliest record-in, and that its start timecode.

    The cmx_3600 adapter keeps each track's first record-in as a negative source-range
    start; tracks that start later get a leading gap instead.
    """
    import opentimelineio as otio

    firsts = []
    for track in timeline.tracks:
        sr = track.source_range
        firsts.append(-seconds_of(sr.start_time) if sr is not None else Fraction(0))
    start = min(firsts, default=Fraction(0))
    for track, first in zip(timeline.tracks, firsts, strict=True):
        track.source_range = None
        if first > start:
            gap = otio.schema.Gap(duration=rational_time(first - start, rate))
            track.insert(0, gap)
    timeline.global_start_time = rational_time(start, rate)


def _timeline_rate(timeline: Any) -> Fraction:
    """The timeline's rate: its start time's, else its first video clip's position's."""
    import opentimelineio as otio

    if timeline.global_start_time is not None:
        return exact_rate(float(timeline.global_start_time.rate))
    for track in timeline.video_tracks():
        for item in track:
            if isinstance(item, otio.core.Item):
                return exact_rate(float(item.range_in_parent().duration.rate))
    return Fraction(24)


def _require_video(path: Path, timeline: Any) -> None:
    """UsageError ``timeline_empty`` unless a video track holds a clip."""
    if any(track.find_clips() for track in timeline.video_tracks()):
        return
    raise UsageError(
        f"The timeline {timeline.name or path.name!r} in {path.name} has no video clip.",
        hint="Export a timeline with clips on a video track.",
        code="timeline_empty",
        details={"path": str(path)},
    )


def _rate_text(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{float(rate):.3f}"


EDL_RATES = (24, 25, 30, 48, 50, 60)


def _edl_rate_hint(document: Path, rate: Fraction | None) -> str:
    """An EDL read at too low a rate: the rates its timecodes allow, as --rate."""
    import re

    try:
        text = document.read_text(errors="replace")
    except OSError:
        text = ""
    frames = [int(m) for m in re.findall(r"\b\d\d:\d\d:\d\d[:;](\d\d)\b", text)]
    highest = max(frames, default=0)
    fits = [r for r in EDL_RATES if r > highest]
    read_at = _rate_text(rate) if rate is not None else "24"
    return (
        f"Its timecodes count up to frame {highest}, so it is not {read_at} fps: give its "
        f"rate, e.g. --rate {fits[0] if fits else highest + 1}."
    )
