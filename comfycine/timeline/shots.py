"""Every video clip of a timeline as a :class:`~comfycine.conform.shots.Shot`.

:func:`list_shots` walks the video tracks (audio tracks are not shots) and makes one
Shot per clip, in timeline order (record start, then track from the bottom up),
numbered from 1. Gaps are not shots; transitions, titles, generators, compound and
multicam clips, image sequences, audio-only and disabled clips are listed in
``skipped`` with the reason. What the render ignores on a clip (speed changes,
effects) is in the Shot's ``ignored``: the conform renders the clip's source range at
normal speed, without effects.

Times: ``record_start`` is seconds from the timeline's start (track time, which the
readers of :mod:`.formats` make start at 0); ``source_start`` is on the media's clock
(its start timecode included); ``media_start``/``media_rate`` come from the media
reference's available range when the timeline gives one.

Media that is missing (MissingReference, a file that is not there) is relinked by
name (:mod:`.media`: under ``relink``; a clip naming no path, as in an EDL, beside the
timeline too); what stays offline keeps ``media=None`` and is listed in ``offline``
with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..conform.shots import Shot
from .formats import TimelineDoc
from .media import Relinker, media_name, media_path
from .timing import exact_rate, parse_fcp_time, seconds_of, timecode


@dataclass
class ShotListing:
    """The clips of a timeline: the shots, and what is not a shot or has no media."""

    shots: list[Shot]
    skipped: list[dict[str, Any]] = field(default_factory=list)
    offline: list[dict[str, Any]] = field(default_factory=list)
    relinked: list[dict[str, Any]] = field(default_factory=list)
    tracks: list[str] = field(default_factory=list)  # the video tracks, bottom up
    markers: list[str] = field(default_factory=list)  # every marker name met
    notes: list[str] = field(default_factory=list)


def list_shots(doc: TimelineDoc, *, relink: Path | None = None) -> ShotListing:
    """The video clips of ``doc`` as Shots (see the module docstring)."""
    import opentimelineio as otio

    base = (doc.document or doc.path).parent
    relinker = Relinker(relink, beside=doc.path.parent)
    listing = ShotListing(shots=[])
    wide_markers = _timeline_markers(doc)
    found: list[tuple[Fraction, int, Shot]] = []
    video_number = 0
    for track_index, track in enumerate(doc.timeline.tracks):
        if track.kind != otio.schema.TrackKind.Video:
            continue
        video_number += 1
        label, aliases = _track_names(track, video_number)
        listing.tracks.append(label)
        # Every child's place in one pass (asking each clip walks the track: n² on a film).
        origin = seconds_of(track.trimmed_range().start_time) if track.source_range else 0
        places = {
            child: (seconds_of(span.start_time) - origin, seconds_of(span.duration))
            for child, span in track.range_of_all_children().items()
        }
        for item_index, item in enumerate(track):
            if isinstance(item, otio.schema.Gap):
                continue
            where = {"track": label, "item": item_index, "name": str(item.name or "")}
            meta = _plain(item.metadata)  # read once: OTIO's metadata look-ups are slow
            reason = _not_a_shot(item, meta)
            if reason:
                start = places[item][0]
                at = {"record_start": float(start), "at": timecode(doc.start + start, doc.rate)}
                listing.skipped.append(where | at | {"reason": reason})
                continue
            shot = _shot(
                doc,
                item,
                meta,
                places[item],
                label,
                aliases,
                (track_index, item_index),
                base,
                relinker,
                wide_markers,
                listing,
            )
            found.append((shot.record_start, video_number, shot))
    listing.skipped.extend(_fcpxml_transitions(doc))
    found.sort(key=lambda f: (f[0], f[1]))
    listing.shots = [_numbered(shot, n) for n, (_, _, shot) in enumerate(found, 1)]
    numbers = {shot.locator: shot.index for shot in listing.shots}
    for entry in [*listing.offline, *listing.relinked]:
        entry["index"] = numbers[entry.pop("locator")]
    listing.offline.sort(key=lambda e: e["index"])
    listing.relinked.sort(key=lambda e: e["index"])
    listing.markers = sorted({m["name"] for s in listing.shots for m in s.metadata["markers"]})
    if listing.relinked:
        listing.notes.append(f"{len(listing.relinked)} clip(s) relinked by file name.")
    return listing


def _numbered(shot: Shot, index: int) -> Shot:
    return replace(shot, index=index)


def _track_names(track: Any, number: int) -> tuple[str, tuple[str, ...]]:
    """(the name shown, every name it answers to): the editor's name, and ``V<n>``."""
    own = str(track.name or "").strip()
    alias = f"V{number}"
    if not own or own.isdigit():
        return alias, (alias,)
    return own, (own, alias)


