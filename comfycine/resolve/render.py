"""Render each shot's record range from the Resolve timeline into the exchange folder.

One render job per shot, through the documented Project calls: ``SetCurrentRenderMode(1)``
(single clip), ``SetCurrentRenderFormatAndCodec(format, codec)``, ``SetRenderSettings``
with ``SelectAllFrames: False``, ``MarkIn``/``MarkOut`` (absolute timeline frames, both
included), ``TargetDir`` and ``CustomName``, then ``AddRenderJob()``; all started at once
with ``StartRendering([ids])``, followed with ``IsRenderingInProgress()`` and
``GetRenderJobStatus(id)`` until each job ends or the wait does, and deleted with
``DeleteRenderJob(id)`` whatever happened. The project's render mode and format/codec
are put back afterwards (its other render settings have no documented getter).

A pull is the timeline as it plays over the shot's range: every enabled track, the
grade, speed changes and effects. The job status keys (``JobStatus`` with ``Ready``,
``Rendering``, ``Complete``, ``Failed``, ``Cancelled``; ``CompletionPercentage``;
``Error``) are not in the README; they are what Resolve answers (seb26/renderwatch).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..conform.shots import Shot
from .errors import ResolveRenderFailed
from .rates import frames_at
from .timeline import ResolveObject, TimelineInfo

PRORES_422_HQ = "ProRes422HQ"  # the codec name GetRenderCodecs("mov") gives "Apple ProRes 422 HQ"
SINGLE_CLIP = 1
DONE = {"Complete", "Failed", "Cancelled"}
SAFE = re.compile(r"[^A-Za-z0-9._-]+")

Progress = Callable[[Shot, float], None]


@dataclass(frozen=True)
class Clock:
    """How the wait sleeps and tells time (tests pass fakes that never sleep)."""

    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], float] = time.monotonic


def pull_stem(shot: Shot) -> str:
    """``003-shot010``: the order on the timeline, then a file-safe clip name."""
    stem = SAFE.sub("_", Path(shot.name).stem).strip("._") or "clip"
    return f"{shot.index:03d}-{stem[:60]}"


def record_range(shot: Shot, info: TimelineInfo) -> tuple[int, int]:
    """The shot's first and last absolute timeline frames (MarkIn, MarkOut)."""
    first = info.start_frame + frames_at(shot.record_start, info.rate)
    return first, first + max(1, frames_at(shot.duration, info.rate)) - 1


def free_name(folder: Path, stem: str) -> str:
    """``stem``, or ``stem-2``... when a file of that name (any extension) exists:
    renders never overwrite."""
    name, number = stem, 1
    while any(folder.glob(f"{glob_escape(name)}.*")):
        number += 1
        name = f"{stem}-{number}"
    return name


