"""Final Cut Pro X XML (FCPXML) read exactly, on top of OTIO's ``fcpx_xml`` adapter.

The adapter from PyPI (``otio-fcpx-xml-adapter`` 1.0) loses what a conform needs, so
:class:`ExactFcpxXml` subclasses its reader and replaces the parts that do:

- it counts frames at ``int(rate)`` and truncates: a 23.976 project reads at 23 fps,
  every time a frame or more off. Here times are exact fractions of seconds;
- it reads the asset's ``src`` attribute only, which FCPXML 1.9+ moved to
  ``<media-rep>``: every clip of a modern export came out as a MissingReference;
- it ignores the sequence's ``tcStart`` (a clip at 01:00:00:00 lay one hour in),
  secondary storylines' own offsets, and keywords, retiming and effects on clips;
- it walks every descendant as a clip, so a clip's own audio component became a
  second clip on the same lane, shifting the ones after it.

What comes out is the adapter's shape: a SerializableCollection of Timelines (every
project of the file, in document order), one Track per lane (``primary`` for lane 0,
``lane N`` above, audio below), Clips with ExternalReferences. Extra facts go in
``metadata["fcpx_xml"]``: keywords, notes, retiming, the project's index in the file.
Facts (element names, attribute meanings) follow Apple's FCPXML reference and DTD 1.10.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from xml.etree import ElementTree

from .fcpxml_facts import NAMESPACE, ClipFacts
from .timing import fcp_time, parse_fcp_time, rational_time, seconds_of, time_range

CLIP_ITEMS = {
    "asset-clip",
    "clip",
    "sync-clip",
    "ref-clip",
    "mc-clip",
    "video",
    "audio",
    "title",
    "audition",
    "gap",
    "caption",
}
ANCHOR_ITEMS = CLIP_ITEMS - {"gap"} | {"spine"}


@dataclass
class _Placed:
    """One timeline item found in the XML: its lane and absolute start (sequence time)."""

    lane: int
    start: Fraction
    element: ElementTree.Element
    order: int = 0


@dataclass
class _Lanes:
    items: list[_Placed] = field(default_factory=list)
    transitions: list[dict[str, Any]] = field(default_factory=list)


def _contents(element: ElementTree.Element) -> Any:
    """The elements a clip contains (its media), not those connected to it (``lane``)."""
    for child in element:
        if child.get("lane") is None:
            yield child
            yield from _contents(child)


def retimed(element: ElementTree.Element, local: Fraction) -> Fraction:
    """Local time ``local`` of a clip through its ``<timeMap>`` (linear between points)."""
    points = [
        (parse_fcp_time(p.get("time")), parse_fcp_time(p.get("value")))
        for p in element.findall("./timeMap/timept")
    ]
    if not points:
        return local
    for (t1, v1), (t2, v2) in itertools.pairwise(points):
        if t1 <= local <= t2 and t2 != t1:
            return v1 + (v2 - v1) * (local - t1) / (t2 - t1)
    return points[0][1] if local < points[0][0] else points[-1][1]


def read_fcpxml(text: str | bytes) -> Any:
    """An FCPXML document as an OTIO SerializableCollection of its projects' Timelines.

    Raises the ElementTree/adapter exception for a document that is not FCPXML.
    """
    return ExactFcpxXml(text).to_otio()


def _reader_base() -> type:
    from otio_fcpx_xml_adapter.fcpx_xml import FcpxXml

    return FcpxXml  # type: ignore[no-any-return]


def frame_rate(format_element: ElementTree.Element | None) -> Fraction | None:
    """A ``<format>``'s rate: 1 / frameDuration (``1001/24000s`` → 24000/1001)."""
    if format_element is None or not format_element.get("frameDuration"):
        return None
    duration = parse_fcp_time(format_element.get("frameDuration"))
    return 1 / duration if duration else None


def media_src(asset: ElementTree.Element) -> str | None:
    """The asset's media URL: ``<media-rep kind="original-media">`` (1.9+), else ``src``."""
    reps = asset.findall("./media-rep")
    for rep in reps:
        if rep.get("kind", "original-media") == "original-media" and rep.get("src"):
            return rep.get("src")
    for rep in reps:
        if rep.get("src"):
            return rep.get("src")
    return asset.get("src") or None


