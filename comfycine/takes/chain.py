"""Chained stages: a media input that is a previous take (``--image job:ID[:N]``).

``job:ID`` (a job id or a unique prefix, ``last`` too) and ``job:ID:N`` (its N-th
output, from 1) name the output of a job in the ledger. On the server that made it, the
file is used where it lies — ComfyUI's loaders take a name annotated with its folder,
``subfolder/name.png [output]`` (checked on the real server) — so nothing goes through
the Mac. On another server, the downloaded copy is uploaded as any local file would be.
Either way the job records the reference itself as the parameter's value (its lineage).
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


@dataclass(frozen=True)
class OutputReference:
    """One media input taken from a previous job's output."""

    param: str
    text: str  # as written: job:ID[:N], kept as the job's lineage
    job: str
    index: int  # 1-based
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
        return origin(url) is not None and origin(url) == origin(self.server_url)


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
    remote_ref = [r for r in remote if r.get("type", "output") == "output"][index - 1]
    return OutputReference(
        param, text, record.id, index, local, record.server_url, dict(remote_ref)
    )


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
        if not value.strip().startswith(PREFIX):
            return value
        if name not in media:
            raise _bad(value, f"{name} is not a media input.", "job: feeds an image or video")
        ref = parse_reference(name, value.strip(), ledger)
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
        job.params[ref.param] = f"job:{ref.job}:{ref.index}"
