"""The timeline written back in its own format, the rendered clips above their originals.

Each :class:`~comfycine.conform.shots.Placement` becomes a clip at its shot's record
position on a new video track above all others (clips overlapping in time take a
second new track), named ``placement.name`` (it carries the template and the job),
with ``metadata["comfycine"]`` the placement's metadata, and media the delivered file
(an ExternalReference; a PNG sequence an ImageSequenceReference).

Per format (what each keeps is in the fixtures' README):

- OTIO (``.otio``): everything. ``.otioz``/``.otiod`` bundles are written as ``.otio``
  (a bundle would have to carry every original media file too);
- FCP7/Resolve XML: the adapter's writer, a new ``<track>``; clip metadata other than
  the name is not kept;
- FCPXML: the editor's own document with connected clips added (:mod:`.fcpxml_out`);
- CMX 3600 EDL: one video track per file, so the EDL written holds the rendered clips
  alone, at their record timecodes (overlapping ones in a second EDL).

The original is only read. The file is written to ``<name>.part`` and renamed; a name
that exists is never overwritten (``name-2.ext``, ``name-3.ext``…).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..conform.shots import Placement
from .formats import TimelineDoc
from .timing import exact_rate, rational_time, time_range


@dataclass(frozen=True)
class WriteBack:
    """The timeline written: where, in which format (adapter name), and what to know."""

    path: Path
    format: str
    notes: list[str] = field(default_factory=list)
    extra: list[Path] = field(default_factory=list)  # further files (a second EDL)


def write_back(
    doc: TimelineDoc, placements: list[Placement], out: Path, *, track_name: str = "comfycine"
) -> WriteBack:
    """Write ``doc`` with ``placements`` on new tracks to ``out`` (or a free name beside it).

    Raises ValueError without placements, and what the adapter raises (OSError on disk).
    """
    if not placements:
        raise ValueError("write_back needs at least one placement")
    adapter = doc.adapter
    notes: list[str] = []
    if adapter in {"otioz", "otiod"}:
        out = out.with_suffix(".otio")
        notes.append(
            f"Written as plain .otio (an .{adapter} bundle would have to carry the media)."
        )
        adapter = "otio_json"
    if adapter == "fcpx_xml":
        from .fcpxml_out import fcpxml_with_lanes

        text, said = fcpxml_with_lanes(doc, placements, track_name)
        path = write_new(out, text, avoid=doc.path)
        return WriteBack(path, adapter, notes + said)
    if adapter == "cmx_3600":
        return _write_edls(doc, placements, out, track_name, notes)
    import opentimelineio as otio

    timeline = doc.timeline.deepcopy()
    for track in new_tracks(doc, placements, track_name, for_edl=False):
        timeline.tracks.append(track)
    try:
        text = otio.adapters.write_to_string(timeline, adapter_name=adapter)
    except Exception as exc:  # an installed plug-in that reads but cannot write
        notes.append(f"The {adapter} adapter cannot write ({exc}); written as .otio instead.")
        out, adapter = out.with_suffix(".otio"), "otio_json"
        text = otio.adapters.write_to_string(timeline, adapter_name=adapter)
    if adapter == "fcp_xml":
        notes.append(
            f"FCP7 XML: import it in Resolve or Premiere; track {track_name!r} above the others "
            "holds the rendered clips (their names carry the template and job)."
        )
    return WriteBack(write_new(out, text, avoid=doc.path), adapter, notes)


def new_tracks(
    doc: TimelineDoc, placements: list[Placement], track_name: str, *, for_edl: bool
) -> list[Any]:
    """The new video tracks: each placement at its record start, gaps between."""
    import opentimelineio as otio

    tracks: list[tuple[Any, Fraction]] = []
    for placement in sorted(placements, key=lambda p: p.shot.record_start):
        start = placement.shot.record_start
        slot = next((i for i, (_, end) in enumerate(tracks) if end <= start), None)
        if slot is None:
            name = track_name if not tracks else f"{track_name} {len(tracks) + 1}"
            tracks.append(
                (otio.schema.Track(name=name, kind=otio.schema.TrackKind.Video), Fraction(0))
            )
            slot = len(tracks) - 1
        track, end = tracks[slot]
        if start > end:
            track.append(
                otio.schema.Gap(source_range=time_range(Fraction(0), start - end, doc.rate))
            )
        clip = placed_clip(placement, plain_path=for_edl)
        track.append(clip)
        tracks[slot] = (track, start + Fraction(placement.frames) / placement.media_rate)
    return [track for track, _ in tracks]


def placed_clip(placement: Placement, *, plain_path: bool = False) -> Any:
    """One placement as an OTIO Clip over its whole delivered media."""
    import opentimelineio as otio

    rate = placement.media_rate
    available = otio.opentime.TimeRange(
        rational_time(Fraction(placement.media_start_frame) / rate, rate),
        rational_time(Fraction(placement.frames) / rate, rate),
    )
    media = placement.media.absolute()
    reference: Any
    if placement.sequence is not None:
        folder, prefix, digits, suffix = placement.sequence
        number = media.name[len(prefix) : len(media.name) - len(suffix)]
        reference = otio.schema.ImageSequenceReference(
            target_url_base=folder.absolute().as_uri() + "/",
            name_prefix=prefix,
            name_suffix=suffix,
            start_frame=int(number) if number.isdigit() else placement.media_start_frame,
            frame_step=1,
            rate=float(rate),
            frame_zero_padding=digits,
            available_range=available,
        )
    else:
        url = str(media) if plain_path else media.as_uri()
        reference = otio.schema.ExternalReference(target_url=url, available_range=available)
        reference.name = media.name
    clip = otio.schema.Clip(name=placement.name, media_reference=reference, source_range=available)
    facts = {
        "source_clip": placement.shot.name,
        "shot": placement.shot.index,
        "source_track": placement.shot.track,
    } | dict(placement.metadata)
    clip.metadata["comfycine"] = json_safe(facts)
    if plain_path:  # an EDL: file-based media is an auxiliary source; its name says which
        clip.metadata["cmx_3600"] = {"reel": "AX"}
    return clip


def json_safe(value: Any) -> Any:
    """``value`` with paths, fractions and tuples as JSON types (OTIO metadata holds those)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Fraction):
        return str(value)
    return str(value)


