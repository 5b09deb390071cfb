"""Hostile answers of the fake server: what a sick server or a bad proxy sends.

The normal answers follow the recorded protocol; these switch a route to a failure the
client must survive (issue 11, item 4: every timeout is a real limit, a download never
writes more than announced, an error body is shown on one line):

* a JSON answer dribbled one byte at a time (``/history/{id}`` that never quite ends);
* ``/view`` with an endless chunked body (no ``Content-Length``), or a body longer than
  its announced ``Content-Length`` (the surplus follows on the keep-alive connection);
* ``/view`` cut once after K bytes of a full-length 200 (the connection aborted), for
  resume tests; the next request is served normally, Range included;
* ``/view`` ignoring ``Range`` (a 200 with the whole file, no ``Accept-Ranges``); by
  default ``/view`` honours it like ComfyUI's ``FileResponse`` (206 + ``Content-Range``);
* an error status with a multi-line text body (a Python traceback, an HTML error page).

:class:`Hostile` holds the switches (on the server loop, in ``ServerState.hostile``);
:class:`~tests.fakecomfy.server.FakeComfy` sets them through its methods.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakecomfy.state import ServerState

T = TypeVar("T")

ViewBody = Literal["file", "endless", "overlong"]
READ_SIZE = 64 * 1024

TRACEBACK_BODY = """Traceback (most recent call last):
  File "/ComfyUI/server.py", line 712, in get_history
    return web.json_response(self.prompt_queue.get_history(prompt_id=prompt_id))
  File "/ComfyUI/execution.py", line 1041, in get_history
    return copy.deepcopy(self.history[prompt_id])
