"""Chained stages: a media input that is a previous take (``--image job:ID[:N]``).

``job:ID`` (a job id or a unique prefix, ``last`` too) and ``job:ID:N`` (its N-th
output, from 1) name the output of a job in the ledger; ``take:FILE`` names a rendered
file, whose recipe says which job made it (a file the ledger does not know, from
another Mac, is uploaded; its lineage is still the job its recipe names). On the
server that made it, the file is used where it lies — ComfyUI's loaders take a name
annotated with its folder, ``subfolder/name.png [output]`` (checked on the real
server) — so nothing goes through the Mac. On another server, the downloaded copy is
uploaded as any local file would be. Either way the job records ``job:ID:N`` as the
parameter's value (its lineage).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..ledger import JobRecord, Ledger
from ..templates import Template
from ..templates.binding import normalize_name
from ..urls import origin

PREFIX = "job:"
TAKE_PREFIX = "take:"


@dataclass(frozen=True)
class OutputReference:
    """One media input taken from a previous job's output."""

    param: str
    text: str  # as written: job:ID[:N] or take:FILE
    job: str  # "" for a take:FILE whose recipe names no job
    index: int  # 1-based; 0 when the file's place among its job's outputs is unknown
    local: Path  # the downloaded copy
    server_url: str
    remote: dict[str, Any]  # filename, subfolder, type on that server

    @property
    def server_name(self) -> str:
        """The annotated name a ComfyUI loader resolves in its output folder."""
        sub = str(self.remote.get("subfolder") or "")
        name = f"{sub}/{self.remote['filename']}" if sub else str(self.remote["filename"])
        return f"{name} [{self.remote.get('type') or 'output'}]"

    def same_server(self, url: str) -> bool:
        """Whether a job on ``url`` can read the file where it lies."""
        if not self.remote:
            return False
        return origin(url) is not None and origin(url) == origin(self.server_url)

    @property
    def lineage(self) -> str:
        """What the job records as the parameter's value: ``job:ID:N`` when known."""
        if not self.job:
            return str(self.local)
        return f"job:{self.job}:{self.index}" if self.index else f"job:{self.job}"


def _bad(text: str, why: str, hint: str) -> UsageError:
    return UsageError(
        f"{text}: {why}", code="bad_job_reference", hint=hint, details={"reference": text}
    )


def parse_reference(param: str, text: str, ledger: Ledger) -> OutputReference:
    """``job:ID[:N]`` as the output it names; a clear error when it cannot be used."""
    body = text[len(PREFIX) :].strip()
    ref, sep, number = body.rpartition(":")
    if not sep or not number.isdigit():
        ref, number = body, "1"
    record: JobRecord = ledger.find(ref)
    if record.status != "succeeded":
        raise _bad(
            text,
            f"job {record.id[:8]} is {record.status}, it has no output to use.",
            f"See it with: comfycine status {record.id[:8]}",
        )
    index = int(number)
    remote = [r for r in record.remote_outputs if isinstance(r, dict) and r.get("filename")]
    if not 1 <= index <= len(record.outputs) or index > len(remote):
        raise _bad(
            text,
            f"job {record.id[:8]} has {len(record.outputs)} output(s), not {index}.",
            f"List them with: comfycine status {record.id[:8]}",
        )
    local = Path(record.outputs[index - 1])
    if not local.is_file():
        raise _bad(
            text,
            f"its file {local} is no longer on this Mac.",
            f"Collect it again with: comfycine wait {record.id[:8]}, or give the file itself.",
        )
    return OutputReference(
        param, text, record.id, index, local, record.server_url, _remote(record, index)
    )


def _remote(record: JobRecord, index: int) -> dict[str, Any]:
    """Where the ``index``-th output (from 1) lies on its server; {} when not known."""
    remote = [
        r
        for r in record.remote_outputs
        if isinstance(r, dict) and r.get("filename") and r.get("type", "output") == "output"
    ]
    return dict(remote[index - 1]) if 0 < index <= len(remote) else {}


def parse_take(param: str, text: str, ledger: Ledger) -> OutputReference:
    """``take:FILE`` as the output it is: where it lies on its server when the ledger
    knows its job, else the file itself (uploaded). No recipe: exit 2 ``no_recipe``."""
    from .recipe import read_recipe

    path = Path(text[len(TAKE_PREFIX) :].strip()).expanduser().absolute()
    if not path.is_file():
        raise _bad(text, f"there is no file {path}.", "Give the path of a rendered file.")
    recipe = read_recipe(path)
    record = ledger.get(recipe.job) if recipe.job else None
    if record is not None and record.status == "succeeded":
        for number, output in enumerate(record.outputs, start=1):
            if Path(output).absolute() == path:
                remote = _remote(record, number)
                return OutputReference(
                    param, text, record.id, number, path, record.server_url, remote
                )
    return OutputReference(param, text, recipe.job, 0, path, "", {})


def resolve_references(
    template: Template,
    assignments: Sequence[str],
    overrides: Mapping[str, str],
    ledger: Ledger,
) -> tuple[list[str], dict[str, str], list[OutputReference]]:
    """Replace ``job:`` media values by the downloaded copies (which bind like any file);
    return the new values and the references, for :func:`apply_references`."""
    refs: list[OutputReference] = []
    media = {n for n, p in template.parameters.items() if p.kind.is_media}
    kinds = {p.kind.value: n for n, p in template.parameters.items() if p.kind.is_media}

    def swap(name: str, value: str) -> str:
        text = value.strip()
        if not text.startswith((PREFIX, TAKE_PREFIX)):
            return value
        if name not in media:
            raise _bad(value, f"{name} is not a media input.", "job: feeds an image or video")
        if text.startswith(TAKE_PREFIX):
            ref = parse_take(name, text, ledger)
        else:
            ref = parse_reference(name, text, ledger)
        refs.append(ref)
        return str(ref.local)

    new_assignments = []
    for item in assignments:
        raw, sep, value = item.partition("=")
        name = normalize_name(raw)
        new_assignments.append(f"{raw}={swap(name, value)}" if sep else item)
    new_overrides = {}
    for key, value in overrides.items():
        name = kinds.get(key[1:], key) if key.startswith("@") else key
        new_overrides[key] = swap(name, value)
    return new_assignments, new_overrides, refs


def apply_references(job: Any, refs: Sequence[OutputReference], server_url: str) -> None:
    """Point a prepared job at the references: same server → the file where it lies (no
    upload); another → the downloaded copy is uploaded. The lineage goes in its params."""
    for ref in refs:
        if ref.same_server(server_url):
            job.media.pop(ref.param, None)
            job.server_inputs[ref.param] = ref.server_name
        job.params[ref.param] = ref.lineage
