"""A pure parser for ComfyUI WebSocket frames: text or bytes in, a typed event out.

No I/O here. The socket loop (:mod:`comfycine.stream`) feeds frames in; the job runner
and the progress display consume the events. Unknown message types and malformed frames
parse to ``None``: custom nodes send types of their own and a client must ignore them.

Message shapes are those of ComfyUI 0.3.64–0.3.75 (its ``server.py``, ``execution.py``
and ``protocol.py``), checked against the frames recorded from real servers in
``tests/fixtures/comfyui-captures/``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

# Binary frame types (ComfyUI protocol.py): 4-byte big-endian type, then the payload.
BINARY_PREVIEW_IMAGE = 1
BINARY_TEXT = 3
BINARY_PREVIEW_WITH_METADATA = 4
_IMAGE_FORMATS = {1: "image/jpeg", 2: "image/png"}


@dataclass(frozen=True, slots=True)
class Status:
    """Queue size changed (broadcast); ``sid`` only on the first message after connecting."""

    queue_remaining: int
    sid: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutionStart:
    """The server started running a prompt."""

    prompt_id: str
    timestamp: int | None = None


@dataclass(frozen=True, slots=True)
class ExecutionCached:
    """Nodes the server will not run again (their cached result is reused)."""

    prompt_id: str
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Executing:
    """A node started; ``node is None`` means the prompt is over and written to history.

    After a reconnect the server sends this without ``prompt_id`` (``None`` here).
    """

    prompt_id: str | None
    node: str | None
    display_node: str | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """Step ``value`` of ``max`` of a node (sampler steps, upscaler tiles)."""

    prompt_id: str | None
    node: str | None
    value: int
    max: int


@dataclass(frozen=True, slots=True)
class NodeProgress:
    """One node's entry in a ``progress_state`` message."""

    node_id: str
    state: str
    value: float
    max: float


@dataclass(frozen=True, slots=True)
class ProgressState:
    """The state of every started node of a prompt."""

    prompt_id: str
    nodes: tuple[NodeProgress, ...] = ()


@dataclass(frozen=True, slots=True)
class Executed:
    """An output node finished; ``output`` is its UI dict (``{"images": [...]}``)."""

    prompt_id: str
    node: str
    output: dict[str, Any] = field(default_factory=dict)
    display_node: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutionSuccess:
    """The prompt finished without error (history may not be written yet)."""

    prompt_id: str
    timestamp: int | None = None


@dataclass(frozen=True, slots=True)
class ExecutionError:
    """A node raised while running; ``data`` keeps the full payload for diagnosis."""

    prompt_id: str
    node_id: str | None
    node_type: str | None
    exception_type: str
    exception_message: str
    traceback: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExecutionInterrupted:
    """The prompt was interrupted (``POST /interrupt``)."""

    prompt_id: str
    node_id: str | None = None
    node_type: str | None = None


@dataclass(frozen=True, slots=True)
class FeatureFlags:
    """The server's reply to the client's feature flags."""

    flags: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Notification:
    """A human-readable notice (Comfy Cloud)."""

    value: str


@dataclass(frozen=True, slots=True)
class PreviewImage:
    """A preview image (binary type 1, or type 4 with the prompt and node it belongs to)."""

    mime_type: str
    image: bytes
    prompt_id: str | None = None
    node_id: str | None = None


@dataclass(frozen=True, slots=True)
class ProgressText:
    """Free text a node reports while running (binary type 3)."""

    node_id: str
    text: str


Event = (
    Status
    | ExecutionStart
    | ExecutionCached
    | Executing
    | Progress
    | ProgressState
    | Executed
    | ExecutionSuccess
    | ExecutionError
    | ExecutionInterrupted
    | FeatureFlags
    | Notification
    | PreviewImage
    | ProgressText
)

#: Events after which a prompt will run no further.
TERMINAL_EVENTS = (ExecutionSuccess, ExecutionError, ExecutionInterrupted)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parse_status(data: dict[str, Any]) -> Status:
    exec_info = (data.get("status") or {}).get("exec_info") or {}
    return Status(int(exec_info.get("queue_remaining", 0)), _str_or_none(data.get("sid")))


def _parse_progress_state(data: dict[str, Any]) -> ProgressState:
    nodes = tuple(
        NodeProgress(
            node_id=str(entry.get("node_id", node_id)),
            state=str(entry.get("state", "")),
            value=float(entry.get("value", 0.0)),
            max=float(entry.get("max", 1.0)),
        )
        for node_id, entry in (data.get("nodes") or {}).items()
        if isinstance(entry, dict)
    )
    return ProgressState(str(data["prompt_id"]), nodes)


