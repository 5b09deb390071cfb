"""The fake Comfy Cloud's state: jobs, their status vocabularies, sockets and refusals.

Everything here lives on the server loop; :class:`tests.fakecloud.server.FakeCloud`
reaches it through ``_on_loop``. Job states follow PROTOCOL §5.2: the lightweight status
route answers the raw internal state, ``/api/jobs`` the friendly one, API v2 its own
(:attr:`Job.v2_status`); every v2 status change is also kept as an SSE event on the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from tests.fakecloud.v2state import V2State

# Raw internal states, in the order one successful job visits them.
SUBMITTED = "submitted"
PENDING_EXECUTION = "pending_execution"
EXECUTING = "executing"
SUCCESS = "success"
ERROR = "error"
CANCELLED = "cancelled"
TERMINAL = frozenset({SUCCESS, ERROR, CANCELLED})

FRIENDLY = {
    SUBMITTED: "pending",
    PENDING_EXECUTION: "pending",
    EXECUTING: "in_progress",
    SUCCESS: "completed",
    ERROR: "failed",
    CANCELLED: "cancelled",
}

V2_TERMINAL = {SUCCESS: "succeeded", ERROR: "failed", CANCELLED: "canceled"}

OOM_TYPE = "OOMError"
OOM_MESSAGE = "Out of GPU memory. Try a smaller resolution or batch size."


class Knobs(Protocol):
    """The scenario attributes the executor and routes read (set on ``FakeCloud``)."""

    node_seconds: float
    step_seconds: float
    dispatch_seconds: float
    friendly_status: bool
    announce_jobs: bool
    upload_limit_bytes: int
    url_ttl: float
    v2_enabled: bool
    v2_key_refused: bool
    v1_key_refused: bool
    v2_events: str
    v2_answers: str
    v2_upload_limit_bytes: int
    ws_refused: bool


@dataclass
class Failure:
    """An armed runtime failure for the next job (``FakeCloud.fail_next``)."""

    exception_type: str
    exception_message: str
    node_id: str | None = None


@dataclass
class Refusal:
    """A canned answer to the next ``POST /api/prompt`` (402, 429, ...)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Job:
    """One submitted prompt and everything the API reports about it."""

    id: str
    number: int
    prompt: dict[str, Any]
    extra_data: dict[str, Any]
    create_time: float = field(default_factory=time.time)
    update_time: float = field(default_factory=time.time)
    state: str = SUBMITTED
    states: list[str] = field(default_factory=lambda: [SUBMITTED])
    outputs: dict[str, Any] = field(default_factory=dict)
    messages: list[list[Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    interrupt: asyncio.Event = field(default_factory=asyncio.Event)
    # API v2: the graph as submitted (before core/ASSET resolution), flags, live view.
    api: str = "v1"
    submitted: dict[str, Any] | None = None
    cancel_requested: bool = False
    expired: bool = False
    progress: dict[str, Any] | None = None
    preview: dict[str, Any] | None = None
    output_assets: list[str] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    bump: asyncio.Event = field(default_factory=asyncio.Event)
    last_v2: str = "queued"
    last_position: int | None = None

    def move_to(self, state: str) -> None:
        """Enter ``state`` and remember it in :attr:`states`."""
        self.state = state
        self.states.append(state)
        self.update_time = time.time()
        # A job leaving the pending queue for a worker is next: position 0.
        self.sync_status(0 if self.v2_status == "queued" else None)

    @property
    def v2_status(self) -> str:
        """``queued|running|canceling|succeeded|failed|canceled|expired`` (API v2)."""
        if self.expired:
            return "expired"
        if self.state in V2_TERMINAL:
            return V2_TERMINAL[self.state]
        if self.cancel_requested:
            return "canceling"
        return "running" if self.state == EXECUTING else "queued"

    @property
    def v2_terminal(self) -> bool:
        """Whether :attr:`v2_status` can no longer change (expired aside)."""
        return self.v2_status in ("succeeded", "failed", "canceled", "expired")

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        """Keep a v2 SSE event and wake every stream waiting on this job."""
        self.events.append((kind, data))
        self.bump.set()
        self.bump = asyncio.Event()

    def sync_status(self, position: int | None = None) -> None:
        """Emit a ``status`` event when the v2 status or the queue position changed."""
        status = self.v2_status
        if status == self.last_v2 and position == self.last_position:
            return
        self.last_v2, self.last_position = status, position
        self.emit("status", {"status": status, "queue_position": position})

    @property
    def friendly(self) -> str:
        """The ``/api/jobs`` vocabulary for the current state."""
        return FRIENDLY[self.state]

    def output_nodes(self) -> list[str]:
        """Node ids whose outputs the job returns (``SaveImage``/``PreviewImage``)."""
        return [node for node, spec in self.prompt.items() if is_output_node(spec)]

    def workflow(self) -> dict[str, Any]:
        """The submitted graph and extra data, without the partner-node key."""
        extra = {k: v for k, v in self.extra_data.items() if k != "api_key_comfy_org"}
        return {"prompt": self.prompt, "extra_data": extra}

    def status_block(self) -> dict[str, Any]:
        """ComfyUI's ``status`` object as history and job detail carry it."""
        return {
            "status_str": "success" if self.state == SUCCESS else "error",
            "completed": self.state == SUCCESS,
            "messages": self.messages,
        }


def is_output_node(spec: Any) -> bool:
    """Tell whether a prompt node saves images (the fake's only output kind)."""
    return isinstance(spec, dict) and spec.get("class_type") in ("SaveImage", "PreviewImage")


@dataclass
class CloudState:
    """Jobs, the pending queue, open sockets, stored files and recorded requests."""

    api_key: str
    knobs: Knobs
    object_info: dict[str, Any]
    jobs: dict[str, Job] = field(default_factory=dict)
    pending: deque[str] = field(default_factory=deque)
    running: Job | None = None
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    refusals: deque[Refusal] = field(default_factory=deque)
    failure: Failure | None = None
    paused: bool = False
    counter: int = 0
    image_counter: int = 0
    submits: list[Any] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    ws_client_ids: list[str | None] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    unsent: int = 0
    v2: V2State = field(default_factory=V2State)
    deprecated_calls: list[str] = field(default_factory=list)

    def add_job(self, job_id: str, prompt: dict[str, Any], extra: dict[str, Any], **v2: Any) -> Job:
        """Queue a new job at the end of the user's queue and wake the executor.

        ``v2`` sets API v2 fields of :class:`Job` (``api``, ``submitted``).
        """
        self.counter += 1
        job = Job(job_id, self.counter, prompt, extra, **v2)
        self.jobs[job_id] = job
        self.pending.append(job_id)
        self.queue_changed()
        self.wake.set()
        return job

    def queue_remaining(self) -> int:
        """Pending plus running jobs of the user."""
        return len(self.pending) + (1 if self.running is not None else 0)

    def queue_position(self, job: Job) -> int | None:
        """Jobs ahead of a queued ``job`` (0: next, or dispatching); None once it runs."""
        if job.v2_status != "queued":
            return None
        if job.id in self.pending:
            return self.pending.index(job.id) + (1 if self.running is not None else 0)
        return 0

    def queue_changed(self) -> None:
        """Broadcast ``status`` as ComfyUI does on every queue change (and v2 positions)."""
        self.broadcast(
            "status", {"status": {"exec_info": {"queue_remaining": self.queue_remaining()}}}
        )
        for job_id in self.pending:
            job = self.jobs[job_id]
            job.sync_status(self.queue_position(job))

    def queue_item(self, job: Job) -> list[Any]:
        """``[number, prompt_id, workflow, output_node_ids, {create_time ms}]``."""
        meta = {"create_time": int(job.create_time * 1000)}
        return [job.number, job.id, job.prompt, job.output_nodes(), meta]

    def broadcast(self, kind: str, data: dict[str, Any]) -> None:
        """Queue a JSON message for every socket of the user; Cloud ignores ``clientId``."""
        self.unsent += 1
        self.outbox.put_nowait(json.dumps({"type": kind, "data": data}))

    async def publish_forever(self) -> None:
        """Deliver queued messages in order, one at a time, to the sockets open now."""
        while True:
            payload = await self.outbox.get()
            try:
                for ws in list(self.sockets):
                    await _send_quietly(ws, payload)
            finally:
                self.unsent -= 1

    def next_image_name(self) -> str:
        """``ComfyUI_00001_.png``, ``ComfyUI_00002_.png``, ... across all jobs."""
        self.image_counter += 1
        return f"ComfyUI_{self.image_counter:05d}_.png"


async def _send_quietly(ws: web.WebSocketResponse, payload: str) -> None:
    # A socket closing mid-send is dropped by its handler; the other sockets still get it.
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(payload)
