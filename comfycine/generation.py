"""``generate``, ``wait``, ``status`` and ``cancel`` as library calls over :class:`JobRunner`.

Each function takes the resolved :class:`~comfycine.settings.Settings` and plain
arguments, and returns a result with ``to_dict()`` for the JSON envelope. Nothing here
prints: progress goes to the ``observer`` the CLI passes in.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import ComfyClient
from .errors import (
    ComfycineError,
    Interrupted,
    JobInterrupted,
    ParameterError,
    RecordedError,
    UsageError,
    recordable,
)
from .jobs import JobOutcome, JobRunner, Observer, new_ids
from .journal import Journal
from .ledger import JobRecord, Ledger
from .settings import Settings
from .stream import EventStream
from .templates import Template, bind_values, load_template, render_graph, template_dirs


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
        }


def target_url(settings: Settings, target: str | None) -> tuple[str, str]:
    """(name, base URL) of the chosen target. Only ``local`` exists in this version."""
    name = (target or "local").strip()
    if name == "local":
        return name, settings.comfyui_url
    if name == "cloud":
        raise UsageError(
            "The cloud target is not available in this version of comfycine.",
            hint="Run on the local target (drop @cloud / --target cloud).",
            code="unknown_target",
        )
    raise UsageError(
        f"Unknown target {name!r}.",
        hint="Use --target local.",
        code="unknown_target",
    )


def split_target_prefix(prompt: str | None, target: str | None) -> tuple[str | None, str | None]:
    """``@cloud a rainy street`` → (``a rainy street``, ``cloud``): the filmmaker's shorthand."""
    if prompt is not None and prompt.lstrip().lower().startswith("@cloud"):
        rest = prompt.lstrip()[len("@cloud") :]
        if not rest or rest[0].isspace():
            if target not in (None, "cloud"):
                raise UsageError(
                    f"The prompt asks for @cloud but --target is {target!r}.",
                    hint="Drop one of the two.",
                    code="conflicting_target",
                )
            return rest.strip(), "cloud"
    return prompt, target


def resolve_media_shortcuts(template: Template, overrides: Mapping[str, str]) -> dict[str, str]:
    """Turn ``--image``/``--video`` (keys ``@image``/``@video``) into the template's own name."""
    resolved: dict[str, str] = {}
    for key, value in overrides.items():
        if not key.startswith("@"):
            resolved[key] = value
            continue
        kind = key[1:]
        names = [n for n, p in template.parameters.items() if p.kind.value == kind]
        if len(names) != 1:
            found = ", ".join(names) if names else "none"
            raise ParameterError(
                f"--{kind} needs a template with exactly one {kind} input; "
                f"{template.name} has: {found}.",
                hint=f"Use --set NAME=PATH (see: comfycine workflow show {template.name})",
            )
        resolved[names[0]] = value
    return resolved


def seed_values(template: Template, values: Mapping[str, Any]) -> dict[str, int]:
    """Every seed actually used (set or drawn), so the take can be rendered again."""
    return {
        name: int(values[name])
        for name in template.parameters
        if (name == "seed" or name.endswith("_seed")) and isinstance(values.get(name), int)
    }


