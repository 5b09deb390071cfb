"""``GET /api/v2/jobs/{id}/events``: the fake Cloud's SSE stream (spec §4.5).

On connect: the current ``status`` (``{status, queue_position}``), the latest
``progress`` snapshot and the last ``preview``, if any; then each new event of the job as
the executor emits it: ``status`` on every transition and queue move, ``progress``,
``preview``, ``output`` (an ``Output``, freshly signed). The terminal ``status`` carries
the whole ``Job`` (a superset of ``StatusEvent``: outputs and error included) and ends
the stream. No event ids, no replay. A ``: keep-alive`` comment goes out after
:data:`KEEPALIVE` seconds of silence.

With ``drop`` (``v2_events = "drop"``) the connection is cut right after the on-connect
snapshot, never with a terminal event: a stream that dies mid-job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

from tests.fakecloud.state import CloudState, Job
from tests.fakecloud.storage import Storage
from tests.fakecloud.v2shapes import job_body, output_body

KEEPALIVE = 5.0


def frame(kind: str, data: dict[str, Any]) -> bytes:
    """One SSE frame: ``event:`` line, one ``data:`` line of JSON, blank line."""
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


def _render(
    state: CloudState, storage: Storage, job: Job, kind: str, data: dict[str, Any]
) -> tuple[bytes, bool]:
    """The frame for a stored event and whether it is the terminal one."""
    if kind == "output":
        asset = state.v2.assets[data["asset_id"]]
        return frame("output", output_body(state, storage, asset)), False
    if kind == "status" and data["status"] in ("succeeded", "failed", "canceled", "expired"):
        return frame("status", job_body(state, storage, job)), True
    return frame(kind, data), False


def _snapshot(state: CloudState, storage: Storage, job: Job) -> list[tuple[bytes, bool]]:
    """The frames a client gets on connect."""
    if job.v2_terminal:
        return [(frame("status", job_body(state, storage, job)), True)]
    status = {"status": job.v2_status, "queue_position": state.queue_position(job)}
    frames = [(frame("status", status), False)]
    if job.progress is not None:
        frames.append((frame("progress", job.progress), False))
    if job.preview is not None:
        frames.append((frame("preview", job.preview), False))
    return frames


async def stream_events(
    state: CloudState, storage: Storage, job: Job, request: web.Request, *, drop: bool
) -> web.StreamResponse:
    """Serve the job's event stream until its terminal ``status`` (or the client leaves)."""
    # Snapshot and cursor are taken together, before any await, so no event falls between.
    snapshot = _snapshot(state, storage, job)
    seen = len(job.events)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        for payload, terminal in snapshot:
            if terminal and drop:
                break
            await response.write(payload)
            if terminal:
                return response
        if drop:
            _cut(request)
            return response
        while True:
            # Take the wake-up event before writing: events emitted meanwhile set it.
            wake = job.bump
            while seen < len(job.events):
                kind, data = job.events[seen]
                seen += 1
                payload, terminal = _render(state, storage, job, kind, data)
                await response.write(payload)
                if terminal:
                    return response
            try:
                await asyncio.wait_for(wake.wait(), KEEPALIVE)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
    except ConnectionError:
        return response


def _cut(request: web.Request) -> None:
    """Close the connection without ending the chunked body (an abrupt drop)."""
    transport = request.transport
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.close()
