"""The record a ``resolve send`` leaves for ``resolve receive``: JSON in the data directory.

One file per project and timeline (``<data>/resolve/<project>--<timeline>-<hash>.json``):
the template, the timeline's rate and first frame, the shots sent, each shot's pull,
and, filled in as the conform delivers them, each shot's result (a placement). A second
send of the same timeline replaces the record. Written atomically (temp file, fsync,
rename), so a crash leaves the previous record or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..conform.shots import Placement, Shot
from .errors import ResolveNothingSent
from .timeline import TimelineInfo, rate_text

VERSION = 1
SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Manifest:
    """What was sent from one timeline, and what came back for each shot."""

    project: str
    timeline: str
    timeline_id: str
    template: str
    rate: Fraction
    start_frame: int
    shots: list[Shot]
    pulls: dict[int, str] = field(default_factory=dict)  # shot index → pull file
    results: dict[int, dict[str, Any]] = field(default_factory=dict)  # shot index → placement
    sent_at: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)  # one entry per receive

    def record_result(self, placement: Placement) -> None:
        """Keep ``placement`` as its shot's result (replacing an earlier one)."""
        self.results[placement.shot.index] = placement_to_dict(placement)

    def placements(self) -> list[Placement]:
        """The results to place, in shot order (shots without one are left out)."""
        by_index = {shot.index: shot for shot in self.shots}
        return [
            placement_from_dict(self.results[index], by_index[index])
            for index in sorted(self.results)
            if index in by_index
        ]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document."""
        return {
            "version": VERSION,
            "project": self.project,
            "timeline": self.timeline,
            "timeline_id": self.timeline_id,
            "template": self.template,
            "rate": rate_text(self.rate),
            "start_frame": self.start_frame,
            "sent_at": self.sent_at,
            "shots": [shot_to_dict(shot) for shot in self.shots],
            "pulls": {str(k): v for k, v in self.pulls.items()},
            "results": {str(k): v for k, v in self.results.items()},
            "received": self.received,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """The manifest of a JSON document (KeyError/ValueError when malformed)."""
        return cls(
            project=str(data["project"]),
            timeline=str(data["timeline"]),
            timeline_id=str(data.get("timeline_id") or ""),
            template=str(data["template"]),
            rate=Fraction(data["rate"]),
            start_frame=int(data["start_frame"]),
            shots=[shot_from_dict(item) for item in data["shots"]],
            pulls={int(k): str(v) for k, v in (data.get("pulls") or {}).items()},
            results={int(k): dict(v) for k, v in (data.get("results") or {}).items()},
            sent_at=str(data.get("sent_at") or ""),
            received=list(data.get("received") or []),
        )


def new_manifest(
    info: TimelineInfo, template: str, shots: list[Shot], pulls: list[Path]
) -> Manifest:
    """The record of a send: ``pulls`` are the shots' files, in shot order."""
    return Manifest(
        project=info.project,
        timeline=info.timeline,
        timeline_id=info.timeline_id,
        template=template,
        rate=info.rate,
        start_frame=info.start_frame,
        shots=list(shots),
        pulls={shot.index: str(path) for shot, path in zip(shots, pulls, strict=True)},
        sent_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def manifest_path(data_dir: Path, project: str, timeline: str) -> Path:
    """Where the record of ``project``/``timeline`` lives (names made file-safe, plus a
    hash so that two names that clean up alike do not share a file)."""
    digest = hashlib.sha256(json.dumps([project, timeline]).encode()).hexdigest()[:10]
    stem = f"{_safe(project)}--{_safe(timeline)}-{digest}"
    return data_dir / "resolve" / f"{stem}.json"


def _safe(name: str) -> str:
    return SAFE.sub("_", name).strip("._")[:40] or "untitled"


def save_manifest(data_dir: Path, manifest: Manifest) -> Path:
    """Write ``manifest`` atomically; its path."""
    path = manifest_path(data_dir, manifest.project, manifest.timeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(manifest.to_dict(), handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())  # the rename must not publish an empty file
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def load_manifest(data_dir: Path, project: str, timeline: str) -> Manifest:
    """The record of the last send of ``project``/``timeline``; ResolveNothingSent when
    there is none (or it cannot be read)."""
    path = manifest_path(data_dir, project, timeline)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Manifest.from_dict(data)
    except FileNotFoundError:
        reason = "nothing was sent"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = f"the record of the last send is unreadable ({type(exc).__name__})"
    raise ResolveNothingSent(
        f"No shots to receive for timeline {timeline!r} of project {project!r}: {reason}.",
        details={"manifest": str(path), "project": project, "timeline": timeline},
    )


def shot_to_dict(shot: Shot) -> dict[str, Any]:
    """A shot as JSON: fractions as ``n/d`` text, paths as text."""
    return {
        "index": shot.index,
        "name": shot.name,
        "track": shot.track,
        "rate": str(shot.rate),
        "record_start": str(shot.record_start),
        "duration": str(shot.duration),
        "source_start": str(shot.source_start),
        "media_name": shot.media_name,
        "media": None if shot.media is None else str(shot.media),
        "media_start": None if shot.media_start is None else str(shot.media_start),
        "media_rate": None if shot.media_rate is None else str(shot.media_rate),
        "ignored": list(shot.ignored),
        "markers": list(shot.markers),
        "color": shot.color,
        "keywords": list(shot.keywords),
        "locator": list(shot.locator),
        "metadata": shot.metadata,
    }


def shot_from_dict(data: dict[str, Any]) -> Shot:
    """The shot :func:`shot_to_dict` wrote."""
    optional = {
        k: None if data.get(k) is None else Fraction(data[k]) for k in ("media_start", "media_rate")
    }
    return Shot(
        index=int(data["index"]),
        name=str(data["name"]),
        track=str(data["track"]),
        rate=Fraction(data["rate"]),
        record_start=Fraction(data["record_start"]),
        duration=Fraction(data["duration"]),
        source_start=Fraction(data["source_start"]),
        media_name=str(data["media_name"]),
        media=None if data.get("media") is None else Path(data["media"]),
        media_start=optional["media_start"],
        media_rate=optional["media_rate"],
        ignored=tuple(data.get("ignored") or ()),
        markers=tuple(data.get("markers") or ()),
        color=data.get("color"),
        keywords=tuple(data.get("keywords") or ()),
        locator=(int(data["locator"][0]), int(data["locator"][1])),
        metadata=dict(data.get("metadata") or {}),
    )


def placement_to_dict(placement: Placement) -> dict[str, Any]:
    """A placement as JSON (its shot is the manifest's, by index)."""
    sequence = placement.sequence
    return {
        "name": placement.name,
        "media": str(placement.media),
        "media_rate": str(placement.media_rate),
        "frames": placement.frames,
        "media_start_frame": placement.media_start_frame,
        "sequence": None
        if sequence is None
        else [str(sequence[0]), sequence[1], sequence[2], sequence[3]],
        "metadata": placement.metadata,
    }


def placement_from_dict(data: dict[str, Any], shot: Shot) -> Placement:
    """The placement :func:`placement_to_dict` wrote, for ``shot``."""
    sequence = data.get("sequence")
    return Placement(
        shot=shot,
        name=str(data["name"]),
        media=Path(data["media"]),
        media_rate=Fraction(data["media_rate"]),
        frames=int(data["frames"]),
        media_start_frame=int(data["media_start_frame"]),
        sequence=None
        if sequence is None
        else (Path(sequence[0]), str(sequence[1]), int(sequence[2]), str(sequence[3])),
        metadata=dict(data.get("metadata") or {}),
    )
