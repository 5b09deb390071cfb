"""A job's progress as a person (or an agent) wants to see it, folded from events.

Pure state: :meth:`JobProgress.apply` takes one parsed event and updates the snapshot
(phase, queue position, current node by title, sampler step, nodes done). The CLI
draws it; ``--events`` prints it as NDJSON.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .transport import events as ev


@dataclass
class JobProgress:
    """Snapshot of one job's progress."""

    job_id: str
    phase: str = "queued"  # uploading | queued | running | downloading | done | notice
    queue_position: int | None = None
    node: str | None = None
    node_title: str | None = None
    nodes_done: int = 0
    nodes_total: int = 0
    step: int | None = None
    steps: int | None = None
    detail: str | None = None
    # How updates arrive: "ws" or "sse" (live progress: the socket, a v2 job's event
    # stream) or "poll" (queue position, running, done).
    transport: str | None = None
    # Seconds without any sign of life, once the stall watchdog has reported it.
    stalled: float | None = None
    started: float = field(default_factory=time.monotonic)
    titles: dict[str, str] = field(default_factory=dict, repr=False)
    _seen: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def start(
        cls, job_id: str, graph: dict[str, Any], started_at: float | None = None
    ) -> JobProgress:
        """A fresh snapshot for a submitted graph (titles from ``_meta.title``)."""
        titles = {}
        for node_id, node in graph.items():
            if isinstance(node, dict):
                meta = node.get("_meta") or {}
                titles[str(node_id)] = str(meta.get("title") or node.get("class_type") or "")
        progress = cls(job_id=job_id, nodes_total=len(titles), titles=titles)
        if started_at is not None:
            # Resume the elapsed clock of a job started by another process.
            progress.started = time.monotonic() - max(0.0, time.time() - started_at)
        return progress

    @property
    def elapsed(self) -> float:
        """Seconds since the job was submitted (or since we started following it)."""
        return time.monotonic() - self.started

    def enter_node(self, node: str) -> None:
        """A node started running."""
        if self.node is not None and self.node != node:
            self._seen.add(self.node)
        self.node = node
        self.node_title = self.titles.get(node, node)
        self.step = self.steps = None
        self.nodes_done = min(len(self._seen), self.nodes_total)

    def apply(self, event: ev.Event) -> None:
        """Fold one event (already known to concern this job) into the snapshot."""
        from .transport import events as ev  # its 15 dataclasses: only when following

        if isinstance(event, ev.ExecutionStart):
            self.phase, self.queue_position = "running", 0
        elif isinstance(event, ev.ExecutionCached):
            self._seen.update(event.nodes)
            self.nodes_done = min(len(self._seen), self.nodes_total)
        elif isinstance(event, ev.Executing):
            if event.node is None:
                self.finished()
            else:
                self.phase = "running"
                self.enter_node(event.node)
        elif isinstance(event, ev.Progress):
            self.step, self.steps = event.value, event.max
        elif isinstance(event, ev.Executed):
            self._seen.add(event.node)
            self.nodes_done = min(len(self._seen), self.nodes_total)

    def finished(self) -> JobProgress:
        """Mark every node done."""
        self.phase = "done"
        self.nodes_done = self.nodes_total
        self.node = self.node_title = None
        self.step = self.steps = None
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (for ``--events`` and error details)."""
        data = asdict(self)
        for private in ("titles", "_seen", "started"):
            data.pop(private, None)
        data["elapsed"] = round(self.elapsed, 3)
        return data
