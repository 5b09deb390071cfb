"""What generate, wait and run return: one job and its local outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import Interrupted
from .ledger import JobRecord

if TYPE_CHECKING:
    from .outcomes import JobOutcome


@dataclass
class JobResult:
    """The ``data`` of generate / wait: one job and its local outputs."""

    job: str
    target: str
    status: str
    template: str | None
    outputs: list[str] = field(default_factory=list)
    seconds: float | None = None
    seeds: dict[str, int] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    server: str | None = None
    # Output path → its previews ({"poster", "sheet"} or {"thumbnail"}), to look at.
    previews: dict[str, dict[str, str]] = field(default_factory=dict)
    # The job this one is a retake of (takes.retake), None for a first take.
    parent: str | None = None

    @classmethod
    def from_record(cls, record: JobRecord) -> JobResult:
        """Build from a ledger record."""
        seconds = None
        if record.finished_at and record.created_at:
            seconds = round(record.finished_at - record.created_at, 3)
        return cls(
            job=record.id,
            target=record.target,
            status=record.status,
            template=record.template,
            outputs=list(record.outputs),
            seconds=seconds,
            seeds=dict(record.seeds),
            params=dict(record.params),
            server=record.server_url,
            previews=dict(record.extra.get("previews") or {}),
            parent=parent if isinstance(parent := record.extra.get("parent"), str) else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "job": self.job,
            "target": self.target,
            "status": self.status,
            "template": self.template,
            "outputs": self.outputs,
            "seconds": self.seconds,
            "seeds": self.seeds,
            "params": self.params,
            "server": self.server,
            "previews": self.previews,
            "parent": self.parent,
        }


def interrupted_error(job_id: str) -> Interrupted:
    return Interrupted(
        f"Stopped following job {job_id[:8]}; it keeps running on the server.",
        hint=f"Follow it with: comfycine wait {job_id[:8]}  (or stop it: comfycine cancel "
        f"{job_id[:8]})",
        details={"job": job_id},
    )


def outcome_result(outcome: JobOutcome) -> JobResult:
    result = JobResult.from_record(outcome.record)
    result.outputs = [str(p) for p in outcome.outputs]
    return result