class ExactFcpxXml(ClipFacts, _reader_base()):  # type: ignore[misc]
    """The adapter's ``FcpxXml`` reader with exact times and modern media references."""

    def __init__(self, xml_string: str | bytes) -> None:
        super().__init__(xml_string)
        self.root: ElementTree.Element = self.fcpx_xml
        self.parents: dict[ElementTree.Element, ElementTree.Element] = self.child_parent_map
        self.rate = Fraction(24)  # the rate of the sequence being read (markers, gaps)
        # Look-ups by id and by asset, made once (a feature film has thousands of clips).
        self.resources: dict[tuple[str, str], ElementTree.Element] = {
            (r.tag, r.get("id", "")): r for r in self.root.iterfind("./resources/*")
        }
        self.browser_clips: dict[str, list[ElementTree.Element]] = {}
        for clip in self.root.iter("asset-clip"):
            parent = self.parents.get(clip)
            if parent is not None and parent.tag in {"event", "fcpxml"}:
                self.browser_clips.setdefault(clip.get("ref", ""), []).append(clip)

    def to_otio(self) -> Any:
        """Every project of the document, in document order."""
        import opentimelineio as otio

        collection = otio.schema.SerializableCollection(name=self._collection_name())
        for index, project in enumerate(self.root.iter("project")):
            if project.find("./sequence") is not None:
                timeline = self._from_project(project)
                timeline.metadata.setdefault(NAMESPACE, {})["project_index"] = index
                collection.append(timeline)
        return collection

    def _collection_name(self) -> str:
        event = self.root.find(".//event")
        return event.get("name", "") if event is not None else ""

    def _from_project(self, project_element: ElementTree.Element) -> Any:
        import opentimelineio as otio

        sequence = project_element.find("./sequence")
        assert sequence is not None
        rate = self.format_rate(sequence.get("format"))
        timeline = otio.schema.Timeline(name=project_element.get("name", ""))
        timeline.tracks = self.sequence_stack(sequence)
        timeline.global_start_time = rational_time(parse_fcp_time(sequence.get("tcStart")), rate)
        event = self.parents.get(project_element)
        timeline.metadata[NAMESPACE] = {
            "project": project_element.get("name", ""),
            "event": event.get("name", "") if event is not None and event.tag == "event" else "",
            "rate": f"{rate.numerator}/{rate.denominator}",
        }
        return timeline

    # --- time ----------------------------------------------------------------------
    def format_rate(self, format_id: str | None, default: Fraction = Fraction(24)) -> Fraction:
        """The rate of the format ``format_id`` (``default`` when it has none)."""
        element = self.resources.get(("format", format_id)) if format_id else None
        return frame_rate(element) or default

    def _format_frame_rate(self, format_id: str) -> float:
        # The adapter's helpers (gaps, markers) count frames at this rate: keep it exact.
        return float(self.format_rate(format_id))

    # --- structure -----------------------------------------------------------------
    def sequence_stack(
        self, sequence: ElementTree.Element, name: str = "", source_range: Any = None
    ) -> Any:
        """A ``<sequence>`` as a Stack: one track per lane, items at exact positions."""
        import opentimelineio as otio

        rate = self.format_rate(sequence.get("format"))
        outer_rate, self.rate = self.rate, rate
        origin = parse_fcp_time(sequence.get("tcStart"))
        lanes = _Lanes()
        spine = sequence.find("./spine")
        if spine is not None:
            self._walk_spine(spine, Fraction(0), 0, lanes)
        stack = otio.schema.Stack(name=name, source_range=source_range)
        by_lane: dict[int, list[_Placed]] = {}
        for order, item in enumerate(lanes.items):
            item.order = order
            by_lane.setdefault(item.lane, []).append(item)
        for lane in sorted(by_lane, key=lambda n: (n < 0, abs(n))):
            for track in self._lane_tracks(lane, by_lane[lane], origin, rate):
                stack.append(track)
        for transition in lanes.transitions:
            transition["start"] = fcp_time(transition["start"] - origin)
        stack.metadata[NAMESPACE] = {"transitions": lanes.transitions}
        self.rate = outer_rate
        return stack

    def _walk_spine(
        self, spine: ElementTree.Element, origin: Fraction, lane: int, lanes: _Lanes
    ) -> None:
        """Items of a storyline: ``origin`` is where its time 0 lies in sequence time."""
        for child in spine:
            start = origin + parse_fcp_time(child.get("offset"))
            if child.tag == "transition":
                lanes.transitions.append(
                    {
                        "name": child.get("name", "transition"),
                        "start": start,
                        "duration": child.get("duration", "0s"),
                        "lane": lane,
                    }
                )
                continue
            if child.tag not in CLIP_ITEMS:
                continue
            if child.tag != "gap":
                lanes.items.append(_Placed(lane, start, child))
            self._walk_anchors(child, start, lane, lanes)

    def _walk_anchors(
        self, parent: ElementTree.Element, parent_start: Fraction, lane: int, lanes: _Lanes
    ) -> None:
        """Items connected to ``parent``: their offset is in the parent's local time."""
        local_zero = parent_start - parse_fcp_time(parent.get("start"))
        for child in parent:
            if child.tag not in ANCHOR_ITEMS or child.get("lane") is None:
                continue  # a clip's own contents (its video and audio) are not timeline items
            child_lane = lane + int(child.get("lane", "0"))
            child_start = local_zero + parse_fcp_time(child.get("offset"))
            if child.tag == "spine":
                self._walk_spine(child, child_start, child_lane, lanes)
                continue
            lanes.items.append(_Placed(child_lane, child_start, child))
            self._walk_anchors(child, child_start, child_lane, lanes)

    def _lane_tracks(
        self, lane: int, items: list[_Placed], origin: Fraction, rate: Fraction
    ) -> list[Any]:
        """The tracks of one lane (a second one only if its items overlap)."""
        import opentimelineio as otio

        kind = otio.schema.TrackKind.Audio if lane < 0 else otio.schema.TrackKind.Video
        base = "primary" if lane == 0 else f"lane {lane}"
        tracks: list[tuple[Any, Fraction]] = []
        for item in sorted(items, key=lambda i: (i.start, i.order)):
            composable = self.composable(item.element, rate)
            if composable is None:
                continue
            start = item.start - origin
            slot = next((i for i, (_, end) in enumerate(tracks) if end <= start), None)
            if slot is None:
                name = base if not tracks else f"{base} ({len(tracks) + 1})"
                track = otio.schema.Track(name=name, kind=kind)
                track.metadata[NAMESPACE] = {"lane": lane}
                tracks.append((track, Fraction(0)))
                slot = len(tracks) - 1
            track, end = tracks[slot]
            if start > end:
                track.append(
                    otio.schema.Gap(source_range=time_range(Fraction(0), start - end, rate))
                )
            track.append(composable)
            tracks[slot] = (track, start + seconds_of(composable.duration()))
        if lane >= 0 and all(self.audio_only(i.element) for i in items):
            for track, _ in tracks:
                track.kind = otio.schema.TrackKind.Audio
        return [track for track, _ in tracks]

    def audio_only(self, element: ElementTree.Element) -> bool:
        """True for an element with sound and no picture (an audio clip, a music asset)."""
        if element.tag == "audio" or element.get("srcEnable") == "audio":
            return True
        if element.tag == "asset-clip":
            asset = self.resources.get(("asset", element.get("ref", "")))
            return asset is not None and asset.get("hasVideo", "0") == "0"
        if element.tag in {"clip", "sync-clip"}:
            contents = list(_contents(element))
            return not any(c.tag in {"video", "asset-clip", "title"} for c in contents) and any(
                c.tag == "audio" for c in contents
            )
        return False

    # --- items ---------------------------------------------------------------------
    def composable(self, element: ElementTree.Element, rate: Fraction) -> Any:
        """An OTIO item for a timeline element (None for what has no picture or sound)."""
        import opentimelineio as otio

        tag = element.tag
        if tag == "audition":  # the active pick is the first child
            pick = next((c for c in element if c.tag in CLIP_ITEMS), None)
            return self.composable(pick, rate) if pick is not None else None
        if tag == "caption":
            return None
        name = element.get("name", "")
        duration = parse_fcp_time(element.get("duration"))
        start = parse_fcp_time(element.get("start"))
        if tag == "ref-clip":
            media = self.resources.get(("media", element.get("ref", "")))
            inner = media.find("./sequence") if media is not None else None
            if inner is not None:
                inner_origin = parse_fcp_time(inner.get("tcStart"))
                window = time_range(start - inner_origin, duration, rate)
                stack = self.sequence_stack(
                    inner,
                    name=name or media.get("name", ""),  # type: ignore[union-attr]
                    source_range=window,
                )
                self._decorate(stack, element, start, duration)
                return stack
        if tag in {"title", "mc-clip", "ref-clip"}:
            kind = {"title": "title", "mc-clip": "multicam clip", "ref-clip": "compound clip"}[tag]
            clip = otio.schema.Clip(
                name=name or kind,
                media_reference=otio.schema.GeneratorReference(name=name, generator_kind=kind),
                source_range=time_range(start, duration, rate),
            )
        else:
            reference, media_offset, media_rate = self._media_for(element, rate)
            # A retimed clip's start is local time; its timeMap says where that is in the
            # media. The render takes the source range from there at normal speed.
            source_start = retimed(element, start) + media_offset
            clip = otio.schema.Clip(
                name=name,
                media_reference=reference,
                source_range=time_range(source_start, duration, media_rate),
            )
        self._decorate(clip, element, start, duration)
        return clip

    def _media_for(
        self, element: ElementTree.Element, rate: Fraction
    ) -> tuple[Any, Fraction, Fraction]:
        """(media reference, local→media time shift, media rate) of a clip element."""
        import opentimelineio as otio

        ref = element.get("ref")
        if element.tag in {"asset-clip", "video", "audio"} and ref:
            return self.reference(ref, rate), Fraction(0), self._asset_rate(ref, rate)
        # clip / sync-clip: the media is their first contained video (else audio) item,
        # whose own offset/start map the container's local time onto the media's.
        contained = list(_contents(element))
        for tags in ({"video", "asset-clip"}, {"audio"}):
            inner = next((c for c in contained if c.tag in tags and c.get("ref")), None)
            if inner is not None:
                shift = parse_fcp_time(inner.get("start")) - parse_fcp_time(inner.get("offset"))
                inner_ref = inner.get("ref", "")
                return (self.reference(inner_ref, rate), shift, self._asset_rate(inner_ref, rate))
        return otio.schema.MissingReference(name=element.get("name", "")), Fraction(0), rate

    def _asset_rate(self, asset_id: str, default: Fraction) -> Fraction:
        asset = self.resources.get(("asset", asset_id))
        if asset is None:
            return default
        return self.format_rate(asset.get("format"), default)

    def reference(self, asset_id: str, rate: Fraction) -> Any:
        """The media reference of asset (or effect) ``asset_id``: exact available range."""
        import opentimelineio as otio

        asset = self.resources.get(("asset", asset_id))
        if asset is None:
            effect = self.resources.get(("effect", asset_id))
            name = effect.get("name", "") if effect is not None else asset_id
            return otio.schema.GeneratorReference(name=name, generator_kind="generator")
        media_rate = self.format_rate(asset.get("format"), rate)
        available = None
        if asset.get("duration"):
            available = time_range(
                parse_fcp_time(asset.get("start")),
                parse_fcp_time(asset.get("duration")),
                media_rate,
            )
        facts = {"asset": asset_id, "name": asset.get("name", ""), "uid": asset.get("uid", "")}
        src = media_src(asset)
        if not src:
            return otio.schema.MissingReference(
                name=asset.get("name", ""), available_range=available, metadata={NAMESPACE: facts}
            )
        reference = otio.schema.ExternalReference(
            target_url=src, available_range=available, metadata={NAMESPACE: facts}
        )
        reference.name = asset.get("name", "")
        return reference