def _json_params(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


async def _generate(
    settings: Settings,
    template_name: str,
    *,
    prompt: str | None,
    assignments: Sequence[str],
    overrides: Mapping[str, str],
    target: str | None,
    detach: bool,
    timeout: float | None,
    observer: Observer | None,
) -> JobResult:
    prompt, target = split_target_prefix(prompt, target)
    name, url = target_url(settings, target)
    template = load_template(template_name, template_dirs(settings.workflow_dir))
    overrides = resolve_media_shortcuts(template, overrides)
    binding = bind_values(template, prompt=prompt, assignments=assignments, overrides=overrides)
    prompt_id, client_id = new_ids()
    async with ComfyClient(url) as client:
        journal = Journal(settings.ledger_path, secrets=settings.secret_values)
        runner = JobRunner(
            client, journal, target=name, output_dir=settings.output_dir, observer=observer
        )
        # The socket must be open before the POST; prepare the job while its handshake
        # is in flight (round trips over Tailscale). Detached: just check the server.
        reaching: asyncio.Future[Any] = asyncio.ensure_future(
            client.queue() if detach else runner.open_stream(client_id)
        )
        stream: EventStream | None = None
        try:
            await journal.open()
            uploaded: dict[str, str] = {}
            if binding.media:
                stream = _as_stream(await reaching)
                uploaded = await runner.upload_media(binding.media)
            graph = render_graph(template, binding.values, uploaded)
            record = await runner.record(
                graph,
                prompt_id=prompt_id,
                client_id=client_id,
                template=template.name,
                params=_json_params(binding.values),
                seeds=seed_values(template, binding.values),
            )
            try:
                stream = _as_stream(await reaching)
            except ComfycineError as exc:
                await journal.mark(record.id, "failed", error=recordable(exc))
                raise
            record = await runner.post(record)
            if stream is None:
                return JobResult.from_record(record)
            try:
                outcome = await runner.follow(record, stream, timeout=timeout, attach=False)
            except asyncio.CancelledError:
                raise _interrupted(prompt_id) from None
            return _result(outcome)
        finally:
            stream = stream or await _settle(reaching)
            if stream is not None:
                await stream.close()
            await journal.aclose()


def _as_stream(reached: Any) -> EventStream | None:
    return reached if isinstance(reached, EventStream) else None


async def _settle(reaching: asyncio.Future[Any]) -> EventStream | None:
    """Cancel a connection still in flight, or return the socket it opened (to close it)."""
    if not reaching.done():
        reaching.cancel()
    with contextlib.suppress(BaseException):
        return _as_stream(await reaching)
    return None


def _interrupted(job_id: str) -> Interrupted:
    return Interrupted(
        f"Stopped following job {job_id[:8]}; it keeps running on the server.",
        hint=f"Follow it with: comfycine wait {job_id[:8]}  (or stop it: comfycine cancel "
        f"{job_id[:8]})",
        details={"job": job_id},
    )


def _result(outcome: JobOutcome) -> JobResult:
    result = JobResult.from_record(outcome.record)
    result.outputs = [str(p) for p in outcome.outputs]
    return result


def generate(
    settings: Settings,
    template_name: str,
    *,
    prompt: str | None = None,
    assignments: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
    target: str | None = None,
    detach: bool = False,
    timeout: float | None = None,
    observer: Observer | None = None,
) -> JobResult:
    """Render a template with values, run it on the target, download its outputs."""
    return asyncio.run(
        _generate(
            settings,
            template_name,
            prompt=prompt,
            assignments=assignments,
            overrides=overrides or {},
            target=target,
            detach=detach,
            timeout=timeout,
            observer=observer,
        )
    )


async def _wait(
    settings: Settings, ref: str, timeout: float | None, observer: Observer | None
) -> JobResult:
    async with Journal(settings.ledger_path, secrets=settings.secret_values) as journal:
        record = await journal.find(ref)
        if record.status == "succeeded" and record.outputs:
            return JobResult.from_record(record)
        if record.is_terminal and record.status != "succeeded":
            return _raise_recorded(record)
        async with ComfyClient(record.server_url) as client:
            runner = JobRunner(
                client,
                journal,
                target=record.target,
                output_dir=settings.output_dir,
                observer=observer,
            )
            try:
                outcome = await runner.follow(record, timeout=timeout)
            except asyncio.CancelledError:
                raise _interrupted(record.id) from None
            return _result(outcome)


def _raise_recorded(record: JobRecord) -> JobResult:
    raise RecordedError(record.error or {}, job=record.id, status=record.status)


def wait(
    settings: Settings,
    ref: str,
    *,
    timeout: float | None = None,
    observer: Observer | None = None,
) -> JobResult:
    """Follow a (detached) job until it ends or ``timeout`` passes; download its outputs."""
    return asyncio.run(_wait(settings, ref, timeout, observer))


@dataclass
class StatusResult:
    """``status``: one job in detail, or the recent ones."""

    jobs: list[dict[str, Any]]
    single: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"job": self.jobs[0]} if self.single else {"jobs": self.jobs}


