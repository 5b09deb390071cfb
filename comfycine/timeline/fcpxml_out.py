"""FCPXML written back by editing the editor's own document.

OTIO's ``fcpx_xml`` writer rebuilds a document from the OTIO timeline: it drops what
OTIO does not model (titles, transitions, effects, roles, audio components), writes
version 1.8 with no ``<media-rep>``, names no frame duration for 23.976 (its rate
table misses ``int(23.976)``) and shells out to ``ffprobe``. Re-imported, that would
be a lesser copy of the editor's project. So the document read is copied and only
added to: the rendered clips become connected clips on new lanes above everything,
anchored to the primary-storyline item under their record position, with their
assets (and formats, unless one matches) appended to ``<resources>``. The project is
renamed (and its ``uid`` dropped) so importing it beside the original makes a second
project; other projects of the file are left out (they would be imported twice).
Element order follows the FCPXML 1.10 DTD (connected clips before markers, keywords
and filters); only whitespace between elements is added, for indentation.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from ..conform.shots import Placement
from .fcpxml import CLIP_ITEMS, frame_rate
from .formats import TimelineDoc
from .timing import fcp_time, parse_fcp_time

Element = ElementTree.Element
# Children that come after a clip's connected clips in the DTD's content models.
TAIL_TAGS = {
    "marker",
    "chapter-marker",
    "rating",
    "keyword",
    "analysis-marker",
    "audio-channel-source",
    "audio-role-source",
    "sync-source",
    "filter-video",
    "filter-video-mask",
    "filter-audio",
    "metadata",
    "reserved",
}
HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n\n'
STEP = "    "


def fcpxml_with_lanes(
    doc: TimelineDoc, placements: list[Placement], track_name: str
) -> tuple[str, list[str]]:
    """The document of ``doc`` with ``placements`` as connected clips: (text, notes).

    Raises ValueError when the project has no storyline to connect clips to.
    """
    editor = _Editor(ElementTree.fromstring((doc.document or doc.path).read_bytes()))
    index = int(doc.timeline.metadata.get("fcpx_xml", {}).get("project_index", doc.index))
    project = editor.keep_project(index, track_name)
    sequence = project.find("./sequence")
    spine = sequence.find("./spine") if sequence is not None else None
    if sequence is None or spine is None:
        raise ValueError("the project has no sequence/spine")
    sequence_format = editor.resources.find(f"./format[@id='{sequence.get('format')}']")
    sequence_rate = frame_rate(sequence_format) or doc.rate
    tc_start = parse_fcp_time(sequence.get("tcStart"))
    lanes_used = [int(e.get("lane", "0")) for e in sequence.iter() if e.get("lane")]
    first_lane = 1 + max(lanes_used, default=0)
    ends: list[Fraction] = []  # each new lane's end, to keep the clips of a lane apart
    notes: list[str] = []
    for placement in sorted(placements, key=lambda p: p.shot.record_start):
        start = placement.shot.record_start
        length = _on_grid(Fraction(placement.frames) / placement.media_rate, sequence_rate)
        lane = next((i for i, end in enumerate(ends) if end <= start), len(ends))
        ends[lane : lane + 1] = [start + length]
        anchor = _anchor(spine, tc_start + start)
        local = (
            parse_fcp_time(anchor.get("start"))
            + tc_start
            + start
            - parse_fcp_time(anchor.get("offset"))
        )
        clip = Element(
            "asset-clip",
            {
                "ref": editor.add_asset(placement),
                "lane": str(first_lane + lane),
                "offset": fcp_time(local),
                "name": placement.name,
                "start": fcp_time(Fraction(placement.media_start_frame) / placement.media_rate),
                "duration": fcp_time(length),
            },
        )
        ElementTree.SubElement(clip, "note").text = _note(placement)
        ElementTree.SubElement(clip, "keyword", {"value": "comfycine"})
        at = next((i for i, child in enumerate(anchor) if child.tag in TAIL_TAGS), len(anchor))
        editor.insert(anchor, at, clip)
        if placement.sequence is not None:
            notes.append(
                f"{placement.name}: Final Cut Pro imports an image sequence as stills; "
                "its first image stands in (deliver a movie to see the render)."
            )
    lane_text = f"lane {first_lane}" + (f"–{first_lane + len(ends) - 1}" if len(ends) > 1 else "")
    notes.insert(
        0,
        f"Final Cut Pro: File > Import > XML; project {project.get('name')!r} holds "
        f"the rendered clips connected on {lane_text}, above their originals.",
    )
    return HEADER + ElementTree.tostring(editor.root, encoding="unicode") + "\n", notes


class _Editor:
    """One FCPXML document being added to: resources, fresh ids, indentation."""

    def __init__(self, root: Element) -> None:
        self.root = root
        self.parents = {child: parent for parent in root.iter() for child in parent}
        self.indents = _indentation(root)
        self.used = {e.get("id") for e in root.iter() if e.get("id")}
        numbers = [int(m[1]) for i in self.used if i and (m := re.fullmatch(r"r(\d+)", i))]
        self.next_id = max(numbers, default=0) + 1
        self.modern = _version(root) >= (1, 9)  # media-rep (1.9+) or the asset's src
        resources = root.find("./resources")
        if resources is None:
            resources = Element("resources")
            root.insert(1 if len(root) and root[0].tag == "import-options" else 0, resources)
        self.resources = resources

    def keep_project(self, index: int, track_name: str) -> Element:
        """The ``index``-th project, renamed and without uid; the others removed."""
        projects = list(self.root.iter("project"))
        chosen = projects[index]
        for project in projects:
            if project is not chosen:
                parent = self.parents[project]
                at = list(parent).index(project)
                if at:  # the whitespace after the project stays (it closes the parent)
                    parent[at - 1].tail = project.tail
                parent.remove(project)
        chosen.set("name", f"{chosen.get('name') or 'Timeline'} ({track_name})")
        for attribute in ("uid", "modDate"):
            chosen.attrib.pop(attribute, None)
        return chosen

    def new_id(self) -> str:
        """A resource id (``r12``) the document does not use yet."""
        while f"r{self.next_id}" in self.used:
            self.next_id += 1
        fresh = f"r{self.next_id}"
        self.used.add(fresh)
        return fresh

    def add_asset(self, placement: Placement) -> str:
        """The placement's media as an ``<asset>`` (with its ``<format>``): its id."""
        rate = placement.media_rate
        url = placement.media.absolute().as_uri()
        attributes = {
            "id": self.new_id(),
            "name": placement.media.stem,
            "start": fcp_time(Fraction(placement.media_start_frame) / rate),
            "duration": fcp_time(Fraction(placement.frames) / rate),
            "hasVideo": "1",
            "format": self.format_for(rate, _picture_size(placement.media)),
        }
        if not self.modern:
            attributes["src"] = url
        asset = Element("asset", attributes)
        if self.modern:
            ElementTree.SubElement(asset, "media-rep", {"kind": "original-media", "src": url})
        self.insert(self.resources, len(self.resources), asset)
        return attributes["id"]

    def format_for(self, rate: Fraction, size: tuple[int, int] | None) -> str:
        """The id of a ``<format>`` of that rate and size: an existing one, else a new one."""
        wanted = {"width": str(size[0]), "height": str(size[1])} if size else {}
        for existing in self.resources.findall("./format"):
            if frame_rate(existing) == rate and all(
                existing.get(k) == v for k, v in wanted.items()
            ):
                return existing.get("id", "")
        element = Element(
            "format", {"id": self.new_id(), "frameDuration": fcp_time(1 / rate)} | wanted
        )
        self.insert(self.resources, len(self.resources), element)
        return element.get("id", "")

    def insert(self, parent: Element, index: int, element: Element) -> None:
        """Insert ``element`` as ``parent[index]``, indented like its neighbours."""
        outer = self.indents.get(parent, "")
        inner = outer + STEP
        if len(parent) and parent.text and not parent.text.strip():
            inner = parent.text.rsplit("\n", 1)[-1]
        ElementTree.indent(element, space=STEP)
        for node in element.iter():  # indent the new subtree from column ``inner``
            if node.text and not node.text.strip() and len(node):
                node.text += inner
            for child in node:
                child.tail = (
                    (child.tail or "") + inner if not (child.tail or "").strip() else child.tail
                )
        if not len(parent):
            parent.text, element.tail = "\n" + inner, "\n" + outer
        elif index >= len(parent):
            element.tail, parent[-1].tail = parent[-1].tail, "\n" + inner
        else:
            element.tail = "\n" + inner
        parent.insert(index, element)
        for node in element.iter():
            self.indents[node] = inner


