"""Everything the fake server keeps between requests: queue, history, sockets, scenario.

All of it lives on the server's event loop thread; :class:`~tests.fakecomfy.server.FakeComfy`
reaches it from test threads only through that loop. WebSocket messages leave through
one outbox task, like the real server's ``publish_loop``, so their order is the order in
which they were emitted, and a message for a client that is not connected at that
moment is dropped (nothing is replayed).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import struct
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from tests.fakecomfy.files import Folders
from tests.fakecomfy.hostile import Hostile
from tests.fakecomfy.nodes import fill_object_info

SERVER_FEATURES = {"supports_preview_metadata": True, "max_upload_size": 104857600}
OOM_TYPE = "torch.OutOfMemoryError"
OOM_MESSAGE = "Allocation on device 0 would exceed allowed memory. (out of memory)"
OOM_TIPS = (
    "This error means you ran out of memory on your GPU.\n\nTIPS: If the workflow worked "
    "before you might have accidentally set the batch_size to a large number."
)


class Knobs(Protocol):
    """Scenario settings, read by the server at the moment they matter."""

    node_seconds: float
    step_seconds: float
    steps: int | None
    previews: bool
    history_delay_polls: int
    history_delay_max_seconds: float
    huge_output_bytes: int | None
    basic_auth: str | None
    bearer_token: str | None


@dataclass
class QueueEntry:
    """One queued prompt, as the real queue tuple (the sensitive part kept apart)."""

    number: float
    prompt_id: str
    prompt: dict[str, Any]
    extra_data: dict[str, Any]
    outputs: list[str]
    sensitive: dict[str, Any] = field(default_factory=dict)

    def public(self) -> list[Any]:
        """Return the five-element list shown in ``/queue`` and history."""
        return [self.number, self.prompt_id, self.prompt, self.extra_data, self.outputs]


@dataclass
class Failure:
    """A runtime error to raise in the next prompt (``fail_next``/``oom_next``)."""

    exception_type: str
    exception_message: str
    node_id: str | None = None
    tips: str = ""


@dataclass
class CacheEntry:
    """A node's cached result: its output values and its UI (with meta), if any."""

    outputs: tuple[Any, ...]
    ui: dict[str, Any] | None


@dataclass
class Socket:
    """One connected WebSocket and what its client negotiated."""

    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    feature_flags: dict[str, Any] = field(default_factory=dict)
    dropped: bool = False


@dataclass
class PendingHistory:
    """A finished prompt whose history is held back (``history_delay_polls``)."""

    item_id: int
    entry: dict[str, Any]
    polls_left: int
    written: asyncio.Event = field(default_factory=asyncio.Event)