def _job_view(record: JobRecord, live: str | None = None) -> dict[str, Any]:
    view = JobResult.from_record(record).to_dict()
    view["created_at"] = record.created_at
    view["finished_at"] = record.finished_at
    if record.error:
        view["error"] = record.error
    if live:
        view["server_state"] = live
    return view


async def _live_state(record: JobRecord) -> tuple[str | None, JobRecord]:
    """Ask the server about an unfinished job (quickly); None when it cannot answer."""
    try:
        async with ComfyClient(record.server_url, connect_timeout=2.0, read_timeout=5.0) as c:
            if await c.history(record.id) is not None:
                return "finished (not collected: run comfycine wait)", record
            position = (await c.queue()).position(record.id)
    except ComfycineError:
        return None, record
    if position is None:
        return "unknown to the server", record
    return ("running" if position == 0 else f"queued, position {position}"), record


def _refresh(ledger: Ledger, record: JobRecord, live: str | None) -> JobRecord:
    """Record what the server said about a job nobody follows right now."""
    if live == "running" and record.status == "queued":
        return ledger.mark(record.id, "running")
    return record


def status(settings: Settings, ref: str | None = None, *, limit: int = 20) -> StatusResult:
    """One job (refreshed from the server when unfinished), or the recent jobs."""
    with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
        if ref is None:
            return StatusResult([_job_view(r) for r in ledger.recent(limit)], single=False)
        record = ledger.find(ref)
        live = None
        if not record.is_terminal:
            live, record = asyncio.run(_live_state(record))
            record = _refresh(ledger, record, live)
    return StatusResult([_job_view(record, live)], single=True)


@dataclass
class CancelResult:
    """``cancel``: what was done to the job."""

    job: str
    action: str  # interrupted | removed | already_finished | not_on_server

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"job": self.job, "action": self.action}


async def _cancel(settings: Settings, ref: str) -> CancelResult:
    with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
        record = ledger.find(ref)
        if record.is_terminal:
            return CancelResult(record.id, "already_finished")
        async with ComfyClient(record.server_url) as client:
            queue = await client.queue()
            position = queue.position(record.id)
            if position == 0:
                await client.interrupt(record.id)
                # The follower (generate/wait) records "interrupted" from history; if
                # none is running, record it here once the server confirms.
                for _ in range(50):
                    history = await client.history(record.id)
                    if history is not None:
                        cancelled = JobInterrupted(
                            f"Job {record.id[:8]} was cancelled while running.",
                            hint=f"Render it again with: comfycine generate "
                            f"{record.template or 'TEMPLATE'}",
                        )
                        ledger.mark(record.id, "interrupted", error=recordable(cancelled))
                        break
                    await asyncio.sleep(0.1)
                return CancelResult(record.id, "interrupted")
            if position is not None:
                await client.delete_pending([record.id])
                removed = JobInterrupted(
                    f"Job {record.id[:8]} was removed from the queue before it started.",
                    hint="Submit it again with: comfycine generate "
                    f"{record.template or 'TEMPLATE'}",
                    code="job_cancelled",
                )
                ledger.mark(record.id, "cancelled", error=recordable(removed))
                return CancelResult(record.id, "removed")
            if await client.history(record.id) is not None:
                return CancelResult(record.id, "already_finished")
            ledger.mark(record.id, "lost")
            return CancelResult(record.id, "not_on_server")


def cancel(settings: Settings, ref: str) -> CancelResult:
    """Interrupt the job if it runs, remove it if it waits in the queue."""
    return asyncio.run(_cancel(settings, ref))