KeyError: 'outputs'
"""

HTML_502_BODY = """<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx/1.24.0</center>
</body>
</html>
"""


def strip_api(path: str) -> str:
    """Return ``path`` without a leading ``/api`` (both forms reach the same handler)."""
    return path[4:] if path == "/api" or path.startswith("/api/") else path


@dataclass
class ErrorAnswer:
    """One injected error answer: status, body and content type."""

    status: int
    body: str
    content_type: str


@dataclass
class Hostile:
    """The hostile switches; each is off by default (the recorded protocol)."""

    dribble_paths: dict[str, float] = field(default_factory=dict)  # prefix -> s per byte
    view_body: ViewBody = "file"
    view_extra_bytes: int = 0
    view_chunk_seconds: float = 0.0  # pause between chunks of an endless body
    view_cut_after: int | None = None
    view_cut_times: int = 0
    view_ignores_range: bool = False
    errors: dict[str, list[ErrorAnswer]] = field(default_factory=dict)  # path -> queue

    def dribble_for(self, path: str) -> float | None:
        """The per-byte pause for ``path`` (``/api`` already stripped), if dribbled."""
        for prefix, seconds in self.dribble_paths.items():
            if path.startswith(prefix):
                return seconds
        return None

    def next_error(self, path: str) -> ErrorAnswer | None:
        """Take the next injected error for ``path``, if any."""
        queue = self.errors.get(path)
        if not queue:
            return None
        answer = queue.pop(0)
        if not queue:
            del self.errors[path]
        return answer

    def view_is_hostile(self) -> bool:
        """Whether ``/view`` of an existing file must go through :func:`serve_view`."""
        cut = self.view_cut_after is not None and self.view_cut_times > 0
        return cut or self.view_body != "file" or self.view_ignores_range


def error_response(answer: ErrorAnswer) -> web.Response:
    """The injected error as a response with its multi-line body."""
    return web.Response(status=answer.status, text=answer.body, content_type=answer.content_type)


async def dribble(request: web.Request, answer: web.Response, seconds: float) -> web.StreamResponse:
    """Send ``answer`` (status, headers, body) one byte every ``seconds``."""
    body = answer.body if isinstance(answer.body, bytes) else b""
    response = web.StreamResponse(status=answer.status, headers=answer.headers)
    response.content_length = len(body)
    await response.prepare(request)
    try:
        for index in range(len(body)):
            await response.write(body[index : index + 1])
            await asyncio.sleep(seconds)
        await response.write_eof()
    except ConnectionError:
        pass  # the client gave up: that is what the dribble is for
    return response


async def serve_view(
    request: web.Request, path: str, headers: dict[str, str], hostile: Hostile
) -> web.StreamResponse:
    """Serve an existing file the hostile way the switches ask for."""
    size = os.path.getsize(path)
    if hostile.view_cut_after is not None and hostile.view_cut_times > 0:
        hostile.view_cut_times -= 1
        return await _cut(request, path, headers, size, hostile.view_cut_after)
    if hostile.view_body == "endless":
        return await _endless(request, headers, hostile.view_chunk_seconds)
    response = web.StreamResponse(headers=headers)
    response.content_length = size
    if hostile.view_body == "overlong":
        # aiohttp truncates a body to its Content-Length; this lifts the check (private
        # attribute, present since aiohttp 3.0) so the surplus really goes out.
        response._length_check = False
    await response.prepare(request)
    try:
        await _copy(response, path, size)
        if hostile.view_body == "overlong":
            await response.write(b"\xee" * hostile.view_extra_bytes)
        await response.write_eof()
    except ConnectionError:
        pass
    return response


async def _copy(response: web.StreamResponse, path: str, limit: int) -> None:
    with open(path, "rb") as source:
        left = limit
        while left > 0:
            block = source.read(min(READ_SIZE, left))
            if not block:
                break
            await response.write(block)
            left -= len(block)


async def _cut(
    request: web.Request, path: str, headers: dict[str, str], size: int, after: int
) -> web.StreamResponse:
    """Announce the whole file, send ``after`` bytes, then close the connection."""
    response = web.StreamResponse(headers=headers)
    response.content_length = size
    await response.prepare(request)
    transport = request.transport
    try:
        await _copy(response, path, min(after, size))
    except ConnectionError:
        return response
    if transport is not None:
        # close() sends what is buffered first, so the client gets exactly ``after``
        # bytes and then the end of the stream, short of the announced length.
        transport.close()
    return response


async def _endless(
    request: web.Request, headers: dict[str, str], pause: float
) -> web.StreamResponse:
    """A chunked body that never ends (until the client leaves or the server stops)."""
    response = web.StreamResponse(headers=headers)
    response.enable_chunked_encoding()
    await response.prepare(request)
    block = b"\x00" * READ_SIZE
    try:
        while True:
            await response.write(block)
            await asyncio.sleep(pause)  # also yields to the rest of the server
    except ConnectionError:
        pass
    return response


class HostileSwitches:
    """The switches as methods of :class:`~tests.fakecomfy.server.FakeComfy` (a mixin).

    Each runs on the server loop and returns once the switch is set; they last until
    changed (``view_normal``, ``dribble(..., None)``), through restarts too.
    """

    def _on_loop(self, action: Callable[[ServerState], T]) -> T:
        raise NotImplementedError

    def dribble(self, path_prefix: str = "/history/", byte_ms: float | None = 50.0) -> None:
        """Send the JSON answers of routes under ``path_prefix`` (``/api`` or not) one
        byte every ``byte_ms`` milliseconds, with the right ``Content-Length``; None stops."""
        key = strip_api(path_prefix)

        def act(state: ServerState) -> None:
            if byte_ms is None:
                state.hostile.dribble_paths.pop(key, None)
            else:
                state.hostile.dribble_paths[key] = byte_ms / 1000.0

        self._on_loop(act)

    def view_endless(self, chunk_ms: float = 0.0) -> None:
        """Serve every existing ``/view`` file as an endless chunked body (no length),
        64 KiB of zeros every ``chunk_ms``; it ends only when the client goes away."""

        def act(state: ServerState) -> None:
            state.hostile.view_body = "endless"
            state.hostile.view_chunk_seconds = chunk_ms / 1000.0

        self._on_loop(act)

    def view_overlong(self, extra_bytes: int) -> None:
        """Serve ``/view`` files announcing their size but sending ``extra_bytes`` more."""

        def act(state: ServerState) -> None:
            state.hostile.view_body = "overlong"
            state.hostile.view_extra_bytes = extra_bytes

        self._on_loop(act)

    def cut_view_after(self, size: int, times: int = 1) -> None:
        """Cut the next ``times`` ``/view`` answers after ``size`` bytes: a 200 announcing
        the whole file (any Range ignored), then the connection closes short of it."""

        def act(state: ServerState) -> None:
            state.hostile.view_cut_after = size
            state.hostile.view_cut_times = times

        self._on_loop(act)

    def view_ignores_range(self, ignore: bool = True) -> None:
        """Answer ``/view`` with a 200 and the whole file whatever ``Range`` asks (by
        default ``Range`` is honoured: 206 and ``Content-Range``, as ComfyUI's aiohttp)."""

        def act(state: ServerState) -> None:
            state.hostile.view_ignores_range = ignore

        self._on_loop(act)

    def view_normal(self) -> None:
        """Serve ``/view`` as the real server does again (clears every ``/view`` switch)."""

        def act(state: ServerState) -> None:
            state.hostile.view_body = "file"
            state.hostile.view_cut_after = None
            state.hostile.view_cut_times = 0
            state.hostile.view_ignores_range = False

        self._on_loop(act)

    def answer_error(
        self,
        path: str,
        status: int = 500,
        body: str = TRACEBACK_BODY,
        content_type: str = "text/plain",
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests to ``path`` (``/api`` or not) with ``status``
        and a multi-line text ``body`` (default a Python traceback; ``HTML_502_BODY`` in
        :mod:`tests.fakecomfy.hostile` is a proxy's error page)."""
        key = strip_api(path)

        def act(state: ServerState) -> None:
            answers = state.hostile.errors.setdefault(key, [])
            answers.extend(ErrorAnswer(status, body, content_type) for _ in range(times))

        self._on_loop(act)