def _write_edls(
    doc: TimelineDoc, placements: list[Placement], out: Path, track_name: str, notes: list[str]
) -> WriteBack:
    """One EDL per new track: the rendered clips at their record timecodes."""
    import opentimelineio as otio

    written: list[Path] = []
    for number, track in enumerate(new_tracks(doc, placements, track_name, for_edl=True), 1):
        if doc.start:  # record timecodes count from the timeline's start timecode
            track.insert(
                0, otio.schema.Gap(source_range=time_range(Fraction(0), doc.start, doc.rate))
            )
        timeline = otio.schema.Timeline(name=f"{doc.name or doc.path.stem} {track.name}")
        timeline.tracks.append(track)
        text = otio.adapters.write_to_string(
            timeline, adapter_name="cmx_3600", rate=float(doc.rate)
        )
        target = out if number == 1 else out.with_name(f"{out.stem}-track{number}{out.suffix}")
        written.append(write_new(target, text, avoid=doc.path))
    notes.append(
        "A CMX 3600 EDL holds one video track: this EDL holds the rendered clips alone, at "
        f"their record timecodes ({_rate_label(doc.rate)} fps); import it onto a track above "
        "the originals."
    )
    if len(written) > 1:
        notes.append(f"Clips overlapping in time are in {', '.join(p.name for p in written[1:])}.")
    return WriteBack(written[0], "cmx_3600", notes, written[1:])


def _rate_label(rate: Fraction) -> str:
    rate = exact_rate(rate)
    return str(rate.numerator) if rate.denominator == 1 else f"{float(rate):.3f}"


def free_path(path: Path, *, avoid: Path | None = None) -> Path:
    """``path``, or ``name-2.ext``, ``name-3.ext``… : the first that does not exist."""
    candidate, number = path, 1
    while (
        candidate.exists()
        or Path(str(candidate) + ".part").exists()
        or (avoid is not None and candidate.absolute() == avoid.absolute())
    ):
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def write_new(path: Path, text: str, *, avoid: Path | None = None) -> Path:
    """Write ``text`` to a new file at ``path`` (or a free name): ``.part``, then renamed.

    The rename never replaces a file: a name taken meanwhile moves on to the next.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        target = free_path(path, avoid=avoid)
        part = Path(str(target) + ".part")
        with open(part, "x", encoding="utf-8") as handle:
            handle.write(text)
        try:
            os.link(part, target)  # fails when the name exists: nothing is overwritten
        except FileExistsError:
            part.unlink()
            continue
        except OSError:  # a file system without hard links (exFAT): rename if still free
            if target.exists():
                part.unlink()
                continue
            part.rename(target)
            return target
        part.unlink()
        return target
