"""What a batch reports: one :class:`BatchItem` per input file, and their totals.

An item's ``status`` is where it stands now (``pending``, ``running``, ``succeeded``,
``failed``, ``skipped``); its ``plan`` is what this run does with it (``run``, ``retry``
a failed one, ``resume`` a job already submitted, ``skip``); ``earlier`` marks an
outcome read from the ledger rather than produced by this run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ComfycineError, JobFailed
from ..generation import PreparedJob
from ..ledger import JobRecord


@dataclass
class BatchItem:
    """One input file of a batch (or one take of a sweep) and what became of it."""

    path: Path
    # pending | running | queued (submitted, not followed: --detach) | succeeded | failed
    # | skipped
    status: str = "pending"
    plan: str = "run"  # run | retry | resume | skip
    key: str | None = None
    job: str | None = None
    target: str | None = None
    seconds: float | None = None
    outputs: list[str] = field(default_factory=list)
    reason: str | None = None
    error: str | None = None  # the error code of a failure
    earlier: bool = False
    prepared: PreparedJob | None = field(default=None, repr=False, compare=False)
    resume: JobRecord | None = field(default=None, repr=False, compare=False)
    # A sweep's take: its name (``seed=12, steps=30``) and its varied values.
    label: str | None = None
    cell: dict[str, str] | None = None

    @property
    def name(self) -> str:
        """The file name (or a take's values), as the summary shows it."""
        return self.label or self.path.name

    def take_record(self, record: JobRecord) -> None:
        """Copy a ledger record's job id, target, outputs, time and error."""
        self.job, self.target = record.id, record.target
        self.outputs = list(record.outputs)
        if record.finished_at and record.created_at:
            self.seconds = round(record.finished_at - record.created_at, 3)
        if record.error:
            self.error = str(record.error.get("code") or record.status)
            self.reason = str(record.error.get("message") or record.status)

    def fail(self, exc: ComfycineError) -> None:
        """Record a failure of this run."""
        self.status, self.error, self.reason = "failed", exc.code, exc.message
        job = exc.details.get("job")
        if isinstance(job, str):
            self.job = job

    def to_dict(self) -> dict[str, Any]:
        """JSON form (one entry of ``data.items``)."""
        return {
            "name": self.name,
            "path": str(self.path),
            "status": self.status,
            "plan": self.plan,
            "earlier": self.earlier,
            "job": self.job,
            "target": self.target,
            "seconds": self.seconds,
            "outputs": list(self.outputs),
            "reason": self.reason,
            "error": self.error,
            "key": self.key,
            **({"cell": dict(self.cell)} if self.cell is not None else {}),
        }


class BatchFailedItems(JobFailed):
    """Some items of a batch failed (the others were rendered)."""

    code = "batch_failed_items"
    default_hint = "See why with: comfycine debug JOB; retry them with --retry-failed."


@dataclass
class BatchResult:
    """The ``data`` of ``batch``: its id, template, totals and every item."""

    batch: str
    template: str
    folder: Path
    items: list[BatchItem]
    targets: list[str] = field(default_factory=list)
    dry_run: bool = False
    seconds: float | None = None
    # A sweep's labelled grid of its takes (rows and columns: the varied values).
    grid: str | None = None
    # What the items sent would cost on Comfy Cloud, when it is a target (cloudcost).
    estimate: dict[str, Any] | None = None

    def count(self, status: str) -> int:
        """How many items stand at ``status``."""
        return sum(1 for item in self.items if item.status == status)

    def totals(self, elapsed: float | None = None) -> dict[str, Any]:
        """Counts, plus an ETA once this run has finished an item.

        The ETA is the run's own pace (elapsed time per item finished so far) times the
        items left: it already accounts for concurrency and for several targets.
        """
        done_now = sum(
            1 for i in self.items if i.status in ("succeeded", "failed") and not i.earlier
        )
        remaining = self.count("pending") + self.count("running") + self.count("queued")
        eta = None
        if elapsed is not None and done_now:
            eta = round(elapsed / done_now * remaining, 1)
        return {
            "total": len(self.items),
            "succeeded": self.count("succeeded"),
            "failed": self.count("failed"),
            "skipped": self.count("skipped"),
            "remaining": remaining,
            "eta_seconds": eta,
        }

    def summary(self) -> str:
        """One line: the template, the batch id and the counts."""
        counts = self.totals()
        text = (
            f"batch {self.batch} ({self.template}): {counts['succeeded']} succeeded, "
            f"{counts['failed']} failed, {counts['skipped']} skipped"
        )
        return text + (f", {counts['remaining']} not run" if counts["remaining"] else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"batch", "template", "total", "succeeded", ..., "items"}``."""
        counts = self.totals()
        return {
            "batch": self.batch,
            "template": self.template,
            "folder": str(self.folder),
            "targets": list(self.targets),
            "dry_run": self.dry_run,
            "total": counts["total"],
            "succeeded": counts["succeeded"],
            "failed": counts["failed"],
            "skipped": counts["skipped"],
            "pending": counts["remaining"],
            "seconds": self.seconds,
            "items": [item.to_dict() for item in self.items],
            **({"previews": {"grid": self.grid}} if self.grid else {}),
            **({"estimate": self.estimate} if self.estimate is not None else {}),
        }

    def failure(self) -> BatchFailedItems | None:
        """The error to report when some items failed (now or in an earlier run).

        None for a dry run: it lists the plan, and its exit code says the listing worked.
        """
        failed = [item for item in self.items if item.status == "failed"]
        if not failed or self.dry_run:
            return None
        listed = ", ".join(f"{i.name} ({i.error or 'failed'})" for i in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        earlier = sum(1 for i in failed if i.earlier)
        hint = BatchFailedItems.default_hint
        if earlier:
            hint = (
                f"{earlier} failed in an earlier run and were not retried; retry them "
                "with --retry-failed. See why with: comfycine debug JOB"
            )
        return BatchFailedItems(
            f"{len(failed)} of {len(self.items)} items failed: {listed}{more}.",
            hint=hint,
            details=self.to_dict(),
        )