def _not_a_shot(item: Any, meta: dict[str, Any]) -> str:
    """Why ``item`` is not a shot ("" when it is one)."""
    import opentimelineio as otio

    if isinstance(item, otio.schema.Transition):
        return "transition: the clips either side are rendered without it"
    if isinstance(item, otio.schema.Stack):
        return "compound clip or nested sequence: not one media file"
    if not isinstance(item, otio.schema.Clip):
        return f"{item.schema_name()}: not a clip"
    if not item.enabled:
        return "disabled clip"
    reference = item.media_reference
    if isinstance(reference, otio.schema.GeneratorReference):
        return f"{reference.generator_kind or 'generator'}: no source media"
    if isinstance(reference, otio.schema.ImageSequenceReference):
        return "image sequence source: not supported yet (render its frames as a movie)"
    if _plain(meta.get("fcpx_xml")).get("audio_only"):
        return "audio only"
    return ""


def _shot(
    doc: TimelineDoc,
    clip: Any,
    meta: dict[str, Any],
    place: tuple[Fraction, Fraction],
    track: str,
    aliases: tuple[str, ...],
    locator: tuple[int, int],
    base: Path,
    relinker: Relinker,
    wide_markers: list[dict[str, Any]],
    listing: ShotListing,
) -> Shot:
    """One clip as a Shot (index 0 until numbered), its media resolved or relinked.

    ``place``: (record start, duration) in seconds from the timeline's start.
    """
    record_start, duration = place
    reference = clip.media_reference
    url = getattr(reference, "target_url", None)
    name_in_timeline = media_name(url) or str(reference.name or "") or str(clip.name or "")
    fcpx = _plain(meta.get("fcpx_xml"))
    reel = str(_plain(meta.get("cmx_3600")).get("reel") or "")
    media_start = media_rate = None
    available = reference.available_range if reference is not None else None
    if available is not None:
        media_start = seconds_of(available.start_time)
        media_rate = exact_rate(float(available.start_time.rate))
    media = media_path(url, base)
    media = media if media is not None and media.is_file() else None
    metadata: dict[str, Any] = {"adapter": doc.adapter, "track_aliases": list(aliases)}
    if reel:
        metadata["reel"] = reel
    if media is None:
        pathless = not url  # an EDL event, a MissingReference: look beside the timeline too
        media = _relink(
            clip, name_in_timeline, reel, relinker, pathless, locator, listing, metadata
        )
    markers = [_marker(m, "clip", doc.adapter) for m in clip.markers]
    markers += [m for m in wide_markers if _over(m, record_start, record_start + duration)]
    metadata["markers"] = [{k: m[k] for k in ("name", "color", "scope")} for m in markers]
    if fcpx.get("note"):
        metadata["note"] = str(fcpx["note"])
    return Shot(
        index=0,
        name=str(clip.name or Path(name_in_timeline).stem or "clip"),
        track=track,
        rate=doc.rate,
        record_start=record_start,
        duration=duration,
        source_start=seconds_of(clip.trimmed_range().start_time),
        media_name=name_in_timeline or reel,
        media=media,
        media_start=media_start,
        media_rate=media_rate,
        ignored=tuple(_ignored(clip, fcpx)),
        markers=tuple(dict.fromkeys(m["name"] for m in markers if m["name"])),
        color=_clip_colour(clip, meta),
        keywords=tuple(_keywords(clip, fcpx)),
        locator=locator,
        metadata=metadata,
    )


def _relink(
    clip: Any,
    name: str,
    reel: str,
    relinker: Relinker,
    pathless: bool,
    locator: tuple[int, int],
    listing: ShotListing,
    metadata: dict[str, Any],
) -> Path | None:
    """The clip's media found by name (then by reel), or None with the reason listed."""
    names = [name] + ([reel] if reel and reel != name else [])
    reason = ""
    for candidate in names:
        found = relinker.find(candidate, beside=pathless)
        if found.path is not None:
            listing.relinked.append(
                {
                    "locator": locator,
                    "name": str(clip.name or ""),
                    "media_name": name,
                    "path": str(found.path),
                }
            )
            metadata["relinked"] = str(found.path)
            return found.path
        reason = reason or found.reason
        if found.candidates:
            reason = found.reason  # ambiguity is the more useful thing to say
            break
    listing.offline.append(
        {
            "locator": locator,
            "name": str(clip.name or ""),
            "media_name": name or reel,
            "reason": reason,
        }
    )
    metadata["offline"] = reason
    return None


