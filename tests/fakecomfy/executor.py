"""The prompt worker: runs queued prompts one at a time and emits the real message sequence.

For each prompt, as ComfyUI 0.3.75 does (captures 01, 02, 06, 12, 13, 15, 22):
``execution_start``, ``execution_cached``, then per scheduled node ``progress_state``
(running), ``executing``, sampler ``progress_state``/``progress`` (+ binary previews),
``executed`` for nodes with a UI, ``progress_state`` (finished); then
``execution_success``, or ``execution_error``/``execution_interrupted``; then the history
write and its ``status``; and last ``executing`` with ``node: null``.

Routing follows the real server: execution messages go only to the prompt's
``client_id`` (none at all without one), while ``progress``, ``progress_state``,
``execution_interrupted`` and previews are broadcast when there is no ``client_id``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
import struct
import time
import traceback
from typing import Any

from tests.fakecomfy.graph import ExecutionOrder, cache_keys, is_link
from tests.fakecomfy.nodes import (
    EXECUTORS,
    SAMPLER_CLASSES,
    NodeContext,
    change_token,
    format_value,
    preview_jpeg,
)
from tests.fakecomfy.state import (
    CacheEntry,
    Failure,
    PendingHistory,
    QueueEntry,
    ServerState,
)

logger = logging.getLogger(__name__)

PREVIEW_IMAGE = 1
PREVIEW_IMAGE_WITH_METADATA = 4


class Interrupted(Exception):
    """The interrupt flag was seen while ``node_id`` ran."""

    def __init__(self, node_id: str) -> None:
        super().__init__(node_id)
        self.node_id = node_id


class InjectedFailure(Exception):
    """The exception a node raises for ``fail_next``/``oom_next``."""


class NodeFailed(Exception):
    """A node raised; ``details`` holds the ``execution_error`` fields it produced."""

    def __init__(self, details: dict[str, Any]) -> None:
        super().__init__(details["exception_message"])
        self.details = details


def _now_ms() -> int:
    return int(time.time() * 1000)


def _full_type_name(kind: type) -> str:
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


async def run_worker(state: ServerState) -> None:
    """Run queued prompts forever, lowest ``number`` first, one at a time."""
    while True:
        taken = state.take_next()
        if taken is None:
            state.wake.clear()
            await state.wake.wait()
            continue
        item_id, entry = taken
        run = PromptRun(state, entry)
        try:
            await run.execute()
        except Exception:
            # A bug in the fake must not silently stop the worker and hang every test.
            logger.exception("fake ComfyUI failed to execute prompt %s", entry.prompt_id)
            run.success = False
        await _finish(state, item_id, entry, run)


async def _finish(state: ServerState, item_id: int, entry: QueueEntry, run: PromptRun) -> None:
    """Write history (perhaps late, for the history race), then send ``executing`` null."""
    record: dict[str, Any] = {
        "prompt": copy.deepcopy(entry.public()),
        "outputs": {},
        "status": {
            "status_str": "success" if run.success else "error",
            "completed": run.success,
            "messages": run.messages,
        },
    }
    record["outputs"] = {node: ui["output"] for node, ui in run.ui.items()}
    record["meta"] = {node: ui["meta"] for node, ui in run.ui.items()}
    polls = state.knobs.history_delay_polls
    if polls > 0:
        pending = PendingHistory(item_id, record, polls)
        state.pending_history[entry.prompt_id] = pending
        try:
            await asyncio.wait_for(pending.written.wait(), state.knobs.history_delay_max_seconds)
        except TimeoutError:
            if state.pending_history.get(entry.prompt_id) is pending:
                del state.pending_history[entry.prompt_id]
    state.task_done(item_id, record)
    if state.client_id is not None:
        state.emit("executing", {"node": None, "prompt_id": entry.prompt_id}, state.client_id)


class PromptRun:
    """One execution of one prompt."""

    def __init__(self, state: ServerState, entry: QueueEntry) -> None:
        self.state = state
        self.entry = entry
        self.prompt = entry.prompt
        self.prompt_id = entry.prompt_id
        self.client_id: str | None = entry.extra_data.get("client_id")
        self.info = state.object_info()
        self.messages: list[list[Any]] = []
        self.success = True
        self.ui: dict[str, dict[str, Any]] = {}
        self.executed: dict[str, None] = {}
        self.progress: dict[str, dict[str, Any]] = {}
        self.values: dict[str, tuple[Any, ...]] = {}
        self.keys: dict[str, str] = {}
        self.failure: Failure | None = None

    def add_message(self, event: str, data: dict[str, Any], broadcast: bool) -> None:
        """Record a status message for history and send it (the executor's add_message)."""
        data = {**data, "timestamp": _now_ms()}
        self.messages.append([event, data])
        if self.client_id is not None or broadcast:
            self.state.emit(event, data, self.client_id)

    async def execute(self) -> None:
        """Run every scheduled node, then record success, error or interruption."""
        state = self.state
        state.interrupt.clear()
        state.client_id = self.client_id
        self.failure, state.failure = state.failure, None
        self.add_message("execution_start", {"prompt_id": self.prompt_id}, broadcast=False)
        tokens = {
            node: change_token(spec["class_type"], spec["inputs"], state.folders)
            for node, spec in self.prompt.items()
        }
        self.keys = cache_keys(self.prompt, tokens)
        live = set(self.keys.values())
        state.cache = {key: value for key, value in state.cache.items() if key in live}
        cached = [node for node in self.prompt if self.keys[node] in state.cache]
        self.add_message(
            "execution_cached", {"nodes": cached, "prompt_id": self.prompt_id}, broadcast=False
        )
        order = ExecutionOrder(self.prompt, self._is_output, self._is_cached)
        for output in self.entry.outputs:
            order.add_node(output)
        try:
            while not order.is_empty():
                node = order.next_node()
                await self._run_node(node)
                order.complete(node)
                await asyncio.sleep(0)  # let HTTP handlers in between nodes
        except Interrupted as stop:
            self.success = False
            data = self._failure_base(stop.node_id)
            self.add_message("execution_interrupted", data, broadcast=True)
        except NodeFailed as failed:
            self.success = False
            data = self._failure_base(failed.details["node_id"])
            data |= {key: value for key, value in failed.details.items() if key != "node_id"}
            data["current_outputs"] = list(self.prompt)
            self.add_message("execution_error", data, broadcast=False)
        else:
            self.add_message("execution_success", {"prompt_id": self.prompt_id}, broadcast=False)
        state.last_node_id = None

    def _failure_base(self, node_id: str) -> dict[str, Any]:
        return {
            "prompt_id": self.prompt_id,
            "node_id": node_id,
            "node_type": self.prompt[node_id]["class_type"],
            "executed": list(self.executed),
        }

    def _is_output(self, node_id: str) -> bool:
        return self.info[self.prompt[node_id]["class_type"]].get("output_node") is True

    def _is_cached(self, node_id: str) -> bool:
        return self.keys[node_id] in self.state.cache

    async def _run_node(self, node: str) -> None:
        state = self.state
        cached = state.cache.get(self.keys[node])
        if cached is not None:
            # Like the real server, a cached UI reaches history only when a client listens.
            if self.client_id is not None:
                output = (cached.ui or {}).get("output")
                state.emit("executed", self._node_data(node, output=output), self.client_id)
                if cached.ui is not None:
                    self.ui[node] = cached.ui
            self._finish_progress(node)
            self.values[node] = cached.outputs
            return
        class_type = self.prompt[node]["class_type"]
        self._set_progress(node, "running", 0.0, 1.0)
        inputs = self._inputs(node)
        if self.client_id is not None:
            state.last_node_id = node
            state.emit("executing", self._node_data(node), self.client_id)
        try:
            self._check_interrupt(node)
            await self._sleep(node, state.knobs.node_seconds)
            if self.failure is not None and self.failure.node_id in (None, node):
                raise InjectedFailure(self.failure.exception_message)
            if class_type in SAMPLER_CLASSES:
                await self._sample(node, inputs)
            result = EXECUTORS[class_type](self._context(node, class_type), inputs)
        except Interrupted:
            raise
        except Exception as exc:
            raise NodeFailed(self._error_details(node, exc, inputs)) from exc
        if result.ui:
            self.ui[node] = {
                "meta": {
                    "node_id": node,
                    "display_node": node,
                    "parent_node": None,
                    "real_node_id": node,
                },
                "output": result.ui,
            }
            if self.client_id is not None:
                state.emit("executed", self._node_data(node, output=result.ui), self.client_id)
        state.cache[self.keys[node]] = CacheEntry(result.outputs, self.ui.get(node))
        self.values[node] = result.outputs
        self._finish_progress(node)
        self.executed[node] = None

    def _node_data(self, node: str, **extra: Any) -> dict[str, Any]:
        return {"node": node, "display_node": node, **extra, "prompt_id": self.prompt_id}

    def _inputs(self, node: str) -> dict[str, Any]:
        spec = self.info[self.prompt[node]["class_type"]]["input"]
        declared = {*spec.get("required", {}), *spec.get("optional", {})}
        values: dict[str, Any] = {}
        for name, value in self.prompt[node]["inputs"].items():
            if name not in declared:
                continue
            if is_link(value):
                source, slot = value
                outputs = self.values.get(source)
                if outputs is None:
                    outputs = self.state.cache[self.keys[source]].outputs
                values[name] = outputs[int(slot)]
            else:
                values[name] = value
        return values

    def _context(self, node: str, class_type: str) -> NodeContext:
        suffix = self.state.temp_suffixes.setdefault(
            node, "_temp_" + "".join(random.choice("abcdefghijklmnopqrstupvxyz") for _ in range(5))
        )
        video_size = None
        if class_type == "SaveVideo":
            knobs = self.state.knobs
            video_size, knobs.huge_output_bytes = knobs.huge_output_bytes, None
        extra_pnginfo = self.entry.extra_data.get("extra_pnginfo")
        return NodeContext(node, self.prompt, extra_pnginfo, self.state.folders, suffix, video_size)

    def _error_details(self, node: str, exc: Exception, inputs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(exc, InjectedFailure) and self.failure is not None:
            exception_type, tips = self.failure.exception_type, self.failure.tips
        else:
            exception_type, tips = _full_type_name(type(exc)), ""
        return {
            "node_id": node,
            "exception_message": f"{exc}\n{tips}",
            "exception_type": exception_type,
            "traceback": traceback.format_tb(exc.__traceback__),
            "current_inputs": {name: [format_value(value)] for name, value in inputs.items()},
        }

    def _check_interrupt(self, node: str) -> None:
        if self.state.interrupt.is_set():
            raise Interrupted(node)

    async def _sleep(self, node: str, seconds: float) -> None:
        """Wait ``seconds``, or stop at once when an interrupt arrives."""
        if seconds <= 0:
            return
        try:
            await asyncio.wait_for(self.state.interrupt.wait(), seconds)
        except TimeoutError:
            return
        raise Interrupted(node)

    async def _sample(self, node: str, inputs: dict[str, Any]) -> None:
        """Emit one progress step per sampling step, with previews when enabled."""
        knobs = self.state.knobs
        steps = knobs.steps if knobs.steps is not None else int(inputs.get("steps", 1))
        for step in range(1, steps + 1):
            await self._sleep(node, knobs.step_seconds)
            self._check_interrupt(node)
            self._set_progress(node, "running", step, steps)
            with_metadata = knobs.previews and self.state.supports_preview_metadata(self.client_id)
            if with_metadata:
                self.state.emit(PREVIEW_IMAGE_WITH_METADATA, self._preview(node), self.client_id)
            progress = {"value": step, "max": steps, "prompt_id": self.prompt_id, "node": node}
            self.state.emit("progress", progress, self.client_id)
            if knobs.previews and not with_metadata:
                legacy = struct.pack(">I", 1) + preview_jpeg()  # 1 = JPEG
                self.state.emit(PREVIEW_IMAGE, legacy, self.client_id)

    def _preview(self, node: str) -> bytes:
        metadata = json.dumps(
            {
                "node_id": node,
                "prompt_id": self.prompt_id,
                "display_node_id": node,
                "parent_node_id": None,
                "real_node_id": node,
                "image_type": "image/jpeg",
            }
        ).encode()
        return struct.pack(">I", len(metadata)) + metadata + preview_jpeg()

    def _set_progress(self, node: str, state: str, value: float, maximum: float) -> None:
        self.progress[node] = {"state": state, "value": value, "max": maximum}
        self._send_progress_state()

    def _finish_progress(self, node: str) -> None:
        entry = self.progress.setdefault(node, {"state": "pending", "value": 0, "max": 1})
        entry["state"], entry["value"] = "finished", entry["max"]
        self._send_progress_state()

    def _send_progress_state(self) -> None:
        nodes = {
            node: {
                "value": entry["value"],
                "max": entry["max"],
                "state": entry["state"],
                "node_id": node,
                "prompt_id": self.prompt_id,
                "display_node_id": node,
                "parent_node_id": None,
                "real_node_id": node,
            }
            for node, entry in self.progress.items()
            if entry["state"] != "pending"
        }
        data = {"prompt_id": self.prompt_id, "nodes": nodes}
        self.state.emit("progress_state", data, self.client_id)
