"""One complete input file, from taken to filed: key, ledger decision, job, placement.

The job itself goes through :func:`comfycine.generation.run_prepared` (a new job) or
:meth:`comfycine.jobs.JobRunner.follow` (re-attaching to a job a killed watcher left
running): the same code path as ``generate`` and ``wait``. This module decides which,
and files the input afterwards (``input/.done/`` or ``failed/`` with its reason).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..collecting import needs_collection
from ..errors import (
    ComfycineError,
    Interrupted,
    JobLost,
    RecordedError,
)
from ..filehash import content_hash
from ..generation import prepare_template_job, run_prepared
from ..jobs import FollowOptions, JobRunner, Observer
from ..journal import Journal
from ..ledger import JobRecord, Ledger
from ..results import JobResult, interrupted_error, outcome_result
from ..settings import Settings
from ..targets import Target, client_for
from ..templates import Template, load_template, template_dirs
from .completeness import FileState
from .decision import MAX_CRASH_RERUNS, Decision, decide, handled, is_transient, item_key
from .exchange import (
    Exchange,
    WatchItem,
    fail_input,
    finish_input,
    media_parameter,
    place_file,
    resolve_item,
    unreadable_error,
)

NOTIFY_TIMEOUT = 30.0

EventSink = Callable[[dict[str, Any]], None]
Notify = Callable[[str, dict[str, Any]], Awaitable[None]]


def _event(kind: str, item: WatchItem, **fields: Any) -> dict[str, Any]:
    return {"event": kind, "input": item.rel.as_posix(), "template": item.template, **fields}


@dataclass
class WatchSummary:
    """What a watch run did; ``items`` lists each file (``once`` runs only)."""

    exchange: str
    mode: str  # once | watch
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    resumed: int = 0
    held: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    stopped: str = "done"  # done | signal
    # Why files were held (server unreachable…): a once run ends with it.
    transient: ComfycineError | None = None

    def add(self, payload: dict[str, Any]) -> None:
        """Count a filed item (and keep it, in a once run)."""
        kind = payload["event"]
        if kind == "item_succeeded":
            self.succeeded += 1
        elif kind == "item_failed":
            self.failed += 1
        elif kind == "item_skipped":
            self.skipped += 1
        if self.mode == "once":
            self.items.append(dict(payload))

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the envelope's ``data``)."""
        return {
            "exchange": self.exchange,
            "mode": self.mode,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "skipped": self.skipped,
            "resumed": self.resumed,
            "held": self.held,
            "pending": self.pending,
            "items": self.items,
            "stopped": self.stopped,
        }


