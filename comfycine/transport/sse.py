"""A Comfy API v2 job's live events (``GET /api/v2/jobs/{id}/events``, server-sent events).

The stream is per job, authenticated by header (no key in a URL), and replays nothing:
on connect it sends the current ``status``, the latest ``progress`` and the last
``preview``, and it ends after the terminal ``status`` (COMFY-API-V2.md §4.5). Its
frames are turned into the same events the ComfyUI socket gives
(:mod:`~comfycine.transport.events`), so the job runner follows either the same way;
:class:`JobEventStream` has the socket's interface (``connect``, ``recv``, ``close``,
:class:`~.eventstream.StreamDropped` when it ends). ``GET /api/v2/jobs/{id}`` stays the
authority: a terminal status here only tells the runner to go and read it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ..errors import ComfycineError, SocketRefused
from . import events as ev
from .eventstream import OPEN_TIMEOUT, StreamDropped
from .failures import map_http_errors
from .v2answers import TERMINAL, error_body

# How long the stream may take to answer its headers.
CONNECT_BOUND = 2 * OPEN_TIMEOUT


class StreamNotServed(SocketRefused):
    """The server does not stream events (501 ``not_implemented``): poll instead, for good."""

    code = "events_not_served"


def parse_sse(lines: list[str]) -> tuple[str, str] | None:
    """One SSE message (its lines, without the blank line) as ``(event, data)``.

    Comment lines (``:``) are skipped; several ``data:`` lines join with newlines
    (the SSE rules); a message without data is None.
    """
    kind, data = "message", []
    for line in lines:
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            kind = value
        elif field == "data":
            data.append(value)
    return (kind, "\n".join(data)) if data else None


def to_events(job_id: str, kind: str, data: Any, state: dict[str, Any]) -> list[ev.Event]:
    """The socket-style events one v2 SSE message stands for (``state`` is per stream)."""
    if not isinstance(data, dict):
        return []
    out: list[ev.Event] = []
    if kind == "status":
        status = str(data.get("status") or "")
        if status in {"running", "canceling"} and not state.get("started"):
            state["started"] = True
            out.append(ev.ExecutionStart(job_id))
        if status in TERMINAL:
            # The end marker: the runner then reads the job itself (outputs, error).
            out.append(ev.Executing(job_id, None))
    elif kind == "progress":
        if not state.get("started"):
            state["started"] = True
            out.append(ev.ExecutionStart(job_id))
        node = data.get("current_node")
        if isinstance(node, str) and node and node != state.get("node"):
            state["node"] = node
            out.append(ev.Executing(job_id, node))
        step, steps = data.get("step"), data.get("steps")
        if isinstance(step, int) and isinstance(steps, int) and steps > 0:
            out.append(ev.Progress(job_id, state.get("node"), step, steps))
    elif kind == "output":
        node = data.get("node_id")
        if isinstance(node, str) and node:
            out.append(ev.Executed(job_id, node))
    elif kind == "preview":
        encoded = data.get("data_base64")
        if isinstance(encoded, str):
            with contextlib.suppress(ValueError):
                image = base64.b64decode(encoded, validate=True)
                mime = str(data.get("content_type") or "image/jpeg")
                node = data.get("node_id")
                out.append(
                    ev.PreviewImage(mime, image, job_id, node if isinstance(node, str) else None)
                )
    return out


class JobEventStream:
    """One job's SSE stream, read as socket-style events."""

    def __init__(self, http: httpx.AsyncClient, url: str, job_id: str, label: str) -> None:
        self._http = http
        self._url = url
        self.job_id = job_id
        self._label = label
        self._stack: contextlib.AsyncExitStack | None = None
        self._lines: AsyncIterator[str] | None = None
        self._pending: deque[ev.Event] = deque()
        self._state: dict[str, Any] = {}

    async def connect(self) -> None:
        """Open the stream; :class:`StreamNotServed` (501), :class:`SocketRefused` otherwise.

        Only ``text/event-stream`` counts as open: a 200 page from a proxy that does not
        pass streams is a refusal, polling takes over.
        """
        stack = contextlib.AsyncExitStack()
        try:
            async with asyncio.timeout(CONNECT_BOUND):
                with map_http_errors(self._label):
                    request = self._http.build_request(
                        "GET",
                        self._url,
                        headers={"Accept": "text/event-stream", "Cache-Control": "no-cache"},
                        # Silence between frames is normal: the follower bounds each wait.
                        timeout=httpx.Timeout(OPEN_TIMEOUT, read=None),
                    )
                    response = await self._http.send(request, stream=True)
                    stack.push_async_callback(response.aclose)
                    if response.status_code != 200 or "text/event-stream" not in (
                        response.headers.get("content-type", "")
                    ):
                        await response.aread()
                        raise self._refused(response)
        except TimeoutError:
            await stack.aclose()
            raise SocketRefused(
                f"{self._label}'s event stream did not open in {CONNECT_BOUND:.0f} s.",
                details={"reason": "timeout"},
            ) from None
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        self._lines = response.aiter_lines()

    def _refused(self, response: httpx.Response) -> ComfycineError:
        code, message, _ = error_body(response)
        status = response.status_code
        details = {"status": status, "type": code}
        if status == 501 or code == "not_implemented":
            return StreamNotServed(
                f"{self._label} does not serve live job events (HTTP 501).",
                details={**details, "permanent": True},
            )
        if status in {401, 403}:
            details["auth"] = True
        return SocketRefused(
            f"{self._label} refused the job's event stream (HTTP {status}"
            f"{', ' + code if code else ''}){': ' + message if message else ''}.",
            details=details,
        )

    async def recv(self) -> ev.Event | None:
        """The next event; ``None`` for a message of no interest; StreamDropped at its end."""
        if self._pending:
            return self._pending.popleft()
        if self._lines is None:
            raise StreamDropped("not connected")
        message: list[str] = []
        try:
            while True:
                line = await anext(self._lines)
                if line:
                    message.append(line)
                    continue
                parsed = parse_sse(message)
                message = []
                if parsed is None:
                    continue
                kind, text = parsed
                try:
                    data = json.loads(text)
                except ValueError:
                    continue
                self._pending.extend(to_events(self.job_id, kind, data, self._state))
                if self._pending:
                    return self._pending.popleft()
                return None
        except (StopAsyncIteration, httpx.HTTPError) as exc:
            raise StreamDropped(str(exc) or "the event stream ended") from None

    async def close(self) -> None:
        """Close the stream (idempotent)."""
        stack, self._stack, self._lines = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()
