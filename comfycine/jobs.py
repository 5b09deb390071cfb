"""Run one job: upload inputs → submit → follow events → read history → download → record.

``generate``, ``wait`` (and later batch and watch) all go through :class:`JobRunner`:
one code path for one job. The socket is opened before the POST so no event is missed;
``/history`` is the source of truth for outputs; after a dropped socket the runner
reconnects with the same client id and reconciles through ``/history`` and ``/queue``.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from .errors import (
    ComfycineError,
    JobFailed,
    JobInterrupted,
    JobLost,
    StillRunning,
    recordable,
)
from .journal import Journal
from .ledger import JobRecord
from .progress import JobProgress
from .sanitize import clean_text
from .transport import ComfyClient, HistoryEntry, OutputRef
from .transport import events as ev
from .transport.downloads import download_output, output_path
from .transport.eventstream import EventStream, StreamDropped
from .transport.uploads import upload_media

# Without any event for this long, ask /history and /queue directly (missed events,
# a proxy that swallowed the socket); cheap on the server.
SILENCE_RECONCILE = 5.0
# How long to keep reconnecting a dropped socket before giving up on the server.
RECONNECT_WINDOW = 30.0
# execution_success is sent before history is written (PROTOCOL.md §2.6, race 1).
# After execution_success, how long to wait for `executing` null (sent once history is
# written) before asking /history directly.
END_MARKER_GRACE = 1.0
HISTORY_RETRIES = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5)

Observer = Callable[[JobProgress, ev.Event | None], None]


def new_ids() -> tuple[str, str]:
    """A fresh (prompt_id, client_id) pair."""
    return str(uuid.uuid4()), uuid.uuid4().hex


def _is_oom(exception_type: str, message: str) -> bool:
    text = message.lower()
    return (
        exception_type.endswith("OutOfMemoryError")
        or exception_type == "OOMError"
        or "out of memory" in text
        or "allocation on device" in text
    )


def failure_from_payload(payload: dict[str, Any], titles: dict[str, str]) -> JobFailed:
    """The error for an ``execution_error`` payload (from the socket or from history)."""
    exc_type = str(payload.get("exception_type") or "Exception")
    message = clean_text(str(payload.get("exception_message") or "").strip())
    node = str(payload.get("node_id") or "")
    node_type = str(payload.get("node_type") or "")
    where = f"node {node} ({titles.get(node) or node_type})" if node else "the workflow"
    first_line = message.splitlines()[0] if message else exc_type
    details = {
        "node": node or None,
        "class_type": node_type or None,
        "exception_type": exc_type,
        "exception_message": message,
        "traceback": [clean_text(str(t)) for t in payload.get("traceback") or ()][-8:],
    }
    if _is_oom(exc_type, message):
        return JobFailed(
            f"Out of GPU memory in {where}: {first_line}",
            code="out_of_memory",
            hint="Lower the resolution or frame count (--set width=… --set frames=…) "
            "and render again.",
            details=details,
        )
    return JobFailed(f"{where} failed: {exc_type}: {first_line}", details=details)


@dataclass
class JobOutcome:
    """What a followed job ended with."""

    record: JobRecord
    outputs: list[Path] = field(default_factory=list)
    history: HistoryEntry | None = None


@dataclass
class _Follow:
    """Mutable state while following one prompt."""

    progress: JobProgress
    terminal: ev.Event | None = None
    # execution_success/error/interrupted came: history follows within milliseconds and
    # `executing` null announces it, so wait for that marker until this loop time.
    ending_until: float | None = None
    error_payload: dict[str, Any] | None = None
    interrupted: bool = False


class JobRunner:
    """Submits and follows jobs on one server, recording everything in the ledger."""

    def __init__(
        self,
        client: ComfyClient,
        ledger: Journal,
        *,
        target: str = "local",
        output_dir: Path,
        observer: Observer | None = None,
        reconnect_window: float = RECONNECT_WINDOW,
        silence_reconcile: float = SILENCE_RECONCILE,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.target = target
        self.output_dir = output_dir
        self.observer = observer
        self.reconnect_window = reconnect_window
        self.silence_reconcile = silence_reconcile

    # ----------------------------------------------------------------- submitting

    async def open_stream(self, client_id: str) -> EventStream:
        """Connect the socket first: nothing the server sends after the POST is lost."""
        stream = EventStream(self.client.base_url, client_id, query=self.client.ws_query())
        await stream.connect()
        return stream

    async def upload_media(self, media: dict[str, Path]) -> dict[str, str]:
        """Upload each media file; map parameter → the name the server gave it."""

        def uploading(path: Path) -> None:
            self._notify(JobProgress(job_id="", phase="uploading", detail=path.name))

        return await upload_media(self.client, media, on_file=uploading)

    async def record(
        self,
        graph: dict[str, Any],
        *,
        prompt_id: str,
        client_id: str,
        template: str | None,
        params: dict[str, Any],
        seeds: dict[str, int],
        batch_id: str | None = None,
        source_path: str | None = None,
        item_key: str | None = None,
    ) -> JobRecord:
        """Write the job into the ledger before anything is sent (status ``submitting``).

        Then :meth:`post` it. Recording first means a crash between the two leaves a
        trace that ``wait`` and ``status`` can reconcile with the server.
        """
        return await self.ledger.add(
            JobRecord(
                id=prompt_id,
                client_id=client_id,
                target=self.target,
                server_url=self.client.base_url,
                template=template,
                params=params,
                seeds=seeds,
                graph=graph,
                status="submitting",
                pid=os.getpid(),
                batch_id=batch_id,
                source_path=source_path,
                item_key=item_key,
            )
        )

    async def post(self, record: JobRecord) -> JobRecord:
        """POST a recorded job; mark it queued, or failed if the server refuses it."""
        try:
            answer = await self.client.submit(
                record.graph, prompt_id=record.id, client_id=record.client_id
            )
        except ComfycineError as exc:
            await self.ledger.mark(record.id, "failed", error=recordable(exc))
            raise
        remote_id = str(answer.get("prompt_id") or record.id)
        if remote_id != record.id:
            # A server that picks its own id (Comfy Cloud may): follow and record that one.
            record = replace(await self.ledger.rename(record.id, remote_id), status="submitting")
        extra = {"number": answer.get("number")}
        if answer.get("node_errors"):
            # A 200 with node_errors: some outputs were dropped by validation.
            extra["node_errors"] = answer["node_errors"]
        # Written only if the job is still going shortly (quick jobs skip the write).
        self.ledger.mark_later(record.id, "queued", extra=extra, submitted_at=time.time())
        return replace(record, status="queued", extra=extra)

    # ------------------------------------------------------------------ following

    def _notify(self, progress: JobProgress, event: ev.Event | None = None) -> None:
        if self.observer is not None:
            self.observer(progress, event)

    async def follow(
        self,
        record: JobRecord,
        stream: EventStream | None = None,
        *,
        timeout: float | None = None,
        download: bool = True,
        attach: bool = True,
    ) -> JobOutcome:
        """Follow a submitted job to its end, then collect its outputs.

        Raises :class:`StillRunning` when ``timeout`` passes first (the job goes on),
        :class:`JobFailed` and subclasses when it failed, was interrupted or was lost.
        ``attach=False`` skips the first look at the server when the stream was opened
        before the submission (nothing can have been missed).
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        owns_stream = stream is None
        if stream is None:
            stream = EventStream(
                self.client.base_url, record.client_id, query=self.client.ws_query()
            )
            await stream.connect()
        titles = node_titles(record.graph)
        state = _Follow(JobProgress.start(record.id, record.graph, record.started_at))
        try:
            history = await self._reconcile(record, state) if attach else None
            while history is None and state.terminal is None:
                wait = self.silence_reconcile
                if state.ending_until is not None:
                    wait = state.ending_until - loop.time()
                    if wait <= 0:
                        break  # no end marker (older or cloud server): ask history
                elif deadline is not None:
                    wait = min(wait, deadline - loop.time())
                    if wait <= 0:
                        raise self._still_running(record, state)
                try:
                    # asyncio.timeout, not wait_for: no task per frame (dozens per job).
                    async with asyncio.timeout(wait):
                        event = await stream.recv()
                except TimeoutError:
                    if state.ending_until is None:
                        history = await self._reconcile(record, state)
                    continue
                except StreamDropped:
                    await stream.reconnect(loop.time() + self.reconnect_window)
                    history = await self._reconcile(record, state, after_drop=True)
                    continue
                if event is not None:
                    await self._handle(record, state, event)
        finally:
            if owns_stream:
                await stream.close()
        if history is None:
            history = await self._history_with_retry(record.id)
        return await self._finish(record, state, history, titles, download=download)

    async def _handle(self, record: JobRecord, state: _Follow, event: ev.Event) -> None:
        prompt_id = ev.event_prompt_id(event)
        if isinstance(event, ev.Status):
            # Only worth a /queue request when others may be ahead of us.
            if state.progress.phase == "queued" and event.queue_remaining > 1:
                await self._update_position(record, state)
            return
        if isinstance(event, ev.Executing) and prompt_id is None and event.node is not None:
            # Sent right after a reconnect, without prompt_id: ours if we are running.
            if state.progress.phase == "running":
                state.progress.enter_node(event.node)
                self._notify(state.progress, event)
            return
        if prompt_id is not None and prompt_id != record.id:
            return  # another client's job (Comfy Cloud sends every job of the user)
        if isinstance(event, ev.ExecutionStart):
            self.ledger.mark_later(record.id, "running", started_at=time.time())
        if isinstance(event, ev.ExecutionError):
            state.error_payload = event.data
        if isinstance(event, ev.ExecutionInterrupted):
            state.interrupted = True
        if isinstance(event, ev.TERMINAL_EVENTS) and event.prompt_id == record.id:
            state.ending_until = asyncio.get_running_loop().time() + END_MARKER_GRACE
        elif ev.ends_prompt(event, record.id):
            state.terminal = event
        state.progress.apply(event)
        self._notify(state.progress, event)

    async def _update_position(self, record: JobRecord, state: _Follow) -> None:
        queue = await self.client.queue()
        position = queue.position(record.id)
        if position is not None and position != state.progress.queue_position:
            state.progress.queue_position = position
            self._notify(state.progress)

    async def _reconcile(
        self, record: JobRecord, state: _Follow, *, after_drop: bool = False
    ) -> HistoryEntry | None:
        """Ask the server where the job is; history if finished, else None (still going)."""
        history = await self.client.history(record.id)
        if history is not None:
            return history
        if await self.client.job_in_flight(record.id):
            return None  # Comfy Cloud's status route: queued or running, keep following
        queue = await self.client.queue()
        position = queue.position(record.id)
        if position is not None:
            if position == 0 and state.progress.phase == "queued":
                state.progress.phase = "running"
                self.ledger.mark_later(record.id, "running", started_at=time.time())
            state.progress.queue_position = position
            self._notify(state.progress)
            return None
        # Neither history nor queue: either it finished between our two requests, or
        # the server lost it (restart wipes both). One more history look tells.
        history = await self._history_with_retry(record.id)
        if history is not None:
            return history
        lost = JobLost(
            f"Job {record.id[:8]} is no longer on {self.client.base_url}: neither queued, "
            "running nor in history. The server probably restarted"
            + (" while we were disconnected." if after_drop else "."),
            details={"job": record.id},
        )
        await self.ledger.mark(record.id, "lost", error=recordable(lost))
        raise lost

    async def _history_with_retry(self, prompt_id: str) -> HistoryEntry | None:
        for delay in HISTORY_RETRIES:
            if delay:
                await asyncio.sleep(delay)
            history = await self.client.history(prompt_id)
            if history is not None:
                return history
        return None

    def _still_running(self, record: JobRecord, state: _Follow) -> StillRunning:
        return StillRunning(
            f"Job {record.id[:8]} is still {state.progress.phase}.",
            hint=f"Wait again with: comfycine wait {record.id[:8]}",
            details={"job": record.id, "progress": state.progress.to_dict()},
        )

    # ----------------------------------------------------------------- collecting

    async def _finish(
        self,
        record: JobRecord,
        state: _Follow,
        history: HistoryEntry | None,
        titles: dict[str, str],
        *,
        download: bool,
    ) -> JobOutcome:
        if history is None:
            # Terminal event seen but history never written (server restarted right then).
            if state.error_payload is not None:
                raise await self._fail(record, failure_from_payload(state.error_payload, titles))
            if state.interrupted:
                raise await self._fail(record, _interrupted(record), status="interrupted")
            lost = JobLost(f"Job {record.id[:8]} finished but the server kept no history of it.")
            raise await self._fail(record, lost, status="lost")
        if history.interrupted:
            raise await self._fail(record, _interrupted(record), status="interrupted")
        if history.status != "success":
            payload = history.last_message("execution_error") or state.error_payload or {}
            raise await self._fail(record, failure_from_payload(payload, titles))
        refs = [ref for ref in history.outputs if ref.type == "output"]
        remote = [r.to_dict() for r in history.outputs]
        paths: list[Path] = []
        if download:
            try:
                paths = await self.download_all(record, refs)
            except JobFailed as exc:
                raise await self._fail(record, exc, remote_outputs=remote) from None
        final = await self.ledger.mark(
            record.id,
            "succeeded",
            outputs=[str(p) for p in paths],
            remote_outputs=remote,
            extra={**record.extra, **_timing(history)},
        )
        self._notify(state.progress.finished())
        return JobOutcome(final, paths, history)

    async def download_all(self, record: JobRecord, refs: list[OutputRef]) -> list[Path]:
        """Download every output file of a job, in history order."""
        day = date.fromtimestamp(record.created_at or time.time())
        template = record.template or "job"
        paths: list[Path] = []
        for index, ref in enumerate(refs, start=1):
            self._notify(JobProgress(job_id=record.id, phase="downloading", detail=ref.filename))
            target = output_path(self.output_dir, template, record.id, index, ref, day)
            paths.append(await download_output(self.client, ref, target))
        return paths

    async def _fail(
        self, record: JobRecord, error: JobFailed, *, status: str = "failed", **fields: Any
    ) -> JobFailed:
        error.details.setdefault("job", record.id)
        await self.ledger.mark(record.id, status, error=recordable(error), **fields)
        return error


def _interrupted(record: JobRecord) -> JobInterrupted:
    return JobInterrupted(
        f"Job {record.id[:8]} was interrupted on the server.",
        hint=f"Render it again with: comfycine generate {record.template or 'TEMPLATE'}",
    )


def node_titles(graph: dict[str, Any]) -> dict[str, str]:
    """Node id → its title (or class), to name nodes in messages."""
    titles: dict[str, str] = {}
    for node_id, node in graph.items():
        if isinstance(node, dict):
            meta = node.get("_meta") or {}
            titles[str(node_id)] = str(meta.get("title") or node.get("class_type") or node_id)
    return titles


def _timing(history: HistoryEntry) -> dict[str, Any]:
    """Server-side timestamps (ms) of the run, for benchmarks and ``status``."""
    start = history.last_message("execution_start") or {}
    end = history.last_message("execution_success") or {}
    out: dict[str, Any] = {}
    if isinstance(start.get("timestamp"), int):
        out["server_start_ms"] = start["timestamp"]
    if isinstance(end.get("timestamp"), int):
        out["server_end_ms"] = end["timestamp"]
    return out
