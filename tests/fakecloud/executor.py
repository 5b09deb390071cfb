"""The fake Cloud's executor: one job at a time, broadcasting ComfyUI's messages.

Per job: ``notification`` (when ``announce_jobs``), ``execution_start``,
``execution_cached`` (empty), then per node in graph order ``executing`` (and
``progress`` for nodes with an integer ``steps`` input, ``executed`` for image-saving
nodes); finally ``execution_success``, ``execution_error`` or ``execution_interrupted``,
and ``executing`` with ``node`` null. Every message goes to every socket of the user.

For API v2 the executor also keeps each job's progress snapshot, last preview and
output assets (:mod:`tests.fakecloud.v2state`); a v2 job's ``LoadImage`` reads its
resolved ``core/ASSET`` file and fails like ComfyUI when the file is not stored.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.fakecloud.state import (
    CANCELLED,
    ERROR,
    EXECUTING,
    PENDING_EXECUTION,
    SUCCESS,
    CloudState,
    Failure,
    Job,
    is_output_node,
)
from tests.fakecloud.v2state import set_preview, set_progress
from tests.fakecomfy.files import write_png
from tests.fakecomfy.nodes import preview_jpeg

PNG_SIZE = 8


class Interrupted(Exception):
    """``POST /api/interrupt`` reached the running job."""


class NodeFailed(Exception):
    """A node failed: the armed :class:`Failure`, or a v2 ``LoadImage`` of a missing file."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.exception_message)
        self.failure = failure


def _now_ms() -> int:
    return int(time.time() * 1000)


def make_png(rgb: int) -> bytes:
    """Return a small solid-colour PNG (the fake's output image)."""
    with tempfile.TemporaryDirectory(prefix="fakecloud-") as folder:
        path = Path(folder) / "out.png"
        write_png(path, PNG_SIZE, PNG_SIZE, rgb, {"prompt": "{}"})
        return path.read_bytes()


async def run_worker(state: CloudState) -> None:
    """Take pending jobs forever, unless paused, and run them one after another."""
    while True:
        if state.paused or not state.pending:
            state.wake.clear()
            await state.wake.wait()
            continue
        job = state.jobs[state.pending.popleft()]
        state.running = job
        job.move_to(PENDING_EXECUTION)
        state.queue_changed()
        try:
            await _run_job(state, job)
        finally:
            state.running = None
            state.queue_changed()
            state.broadcast("executing", {"node": None, "prompt_id": job.id})


async def _pause(job: Job, seconds: float) -> None:
    """Sleep ``seconds``, cut short by an interrupt (which raises)."""
    if job.interrupt.is_set():
        raise Interrupted
    if seconds <= 0:
        return
    try:
        await asyncio.wait_for(job.interrupt.wait(), seconds)
    except TimeoutError:
        return
    raise Interrupted


async def _run_job(state: CloudState, job: Job) -> None:
    """Run one job to a terminal state; the caller sends ``executing`` null."""
    failure, state.failure = state.failure, None
    executed: list[str] = []
    node = ""
    try:
        await _pause(job, state.knobs.dispatch_seconds)
        job.move_to(EXECUTING)
        job.start_ms = _now_ms()
        if state.knobs.announce_jobs:
            state.broadcast("notification", {"value": "Your workflow is running", "id": None})
        _message(state, job, "execution_start", {"prompt_id": job.id, "timestamp": _now_ms()})
        _message(
            state,
            job,
            "execution_cached",
            {"nodes": [], "prompt_id": job.id, "timestamp": _now_ms()},
        )
        for node, spec in job.prompt.items():
            await _run_node(state, job, node, spec, failure, len(executed))
            executed.append(node)
            set_progress(job, len(executed), node, _class(job, node))
    except Interrupted:
        job.end_ms = _now_ms()
        data: dict[str, Any] = {
            "prompt_id": job.id,
            "node_id": node,
            "node_type": _class(job, node),
        }
        data.update({"executed": executed, "timestamp": _now_ms()})
        _message(state, job, "execution_interrupted", data)
        job.move_to(CANCELLED)
        return
    except NodeFailed as exc:
        job.end_ms = _now_ms()
        job.error = _error(job, node, exc.failure, executed)
        _message(state, job, "execution_error", {**job.error, "timestamp": _now_ms()})
        job.move_to(ERROR)
        return
    job.end_ms = _now_ms()
    set_progress(job, len(executed), None, None)
    _message(state, job, "execution_success", {"prompt_id": job.id, "timestamp": _now_ms()})
    job.move_to(SUCCESS)


async def _run_node(
    state: CloudState, job: Job, node: str, spec: Any, failure: Failure | None, done: int
) -> None:
    """Execute one node: announce it, sleep, maybe fail, report progress and outputs."""
    state.broadcast("executing", {"node": node, "display_node": node, "prompt_id": job.id})
    set_progress(job, done, node, _class(job, node))
    await _pause(job, state.knobs.node_seconds)
    if failure is not None and failure.node_id in (None, node):
        raise NodeFailed(failure)
    inputs = spec.get("inputs", {}) if isinstance(spec, dict) else {}
    if job.api == "v2" and _class(job, node) == "LoadImage":
        _load_image(state, job, node, inputs.get("image"))
    steps = inputs.get("steps")
    if isinstance(steps, int) and not isinstance(steps, bool):
        for value in range(1, steps + 1):
            await _pause(job, state.knobs.step_seconds)
            data = {"value": value, "max": steps, "prompt_id": job.id, "node": node}
            state.broadcast("progress", data)
            set_progress(job, done, node, _class(job, node), value, steps)
            set_preview(job, node, base64.b64encode(preview_jpeg()).decode("ascii"))
    if is_output_node(spec):
        kind = "output" if spec["class_type"] == "SaveImage" else "temp"
        name = state.next_image_name()
        state.files[name] = make_png(0x336699 + state.image_counter)
        output = {"images": [{"filename": name, "subfolder": "", "type": kind}]}
        job.outputs[node] = output
        state.v2.commit_output(state.files, job, node, name)
        data = {"node": node, "display_node": node, "output": output, "prompt_id": job.id}
        state.broadcast("executed", data)


def _load_image(state: CloudState, job: Job, node: str, image: Any) -> None:
    """Read a v2 job's resolved input file, or fail the node as ComfyUI would."""
    if not isinstance(image, str) or image not in state.files:
        message = f"[Errno 2] No such file or directory: {image!r}"
        raise NodeFailed(Failure("FileNotFoundError", message, node))
    job.loaded.append(image)


def _class(job: Job, node: str) -> str:
    spec = job.prompt.get(node)
    return str(spec.get("class_type", "")) if isinstance(spec, dict) else ""


def _message(state: CloudState, job: Job, kind: str, data: dict[str, Any]) -> None:
    """Broadcast a status-level message and keep it for ``status.messages``."""
    job.messages.append([kind, data])
    state.broadcast(kind, data)


def _error(job: Job, node: str, failure: Failure, executed: list[str]) -> dict[str, Any]:
    """The ``execution_error`` fields, also served as ``execution_error`` of the job."""
    spec = job.prompt.get(node)
    inputs = spec.get("inputs", {}) if isinstance(spec, dict) else {}
    return {
        "prompt_id": job.id,
        "node_id": node,
        "node_type": _class(job, node),
        "executed": executed,
        "exception_message": failure.exception_message,
        "exception_type": failure.exception_type,
        "traceback": [f"{failure.exception_type}: {failure.exception_message}\n"],
        "current_inputs": {key: [value] for key, value in inputs.items()},
        "current_outputs": {},
    }
