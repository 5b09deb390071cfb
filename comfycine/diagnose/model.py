"""The diagnosis data: :class:`Diagnosis`, :class:`Fix`, and the job it is about.

A diagnosis is what ``debug`` prints and what a failing command's envelope carries as
``error.details.diagnosis`` (DESIGN.md "Diagnosis and doctor results").
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import join_sentences


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
    """What happened (``code``, ``cause``) and what to do about it (``fixes``, best first)."""

    code: str
    cause: str
    fixes: list[Fix] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # numbers the fixes came from

    @property
    def top_fix(self) -> str | None:
        """The first fix as one line: its text, then its command."""
        if not self.fixes:
            return None
        first = self.fixes[0]
        return join_sentences(first.text, first.command)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``facts`` only when there are some)."""
        data: dict[str, Any] = {
            "code": self.code,
            "cause": self.cause,
            "fixes": [f.to_dict() for f in self.fixes],
        }
        if self.facts:
            data["facts"] = self.facts
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Diagnosis:
        """Read back the JSON form (a diagnosis stored with an error in the ledger)."""
        fixes = [
            Fix(str(f.get("text") or ""), f.get("command"))
            for f in data.get("fixes") or ()
            if isinstance(f, Mapping)
        ]
        return cls(str(data.get("code") or "unknown"), str(data.get("cause") or ""), fixes)


@dataclass(frozen=True)
class PackInfo:
    """A custom-node pack that provides a node class (ComfyUI-Manager's map or a sidecar)."""

    title: str
    key: str  # a Comfy Registry id, or the git URL when the pack has none
    source: str  # "manager" or "template"
    install: str | None = None

    @property
    def install_command(self) -> str | None:
        """``comfy node registry-install ID`` when the key is a registry id."""
        if self.install:
            return self.install
        if "://" in self.key or "/" in self.key:
            return None
        return f"comfy node registry-install {self.key}"


@dataclass(frozen=True)
class ModelSource:
    """Where a model file goes on the PC and where to download it."""

    filename: str
    folder: str | None
    url: str | None
    source: str  # "template" or "manager"


@dataclass
class JobContext:
    """The failing job, when known: enough to compute numbers and ready commands."""

    job: str | None = None
    template: str | None = None
    target: str = "local"
    # Where the job ran, as the ledger or the client knew it (no password); None: unknown.
    server_url: str | None = None
    # False when nobody said which target (a pasted error without --target, an error
    # with no job): ``target`` is then only the default, not a fact about the failure.
    target_known: bool = True
    params: dict[str, Any] = field(default_factory=dict)
    graph: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    bounds: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: frozenset[str] = frozenset()
    seeds: dict[str, Any] = field(default_factory=dict)
    # Filled by the lookups of comfycine.diagnose.lookup (network): class → packs, file → source.
    packs: dict[str, list[PackInfo]] = field(default_factory=dict)
    models: dict[str, ModelSource] = field(default_factory=dict)
    manager_checked: bool = False  # the server's ComfyUI-Manager was asked
    # Filled by the Tailscale check: one line on what is wrong with the tailnet, if anything.
    tailscale_problem: str | None = None
    tailscale_fix: str | None = None

    def rerun_command(
        self,
        changes: Mapping[str, Any] | None = None,
        *,
        target: str | None = None,
        flags: tuple[str, ...] = (),
    ) -> str | None:
        """The ``comfycine generate`` line that renders this job again with ``changes``.

        Parameters equal to the template default are left out; the seeds are kept so the
        take is the same one. None when the job did not come from a template.
        """
        if not self.template:
            return None
        values = {**self.params, **(changes or {})}
        words = ["comfycine", "generate", self.template]
        prompt = values.pop("prompt", None)
        if prompt not in (None, "") and prompt != self.defaults.get("prompt"):
            words += ["--prompt", str(prompt)]
        for name in sorted(values):
            value = values[name]
            kept = name in (changes or {}) or name in self.seeds
            if not kept and name in self.defaults and self.defaults[name] == value:
                continue
            words += ["--set", f"{name}={_show(value)}"]
        words += flags
        if target:
            words += ["--target", target]
        return shlex.join(words)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