def _ignored(clip: Any, fcpx: dict[str, Any]) -> list[str]:
    """What the render leaves out of ``clip``, one line each."""
    import opentimelineio as otio

    lines: list[str] = []
    normal = "rendered the source range at normal speed"
    for effect in clip.effects:
        if isinstance(effect, otio.schema.FreezeFrame):
            lines.append(f"freeze frame: {normal}")
        elif isinstance(effect, otio.schema.LinearTimeWarp):
            lines.append(f"speed {effect.time_scalar * 100:g} %: {normal}")
        elif isinstance(effect, otio.schema.TimeEffect):
            lines.append(f"{effect.name or effect.effect_name or 'speed change'}: {normal}")
        else:
            label = effect.effect_name or effect.name or "effect"
            lines.append(f"effect {label}: not applied")
    conform_rate = fcpx.get("conform_rate")
    if conform_rate:
        lines.append(f"conform rate {conform_rate} fps: rendered at the media's own rate")
    return lines


def _clip_colour(clip: Any, meta: dict[str, Any]) -> str | None:
    """The clip's colour label: OTIO's clip colour, FCP7's ``labels/label2``."""
    colour_name = getattr(getattr(clip, "color", None), "name", None)
    if colour_name:
        return str(colour_name).lower()
    label = _plain(_plain(meta.get("fcp_xml")).get("labels")).get("label2")
    if label:
        return str(label).lower()
    for space in ("resolve", "Resolve_OTIO"):  # Resolve's own OTIO export keeps it here
        colour = _plain(meta.get(space)).get("Color")
        if colour:
            return str(colour).lower()
    return None


def _plain(mapping: Any) -> dict[str, Any]:
    """A dict or OTIO AnyDictionary as a plain dict (one level); anything else → {}.

    AnyDictionary answers a missing key by raising and catching a KeyError (~20 µs): a
    few look-ups per clip on a film's thousands of clips add up to seconds.
    """
    if isinstance(mapping, dict):
        return mapping
    keys = getattr(mapping, "keys", None)
    return {key: mapping[key] for key in keys()} if keys is not None else {}


def _keywords(clip: Any, fcpx: dict[str, Any]) -> list[str]:
    """FCPXML keywords: from our reader, and those the stock adapter keeps on the media."""
    words = list(fcpx.get("keywords") or [])
    reference_facts = _plain(_plain(getattr(clip.media_reference, "metadata", None)).get("fcpx"))
    for keyword in reference_facts.get("keywords") or []:
        value = _plain(keyword).get("value") or ""
        words += [w.strip() for w in str(value).split(",") if w.strip()]
    return list(dict.fromkeys(str(w) for w in words))


def _marker(marker: Any, scope: str, adapter: str) -> dict[str, Any]:
    start = seconds_of(marker.marked_range.start_time)
    end = start + seconds_of(marker.marked_range.duration)
    return {
        "name": str(marker.name or ""),
        "color": _marker_colour(marker, adapter),
        "scope": scope,
        "start": start,
        "end": end,
    }


def _marker_colour(marker: Any, adapter: str) -> str | None:
    """A marker's colour where the format has one (OTIO defaults every marker to red)."""
    raw = _plain(_plain(marker.metadata).get(adapter)).get("color")
    if adapter == "fcp_xml":  # FCP7 markers have no colour; a Resolve export may say one
        return str(raw).lower() if raw else None
    if adapter == "cmx_3600" and raw:  # the LOC line's own word, even if OTIO lacks it
        return str(raw).lower()
    return str(marker.color or "").lower() or None


def _over(marker: dict[str, Any], start: Fraction, end: Fraction) -> bool:
    """True when a marker (a point, or a range) lies over [start, end)."""
    if marker["end"] == marker["start"]:
        return bool(start <= marker["start"] < end)
    return bool(marker["start"] < end and marker["end"] > start)


def _timeline_markers(doc: TimelineDoc) -> list[dict[str, Any]]:
    """Markers on the timeline itself and on tracks (their times are timeline times)."""
    found = [_marker(m, "timeline", doc.adapter) for m in doc.timeline.tracks.markers]
    for track in doc.timeline.tracks:
        found += [_marker(m, "track", doc.adapter) for m in track.markers]
    return found


def _fcpxml_transitions(doc: TimelineDoc) -> list[dict[str, Any]]:
    """FCPXML transitions, kept aside by :mod:`.fcpxml` (they overlap two clips)."""
    skipped = []
    facts = _plain(_plain(doc.timeline.tracks.metadata).get("fcpx_xml"))
    for transition in facts.get("transitions") or []:
        entry = _plain(transition)
        start = parse_fcp_time(str(entry.get("start")))
        skipped.append(
            {
                "track": "primary" if int(entry.get("lane", 0)) == 0 else f"lane {entry['lane']}",
                "name": str(entry.get("name", "transition")),
                "record_start": float(start),
                "at": timecode(doc.start + start, doc.rate),
                "reason": "transition: the clips either side are rendered without it",
            }
        )
    return skipped
