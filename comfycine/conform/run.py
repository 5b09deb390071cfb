"""``conform`` as a library call: a timeline's clips through a template, and back.

Flow: read the timeline (:mod:`comfycine.timeline`) → list its clips, relink the
offline ones → choose the shots → cut each shot's source range into a pull
(:mod:`.pulls`) → render the pulls on the batch machinery (pipelined, resumable,
several targets) → fit, deliver and check each render (:mod:`.finish`) → write the
timeline back in its own format with the results on a new track, and a QC report.

The original timeline is only ever read. Everything written is new: a name that
exists gets ``-2``; the work folder (pulls, deliveries) lives in the data directory,
so the same command run again resumes instead of rendering twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..batch.run import NotifyHook, run_batch
from ..batch.runner import EventHook
from ..errors import UsageError
from ..ledger import Ledger
from ..settings import Settings
from .finish import Deliveries, finish_shot, video_output
from .pulls import Pull, conform_id, make_pulls, plan_pulls
from .result import ConformedShot, ConformResult, not_writable
from .shots import Placement, Shot

DELIVERIES = ("render", "h264", "prores", "dnxhr", "png")
# ``render`` keeps the render's own encoding (remuxed with the timecode) when no fit
# is needed; the media layer calls that ``copy``.
MEDIA_KIND = {"render": "copy"}


@dataclass(frozen=True)
class RenderOptions:
    """How the pulls are rendered and delivered (the batch's options and the QC's)."""

    template: str
    prompt: str | None = None
    assignments: Sequence[str] = ()
    input_param: str | None = None
    targets: Sequence[str] | None = None
    concurrency: str | int | None = None
    retry_failed: bool = False
    validate: bool = True
    allow_spend: bool = False
    deliver: str = "render"
    strict_length: bool = False
    black_seconds: float = 0.5
    frozen_seconds: float = 1.0


def check_deliver(deliver: str) -> str:
    """The delivery format, checked (UsageError naming the choices)."""
    wanted = deliver.strip().lower()
    if wanted not in DELIVERIES:
        raise UsageError(
            f"--deliver takes {', '.join(DELIVERIES)}; got {deliver!r}.",
            hint="e.g. --deliver prores (ProRes 422 HQ), --deliver png (a PNG sequence)",
            code="invalid_parameter",
        )
    return wanted


def output_folder(
    settings: Settings, source: Path, template: str, given: Path | str | None
) -> Path:
    """Where results go: ``--output``, else ``<exchange>/output/<timeline>-<template>``."""
    if given is not None:
        return Path(os.path.expanduser(str(given))).absolute()
    return settings.exchange_dir / "output" / f"{source.stem}-{template}"


async def render_shots(
    settings: Settings,
    shots: list[Shot],
    options: RenderOptions,
    work: Path,
    out_dir: Path,
    *,
    dry_run: bool = False,
    on_event: EventHook | None = None,
    notify: NotifyHook | None = None,
) -> tuple[list[ConformedShot], list[Placement], dict[str, Any] | None]:
    """Pull, render, fit, deliver and check ``shots``; offline ones are reported.

    Returns each shot's outcome, the placements for the new track (in shot order) and
    the render batch's totals. TargetUnreachable, CloudAccountError, ConsentRequired
    and Interrupted come from the batch as they are (nothing half-written).
    """
    done = [ConformedShot(shot) for shot in shots]
    for item in done:
        if item.shot.media is None:
            item.status, item.error = "offline", "media_offline"
            item.reason = f"media {item.shot.media_name!r} not found"
    online = [item for item in done if item.status != "offline"]
    if not online:
        return done, [], None
    if dry_run:  # the frames each shot would take, read off the media: nothing cut or sent
        planned = await asyncio.to_thread(plan_pulls, [i.shot for i in online], work / "pulls")
        for item, pull in zip(online, planned, strict=True):
            item.pull = pull
        return done, [], None
    try:
        pulls = await asyncio.to_thread(make_pulls, [i.shot for i in online], work / "pulls")
    except OSError as exc:
        raise not_writable(exc, f"the clips' pulls in {work}") from exc
    placements, batch = await render_pulls(
        settings,
        list(zip(online, pulls, strict=True)),
        options,
        work,
        out_dir,
        dry_run=dry_run,
        on_event=on_event,
        notify=notify,
    )
    return done, placements, batch


async def render_pulls(
    settings: Settings,
    pairs: list[tuple[ConformedShot, Pull]],
    options: RenderOptions,
    work: Path,
    out_dir: Path,
    *,
    dry_run: bool = False,
    on_event: EventHook | None = None,
    notify: NotifyHook | None = None,
) -> tuple[list[Placement], dict[str, Any]]:
    """Render pulls already made (all in one folder) and finish each shot in place.

    The Resolve bridge comes in here with the pulls Resolve rendered.
    """
    folder = pairs[0][1].path.parent
    by_path = {pull.path.name: (item, pull) for item, pull in pairs}
    for item, pull in pairs:
        item.pull = pull
    batch = await run_batch(
        settings,
        folder,
        options.template,
        prompt=options.prompt,
        assignments=options.assignments,
        input_param=options.input_param,
        targets=options.targets,
        concurrency=options.concurrency,
        retry_failed=options.retry_failed,
        dry_run=dry_run,
        validate=options.validate,
        on_event=on_event,
        notify=notify,
        allow_spend=options.allow_spend,
    )
    placements: list[Placement] = []
    deliveries = Deliveries(work / "delivered.json")
    kind = MEDIA_KIND.get(options.deliver, options.deliver)
    thresholds = (options.black_seconds, options.frozen_seconds)
    with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
        for batch_item in batch.items:
            pair = by_path.get(batch_item.path.name)
            if pair is None:
                continue  # a file in the pulls folder that is not one of these shots
            item, pull = pair
            item.job, item.target = batch_item.job, batch_item.target
            if dry_run:
                continue
            if batch_item.status != "succeeded" or batch_item.job is None:
                item.status = "failed"
                item.error = batch_item.error or batch_item.status
                item.reason = batch_item.reason
                continue
            render = video_output(batch_item.outputs)
            if render is None:
                item.status, item.error = "qc_failed", "no_video_output"
                item.reason = (
                    f"{options.template} made no video for this shot "
                    f"({', '.join(Path(o).name for o in batch_item.outputs) or 'no file'})"
                )
                continue
            item.render = str(render)
            record = ledger.get(batch_item.job)
            placement = await asyncio.to_thread(
                finish_shot,
                item,
                pull,
                render,
                record,
                template=options.template,
                out_dir=out_dir,
                deliver=kind,
                strict_length=options.strict_length,
                thresholds=thresholds,
                deliveries=deliveries,
            )
            if placement is not None:
                placements.append(placement)
    placements.sort(key=lambda p: p.shot.index)
    return placements, batch.to_dict() | {"items": None}


async def run_conform(
    settings: Settings,
    timeline: Path | str,
    options: RenderOptions,
    *,
    selection: Any = None,
    span: str | None = None,
    relink: Path | str | None = None,
    skip_offline: bool = False,
    rate: str | None = None,
    output: Path | str | None = None,
    dry_run: bool = False,
    on_event: EventHook | None = None,
    notify: NotifyHook | None = None,
    on_plan: Callable[[ConformResult], Awaitable[None] | None] | None = None,
) -> ConformResult:
    """Conform the chosen clips of ``timeline`` through ``options.template``.

    Raises UsageError (exit 2) before anything is sent for an unreadable timeline, a
    selection matching nothing, or offline media (unless ``skip_offline``); returns
    the result otherwise (see ``ConformResult.failure`` for shots not conformed).
    """
    from ..timeline.formats import read_timeline
    from ..timeline.selection import Selection, parse_span, select
    from ..timeline.shots import list_shots

    started = time.monotonic()
    source = Path(os.path.expanduser(str(timeline))).absolute()
    deliver = check_deliver(options.deliver)
    doc = await asyncio.to_thread(read_timeline, source, rate=rate)
    relink_dir = Path(os.path.expanduser(str(relink))).absolute() if relink else None
    listing = await asyncio.to_thread(list_shots, doc, relink=relink_dir)
    chosen_by: Any = selection or Selection(None, None, None, None, None)
    if span:
        chosen_by = _with_span(chosen_by, parse_span(span, doc.rate, doc.start))
    shots = select(listing.shots, chosen_by)
    offline = [s for s in shots if s.media is None]
    if offline and not skip_offline:
        raise UsageError(
            f"{len(offline)} of {len(shots)} clip(s) have no media on this Mac: "
            + ", ".join(f"{s.name} ({s.media_name})" for s in offline[:5])
            + ("…" if len(offline) > 5 else "")
            + ".",
            hint="Point at the folder holding them with --relink FOLDER, or conform the "
            "others with --skip-offline.",
            code="media_offline",
            details={"offline": [s.media_name for s in offline]},
        )
    out_dir = output_folder(settings, source, options.template, output)
    work = settings.data_dir / "conform" / conform_id(source, shots)
    result = ConformResult(
        source,
        doc.adapter,
        options.template,
        [],
        deliver,
        dry_run=dry_run,
        skipped=list(listing.skipped),
    )
    result.notes.extend(getattr(doc, "notes", []) or [])
    done, placements, batch = await render_shots(
        settings,
        shots,
        options,
        work,
        out_dir,
        dry_run=dry_run,
        on_event=on_event,
    )
    result.shots, result.batch = done, batch
    if dry_run:
        return result
    try:
        await asyncio.to_thread(_write_outputs, result, doc, placements, out_dir)
    except OSError as exc:
        raise not_writable(exc, f"the timeline and QC report in {out_dir}") from exc
    result.seconds = round(time.monotonic() - started, 3)
    await notify_end(notify, result)
    return result


async def notify_end(notify: NotifyHook | None, result: ConformResult) -> None:
    """The end-of-conform notice; a notice that cannot be sent never fails the conform."""
    if notify is None:
        return
    with contextlib.suppress(Exception):
        await notify(result.summary(), result.to_dict())


def _with_span(selection: Any, span: Any) -> Any:
    from dataclasses import replace

    return replace(selection, span=span)


def _write_outputs(
    result: ConformResult, doc: Any, placements: list[Placement], out_dir: Path
) -> None:
    """The timeline with the new track (when anything was conformed) and the QC report."""
    from ..media.qc import write_report
    from ..timeline.writeback import write_back

    out_dir.mkdir(parents=True, exist_ok=True)
    if placements:
        suffix = ".fcpxml" if result.source.suffix.lower() == ".fcpxmld" else result.source.suffix
        written = write_back(
            doc,
            placements,
            out_dir / f"{result.source.stem}.comfycine{suffix}",
            track_name=f"comfycine {result.template}",
        )
        result.timeline = str(written.path)
        result.notes.extend(written.notes)
        if result.source.suffix.lower() == ".fcpxmld":
            result.notes.append(
                "Written as a plain .fcpxml file (Final Cut imports it like the bundle)."
            )
    report = out_dir / f"{result.source.stem}.qc.json"
    result.qc_report = str(write_report(result.to_dict(), report))


def conform(
    settings: Settings, timeline: Path | str, options: RenderOptions, **kw: Any
) -> ConformResult:
    """:func:`run_conform` in a fresh event loop (the CLI's entry point)."""
    return asyncio.run(run_conform(settings, timeline, options, **kw))


def qc_text(result: ConformResult) -> str:
    """The QC report as JSON text (what ``write_report`` is given)."""
    return json.dumps(result.to_dict(), indent=1)
