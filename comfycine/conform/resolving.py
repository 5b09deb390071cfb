"""``resolve send`` and ``resolve receive``: the conform, driven through Resolve's scripting.

A send reads the shots off the current Resolve timeline (:mod:`comfycine.resolve`),
has Resolve render each shot's range into the exchange folder (the pulls: the
timeline as it plays there, grade included), renders the pulls through the template on
the batch machinery, and fits, delivers and checks each result exactly as ``conform``
does. A record of the send (the manifest) keeps each shot's result for the receive,
which imports them into a bin named after the template and lays them on a new video
track at their shots' record frames.

Running a send again reuses the pulls Resolve already rendered for the same shots and
the renders already made, so nothing is rendered or billed twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..batch.run import NotifyHook
from ..batch.runner import EventHook
from ..settings import Settings
from .pulls import Pull, conform_id
from .records import read_record, write_record
from .result import ConformedShot, ConformResult
from .run import RenderOptions, check_deliver, notify_end, render_pulls
from .shots import Shot


@dataclass(frozen=True)
class ResolvePick:
    """Which clips of the Resolve timeline a send takes (see comfycine.resolve.selection)."""

    track: int | None = None
    marker: str | None = None
    color: str | None = None
    frames: tuple[int, int] | None = None


def parse_frames(text: str | None) -> tuple[int, int] | None:
    """``IN-OUT`` record frames from the timeline's first frame (both included)."""
    if not text:
        return None
    from ..errors import UsageError

    first, sep, last = text.partition("-")
    try:
        if not sep:
            raise ValueError(text)
        span = (int(first), int(last))
    except ValueError:
        raise UsageError(
            f"--frames takes IN-OUT in frames from the timeline's start; got {text!r}.",
            hint="e.g. --frames 120-480",
            code="invalid_parameter",
        ) from None
    if span[0] < 0 or span[1] < span[0]:
        raise UsageError(
            f"--frames {text}: IN must be ≥ 0 and ≤ OUT.",
            hint="e.g. --frames 120-480",
            code="invalid_parameter",
        )
    return span


def open_session(timeline: str | None = None) -> Any:
    """Resolve's scripting module found and connected (errors explain the fallback)."""
    from ..resolve import connect, locate

    return connect(locate(), timeline=timeline)


async def send(
    settings: Settings,
    options: RenderOptions,
    pick: ResolvePick,
    *,
    session: Any = None,
    output: Path | None = None,
    on_event: EventHook | None = None,
    notify: NotifyHook | None = None,
    render_timeout: float = 3600.0,
    dry_run: bool = False,
) -> ConformResult:
    """Send the chosen clips of the current Resolve timeline through ``options.template``."""
    from ..media.probe import probe
    from ..media.scan import scan
    from ..resolve import new_manifest, save_manifest

    started = time.monotonic()
    deliver = check_deliver(options.deliver)
    session = session or await asyncio.to_thread(open_session)
    info = session.timeline_info()
    shots: list[Shot] = session.select(pick.track, pick.marker, pick.color, pick.frames)
    if dry_run:  # the shots chosen, nothing rendered by Resolve or sent
        planned = ConformResult(
            Path(f"{info.project}/{info.timeline}"),
            "resolve",
            options.template,
            [ConformedShot(shot) for shot in shots],
            deliver,
            dry_run=True,
        )
        planned.notes.append(f"Timeline {info.timeline!r} of {info.project!r} at {info.rate} fps.")
        return planned
    ident = conform_id(Path(f"resolve/{info.project}/{info.timeline}"), shots)
    folder = settings.exchange_dir / "resolve" / ident / "pulls"
    folder.mkdir(parents=True, exist_ok=True)
    known = _PullIndex(folder.parent / "pulls.json")
    missing = [s for s in shots if known.find(s) is None]
    if missing:
        made = await asyncio.to_thread(
            session.render_pulls, missing, folder, timeout=render_timeout
        )
        for shot, path in zip(missing, made, strict=True):
            known.record(shot, path)
    files = [known.find(s) for s in shots]
    manifest = new_manifest(info, options.template, shots, [Path(str(f)) for f in files])
    save_manifest(settings.data_dir, manifest)
    pairs: list[tuple[ConformedShot, Pull]] = []
    for shot, path in zip(shots, files, strict=True):
        assert path is not None
        media = await asyncio.to_thread(probe, path, count=True)
        record_tc = info.start_frame + round(shot.record_start * info.rate)
        source_scan = await asyncio.to_thread(scan, path, rate=media.rate)
        pull = Pull(
            shot, path, 0, media.frames, media.rate, record_tc, source_scan, info.drop_frame
        )
        pairs.append((ConformedShot(shot), pull))
    out_dir = (
        output
        or settings.exchange_dir / "output" / f"resolve-{_safe(info.timeline)}-{options.template}"
    )
    work = settings.data_dir / "conform" / ident
    placements, batch = await render_pulls(
        settings, pairs, options, work, out_dir, on_event=on_event
    )
    for placement in placements:
        manifest.record_result(placement)
    save_manifest(settings.data_dir, manifest)
    result = ConformResult(
        Path(f"{info.project}/{info.timeline}"),
        "resolve",
        options.template,
        [item for item, _ in pairs],
        deliver,
        batch=batch,
    )
    result.notes.append(
        f"Bring them into Resolve with: comfycine resolve receive (bin {options.template!r})"
        if placements
        else "Nothing to receive: no shot was conformed."
    )
    from ..media.qc import write_report

    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / f"resolve-{_safe(info.timeline)}.qc.json"
    result.qc_report = str(await asyncio.to_thread(write_report, result.to_dict(), report))
    result.seconds = round(time.monotonic() - started, 3)
    await notify_end(notify, result)
    return result


def receive(
    settings: Settings, *, bin_name: str | None = None, session: Any = None
) -> dict[str, Any]:
    """Import the last send's results into Resolve and place them on a new video track."""
    from ..resolve import load_manifest

    session = session or open_session()
    info = session.timeline_info()
    manifest = load_manifest(settings.data_dir, info.project, info.timeline)
    placements = manifest.placements()
    if not placements:
        from ..errors import UsageError

        raise UsageError(
            f"The last send of {info.timeline!r} has no conformed shot to receive.",
            hint=f"Send it again: comfycine resolve send {manifest.template}",
            code="resolve_nothing_conformed",
        )
    report = session.import_results(bin_name or manifest.template, placements)
    failure = report.failure()
    if failure is not None:
        raise failure
    data: dict[str, Any] = report.to_dict()
    data.update(project=info.project, timeline=info.timeline, template=manifest.template)
    return data


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:40] or "timeline"


class _PullIndex:
    """Which pull file Resolve rendered for which shot (kept between sends)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, str] = {k: str(v) for k, v in read_record(path).items()}

    @staticmethod
    def key(shot: Shot) -> str:
        return json.dumps([shot.track, str(shot.record_start), str(shot.duration), shot.name])

    def find(self, shot: Shot) -> Path | None:
        name = self.entries.get(self.key(shot))
        path = self.path.parent / "pulls" / name if name else None
        return path if path is not None and path.is_file() else None

    def record(self, shot: Shot, path: Path) -> None:
        self.entries[self.key(shot)] = path.name
        write_record(self.path, dict(self.entries))
