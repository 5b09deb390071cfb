"""``wait``, ``status`` and ``cancel``: following and steering jobs already submitted.

Each reads the ledger first (a job id, a unique prefix or ``last``) and asks the job's
own server, whatever the current settings point at. A job the ledger answers for (a
finished one) costs no import of the transport or of asyncio: agents call ``status``
and ``wait`` often, each a fresh process.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import (
    ComfycineError,
    JobFailed,
    JobInterrupted,
    RecordedError,
    UsageError,
    recordable,
)
from .ledger import JobRecord, Ledger, needs_collection
from .results import JobResult, interrupted_error, outcome_result

if TYPE_CHECKING:
    from .jobs import Observer
    from .settings import Settings
    from .transport import ComfyClient


async def _wait(
    settings: Settings, ref: str, timeout: float | None, observer: Observer | None
) -> JobResult:
    import asyncio

    from .jobs import FollowOptions, JobRunner
    from .journal import Journal
    from .targets import client_for

    async with Journal(settings.ledger_path, secrets=settings.secret_values) as journal:
        record = await journal.find(ref)
        if record.status == "succeeded" and record.outputs:
            return JobResult.from_record(record)
        collect = needs_collection(record)
        if record.is_terminal and record.status != "succeeded" and not collect:
            return _raise_recorded(record)
        async with client_for(settings, record.target, record.server_url) as client:
            runner = JobRunner(
                client,
                journal,
                target=record.target,
                output_dir=settings.output_dir,
                observer=observer,
                options=FollowOptions.from_settings(settings),
            )
            try:
                if collect:  # rendered: only the download is left, nothing to follow
                    outcome = await runner.collect(record, timeout=timeout)
                else:
                    outcome = await runner.follow(record, timeout=timeout)
            except asyncio.CancelledError:
                raise interrupted_error(record.id) from None
            return outcome_result(outcome)


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
    try:
        with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
            record = ledger.find(ref)
        if record.status == "succeeded" and record.outputs:
            return JobResult.from_record(record)  # home already: what _wait answers first
        import asyncio

        return asyncio.run(_wait(settings, ref, timeout, observer))
    except ComfycineError as exc:
        job = exc.details.get("job")
        if isinstance(job, str):
            _attach_diagnosis(settings, exc, job)
        raise


def _attach_diagnosis(settings: Settings, error: ComfycineError, job: str) -> None:
    from .diagnose import attach
    from .diagnose.context import context_from_record

    with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
        record = ledger.get(job)
    if record is not None:
        attach(error, context_from_record(record, settings.workflow_dir))


@dataclass
class StatusResult:
    """``status``: one job in detail, or the recent ones."""

    jobs: list[dict[str, Any]]
    single: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"job": self.jobs[0]} if self.single else {"jobs": self.jobs}


def job_view(record: JobRecord, live: str | None = None) -> dict[str, Any]:
    """A ledger job as ``status`` (and ``debug``) show it: result, times, error, live state."""
    view = JobResult.from_record(record).to_dict()
    view["created_at"] = record.created_at
    view["finished_at"] = record.finished_at
    if record.error:
        view["error"] = record.error
    if live:
        view["server_state"] = live
    for key in ("pick", "note"):  # a take's verdict (takes.picks)
        if record.extra.get(key):
            view[key] = record.extra[key]
    stalled = record.extra.get("stalled")
    if stalled and not record.is_terminal:
        view["stalled"] = stalled
    return view


async def _live_state(settings: Settings, record: JobRecord) -> tuple[str | None, JobRecord]:
    """Ask the server about an unfinished job; None when it cannot answer."""
    from .targets import client_for

    try:
        async with client_for(settings, record.target, record.server_url) as c:
            sighting = await c.locate(record.id)
    except ComfycineError:
        return None, record
    if sighting.state == "finished":
        return "finished (not collected: run comfycine wait)", record
    if sighting.state == "absent":
        return "unknown to the server", record
    if sighting.state == "going":
        return "queued or running", record
    position = sighting.position
    if sighting.state == "queued":
        return ("queued" + (f", position {position}" if position else "")), record
    return "running", record


def _refresh(ledger: Ledger, record: JobRecord, live: str | None) -> JobRecord:
    """Record what the server said about a job nobody follows right now."""
    if live == "running" and record.status == "queued":
        return ledger.mark(record.id, "running")
    return record


def status(settings: Settings, ref: str | None = None, *, limit: int = 20) -> StatusResult:
    """One job (refreshed from the server when unfinished), or the recent jobs."""
    with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
        if ref is None:
            return StatusResult([job_view(r) for r in ledger.recent(limit)], single=False)
        record = ledger.find(ref)
        live = None
        if needs_collection(record):
            # Rendered: the server has nothing more to say; only the download is left.
            live = f"rendered, not downloaded: run comfycine wait {record.id[:8]}"
        elif not record.is_terminal:
            import asyncio

            live, record = asyncio.run(_live_state(settings, record))
            record = _refresh(ledger, record, live)
    return StatusResult([job_view(record, live)], single=True)


@dataclass
class CancelResult:
    """``cancel``: what was done to the job."""

    job: str
    # interrupted | removed | already_finished | not_on_server | freed | finished_anyway
    # | cancel_requested (a v2 server took the request but the job has not stopped yet)
    action: str
    steps: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        data: dict[str, Any] = {"job": self.job, "action": self.action}
        if self.steps is not None:
            data["steps"] = self.steps
        return data


# How long to wait for a running job to stop after each step of an escalation.
STOP_WAIT = 10.0
STOP_POLL = 0.2


async def _stopped(client: ComfyClient, job_id: str, wait: float) -> bool:
    """Whether the job left the running slot within ``wait`` seconds."""
    import asyncio

    loop = asyncio.get_running_loop()
    until = loop.time() + wait
    while True:
        if (await client.locate(job_id)).state in {"finished", "absent"}:
            return True
        if loop.time() >= until:
            return False
        await asyncio.sleep(STOP_POLL)


async def _cancel(settings: Settings, ref: str, force: bool) -> CancelResult:
    from .targets import client_for

    with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
        record = ledger.find(ref)
        if record.is_terminal or needs_collection(record):
            # Rendered: nothing runs any more; never mark it lost (wait still collects it).
            return CancelResult(record.id, "already_finished")
        async with client_for(settings, record.target, record.server_url) as client:
            sighting = await client.locate(record.id)
            if sighting.state in {"running", "going"}:
                return await _interrupt(client, ledger, record, force)
            if sighting.state == "queued":
                await client.cancel(record.id, running=False)
                # A v2 server may answer a cancel and run the job anyway (comfy-api-proxy
                # before ComfyUI's per-job cancel): believe only what it then shows.
                if client.server_minted_ids and not await _stopped(
                    client, record.id, STOP_WAIT / 2
                ):
                    return CancelResult(record.id, "cancel_requested", ["cancel"])
                removed = JobInterrupted(
                    f"Job {record.id[:8]} was removed from the queue before it started.",
                    hint="Submit it again with: comfycine generate "
                    f"{record.template or 'TEMPLATE'}",
                    code="job_cancelled",
                )
                ledger.mark(record.id, "cancelled", error=recordable(removed))
                return CancelResult(record.id, "removed")
            if sighting.state == "finished":
                return CancelResult(record.id, "already_finished")
            ledger.mark(record.id, "lost")
            return CancelResult(record.id, "not_on_server")


async def _interrupt(
    client: ComfyClient, ledger: Ledger, record: JobRecord, force: bool
) -> CancelResult:
    """Interrupt a running job; with ``force`` escalate to ``POST /free``, then report."""
    steps = ["interrupt"]
    await client.cancel(record.id, running=True)
    stopped = await _stopped(client, record.id, STOP_WAIT if force else STOP_WAIT / 2)
    if not stopped and force:
        # A node stuck in a long GPU call ignores the interrupt flag until it returns;
        # freeing memory can make it fail and return (Comfy Cloud manages its own).
        with contextlib.suppress(UsageError):
            await client.free_memory(unload_models=True)
            steps.append("free")
        stopped = await _stopped(client, record.id, STOP_WAIT)
    if stopped:
        history = await client.history(record.id)
        if history is not None and history.status == "success" and not history.interrupted:
            # It ended before the interrupt took: its outputs are there to collect.
            return CancelResult(record.id, "finished_anyway", steps)
        cancelled = JobInterrupted(
            f"Job {record.id[:8]} was cancelled while running.",
            hint=f"Render it again with: comfycine generate {record.template or 'TEMPLATE'}",
        )
        if history is not None:
            ledger.mark(record.id, "interrupted", error=recordable(cancelled))
        return CancelResult(record.id, "freed" if "free" in steps else "interrupted", steps)
    if not force:
        # ComfyUI sets its interrupt flag (the node stops at its next check); a v2
        # server has only accepted the request, and says so in the job's status.
        action = "cancel_requested" if client.server_minted_ids else "interrupted"
        return CancelResult(record.id, action, steps)
    raise JobFailed(
        f"Job {record.id[:8]} is still running after an interrupt and POST /free: the node "
        "it is in does not stop.",
        code="cancel_ignored",
        hint=_restart_hint(record, client.base_url),
        details={"job": record.id, "steps": steps},
    )


def _restart_hint(record: JobRecord, url: str) -> str:
    """Where to stop a job that ignores cancelling: the machine it runs on, by name."""
    if record.target == "local":
        return "Restart ComfyUI on the PC (Pinokio: Stop, then Start); the job ends with it."
    if record.target == "cloud":
        return "Cancel it from the queue at cloud.comfy.org (it is billed while it runs)."
    return (
        f"Restart the ComfyUI behind target {record.target} ({url}); the job ends with it. "
        "(comfy-api-proxy cannot cancel on a ComfyUI without the per-job cancel route.)"
    )


def cancel(settings: Settings, ref: str, *, force: bool = False) -> CancelResult:
    """Interrupt the job if it runs, remove it if it waits in the queue.

    ``force`` escalates when the interrupt is ignored: ``POST /free``, then a report
    (exit 5, ``cancel_ignored``) if the job still runs.
    """
    import asyncio

    return asyncio.run(_cancel(settings, ref, force))
