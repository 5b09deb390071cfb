"""What a job ends with: its outcome, or the error that says how it ended and what next.

Pure builders shared by the job runner, ``debug`` and the diagnosis: a server's
``execution_error`` payload as an error, the interrupted / still-running / lost-contact
errors (each naming the job and the command to run), and the server's own timings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import JobFailed, JobInterrupted, StillRunning, TargetUnreachable
from .ledger import JobRecord
from .sanitize import clean_text
from .transport import HistoryEntry
from .transport.reconnect import OutageTooLong


@dataclass
class JobOutcome:
    """What a followed job ended with."""

    record: JobRecord
    outputs: list[Path] = field(default_factory=list)
    history: HistoryEntry | None = None


def _is_oom(exception_type: str, message: str) -> bool:
    text = message.lower()
    return (
        exception_type.endswith("OutOfMemoryError")
        or exception_type == "OOMError"
        or "out of memory" in text
        or "allocation on device" in text
    )


def failure_from_payload(payload: dict[str, Any], titles: dict[str, str]) -> JobFailed:
    """The error for an ``execution_error`` payload (from the socket or from history)."""
    exc_type = str(payload.get("exception_type") or "Exception")
    message = clean_text(str(payload.get("exception_message") or "").strip())
    node = str(payload.get("node_id") or "")
    node_type = str(payload.get("node_type") or "")
    where = f"node {node} ({titles.get(node) or node_type})" if node else "the workflow"
    first_line = message.splitlines()[0] if message else exc_type
    details = {
        "node": node or None,
        "class_type": node_type or None,
        "exception_type": exc_type,
        "exception_message": message,
        "traceback": [clean_text(str(t)) for t in payload.get("traceback") or ()][-8:],
    }
    if _is_oom(exc_type, message):
        return JobFailed(
            f"Out of GPU memory in {where}: {first_line}",
            code="out_of_memory",
            hint="Lower the resolution or frame count (--set width=… --set frames=…) "
            "and render again.",
            details=details,
        )
    return JobFailed(f"{where} failed: {exc_type}: {first_line}", details=details)


def interrupted_on_server(record: JobRecord) -> JobInterrupted:
    """The error of a job interrupted on the server (by cancel, or another client)."""
    return JobInterrupted(
        f"Job {record.id[:8]} was interrupted on the server.",
        hint=f"Render it again with: comfycine generate {record.template or 'TEMPLATE'}",
    )


def still_downloading(job_id: str, details: dict[str, Any]) -> StillRunning:
    """Exit 6 for a rendered job whose download the deadline cut (parts are kept)."""
    short = job_id[:8]
    return StillRunning(
        f"Job {short} is rendered; its download was not finished when the wait ended.",
        hint=f"Finish the download with: comfycine wait {short}",
        code="still_downloading",
        details=details,
    )


def lost_contact(
    url: str, job_id: str, outage: OutageTooLong, *, submitting: bool = False
) -> TargetUnreachable:
    """Exit 3 for a job that reached the server: name it, never propose re-rendering."""
    job8 = job_id[:8]
    cause = outage.error
    reason = str(cause.details.get("reason") or cause.code)
    what = "its submission may have reached it" if submitting else "it may still be running"
    return TargetUnreachable(
        f"Lost contact with {url} for {outage.seconds:.0f} s while following job {job8} "
        f"({reason}); {what} there.",
        hint=f"Collect it once the link is back: comfycine wait {job8}",
        details={
            "job": job_id,
            "url": url,
            "reason": reason,
            "submitted": True,
            "outage_seconds": round(outage.seconds, 1),
        },
    )


def submission_unknown(url: str, job_id: str, target: str) -> TargetUnreachable:
    """Exit 3 for a submission whose answer was lost on a server that picks job ids.

    The server holds a job under our idempotency key (it refused a second copy) but
    Comfy API v2 does not say which: never submit it again blindly.
    """
    cloud = target == "cloud" or "comfy.org" in url or ".comfy.app" in url
    where = "in Comfy Cloud's job list (cloud.comfy.org)" if cloud else f"in the job list of {url}"
    return TargetUnreachable(
        f"The answer to job {job_id[:8]}'s submission was lost: {url} holds the job (it "
        "refused a second copy) but did not say its id. It was not submitted twice.",
        code="submission_unknown",
        hint=f"Do not submit it again before looking for it {where}; "
        f"comfycine status {job_id[:8]} shows what was sent.",
        details={"job": job_id, "url": url, "submitted": True, "reason": "answer_lost"},
    )


def node_titles(graph: dict[str, Any]) -> dict[str, str]:
    """Node id → its title (or class), to name nodes in messages."""
    titles: dict[str, str] = {}
    for node_id, node in graph.items():
        if isinstance(node, dict):
            meta = node.get("_meta") or {}
            titles[str(node_id)] = str(meta.get("title") or node.get("class_type") or node_id)
    return titles


def server_timing(history: HistoryEntry) -> dict[str, Any]:
    """Server-side timestamps (ms) of the run, for benchmarks and ``status``."""
    start = history.last_message("execution_start") or {}
    end = history.last_message("execution_success") or {}
    out: dict[str, Any] = {}
    if isinstance(start.get("timestamp"), int):
        out["server_start_ms"] = start["timestamp"]
    if isinstance(end.get("timestamp"), int):
        out["server_end_ms"] = end["timestamp"]
    # Comfy API v2 gives durations instead (metrics.queue_ms / execution_ms).
    metrics = history.raw.get("metrics")
    if isinstance(metrics, dict):
        for key in ("queue_ms", "execution_ms"):
            if isinstance(metrics.get(key), int | float):
                out[f"server_{key}"] = metrics[key]
    return out
