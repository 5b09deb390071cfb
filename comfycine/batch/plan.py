"""Deciding what a batch run does with each file: run, retry, resume or skip.

An item is known by its *key*: the SHA-256 of the input's bytes, the template name and
the canonical JSON of the other parameters (prompt, ``--set`` values, defaults; other
media inputs by their content hash). Seeds drawn at random are left out, so running the
same batch again finds the same keys; a seed set on the command line is part of the key.
The ledger stores the key with each job (``jobs.item_key``), and the newest jobs of a
key decide:

- a ``succeeded`` job whose output files all still exist: done, skipped;
- a job still ``submitting``/``queued``/``running`` (a run that crashed or was stopped):
  resumed, i.e. followed on its server rather than submitted again; a ``rendered`` one
  (its download was cut) is resumed by downloading what is missing, never rendered
  again — unless the server no longer has its files (404);
- with ``--retry-failed``, a job recorded ``failed`` by an older version only because
  its download failed: its outputs are downloaded, not rendered again;
- a job that failed on its own (exit 4 or 5: rejected, node error, interrupted,
  cancelled): reported as failed earlier, rerun only with ``--retry-failed``;
- anything else (never run, lost by a server restart, failed because the target was
  unreachable or the cloud account refused): run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..collecting import needs_collection
from ..errors import MediaNotFound
from ..filehash import content_hash
from ..generation import PreparedJob, prepare_template_job
from ..ledger import JobRecord, Ledger
from ..templates import Parameter, Template
from ..templates.binding import normalize_name
from .inputs import InputFile
from .result import BatchItem

# Exit codes of failures that belong to the item itself (not to the server or account).
ITEM_FAILURE_EXITS = frozenset({4, 5})
ITEM_FAILURE_STATUSES = frozenset({"failed", "interrupted", "cancelled"})


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def item_key(input_hash: str, template: str, params: Mapping[str, Any]) -> str:
    """The identity of one batch item (64 hex digits)."""
    text = canonical_json({"input": input_hash, "template": template, "params": dict(params)})
    return hashlib.sha256(text.encode()).hexdigest()


def batch_id(folder: Path, template: str, prompt: str | None, assignments: Sequence[str]) -> str:
    """A stable id for "this folder through this template with these values".

    Running the same batch again gets the same id, so its jobs group together in the
    ledger across runs.
    """
    text = canonical_json(
        {
            "folder": str(folder.absolute()),
            "template": template,
            "prompt": prompt,
            "set": sorted(assignments),
        }
    )
    return "b" + hashlib.sha256(text.encode()).hexdigest()[:11]


def set_names(assignments: Sequence[str]) -> set[str]:
    """The parameter names given with ``--set NAME=VALUE``."""
    return {normalize_name(a.partition("=")[0]) for a in assignments if "=" in a}


def key_params(
    job: PreparedJob,
    template: Template,
    input_param: str,
    explicit: set[str],
    media_hashes: dict[Path, str],
) -> dict[str, Any]:
    """The parameters that identify an item: no input path, no drawn seeds.

    Other media inputs (a mask set with ``--set``) count by content, not by path.
    """
    params: dict[str, Any] = {}
    for name, value in job.params.items():
        if name == input_param or (name in job.seeds and name not in explicit):
            continue
        param = template.parameters.get(name)
        if param is not None and param.kind.is_media and name in job.media:
            path = job.media[name]
            if path not in media_hashes:
                media_hashes[path] = content_hash(path)
            value = "sha256:" + media_hashes[path]
        params[name] = value
    return params


def _gone_from_server(record: JobRecord) -> bool:
    """A rendered job whose files the server no longer has (404): only a render helps."""
    details = (record.error or {}).get("details") or {}
    return needs_collection(record) and details.get("status") == 404


def is_item_failure(record: JobRecord) -> bool:
    """True when a job failed because of the item, not of the server or the account."""
    if _gone_from_server(record):
        return True
    if record.status not in ITEM_FAILURE_STATUSES:
        return False
    exit_code = (record.error or {}).get("exit")
    return exit_code is None or exit_code in ITEM_FAILURE_EXITS


def decide(item: BatchItem, records: list[JobRecord], *, retry_failed: bool) -> None:
    """Set ``item.plan`` (and earlier outcomes) from the ledger's jobs for its key."""
    for record in records:
        if record.status == "succeeded":
            if all(Path(out).is_file() for out in record.outputs):
                item.take_record(record)
                item.status, item.plan, item.earlier = "succeeded", "skip", True
                item.reason = "done in an earlier run"
                return
            item.reason = f"the outputs of job {record.id[:8]} are gone: rendering again"
    live = [r for r in records if not r.is_terminal]
    if live and not _gone_from_server(live[0]):
        item.plan, item.resume = "resume", live[0]
        item.job, item.target = live[0].id, live[0].target
        return
    if (
        records
        and retry_failed
        and needs_collection(records[0])
        and not _gone_from_server(records[0])
    ):
        # Rendered, only its download failed (recorded failed by older versions).
        item.plan, item.resume = "resume", records[0]
        item.job, item.target = records[0].id, records[0].target
        return
    if records and is_item_failure(records[0]):
        if retry_failed:
            item.plan = "retry"
            return
        item.take_record(records[0])
        item.status, item.plan, item.earlier = "failed", "skip", True
        item.reason = f"failed earlier: {item.reason}"
        return
    item.plan = "run"


async def plan_items(
    files: Sequence[InputFile],
    template: Template,
    param: Parameter,
    ledger: Ledger,
    *,
    prompt: str | None,
    assignments: Sequence[str],
    batch: str,
    retry_failed: bool,
) -> list[BatchItem]:
    """One item per file, each prepared (values bound, seeds drawn) and decided.

    A bad ``--set`` raises ParameterError for the whole batch before anything runs; a
    file that cannot be read, or has the same content as an earlier one, is skipped.
    """
    explicit = set_names(assignments)
    media_hashes: dict[Path, str] = {}
    seen: dict[str, str] = {}
    items: list[BatchItem] = []
    for found in files:
        item = BatchItem(found.path)
        items.append(item)
        if found.problem is not None:
            item.status, item.plan, item.reason = "skipped", "skip", found.problem
            continue
        try:
            # A thread: hashing a large video must not block Ctrl-C or the loop.
            digest = await asyncio.to_thread(content_hash, found.path)
            job = prepare_template_job(
                template,
                prompt=prompt,
                assignments=assignments,
                overrides={param.name: str(found.path)},
                validate=False,
            )
        except (OSError, MediaNotFound) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "removed meanwhile"
            item.status, item.plan, item.reason = "skipped", "skip", f"unreadable: {reason}"
            continue
        item.key = item_key(
            digest, template.name, key_params(job, template, param.name, explicit, media_hashes)
        )
        if item.key in seen:
            item.status, item.plan = "skipped", "skip"
            item.reason = f"same content as {seen[item.key]}"
            continue
        seen[item.key] = item.name
        job.batch_id, job.source_path, job.item_key = batch, str(found.path), item.key
        item.prepared = job
        decide(item, ledger.by_item_key(item.key), retry_failed=retry_failed)
    return items