def glob_escape(text: str) -> str:
    """``text`` with glob's special characters taken literally."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def render_pulls(
    project: ResolveObject,
    info: TimelineInfo,
    shots: Sequence[Shot],
    folder: Path,
    *,
    format: str = "mov",
    codec: str = PRORES_422_HQ,
    timeout: float = 3600.0,
    poll: float = 1.0,
    clock: Clock | None = None,
    on_progress: Progress | None = None,
) -> list[Path]:
    """Render every shot's record range to ``folder``; the files, in shot order.

    The timeline rendered is the project's current one (the caller makes it so).
    Raises ResolveRenderFailed: ``resolve_busy`` when Resolve is already rendering,
    ``resolve_render_refused`` when it refuses a setting or a job,
    ``resolve_render_timeout`` when the jobs outlast ``timeout`` seconds (rendering is
    stopped), ``resolve_render_failed`` listing each job that did not complete.
    """
    clock = clock or Clock()
    if not shots:
        return []
    if project.IsRenderingInProgress():
        raise ResolveRenderFailed(
            "Resolve is already rendering; comfycine will not queue its pulls beside it.",
            hint="Wait for the Deliver page's render to finish, then send again.",
            code="resolve_busy",
        )
    folder.mkdir(parents=True, exist_ok=True)
    mode = project.GetCurrentRenderMode()
    current = project.GetCurrentRenderFormatAndCodec() or {}
    jobs: list[tuple[Shot, str, str]] = []  # shot, job id, file stem
    try:
        _refuse_unless(project.SetCurrentRenderMode(SINGLE_CLIP), "single-clip render mode")
        if not project.SetCurrentRenderFormatAndCodec(format, codec):
            codecs = project.GetRenderCodecs(format) or {}
            raise ResolveRenderFailed(
                f"Resolve refused the render format {format!r} with codec {codec!r}.",
                hint="Choose a codec Resolve lists for that format (details.codecs).",
                code="resolve_render_refused",
                details={"format": format, "codec": codec, "codecs": dict(codecs)},
            )
        for shot in shots:
            mark_in, mark_out = record_range(shot, info)
            name = free_name(folder, pull_stem(shot))
            settings = {
                "SelectAllFrames": False,
                "MarkIn": mark_in,
                "MarkOut": mark_out,
                "TargetDir": str(folder),
                "CustomName": name,
                "ExportVideo": True,
                "ExportAudio": False,
            }
            _refuse_unless(project.SetRenderSettings(settings), f"render settings for {name}")
            job = project.AddRenderJob()
            _refuse_unless(job, f"a render job for {name}")
            jobs.append((shot, str(job), name))
        _refuse_unless(project.StartRendering([job for _, job, _ in jobs]), "starting the render")
        statuses = _wait(project, jobs, timeout, poll, clock, on_progress)
    finally:
        for _, job, _ in jobs:
            project.DeleteRenderJob(job)
        if current.get("format") and current.get("codec"):
            project.SetCurrentRenderFormatAndCodec(current["format"], current["codec"])
        if mode is not None:
            project.SetCurrentRenderMode(mode)
    return _collect(folder, format, jobs, statuses)


def _refuse_unless(answer: Any, what: str) -> None:
    if not answer:
        raise ResolveRenderFailed(
            f"Resolve refused {what}.",
            hint="Open the Deliver page in Resolve to see why, then send again.",
            code="resolve_render_refused",
        )


def _wait(
    project: ResolveObject,
    jobs: list[tuple[Shot, str, str]],
    timeout: float,
    poll: float,
    clock: Clock,
    on_progress: Progress | None,
) -> dict[str, dict[str, Any]]:
    """Poll until every job has ended and Resolve stopped rendering, or ``timeout``."""
    deadline = clock.now() + timeout
    while True:
        rendering = bool(project.IsRenderingInProgress())
        statuses = {job: dict(project.GetRenderJobStatus(job) or {}) for _, job, _ in jobs}
        if on_progress is not None:
            for shot, job, _ in jobs:
                on_progress(shot, float(statuses[job].get("CompletionPercentage") or 0))
        ended = all(status.get("JobStatus") in DONE for status in statuses.values())
        if ended and not rendering:
            return statuses
        if clock.now() >= deadline:
            project.StopRendering()
            waiting = [
                f"{name} ({statuses[job].get('JobStatus') or 'no status'})"
                for _, job, name in jobs
                if statuses[job].get("JobStatus") not in DONE
            ]
            raise ResolveRenderFailed(
                f"Resolve had not rendered the pulls after {timeout:g} s "
                f"(stopped; still waiting for {', '.join(waiting)}).",
                hint="Send again with a longer --timeout, or check the Deliver page.",
                code="resolve_render_timeout",
                details={"timeout": timeout, "statuses": statuses},
            )
        clock.sleep(poll)


def _collect(
    folder: Path, format: str, jobs: list[tuple[Shot, str, str]], statuses: dict[str, Any]
) -> list[Path]:
    """The rendered files in shot order; ResolveRenderFailed naming the jobs that failed."""
    paths: list[Path] = []
    failed: list[dict[str, Any]] = []
    for shot, job, name in jobs:
        status = statuses.get(job) or {}
        found = _rendered_file(folder, name, format)
        if status.get("JobStatus") == "Complete" and found is not None:
            paths.append(found)
            continue
        failed.append(
            {
                "shot": shot.index,
                "name": name,
                "status": status.get("JobStatus"),
                "error": status.get("Error") or ("no file written" if found is None else None),
            }
        )
    if failed:
        lines = [
            f"{entry['name']}: {entry['status'] or 'no status'}"
            + (f" ({entry['error']})" if entry["error"] else "")
            for entry in failed
        ]
        raise ResolveRenderFailed(
            f"Resolve did not render {len(failed)} of {len(jobs)} pull(s): " + "; ".join(lines),
            details={"failed": failed, "rendered": [str(path) for path in paths]},
        )
    return paths


def _rendered_file(folder: Path, name: str, format: str) -> Path | None:
    expected = folder / f"{name}.{format}"
    if expected.is_file():
        return expected
    # A format whose extension differs from its name (mxf_op1a → .mxf).
    found = sorted(path for path in folder.glob(f"{glob_escape(name)}.*") if path.is_file())
    return found[0] if len(found) == 1 else None