def _indentation(root: Element) -> dict[Element, str]:
    """Each element's indentation, read from the whitespace before it."""
    found = {root: ""}
    for parent in root.iter():
        before = parent.text
        for child in parent:
            found[child] = before.rsplit("\n", 1)[-1] if before and not before.strip() else ""
            before = child.tail
    return found


def _version(root: Element) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in root.get("version", "1.10").split("."))
    except ValueError:
        return (1, 10)


def _on_grid(seconds: Fraction, rate: Fraction) -> Fraction:
    """``seconds`` rounded to whole frames of the sequence (FCP fills what is not with gap)."""
    return Fraction(round(seconds * rate)) / rate


def _picture_size(path: Path) -> tuple[int, int] | None:
    """The media's width and height (PyAV), None when it cannot be read."""
    try:
        import av

        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return int(stream.width), int(stream.height)
    except Exception:
        return None


def _anchor(spine: Element, time: Fraction) -> Element:
    """The primary-storyline item a clip at sequence time ``time`` connects to.

    The item under ``time``, else the nearest before it, else the first. (A retimed
    item's local time runs with the sequence's too: its timeMap maps it to the media.)
    """
    items = [c for c in spine if c.tag in CLIP_ITEMS - {"audition"}]  # auditions hold no anchors
    if not items:
        raise ValueError("the primary storyline has nothing to connect a clip to")
    before = None
    for item in items:
        offset = parse_fcp_time(item.get("offset"))
        if offset <= time < offset + parse_fcp_time(item.get("duration")):
            return item
        if offset <= time:
            before = item
    return before if before is not None else items[0]


def _note(placement: Placement) -> str:
    """The recipe in the clip's note: the source clip and the placement's metadata."""
    facts: dict[str, Any] = {"source_clip": placement.shot.name, "shot": placement.shot.index}
    facts |= {str(k): v for k, v in placement.metadata.items()}
    return "comfycine " + json.dumps(facts, default=str, sort_keys=True)
