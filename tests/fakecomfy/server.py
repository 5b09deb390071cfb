"""``FakeComfy``: a fake ComfyUI server for tests, speaking the recorded real protocol.

It covers what a real CPU ComfyUI cannot produce on demand: sockets dropped mid-job, a
restart that loses the running job, history written late, slow jobs, out-of-memory and
other runtime errors, plain-text 500 answers, and outputs of any size. Message order,
field names, status codes, content types and empty bodies follow the captures in
``shared/comfyui-captures`` (ComfyUI 0.3.64/0.3.75); ``test_fakecomfy.py`` checks them.

The server runs aiohttp on its own event loop in a daemon thread, on 127.0.0.1 and a
free port, so synchronous and asynchronous tests can use it alike::

    with FakeComfy() as fake:
        fake.node_seconds = 0.2          # every node takes 0.2 s (interruptible)
        fake.oom_next()                  # the next prompt fails with torch OOM
        httpx.post(f"{fake.url}/prompt", json={"prompt": graph, "client_id": "c1"})

Scenario attributes (``node_seconds``, ``step_seconds``, ``steps``, ``previews``,
``history_delay_polls``, ``history_delay_max_seconds``, ``huge_output_bytes``) may be
set from any thread at any time; the server reads them when they matter. Methods run
their work on the server loop and return once it is done.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from tests.fakecomfy.executor import run_worker
from tests.fakecomfy.files import Folders
from tests.fakecomfy.hostile import HostileSwitches
from tests.fakecomfy.nodes import load_object_info
from tests.fakecomfy.routes import build_app, strip_api
from tests.fakecomfy.state import OOM_MESSAGE, OOM_TIPS, OOM_TYPE, Failure, ServerState
from tests.loopthread import CALL_TIMEOUT, LoopThread

T = TypeVar("T")
DEFAULT_MODELS = {"checkpoints": ["tiny-random-sd15.safetensors"]}


class FakeComfy(HostileSwitches, LoopThread):
    """A fake ComfyUI server in a background thread; also a context manager.

    Attributes (scenario knobs):
        node_seconds: sleep inside every executed node; an interrupt cuts it short.
        step_seconds: sleep before each sampler step.
        steps: sampler steps, overriding the ``steps`` input of ``KSampler`` when set.
        previews: send binary preview frames at each sampler step (type 4 to clients
            that negotiated ``supports_preview_metadata``, else legacy type 1), as a
            server started with ``--preview-method`` does.
        history_delay_polls: after a prompt finishes, ``GET /history/{id}`` answers ``{}``
            this many times before the entry appears (the history race); ``status`` and
            ``executing`` null still come after the write, as on the real server.
        history_delay_max_seconds: write the held-back history anyway after this long.
        huge_output_bytes: size of the next ``SaveVideo`` output (a sparse file, so
            neither server memory nor disk grows); reset to None once used.
        basic_auth: ``"user:password"`` that every request and socket must carry as
            basic auth (a reverse proxy in front of ComfyUI); others get a 401.
        bearer_token: a token every request and socket must carry as
            ``Authorization: Bearer <token>`` (an auth plugin, a rented GPU box's
            proxy); others get a 401 with a ``Bearer`` challenge.
    """

    thread_name = "fakecomfy"

    def __init__(
        self,
        *,
        models: dict[str, list[str]] | None = None,
        object_info: dict[str, Any] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__()
        self.node_seconds = 0.0
        self.step_seconds = 0.0
        self.steps: int | None = None
        self.previews = False
        self.history_delay_polls = 0
        self.history_delay_max_seconds = 5.0
        self.huge_output_bytes: int | None = None
        self.basic_auth: str | None = None
        self.bearer_token: str | None = None
        self._models = dict(models if models is not None else DEFAULT_MODELS)
        self._object_info = object_info if object_info is not None else load_object_info()
        self._host = host
        self._port: int | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._folders: Folders | None = None
        self._state: ServerState | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._up = threading.Event()

    # Lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234`` (stable across restarts)."""
        if self._port is None:
            raise RuntimeError("FakeComfy is not started")
        return f"http://{self._host}:{self._port}"

    def ws_url(self, client_id: str | None = None) -> str:
        """WebSocket URL, with ``?clientId=`` when ``client_id`` is given."""
        base = self.url.replace("http://", "ws://", 1) + "/ws"
        return base if client_id is None else f"{base}?clientId={client_id}"

    @property
    def base_dir(self) -> Path:
        """The server's folder holding ``input``, ``output`` and ``temp``."""
        if self._folders is None:
            raise RuntimeError("FakeComfy is not started")
        return self._folders.base

    def start(self) -> FakeComfy:
        """Start listening; return self once requests are accepted."""
        if self._thread is not None:
            raise RuntimeError("FakeComfy is already started")
        self._tempdir = tempfile.TemporaryDirectory(prefix="fakecomfy-")
        self._folders = Folders.create(Path(self._tempdir.name))
        self._start_thread()
        return self

    def stop(self) -> None:
        """Close every connection, stop the thread and delete the server's files."""
        self._stop_thread()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    async def _boot(self) -> None:
        assert self._folders is not None
        self._state = ServerState(self._folders, self._object_info, self._models, self)
        await self._listen(0)
        self._start_tasks()

    async def _listen(self, port: int) -> None:
        assert self._state is not None
        runner = web.AppRunner(build_app(self._state), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self._host, port)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]
        self._up.set()

    def _start_tasks(self) -> None:
        assert self._state is not None
        self._tasks = [
            asyncio.create_task(run_worker(self._state)),
            asyncio.create_task(self._state.publish_forever()),
        ]

    async def _stop_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _go_down(self) -> None:
        assert self._state is not None
        self._up.clear()
        self._state.abort_sockets()
        await self._stop_tasks()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _shutdown(self) -> None:
        await self._go_down()

    async def _restart(self, down_seconds: float) -> None:
        await self._go_down()
        assert self._state is not None and self._port is not None
        self._state.reset()
        if down_seconds > 0:
            self._tasks = [asyncio.create_task(self._come_back(down_seconds))]
            return
        await self._listen(self._port)
        self._start_tasks()

    async def _come_back(self, down_seconds: float) -> None:
        await asyncio.sleep(down_seconds)
        assert self._port is not None
        await self._listen(self._port)
        self._start_tasks()

    # Running work on the server loop ---------------------------------------------------

    def _on_loop(self, action: Callable[[ServerState], T]) -> T:
        """Run ``action(state)`` on the server loop and return its result."""
        loop, state = self._loop, self._state
        if loop is None or state is None:
            raise RuntimeError("FakeComfy is not started")
        if threading.current_thread() is self._thread:
            return action(state)
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                result.set_result(action(state))
            except BaseException as exc:
                result.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return result.result(CALL_TIMEOUT)

    # Scenarios -------------------------------------------------------------------------

    def pause(self) -> None:
        """Keep queued prompts pending (a running prompt finishes normally)."""

        def act(state: ServerState) -> None:
            state.paused = True

        self._on_loop(act)

    def resume(self) -> None:
        """Let the worker take pending prompts again."""

        def act(state: ServerState) -> None:
            state.paused = False
            state.wake.set()

        self._on_loop(act)

    def drop_sockets(self) -> None:
        """Cut every WebSocket connection now, without a close frame; jobs keep running."""
        self._on_loop(lambda state: state.abort_sockets())

    def drop_sockets_after(self, event_count: int) -> None:
        """Cut every WebSocket once ``event_count`` more messages reached some client."""

        def act(state: ServerState) -> None:
            state.drop_after = event_count

        self._on_loop(act)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Simulate a server restart: connections cut, queue, running job and history lost.

        Output files stay (so filename counters go on, as on a real server). With
        ``down_seconds`` the port refuses connections for that long; this call returns
        once the server is down, and :meth:`wait_until_up` waits for its return.
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("FakeComfy is not started")
        asyncio.run_coroutine_threadsafe(self._restart(down_seconds), loop).result(CALL_TIMEOUT)

    def wait_until_up(self, timeout: float = CALL_TIMEOUT) -> None:
        """Block until the server accepts connections again after a restart."""
        if not self._up.wait(timeout):
            raise TimeoutError("FakeComfy did not come back up")

    def get_stuck(self, until: str | None = "until_free") -> None:
        """Ignore interrupts: ``until_free`` (POST /free unsticks it), ``always``, or None."""

        def act(state: ServerState) -> None:
            state.stuck = until

        self._on_loop(act)

    def fail_next(
        self, exception_type: str, exception_message: str, node_id: str | None = None
    ) -> None:
        """Make the next prompt fail with an ``execution_error``.

        The error is raised in ``node_id``, or in the first node that actually executes
        (not cached) when it is None; the arming is used up by the next prompt either way.
        ``exception_message`` is the exception's text: the event carries it followed by a
        newline, as the real server formats it.
        """

        def act(state: ServerState) -> None:
            state.failure = Failure(exception_type, exception_message, node_id)

        self._on_loop(act)

    def oom_next(self, node_id: str | None = None) -> None:
        """Make the next prompt fail with torch's out-of-memory error and ComfyUI's tips."""

        def act(state: ServerState) -> None:
            state.failure = Failure(OOM_TYPE, OOM_MESSAGE, node_id, OOM_TIPS)

        self._on_loop(act)

    def answer_500_text(self, path: str, times: int = 1) -> None:
        """Answer the next ``times`` requests to ``path`` (with or without ``/api``) with
        aiohttp's plain-text ``500 Internal Server Error``."""
        key = strip_api(path)

        def act(state: ServerState) -> None:
            state.fail_paths[key] = state.fail_paths.get(key, 0) + times

        self._on_loop(act)

    # Inspection ------------------------------------------------------------------------

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        """Requests received matching ``method`` (any if None) and ``path_prefix``, with
        or without ``/api`` (e.g. ``count("GET", "/history/")``)."""
        prefix = strip_api(path_prefix)

        def act(state: ServerState) -> int:
            return sum(
                1
                for m, path in state.requests
                if (method is None or m == method) and strip_api(path).startswith(prefix)
            )

        return self._on_loop(act)

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Every request received, as ``(method, path)`` (path without query)."""
        return self._on_loop(lambda state: list(state.requests))

    @property
    def prompts_received(self) -> list[Any]:
        """Every ``POST /prompt`` body that parsed as JSON, valid or not."""
        return self._on_loop(lambda state: list(state.prompts_received))

    @property
    def ws_feature_flags(self) -> dict[str, dict[str, Any]]:
        """The feature flags each client id sent as its first WebSocket message."""
        return self._on_loop(lambda state: dict(state.ws_feature_flags))

    @property
    def connected_clients(self) -> list[str]:
        """Client ids with a registered WebSocket right now."""
        return self._on_loop(lambda state: list(state.sockets))

    @property
    def history(self) -> dict[str, Any]:
        """The written history, keyed by prompt id."""
        return self._on_loop(lambda state: dict(state.history))

    @property
    def queue_remaining(self) -> int:
        """Pending plus running prompts."""
        return self._on_loop(lambda state: state.queue_remaining())

    def wait_until_idle(self, timeout: float = CALL_TIMEOUT) -> None:
        """Block until nothing is pending, running or waiting to be sent."""

        def idle(state: ServerState) -> bool:
            return not state.queue_remaining() and not state.unsent

        deadline = time.monotonic() + timeout
        while not self._on_loop(idle):
            if time.monotonic() > deadline:
                raise TimeoutError("FakeComfy did not become idle")
            time.sleep(0.005)
