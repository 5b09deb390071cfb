"""One rung of the doctor's ladder (:class:`Check`) and the whole ladder (:class:`DoctorReport`).

A check's ``status`` is ``ok``, ``warn`` (works, but something is worth fixing), ``fail``
(this rung is broken; ``exit_code`` says how) or ``skip`` (not applicable, or a rung it
depends on failed). The report passes when nothing failed; otherwise its exit code is
the first failing rung's (DESIGN.md "Diagnosis and doctor results").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import (
    CloudAccountError,
    ComfycineError,
    ExitCode,
    JobFailed,
    RejectedError,
    TargetUnreachable,
    UsageError,
)

Status = Literal["ok", "warn", "fail", "skip"]
OK: Status = "ok"
WARN: Status = "warn"
FAIL: Status = "fail"
SKIP: Status = "skip"

_ERRORS: dict[int, type[ComfycineError]] = {
    ExitCode.USAGE: UsageError,
    ExitCode.UNREACHABLE: TargetUnreachable,
    ExitCode.REJECTED: RejectedError,
    ExitCode.FAILED: JobFailed,
    ExitCode.CLOUD_ACCOUNT: CloudAccountError,
}


@dataclass(frozen=True)
class Check:
    """One rung: what was measured (``value``) and, unless it passed, what to do (``fix``).

    ``code`` is the error code a failing rung gives the command (``target_unreachable``,
    ``cloud_auth``…); ``details`` holds extra JSON for rungs that have more to say.
    """

    name: str
    status: Status
    value: str = ""
    fix: str = ""
    exit_code: int = ExitCode.OK
    code: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """Whether this rung is broken."""
        return self.status == FAIL

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"name", "status", "value", "fix"}`` (and ``details`` when any)."""
        data: dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "value": self.value,
            "fix": self.fix,
        }
        if self.details:
            data["details"] = self.details
        return data


def skipped(name: str, why: str) -> Check:
    """A rung not run, and why."""
    return Check(name, SKIP, why)


def failed(
    name: str,
    value: str,
    fix: str,
    *,
    exit_code: int = ExitCode.UNREACHABLE,
    code: str = "target_unreachable",
) -> Check:
    """A broken rung (the network rungs' exit code and error code by default)."""
    return Check(name, FAIL, value, fix, exit_code, code)


@dataclass(frozen=True)
class DoctorReport:
    """Every rung in ladder order, for one target."""

    target: str
    url: str
    checks: list[Check]
    deep: bool = False

    @property
    def first_failure(self) -> Check | None:
        """The first failing rung in ladder order."""
        return next((c for c in self.checks if c.failed), None)

    @property
    def ok(self) -> bool:
        """Whether no rung failed (warnings pass)."""
        return self.first_failure is None

    @property
    def exit_code(self) -> int:
        """0, or the exit code of the first failing rung."""
        first = self.first_failure
        return int(ExitCode.OK) if first is None else int(first.exit_code or ExitCode.UNEXPECTED)

    def check(self, name: str) -> Check | None:
        """The rung called ``name``, if it is on the ladder."""
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """``data`` of the envelope: target, URL, and ``checks`` in ladder order."""
        return {
            "target": self.target,
            "url": self.url,
            "deep": self.deep,
            "ok": self.ok,
            "checks": [c.to_dict() for c in self.checks],
        }

    def error(self) -> ComfycineError:
        """The error to raise for a failing report: first failing rung, every check kept."""
        first = self.first_failure
        if first is None:
            raise ValueError("the report has no failing rung")
        cls = _ERRORS.get(first.exit_code, ComfycineError)
        failures = sum(1 for c in self.checks if c.failed)
        more = f" ({failures - 1} more failing)" if failures > 1 else ""
        error = cls(
            f"The {first.name} check failed: {first.value}{more}",
            hint=first.fix or None,
            code=first.code or None,
            details={"checks": [c.to_dict() for c in self.checks], "target": self.target},
        )
        if error.exit_code != first.exit_code:
            error.exit_code = ExitCode(first.exit_code)  # type: ignore[misc]
        return error
