"""What a conform reports: each shot, what became of it, and the timeline written.

A shot ends ``conformed`` (rendered, fitted to its source, delivered, QC passed or
passed with warnings, placed on the new track), ``qc_failed`` (delivered but not
placed: undecodable, a length or rate that cannot match, a black or frozen stretch
the source does not have), ``failed`` (the render failed), ``offline`` (its media
could not be found) or ``planned`` (a dry run).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import JobFailed, OutputNotWritable
from .pulls import Pull, fraction_text
from .shots import Shot


class ConformIncomplete(JobFailed):
    """Some shots were not conformed (the others are on the timeline written)."""

    code = "conform_incomplete"
    default_hint = "See the QC report; rerun the same command to retry what failed."


def not_writable(
    exc: OSError, what: str, again: str = "rerun the same command"
) -> OutputNotWritable:
    """A write that failed (disk full, permissions) as the exit-8 error, nothing half-made.

    What was rendered stays in the ledger and on disk: running again resumes.
    """
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    reason = "the disk is full" if full else (exc.strerror or str(exc))
    return OutputNotWritable(
        f"Cannot write {what}: {reason}.",
        hint=f"Free some space or fix the folder, then {again} (nothing is rendered twice).",
        code="disk_full" if full else "output_not_writable",
        details={"path": str(exc.filename or what)},
    )


@dataclass
class ConformedShot:
    """One shot of the selection and what became of it."""

    shot: Shot
    status: str = "planned"  # planned | offline | failed | qc_failed | conformed
    pull: Pull | None = None
    job: str | None = None
    target: str | None = None
    render: str | None = None  # the file the template made (on this Mac)
    delivered: str | None = None  # the conformed file placed on the timeline
    qc: dict[str, Any] | None = None
    clip_name: str | None = None  # its name on the new track
    error: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (one entry of ``data.shots``)."""
        shot = self.shot
        return {
            "index": shot.index,
            "name": shot.name,
            "track": shot.track,
            "status": self.status,
            "record_start": float(shot.record_start),
            "duration": float(shot.duration),
            "source_start": float(shot.source_start),
            "rate": fraction_text(shot.rate),
            "media": str(shot.media) if shot.media else None,
            "media_name": shot.media_name,
            "ignored": list(shot.ignored),
            "pull": self.pull.to_dict() if self.pull else None,
            "job": self.job,
            "target": self.target,
            "render": self.render,
            "delivered": self.delivered,
            "clip_name": self.clip_name,
            "qc": self.qc,
            "error": self.error,
            "reason": self.reason,
        }


@dataclass
class ConformResult:
    """The ``data`` of ``conform`` and ``resolve send``."""

    source: Path  # the timeline read (never written)
    format: str  # the adapter: fcpx_xml, cmx_3600, fcp_xml, otio_json, resolve
    template: str
    shots: list[ConformedShot]
    deliver: str
    timeline: str | None = None  # the timeline written
    qc_report: str | None = None
    notes: list[str] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # not clips: transitions…
    batch: dict[str, Any] | None = None  # the render batch's totals
    dry_run: bool = False
    seconds: float | None = None

    def count(self, status: str) -> int:
        """How many shots ended at ``status``."""
        return sum(1 for s in self.shots if s.status == status)

    def summary(self) -> str:
        """One line: the timeline, the template and the counts."""
        parts = [f"{self.count('conformed')} conformed"]
        for status, word in (
            ("qc_failed", "failed QC"),
            ("failed", "failed"),
            ("offline", "offline"),
        ):
            if self.count(status):
                parts.append(f"{self.count(status)} {word}")
        if self.dry_run:
            parts = [f"{self.count('planned')} to render", *parts[1:]]
        return f"conform {self.source.name} ({self.template}): " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "source": str(self.source),
            "format": self.format,
            "template": self.template,
            "deliver": self.deliver,
            "dry_run": self.dry_run,
            "seconds": self.seconds,
            "timeline": self.timeline,
            "qc_report": self.qc_report,
            "total": len(self.shots),
            "conformed": self.count("conformed"),
            "qc_failed": self.count("qc_failed"),
            "failed": self.count("failed"),
            "offline": self.count("offline"),
            "notes": list(self.notes),
            "skipped": list(self.skipped),
            "batch": self.batch,
            "shots": [s.to_dict() for s in self.shots],
        }

    def failure(self) -> ConformIncomplete | None:
        """The error to report when some shots were not conformed (None: all were)."""
        if self.dry_run:
            return None
        bad = [s for s in self.shots if s.status in ("failed", "qc_failed", "offline")]
        if not bad:
            return None
        listed = ", ".join(f"{s.shot.name} ({s.error or s.status})" for s in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        code = "conform_qc_failed" if all(s.status == "qc_failed" for s in bad) else None
        return ConformIncomplete(
            f"{len(bad)} of {len(self.shots)} shots not conformed: {listed}{more}.",
            hint=None,
            details=self.to_dict(),
            code=code,
        )
