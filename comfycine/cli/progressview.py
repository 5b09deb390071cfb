"""The live progress line of a running job, drawn on stderr.

On a terminal: one Rich status line (queue position, current node by title, sampler
step x/y, elapsed). Off a terminal: nothing, unless NDJSON events were asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from comfycine.cli.render import Output

if TYPE_CHECKING:
    from rich.live import Live

    from comfycine.progress import JobProgress
    from comfycine.transport.events import Event


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def describe(progress: JobProgress) -> str:
    """One line of text for a snapshot."""
    job = progress.job_id[:8]
    if progress.phase == "notice":
        return progress.detail or ""
    if progress.phase == "uploading":
        return f"uploading {progress.detail or ''}"
    if progress.phase == "downloading":
        return f"{job} downloading {progress.detail or ''}"
    if progress.phase == "queued":
        ahead = progress.queue_position
        where = f"{ahead} job{'s' if ahead != 1 else ''} ahead" if ahead else "next"
        return f"{job} queued ({where}){_polling(progress)} {_clock(progress.elapsed)}"
    if progress.phase == "done":
        return f"{job} done {_clock(progress.elapsed)}"
    parts = [f"{job} running{_polling(progress)}"]
    if progress.node_title:
        parts.append(f"{progress.node_title} (#{progress.node})")
    if progress.steps:
        parts.append(f"step {progress.step}/{progress.steps}")
    if progress.nodes_total:
        parts.append(f"[{progress.nodes_done}/{progress.nodes_total} nodes]")
    parts.append(_clock(progress.elapsed))
    if progress.stalled:
        parts.append(f"no progress for {_clock(progress.stalled)}")
    return "  ".join(parts)


def _polling(progress: JobProgress) -> str:
    return " (polling: no live progress)" if progress.transport == "poll" else ""


def _notice_payload(progress: JobProgress) -> dict[str, Any]:
    return {
        "schema": "comfycine/event/1",
        "event": "stalled" if progress.stalled else "notice",
        "job": progress.job_id or None,
        "message": progress.detail,
    }


def _event_payload(progress: JobProgress, event: Event | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"schema": "comfycine/event/1", "progress": progress.to_dict()}
    if event is not None:
        payload["event"] = type(event).__name__
    return payload


class ProgressView:
    """An observer for :class:`comfycine.jobs.JobRunner` that draws progress."""

    def __init__(self, output: Output, *, events: bool = False, enabled: bool = True) -> None:
        self.output = output
        self.events = events
        self.enabled = enabled and not events and output.rich_stderr
        self._live: Live | None = None
        self._last_event_line: str | None = None
        self._progress: JobProgress | None = None

    def __call__(self, progress: JobProgress, event: Event | None) -> None:
        if progress.phase == "notice":
            # Outages, polling, stalls: a line of its own, on every kind of stderr.
            if self.events:
                self.output.event(_notice_payload(progress))
            else:
                self.output.info(describe(progress))
            return
        if self.events:
            # Progress events only: previews and unknown noise are not worth a line.
            line = describe(progress)
            if line != self._last_event_line or event is not None:
                self._last_event_line = line
                self.output.event(_event_payload(progress, event))
            return
        if not self.enabled:
            return
        self._progress = progress
        if self._live is None:
            from rich.live import Live

            # The live display re-renders this object 4×/s, so the elapsed clock ticks.
            self._live = Live(
                self, console=self.output.console, refresh_per_second=4, transient=True
            )
            self._live.start()

    def __rich__(self) -> Any:
        from rich.markup import escape
        from rich.text import Text

        if self._progress is None:
            return Text("")
        return Text.from_markup(f"[cyan]•[/] {escape(describe(self._progress))}")

    def close(self) -> None:
        """Remove the live line."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __enter__(self) -> ProgressView:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
