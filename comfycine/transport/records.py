"""What the server says about jobs, as plain values: outputs, history entries, the queue.

Pure parsing of ``/history`` and ``/queue`` answers (no I/O); shared by the local and
the cloud clients, the poller and the job runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class OutputRef:
    """One file a prompt produced, as history lists it."""

    node: str
    kind: str  # the output key: images, gifs, videos, audio, ...
    filename: str
    subfolder: str = ""
    type: str = "output"
    animated: bool = False
    # Comfy API v2: the output's asset id (its bytes at /api/v2/assets/{id}/content) and
    # the link the job answer gave (on Comfy Cloud a signed, self-authorizing URL: kept
    # in memory for the download, never written to the ledger).
    asset_id: str = ""
    url: str = field(default="", repr=False, compare=False)

    def query(self) -> dict[str, str]:
        """The ``/view`` query for this file."""
        return {"filename": self.filename, "subfolder": self.subfolder, "type": self.type}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form for the ledger."""
        return {
            "node": self.node,
            "kind": self.kind,
            "filename": self.filename,
            "subfolder": self.subfolder,
            "type": self.type,
            "animated": self.animated,
            **({"asset_id": self.asset_id} if self.asset_id else {}),
        }


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A finished prompt, from ``/history/{id}``."""

    prompt_id: str
    status: str  # success | error
    completed: bool
    outputs: tuple[OutputRef, ...]
    messages: tuple[tuple[str, dict[str, Any]], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)

    def last_message(self, name: str) -> dict[str, Any] | None:
        """The payload of the last status message called ``name``."""
        for kind, data in reversed(self.messages):
            if kind == name:
                return dict(data)
        return None

    @property
    def interrupted(self) -> bool:
        """``status_str`` is "error" for interruptions too; the last message tells."""
        return any(kind == "execution_interrupted" for kind, _ in self.messages)


@dataclass(frozen=True, slots=True)
class JobSighting:
    """Where one look at the server found a job (history first, then the queue).

    ``progress`` is the server's own progress snapshot when it gives one (Comfy API v2:
    ``value`` 0..1, ``current_node``, ``step``/``steps``), for followers without a socket.
    """

    state: str  # finished | running | queued | going (queued or running) | absent
    position: int | None = None
    history: HistoryEntry | None = None
    progress: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class QueueState:
    """``/queue``: ids of the running and pending prompts, in queue order."""

    running: tuple[str, ...]
    pending: tuple[str, ...]

    def position(self, prompt_id: str) -> int | None:
        """0 when running, n when n prompts run or wait before it, None when absent."""
        if prompt_id in self.running:
            return 0
        if prompt_id in self.pending:
            return len(self.running) + self.pending.index(prompt_id)
        return None


def _is_file_item(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("filename"), str)


def parse_outputs(outputs: dict[str, Any]) -> tuple[OutputRef, ...]:
    """Every file item of a history ``outputs`` dict, whatever the key (images, gifs, ...)."""
    refs: list[OutputRef] = []
    for node, ui in outputs.items():
        if not isinstance(ui, dict):
            continue
        animated = any(bool(a) for a in ui.get("animated", ()) if isinstance(a, bool))
        for kind, items in ui.items():
            if not isinstance(items, list):
                continue
            for item in items:
                if _is_file_item(item):
                    refs.append(
                        OutputRef(
                            node=str(node),
                            kind=kind,
                            filename=item["filename"],
                            subfolder=str(item.get("subfolder") or ""),
                            type=str(item.get("type") or "output"),
                            animated=animated and kind == "images",
                        )
                    )
    return tuple(refs)


def parse_history_entry(prompt_id: str, entry: dict[str, Any]) -> HistoryEntry:
    """Turn one ``/history`` entry into a :class:`HistoryEntry`."""
    status = entry.get("status") or {}
    messages = tuple(
        (str(m[0]), m[1] if isinstance(m[1], dict) else {})
        for m in status.get("messages") or ()
        if isinstance(m, list) and len(m) == 2
    )
    return HistoryEntry(
        prompt_id=prompt_id,
        status=str(status.get("status_str") or ""),
        completed=bool(status.get("completed")),
        outputs=parse_outputs(entry.get("outputs") or {}),
        messages=messages,
        raw=entry,
    )


def queue_ids(items: Any) -> tuple[str, ...]:
    # Items are [number, prompt_id, prompt, extra_data, outputs]; sort by number (queue order).
    rows = [i for i in items or () if isinstance(i, list) and len(i) >= 2]
    rows.sort(key=lambda i: i[0] if isinstance(i[0], int | float) else 0)
    return tuple(str(i[1]) for i in rows)
