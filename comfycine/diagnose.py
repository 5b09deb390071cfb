"""Turn any failure into a :class:`Diagnosis`: a code, a plain cause, concrete fixes.

(Skeleton: the full engine is being written; the interface is stable.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ComfycineError


@dataclass(frozen=True)
class Fix:
    """One thing to do, with the exact command when there is one."""

    text: str
    command: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"text": …, "command": …}``."""
        return {"text": self.text, "command": self.command}


@dataclass(frozen=True)
class Diagnosis:
    """What happened and what to do about it."""

    code: str
    cause: str
    fixes: list[Fix] = field(default_factory=list)

    @property
    def top_fix(self) -> str | None:
        """The first fix as one line (its command when it has one)."""
        if not self.fixes:
            return None
        first = self.fixes[0]
        return f"{first.text} {first.command}" if first.command else first.text

    def to_dict(self) -> dict[str, Any]:
        """JSON form (DESIGN.md "Diagnosis and doctor results")."""
        return {"code": self.code, "cause": self.cause, "fixes": [f.to_dict() for f in self.fixes]}


def diagnose(error: ComfycineError) -> Diagnosis:
    """The diagnosis of an error raised by comfycine (never raises)."""
    return Diagnosis(error.code, error.message, [Fix(error.hint)] if error.hint else [])