class ServerState:
    """The fake server's mutable state; every method runs on the server loop."""

    def __init__(
        self,
        folders: Folders,
        object_info: dict[str, Any],
        models: dict[str, list[str]],
        knobs: Knobs,
    ) -> None:
        self.folders = folders
        self.base_object_info = object_info
        self.models = models
        self.knobs = knobs
        # Inspection logs survive restarts: they describe what the client did.
        self.requests: list[tuple[str, str]] = []
        self.prompts_received: list[Any] = []
        self.ws_feature_flags: dict[str, dict[str, Any]] = {}
        self.fail_paths: dict[str, int] = {}
        self.hostile = Hostile()
        self.paused = False
        self.wake = asyncio.Event()
        self.outbox: asyncio.Queue[tuple[str | int, Any, str | None]] = asyncio.Queue()
        self.sockets: dict[str, Socket] = {}
        self.open_sockets: list[Socket] = []
        self.drop_after: int | None = None
        # A node stuck in a long call: interrupts are ignored (until POST /free, or ever).
        self.stuck: str | None = None  # None | "until_free" | "always"
        self.unsent = 0
        self.reset()

    def reset(self) -> None:
        """Forget queue, history, cache and execution state (a server restart)."""
        self.queue: list[tuple[float, str, int, QueueEntry]] = []
        self.running: dict[int, QueueEntry] = {}
        self.history: dict[str, dict[str, Any]] = {}
        self.pending_history: dict[str, PendingHistory] = {}
        self.cache: dict[str, CacheEntry] = {}
        self.number = 0
        self.task_counter = 0
        self.sequence = itertools.count()
        self.client_id: str | None = None
        self.last_node_id: str | None = None
        self.interrupt = asyncio.Event()
        self.failure: Failure | None = None
        self.temp_suffixes: dict[str, str] = {}
        while not self.outbox.empty():
            self.outbox.get_nowait()
        self.unsent = 0

    def object_info(self) -> dict[str, Any]:
        """Return ``/object_info`` with model and input-file combos filled in."""
        return fill_object_info(self.base_object_info, self.models, self.folders)

    # Queue -----------------------------------------------------------------------------

    def queue_remaining(self) -> int:
        """Return pending plus running prompts (``exec_info.queue_remaining``)."""
        return len(self.queue) + len(self.running)

    def queue_info(self) -> dict[str, Any]:
        """Return ``{"exec_info": {"queue_remaining": N}}``."""
        return {"exec_info": {"queue_remaining": self.queue_remaining()}}

    def queue_updated(self) -> None:
        """Broadcast ``status``, as the real queue does on every change."""
        self.emit("status", {"status": self.queue_info()}, None)

    def put(self, entry: QueueEntry) -> None:
        """Queue a validated prompt (lowest number runs first)."""
        heapq.heappush(self.queue, (entry.number, entry.prompt_id, next(self.sequence), entry))
        self.queue_updated()
        self.wake.set()

    def take_next(self) -> tuple[int, QueueEntry] | None:
        """Move the next pending prompt to running, unless paused or empty."""
        if self.paused or not self.queue:
            return None
        entry = heapq.heappop(self.queue)[3]
        item_id = self.task_counter
        self.task_counter += 1
        self.running[item_id] = entry
        self.queue_updated()
        return item_id, entry

    def task_done(self, item_id: int, entry: dict[str, Any]) -> None:
        """Write a finished prompt's history and drop it from running."""
        if self.running.pop(item_id, None) is None:
            return
        self.history[entry["prompt"][1]] = entry
        self.queue_updated()

    def wipe_queue(self) -> None:
        """Drop every pending prompt (``POST /queue {"clear": true}``)."""
        self.queue = []
        self.queue_updated()

    def delete_pending(self, prompt_id: Any) -> None:
        """Drop one pending prompt; running ones and unknown ids are ignored."""
        for index, item in enumerate(self.queue):
            if item[1] == prompt_id:
                if len(self.queue) == 1:
                    self.wipe_queue()
                else:
                    self.queue.pop(index)
                    heapq.heapify(self.queue)
                self.queue_updated()
                return

    def lookup_history(self, prompt_id: str) -> dict[str, Any]:
        """Answer ``GET /history/{id}``, counting polls of a held-back entry."""
        pending = self.pending_history.get(prompt_id)
        if pending is not None:
            pending.polls_left -= 1
            if pending.polls_left <= 0:
                # Written after this answer was decided, so the next poll sees it.
                self.pending_history.pop(prompt_id)
                self.task_done(pending.item_id, pending.entry)
                pending.written.set()
            return {}
        if prompt_id in self.history:
            return {prompt_id: self.history[prompt_id]}
        return {}

    # WebSocket -------------------------------------------------------------------------

    def emit(self, event: str | int, data: Any, sid: str | None) -> None:
        """Queue a message: to ``sid`` only, or to every socket when ``sid`` is None."""
        self.unsent += 1
        self.outbox.put_nowait((event, data, sid))

    def supports_preview_metadata(self, sid: str | None) -> bool:
        """Tell whether client ``sid`` negotiated ``supports_preview_metadata``."""
        socket = self.sockets.get(sid) if sid is not None else None
        return socket is not None and socket.feature_flags.get("supports_preview_metadata") is True

    async def publish_forever(self) -> None:
        """Deliver queued messages in order (the real server's ``publish_loop``)."""
        while True:
            event, data, sid = await self.outbox.get()
            try:
                await self.deliver(event, data, sid)
            finally:
                self.unsent = max(0, self.unsent - 1)

    async def deliver(self, event: str | int, data: Any, sid: str | None) -> None:
        """Send one message now; count it toward ``drop_sockets_after``."""
        payload: str | bytes
        if isinstance(event, str):
            payload = json.dumps({"type": event, "data": data})
        else:
            payload = struct.pack(">I", event) + bytes(data)
        if sid is None:
            targets = list(self.sockets.values())
        else:
            targets = [self.sockets[sid]] if sid in self.sockets else []
        delivered = False
        for socket in targets:
            try:
                if isinstance(payload, str):
                    await socket.ws.send_str(payload)
                else:
                    await socket.ws.send_bytes(payload)
                delivered = True
            except (ConnectionError, RuntimeError):
                continue
        if delivered and self.drop_after is not None:
            self.drop_after -= 1
            if self.drop_after <= 0:
                self.abort_sockets()

    def abort_sockets(self) -> None:
        """Cut every WebSocket's TCP connection without a close frame."""
        self.drop_after = None
        for socket in self.open_sockets:
            socket.dropped = True
            if socket.transport is not None:
                socket.transport.abort()
        self.open_sockets.clear()
        self.sockets.clear()