def _parse_error(data: dict[str, Any]) -> ExecutionError:
    trace = data.get("traceback") or ()
    return ExecutionError(
        prompt_id=str(data["prompt_id"]),
        node_id=_str_or_none(data.get("node_id")),
        node_type=_str_or_none(data.get("node_type")),
        exception_type=str(data.get("exception_type", "")),
        exception_message=str(data.get("exception_message", "")),
        traceback=tuple(str(line) for line in trace) if isinstance(trace, list) else (),
        data=data,
    )


def _build(kind: str, data: dict[str, Any]) -> Event | None:
    if kind == "status":
        return _parse_status(data)
    if kind == "execution_start":
        return ExecutionStart(str(data["prompt_id"]), _int_or_none(data.get("timestamp")))
    if kind == "execution_cached":
        return ExecutionCached(str(data["prompt_id"]), tuple(str(n) for n in data.get("nodes", ())))
    if kind == "executing":
        return Executing(
            _str_or_none(data.get("prompt_id")),
            _str_or_none(data.get("node")),
            _str_or_none(data.get("display_node")),
        )
    if kind == "progress":
        return Progress(
            _str_or_none(data.get("prompt_id")),
            _str_or_none(data.get("node")),
            int(data["value"]),
            int(data["max"]),
        )
    if kind == "progress_state":
        return _parse_progress_state(data)
    if kind == "executed":
        output = data.get("output")
        return Executed(
            str(data["prompt_id"]),
            str(data["node"]),
            output if isinstance(output, dict) else {},
            _str_or_none(data.get("display_node")),
        )
    if kind == "execution_success":
        return ExecutionSuccess(str(data["prompt_id"]), _int_or_none(data.get("timestamp")))
    if kind == "execution_error":
        return _parse_error(data)
    if kind == "execution_interrupted":
        return ExecutionInterrupted(
            str(data["prompt_id"]),
            _str_or_none(data.get("node_id")),
            _str_or_none(data.get("node_type")),
        )
    if kind == "feature_flags":
        return FeatureFlags(dict(data))
    if kind == "notification":
        return Notification(str(data.get("value", "")))
    return None


def parse_text(frame: str | bytes) -> Event | None:
    """Parse a JSON text frame; ``None`` for unknown types or malformed frames."""
    try:
        message = json.loads(frame)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return None
    data = message.get("data")
    if not isinstance(data, dict):
        data = {}
    try:
        return _build(message["type"], data)
    except (KeyError, TypeError, ValueError):
        # A known type with a shape we do not understand: ignore it, like unknown types.
        return None


def parse_binary(frame: bytes) -> Event | None:
    """Parse a binary frame (preview images, progress text); ``None`` if not understood."""
    if len(frame) < 4:
        return None
    (kind,) = struct.unpack(">I", frame[:4])
    payload = frame[4:]
    if kind == BINARY_PREVIEW_IMAGE and len(payload) >= 4:
        (image_format,) = struct.unpack(">I", payload[:4])
        return PreviewImage(
            _IMAGE_FORMATS.get(image_format, "application/octet-stream"), payload[4:]
        )
    if kind == BINARY_PREVIEW_WITH_METADATA and len(payload) >= 4:
        (size,) = struct.unpack(">I", payload[:4])
        try:
            meta = json.loads(payload[4 : 4 + size])
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(meta, dict):
            return None
        return PreviewImage(
            str(meta.get("image_type", "application/octet-stream")),
            payload[4 + size :],
            _str_or_none(meta.get("prompt_id")),
            _str_or_none(meta.get("node_id")),
        )
    if kind == BINARY_TEXT and len(payload) >= 4:
        (size,) = struct.unpack(">I", payload[:4])
        node_id = payload[4 : 4 + size].decode("utf-8", "replace")
        return ProgressText(node_id, payload[4 + size :].decode("utf-8", "replace"))
    return None


def parse_frame(frame: str | bytes) -> Event | None:
    """Parse a frame as the socket delivers it: ``str`` is JSON text, ``bytes`` binary."""
    return parse_binary(frame) if isinstance(frame, bytes) else parse_text(frame)


def ends_prompt(event: Event, prompt_id: str) -> bool:
    """True when ``event`` says ``prompt_id`` will run no further.

    ``executing`` with ``node: null`` is the end marker on every server version (and the
    only one on old ones); it arrives after history is written.
    """
    if isinstance(event, TERMINAL_EVENTS):
        return event.prompt_id == prompt_id
    return isinstance(event, Executing) and event.node is None and event.prompt_id == prompt_id


def event_prompt_id(event: Event) -> str | None:
    """The prompt an event belongs to, when it says."""
    return getattr(event, "prompt_id", None)
