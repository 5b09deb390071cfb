"""What an FCPXML clip element says beyond its place: markers, keywords, notes, speed.

A mixin of :class:`comfycine.timeline.fcpxml.ExactFcpxXml` (kept apart to keep each
module readable): it reads the reader's ``resources``, ``browser_clips`` and ``rate``.
Element names and attribute meanings follow Apple's FCPXML reference and DTD 1.10.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any
from xml.etree import ElementTree

from .timing import fcp_time, parse_fcp_time, time_range

NAMESPACE = "fcpx_xml"
# Adjustments that change the picture (adjust-conform is the benign fit/fill).
PICTURE_ADJUSTMENTS = {
    "adjust-transform": "transform",
    "adjust-crop": "crop",
    "adjust-corners": "distort",
    "adjust-blend": "blend/opacity",
    "adjust-stabilization": "stabilization",
    "adjust-rollingShutter": "rolling shutter",
    "adjust-360-transform": "360° transform",
    "adjust-orientation": "orientation",
    "adjust-cinematic": "cinematic",
}
MARKER_COLOURS = {"standard": "BLUE", "todo": "RED", "done": "GREEN", "chapter": "ORANGE"}


class ClipFacts:
    """Markers, keywords, notes, retiming and effects of clip elements, onto OTIO items."""

    resources: dict[tuple[str, str], ElementTree.Element]
    browser_clips: dict[str, list[ElementTree.Element]]
    rate: Fraction

    def audio_only(self, element: ElementTree.Element) -> bool:
        """True for an element with sound and no picture (the reader decides)."""
        raise NotImplementedError

    def _decorate(
        self, item: Any, element: ElementTree.Element, start: Fraction, duration: Fraction
    ) -> None:
        """Markers, keywords, notes, retiming and effects of ``element`` onto ``item``."""
        import opentimelineio as otio

        facts: dict[str, Any] = {"element": element.tag}
        if self.audio_only(element):
            facts["audio_only"] = True
        for child in element:
            if child.tag in {"marker", "chapter-marker"}:
                item.markers.append(self._exact_marker(child))
            elif child.tag == "note" and child.text:
                facts["note"] = child.text
            elif child.tag == "filter-video":
                effect = self.resources.get(("effect", child.get("ref", "")))
                label = child.get("name") or (effect.get("name") if effect is not None else None)
                if child.get("enabled", "1") != "0":
                    item.effects.append(otio.schema.Effect(effect_name=label or "video filter"))
            elif child.tag in PICTURE_ADJUSTMENTS and child.get("enabled", "1") != "0":
                item.effects.append(otio.schema.Effect(effect_name=PICTURE_ADJUSTMENTS[child.tag]))
            elif child.tag == "timeMap":
                self._retiming(item, child, facts)
            elif child.tag == "conform-rate" and child.get("srcFrameRate"):
                facts["conform_rate"] = child.get("srcFrameRate")
        keywords = self._keywords(element, start, duration)
        if keywords:
            facts["keywords"] = keywords
        if element.get("enabled") == "0":
            item.enabled = False
        item.metadata.setdefault(NAMESPACE, {}).update(facts)

    def _exact_marker(self, element: ElementTree.Element) -> Any:
        import opentimelineio as otio

        if element.tag == "chapter-marker":
            kind = "chapter"
        elif element.get("completed") is None:
            kind = "standard"
        else:
            kind = "done" if element.get("completed") == "1" else "todo"
        start, length = (
            parse_fcp_time(element.get("start")),
            parse_fcp_time(element.get("duration")),
        )
        return otio.schema.Marker(
            name=element.get("value", ""),
            marked_range=time_range(start, length, self.rate),
            color=MARKER_COLOURS[kind],
            metadata={
                NAMESPACE: {"kind": kind, "note": element.get("note", ""), "start": fcp_time(start)}
            },
        )

    def _keywords(
        self, element: ElementTree.Element, start: Fraction, duration: Fraction
    ) -> list[str]:
        """Keywords over the used range: the clip's own, and its browser clip's."""
        sources = [element]
        ref = element.get("ref")
        if element.tag == "asset-clip" and ref:
            sources += [c for c in self.browser_clips.get(ref, []) if c is not element]
        found: list[str] = []
        for source in sources:
            for keyword in source.findall("./keyword"):
                k_start = parse_fcp_time(keyword.get("start")) if keyword.get("start") else None
                k_length = parse_fcp_time(keyword.get("duration"))
                if (
                    k_start is not None
                    and keyword.get("duration")
                    and (k_start >= start + duration or k_start + k_length <= start)
                ):
                    continue
                for word in (keyword.get("value") or "").split(","):
                    if word.strip() and word.strip() not in found:
                        found.append(word.strip())
        return found

    def _retiming(self, item: Any, time_map: ElementTree.Element, facts: dict[str, Any]) -> None:
        """A ``<timeMap>`` as a LinearTimeWarp (constant speed), FreezeFrame or TimeEffect."""
        import opentimelineio as otio

        points = [
            (parse_fcp_time(p.get("time")), parse_fcp_time(p.get("value")))
            for p in time_map.findall("./timept")
        ]
        speeds = {
            (v2 - v1) / (t2 - t1) for (t1, v1), (t2, v2) in itertools.pairwise(points) if t2 != t1
        }
        if len(speeds) == 1:
            speed = speeds.pop()
            facts["speed"] = f"{speed.numerator}/{speed.denominator}"
            if speed == 0:
                item.effects.append(otio.schema.FreezeFrame())
            elif speed != 1:
                item.effects.append(otio.schema.LinearTimeWarp(time_scalar=float(speed)))
        elif speeds:
            facts["speed"] = "variable"
            item.effects.append(otio.schema.TimeEffect(name="speed ramp", effect_name="TimeMap"))