class ItemHandler:
    """Takes complete files one at a time and files them."""

    def __init__(
        self,
        settings: Settings,
        exchange: Exchange,
        target: Target,
        ledger: Ledger,
        *,
        emit: EventSink,
        notify: Notify | None,
        observer: Observer | None,
        summary: WatchSummary,
        fixed_template: str | None,
        assignments: Sequence[str],
        allow_spend: bool = False,
    ) -> None:
        self.settings = settings
        self.exchange = exchange
        self.target = target
        self.ledger = ledger
        self.emit = emit
        self.notify = notify
        self.observer = observer
        self.summary = summary
        self.fixed_template = fixed_template
        self.assignments = list(assignments)
        # Nobody is there to ask: without it, a partner node sends the file to failed/.
        self.allow_spend = allow_spend
        self.dirs = template_dirs(settings.workflow_dir)
        # (input, job id) while a job is being followed: what Ctrl-C interrupts.
        self.busy: tuple[str, str | None] | None = None

    async def take(self, rel: PurePosixPath, path: Path, state: FileState) -> str:
        """Render one complete file; ``filed``, ``hold`` (retry later), ``stuck``, ``changed``."""
        name: str | None = None
        try:
            item = resolve_item(rel, self.fixed_template)
            name = item.template
            template = load_template(item.template, self.dirs)
            parameter = media_parameter(template, path)
            digest = await asyncio.to_thread(content_hash, path)
        except ComfycineError as exc:
            return await self._fail(rel, exc, name)
        except OSError as exc:
            return await self._fail(rel, unreadable_error(path, exc), name)
        try:
            if FileState.of(path.stat()) != state:
                return "changed"  # written again while we hashed it: wait for it anew
        except OSError:
            return "changed"
        key = item_key(item.template, rel, digest)
        for _ in range(MAX_CRASH_RERUNS + 2):
            decision = decide(self.ledger.by_item_key(key))
            if decision.action == "done" and decision.record is not None:
                return await self._skip(item, decision.record)
            if decision.action == "fail" and decision.record is not None:
                record = decision.record
                error = RecordedError(record.error or {}, job=record.id, status=record.status)
                return await self._fail(rel, error, name, key=key, job=record.id)
            try:
                if decision.action == "resume" and decision.record is not None:
                    result = await self._resume(item, decision.record)
                else:
                    result = await self._submit(item, template, parameter, path, key, decision)
            except Interrupted:
                raise  # self.busy stays set: it names the job in the message
            except JobLost:
                self.busy = None
                continue  # cut by a crash: decide again (one rerun, then failed/)
            except ComfycineError as exc:
                self.busy = None
                if is_transient(exc):
                    return self._hold(item, exc)
                return await self._fail(rel, exc, name, key=key, job=exc.details.get("job"))
            self.busy = None
            return await self._succeed(item, result)
        return "stuck"

    def interrupted(self, cause: Interrupted | None = None) -> Interrupted:
        """The error for Ctrl-C while a job was being followed (it goes on running)."""
        rel, job = self.busy or ("", None)
        job = job or (cause.details.get("job") if cause is not None else None)
        short = f" {job[:8]}" if job else ""
        return Interrupted(
            f"Stopped while following job{short} for {rel}; it keeps running on the server.",
            hint="Start comfycine watch again: it follows the job and files the result.",
            details={"job": job, "input": rel},
        )

    async def _submit(
        self,
        item: WatchItem,
        template: Template,
        parameter: str,
        path: Path,
        key: str,
        decision: Decision,
    ) -> JobResult:
        job = prepare_template_job(
            template, assignments=self.assignments, overrides={parameter: str(path)}
        )
        job.source_path = str(path)
        job.item_key = key
        job.allow_spend = self.allow_spend
        self.emit(_event("item_started", item, rerun=decision.reruns > 0))
        self.busy = (item.rel.as_posix(), None)
        return await run_prepared(
            self.settings,
            job,
            target=self.target,
            detach=False,
            timeout=None,
            observer=self.observer,
        )

    async def _resume(self, item: WatchItem, record: JobRecord) -> JobResult:
        """Follow a job a previous watcher submitted and did not see to its end."""
        self.emit(_event("item_resumed", item, job=record.id))
        self.summary.resumed += 1
        self.busy = (item.rel.as_posix(), record.id)
        secrets = self.settings.secret_values
        async with (
            client_for(self.settings, record.target, record.server_url) as client,
            Journal(self.settings.ledger_path, secrets=secrets) as journal,
        ):
            runner = JobRunner(
                client,
                journal,
                target=record.target,
                output_dir=self.settings.output_dir,
                observer=self.observer,
                options=FollowOptions.from_settings(self.settings),
            )
            try:
                if needs_collection(record):  # rendered: download what is missing
                    outcome = await runner.collect(record)
                else:
                    outcome = await runner.follow(record)
            except asyncio.CancelledError:
                raise interrupted_error(record.id) from None
        return outcome_result(outcome)

    def _place(self, item: WatchItem, renders: Sequence[str]) -> list[Path]:
        placed = []
        for render in renders:
            source = Path(render)
            if not source.is_file():
                continue
            extension = source.suffix.lstrip(".") or "bin"
            name = item.output_name(extension)
            placed.append(place_file(source, self.exchange.output_dir / Path(*name.parts)))
        return placed

    def _note(self, job: str, **facts: Any) -> None:
        """Record in the job's ledger row what the watcher did with its input."""
        record = self.ledger.get(job)
        if record is not None:
            watch = {**(record.extra.get("watch") or {}), **facts}
            self.ledger.update(job, extra={**record.extra, "watch": watch})

    def _relative(self, path: Path | None) -> str | None:
        return None if path is None else path.relative_to(self.exchange.root).as_posix()

    def _file_done(
        self, item: WatchItem, job: str, renders: Sequence[str]
    ) -> tuple[list[Path], Path | None] | None:
        """Outputs into output/, the input into .done/, noted in the ledger; None on failure.

        A run cut between two steps is safe: a placed output is found again as the same
        file (no copy added), and a succeeded key is never rendered again.
        """
        rel = item.rel.as_posix()
        try:
            placed = self._place(item, renders)
            try:
                moved: Path | None = finish_input(self.exchange, item.rel)
            except FileNotFoundError:
                moved = None  # deleted meanwhile: nothing to move
        except (OSError, ComfycineError) as exc:
            self.emit(
                {
                    "event": "item_held",
                    "input": rel,
                    "job": job,
                    "message": f"Rendered, but could not file it in {self.exchange.root}: {exc}",
                }
            )
            return None
        outputs = {"outputs": [self._relative(p) for p in placed]} if placed else {}
        self._note(job, input=rel, handled=True, moved_to=self._relative(moved), **outputs)
        return placed, moved

    async def _succeed(self, item: WatchItem, result: JobResult) -> str:
        filed = self._file_done(item, result.job, result.outputs)
        if filed is None:
            return "stuck"
        placed, moved = filed
        payload = _event(
            "item_succeeded",
            item,
            job=result.job,
            outputs=[str(p) for p in placed],
            renders=list(result.outputs),
            seconds=result.seconds,
            moved_to=self._relative(moved),
        )
        self.summary.add(payload)
        self.emit(payload)
        await self._notify("watch.succeeded", payload)
        return "filed"

    async def _skip(self, item: WatchItem, record: JobRecord) -> str:
        """A key that already succeeded: file the input again, never render it twice."""
        done = record.extra.get("watch") or {}
        earlier = [self.exchange.root / p for p in done.get("outputs") or ()]
        renders = [] if earlier and all(p.is_file() for p in earlier) else record.outputs
        filed = self._file_done(item, record.id, renders)
        if filed is None:
            return "stuck"
        placed, moved = filed
        outputs = [str(p) for p in placed] or [str(p) for p in earlier if p.is_file()]
        payload = _event(
            "item_skipped",
            item,
            job=record.id,
            reason="already_done",
            outputs=outputs,
            moved_to=self._relative(moved),
        )
        self.summary.add(payload)
        self.emit(payload)
        return "filed"

    async def _fail(
        self,
        rel: PurePosixPath,
        error: ComfycineError,
        template: str | None,
        *,
        key: str | None = None,
        job: str | None = None,
    ) -> str:
        current: list[JobRecord] = []
        if key is not None:
            for record in self.ledger.by_item_key(key):
                if handled(record):
                    break
                current.append(record)
        job = job or (current[0].id if current else None)
        payload: dict[str, Any] = {
            "event": "item_failed",
            "input": rel.as_posix(),
            "template": template,
            "job": job,
            "error": error.to_dict(),
        }
        outcome = "filed"
        try:
            moved, reason = fail_input(
                self.exchange,
                rel,
                error,
                template=template,
                job=job,
                secrets=self.settings.secret_values,
            )
            payload["moved_to"] = self._relative(moved)
            payload["reason_file"] = str(reason)
        except FileNotFoundError:
            payload["moved_to"] = None  # deleted meanwhile
        except (OSError, ComfycineError) as exc:
            payload["moved_to"] = None
            payload["message"] = f"Could not move it to {self.exchange.failed_dir}: {exc}"
            outcome = "stuck"
        if outcome == "filed":  # else the next run finds the failure and files it then
            moved_to = payload["moved_to"]
            for record in current:
                self._note(record.id, input=rel.as_posix(), handled=True, moved_to=moved_to)
        self.summary.add(payload)
        self.emit(payload)
        await self._notify("watch.failed", payload)
        return outcome

    def _hold(self, item: WatchItem, error: ComfycineError) -> str:
        rel = item.rel.as_posix()
        if rel not in self.summary.held:
            self.summary.held.append(rel)
        self.summary.transient = error
        self.emit({"event": "item_held", "input": rel, "error": error.to_dict()})
        return "hold"

    async def _notify(self, kind: str, payload: dict[str, Any]) -> None:
        if self.notify is None:
            return
        try:
            async with asyncio.timeout(NOTIFY_TIMEOUT):
                await self.notify(kind, dict(payload))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.emit(
                {
                    "event": "notify_failed",
                    "input": payload.get("input"),
                    "message": f"{type(exc).__name__}: {exc}",
                }
            )
