"""``FakeCloud``: a fake Comfy Cloud (v1 API and API v2) and its storage host, for tests.

Built from ``openapi-cloud.yaml`` and PROTOCOL §5: ``X-API-Key`` on every ``/api/*``
call, ``/ws?token=`` with ``clientId`` ignored (every socket gets every job of the user),
``/api/view`` answering 302 to a storage host on another port that records any request
carrying the key, 402/429 refusals on submit, raw and friendly job statuses.

Both aiohttp apps run on one event loop in a daemon thread on 127.0.0.1, free ports::

    with FakeCloud() as cloud:
        cloud.node_seconds = 0.2
        cloud.queue_limit(times=2)        # two 429 QUEUE_LIMIT answers, then accept
        httpx.post(f"{cloud.url}/api/prompt", json={"prompt": graph},
                   headers={"X-API-Key": cloud.api_key})

Scenario attributes (``node_seconds``, ``step_seconds``, ``dispatch_seconds``,
``friendly_status``, ``announce_jobs``, ``upload_limit_bytes``) may be set from any
thread at any time; methods run their work on the server loop and return when done.

API v2 (``/api/v2/*`` on the same port; ``openapi-v2.yaml``, COMFY-API-V2 §2-7) runs its
jobs through the same executor. ``Authorization: Bearer <key>`` only; 401 ``unauthorized``
otherwise. Knobs (attributes):

* ``v2_enabled`` (True): False makes every ``/api/v2/*`` a plain 404 (a deployment
  without v2).
* ``v2_key_refused`` / ``v1_key_refused`` (False): that API answers 401 to the key the
  other accepts (``v1_key_refused`` covers ``/ws?token=`` too).
* ``ws_refused`` (False): v1's ``/ws`` answers 403 (a proxy passing plain HTTP only).
* ``v2_events`` (``"sse"``): ``"501"`` answers ``not_implemented``; ``"refused"`` a 403
  page; ``"drop"`` cuts the stream after the on-connect snapshot, never sending a
  terminal event.
* ``v2_answers`` (``"ok"``): ``"html"`` answers every v2 call with a 200 captive-portal
  page; ``"v1"`` with 200 v1 bodies (``{"prompt_id": ...}`` to ``POST /api/v2/jobs``).
* ``url_ttl`` (3600): seconds a signed storage URL lives (v2 and ``/api/view``); then 403.
* ``v2_upload_limit_bytes`` (100 MiB): bigger ``POST /api/v2/assets`` answer 413.

Methods: ``v2_refuse(status, code, times=1, retry_after=None)`` for submits (e.g. 402
``insufficient_credits``, 429 ``queue_full``), ``v2_refuse_get(...)`` for
``GET /api/v2/jobs/{id}``, ``drop_submit_answer(times=1)`` (job created, key claimed,
connection cut), ``expire_job(job_id)``. Records: ``v2_submits``, ``asset_uploads``,
``cancels``, ``deprecated_calls`` (v1 ``/api/job/{id}/status`` and ``/api/history_v2``),
``loaded_images(job_id)``. ``oom_next``/``fail_next`` fail a v2 job with
``error.code == "node_execution_error"`` and the exception message.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from tests.fakecloud.billing import ACTIVE_CREATOR, BALANCE, FEATURES
from tests.fakecloud.executor import run_worker
from tests.fakecloud.routes import build_app
from tests.fakecloud.state import OOM_MESSAGE, OOM_TYPE, CloudState, Failure, Refusal
from tests.fakecloud.storage import Storage, StorageRequest
from tests.fakecloud.v2server import V2Scenarios
from tests.fakecomfy.nodes import load_object_info
from tests.loopthread import CALL_TIMEOUT, LoopThread

T = TypeVar("T")
API_KEY = "comfyui-fakecloud-test-key-0123456789abcdef"
UPLOAD_LIMIT = 50 * 1024 * 1024
V2_UPLOAD_LIMIT = 100 * 1024 * 1024

# A graph of the object_info subset that the executor runs for other_user_job().
FOREIGN_PROMPT: dict[str, Any] = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
}


class FakeCloud(V2Scenarios, LoopThread):
    """A fake Comfy Cloud plus storage host in a background thread; a context manager.

    Attributes (scenario knobs):
        node_seconds: sleep inside every node; an interrupt cuts it short.
        step_seconds: sleep before each ``progress`` step (nodes with ``steps``).
        dispatch_seconds: time a job spends in ``pending_execution``.
        friendly_status: ``/api/job/{id}/status`` answers ``pending``/``in_progress``/
            ``completed``/``failed`` instead of the raw internal states.
        announce_jobs: broadcast a ``notification`` message when a job starts.
        upload_limit_bytes: ``/api/upload/image`` refuses bigger images with 400.
        url_ttl, v2_enabled, v2_key_refused, v1_key_refused, v2_events, v2_answers,
        v2_upload_limit_bytes: API v2 knobs (see the module docstring).
        billing_status, billing_balance, features, billing_delay: the account routes
            (:mod:`tests.fakecloud.billing`; None answers 404).
    """

    thread_name = "fakecloud"

    def __init__(self, *, api_key: str = API_KEY, host: str = "127.0.0.1") -> None:
        super().__init__()
        self.api_key = api_key
        self.node_seconds = 0.005
        self.step_seconds = 0.0
        self.dispatch_seconds = 0.0
        self.friendly_status = False
        self.announce_jobs = True
        self.upload_limit_bytes = UPLOAD_LIMIT
        self.url_ttl: float = 3600
        self.v2_enabled = True
        self.v2_key_refused = False
        self.v1_key_refused = False
        self.v2_events = "sse"
        self.ws_refused = False
        self.v2_answers = "ok"
        self.v2_upload_limit_bytes = V2_UPLOAD_LIMIT
        # The account routes (tests.fakecloud.billing): None answers 404.
        self.billing_status: dict[str, Any] | None = dict(ACTIVE_CREATOR)
        self.billing_balance: dict[str, Any] | None = dict(BALANCE)
        self.features: dict[str, Any] | None = dict(FEATURES)
        self.billing_delay = 0.0
        self._host = host
        self._ports: tuple[int, int] | None = None
        self._state: CloudState | None = None
        self._storage: Storage | None = None
        self._runners: list[web.AppRunner] = []
        self._tasks: list[asyncio.Task[None]] = []

    # Lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """API base URL, e.g. ``http://127.0.0.1:41234`` (routes start with ``/api``)."""
        if self._ports is None:
            raise RuntimeError("FakeCloud is not started")
        return f"http://{self._host}:{self._ports[0]}"

    @property
    def storage_url(self) -> str:
        """Storage host base URL, on a different port from :attr:`url`."""
        if self._ports is None:
            raise RuntimeError("FakeCloud is not started")
        return f"http://{self._host}:{self._ports[1]}"

    def ws_url(self, client_id: str | None = None, token: str | None = None) -> str:
        """``ws://.../ws`` with ``clientId`` and ``token`` (the API key unless given)."""
        base = self.url.replace("http://", "ws://", 1) + "/ws"
        query = f"token={token if token is not None else self.api_key}"
        if client_id is not None:
            query = f"clientId={client_id}&{query}"
        return f"{base}?{query}"

    @property
    def headers(self) -> dict[str, str]:
        """``{"X-API-Key": api_key}``, for requests made by tests."""
        return {"X-API-Key": self.api_key}

    @property
    def v2_headers(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <api_key>"}``, for v2 requests made by tests."""
        return {"Authorization": f"Bearer {self.api_key}"}

    async def _boot(self) -> None:
        state = CloudState(self.api_key, self, load_object_info())
        storage = Storage(self.api_key, state.files)
        api_port = await self._listen(build_app(state, storage))
        storage_port = await self._listen(storage.build_app())
        storage.base_url = f"http://{self._host}:{storage_port}"
        self._state, self._storage = state, storage
        self._ports = (api_port, storage_port)
        self._tasks = [
            asyncio.create_task(run_worker(state)),
            asyncio.create_task(state.publish_forever()),
        ]

    async def _listen(self, app: web.Application) -> int:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self._host, 0)
        await site.start()
        self._runners.append(runner)
        port: int = runner.addresses[0][1]
        return port

    async def _shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._state is not None:
            for ws in list(self._state.sockets):
                await ws.close()
        for runner in self._runners:
            await runner.cleanup()
        self._runners = []

    def _on_loop(self, action: Callable[[CloudState, Storage], T]) -> T:
        """Run ``action(state, storage)`` on the server loop and return its result."""
        loop, state, storage = self._loop, self._state, self._storage
        if loop is None or state is None or storage is None:
            raise RuntimeError("FakeCloud is not started")
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                result.set_result(action(state, storage))
            except BaseException as exc:
                result.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return result.result(CALL_TIMEOUT)

    # Scenarios -------------------------------------------------------------------------

    def refuse_submits(
        self,
        status: int,
        body: dict[str, Any],
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` ``POST /api/prompt`` with ``status`` and ``body``."""
        refusal = Refusal(status, body, dict(headers or {}))
        self._on_loop(lambda state, _: state.refusals.extend([refusal] * times))

    def insufficient_credits(self, times: int = 1) -> None:
        """402 ``PAYMENT_REQUIRED`` "Insufficient credits" on the next submits."""
        body = {"error": {"type": "PAYMENT_REQUIRED", "message": "Insufficient credits"}}
        self.refuse_submits(402, body, times=times)

    def subscription_required(self, times: int = 1) -> None:
        """429 ``CLOUD_SUBSCRIPTION_REQUIRED`` (a plan refusal, not retryable)."""
        message = "An active subscription is required to use the API"
        body = {"error": {"type": "CLOUD_SUBSCRIPTION_REQUIRED", "message": message}}
        self.refuse_submits(429, body, times=times)

    def queue_limit(self, times: int = 1, retry_after: str | None = "1") -> None:
        """429 ``QUEUE_LIMIT`` with ``Retry-After`` (retryable) ``times`` times, then accept."""
        body = {"error": {"type": "QUEUE_LIMIT", "message": "Too many queued workflows"}}
        headers = {"Retry-After": retry_after} if retry_after is not None else None
        self.refuse_submits(429, body, times=times, headers=headers)

    def fail_next(self, exception_type: str, message: str, node_id: str | None = None) -> None:
        """Make the next job fail with ``execution_error`` in ``node_id`` (else its first)."""
        failure = Failure(exception_type, message, node_id)

        def act(state: CloudState, _: Storage) -> None:
            state.failure = failure

        self._on_loop(act)

    def oom_next(self, node_id: str | None = None) -> None:
        """Make the next job fail with Cloud's ``OOMError``."""
        self.fail_next(OOM_TYPE, OOM_MESSAGE, node_id)

    def other_user_job(self, prompt: dict[str, Any] | None = None) -> str:
        """Queue a job the test did not submit (same user); return its prompt id.

        Its messages reach every socket, so a client sees a foreign ``prompt_id``.
        """
        job_id = str(uuid.uuid4())
        graph = prompt if prompt is not None else FOREIGN_PROMPT
        self._on_loop(lambda state, _: state.add_job(job_id, graph, {}))
        return job_id

    def notify(self, value: str) -> None:
        """Broadcast a ``notification`` message with ``value`` to every socket."""
        self._on_loop(lambda state, _: state.broadcast("notification", {"value": value}))

    def pause(self) -> None:
        """Keep queued jobs in ``submitted`` (a running job finishes normally)."""

        def act(state: CloudState, _: Storage) -> None:
            state.paused = True

        self._on_loop(act)

    def resume(self) -> None:
        """Let the executor take queued jobs again."""

        def act(state: CloudState, _: Storage) -> None:
            state.paused = False
            state.wake.set()

        self._on_loop(act)

    # Inspection ------------------------------------------------------------------------

    @property
    def storage_violations(self) -> list[str]:
        """Every way a storage request carried the API key (should stay empty)."""
        return self._on_loop(lambda _, storage: list(storage.violations))

    def take_storage_violations(self) -> list[str]:
        """Return the violations and forget them (for tests that leak on purpose)."""

        def act(_: CloudState, storage: Storage) -> list[str]:
            taken, storage.violations = storage.violations, []
            return taken

        return self._on_loop(act)

    @property
    def storage_requests(self) -> list[StorageRequest]:
        """Every request the storage host received, with its headers."""
        return self._on_loop(lambda _, storage: list(storage.requests))

    @property
    def requests(self) -> list[tuple[str, str, dict[str, str]]]:
        """Every API request as ``(method, path, headers)``."""
        return self._on_loop(lambda state, _: list(state.requests))

    @property
    def submits(self) -> list[Any]:
        """Every ``POST /api/prompt`` body that parsed, refused or not."""
        return self._on_loop(lambda state, _: list(state.submits))

    @property
    def ws_client_ids(self) -> list[str | None]:
        """The ``clientId`` of every accepted WebSocket, in connection order."""
        return self._on_loop(lambda state, _: list(state.ws_client_ids))

    @property
    def uploads(self) -> dict[str, bytes]:
        """Stored files by name: uploads and generated outputs."""
        return self._on_loop(lambda state, _: dict(state.files))

    def job_states(self, job_id: str) -> list[str]:
        """The raw states a job went through, in order."""
        return self._on_loop(lambda state, _: list(state.jobs[job_id].states))

    def wait_until_idle(self, timeout: float = CALL_TIMEOUT) -> None:
        """Block until no job is pending or running and every message went out."""
        deadline = time.monotonic() + timeout
        while True:

            def busy(state: CloudState, _: Storage) -> bool:
                return bool((state.pending and not state.paused) or state.running or state.unsent)

            if not self._on_loop(busy):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("FakeCloud did not become idle")
            time.sleep(0.01)
