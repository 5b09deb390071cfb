"""Running a batch's items: workers per target pulling from one queue.

Each target gets N workers (``--concurrency``); a worker runs one item at a time through
:func:`~comfycine.generation.run_prepared_on`, the same code path as ``generate``. Two
workers on one ComfyUI keep a job queued behind the running one, so the GPU goes on
to the next job while the previous one downloads and the next input uploads. Several
targets share the queue: whichever is free takes the next item, so a faster target
takes more (work stealing).

Items submitted by an earlier run that stopped (Ctrl-C, crash, SIGKILL) are followed on
their server, never submitted again; a job the server no longer knows (it was never
sent, or the server restarted) is submitted afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..collecting import needs_collection
from ..errors import (
    CloudAccountError,
    ComfycineError,
    Interrupted,
    JobLost,
    NoCatalog,
    OutputNotWritable,
    RejectedError,
    TargetUnreachable,
)
from ..generation import run_prepared_on
from ..jobs import FollowOptions, JobRunner, Observer
from ..journal import Journal
from ..progress import JobProgress
from ..results import JobResult, outcome_result
from ..settings import Settings
from ..spend import check_graph
from ..targets import Target, client_for
from ..templates import Template
from ..transport import ComfyClient
from .result import BatchItem, BatchResult

EventHook = Callable[[str, dict[str, Any]], None]
# Errors that say a target cannot take work at all (not that an item is bad).
TARGET_ERRORS = (TargetUnreachable, CloudAccountError)


class BatchEngine:
    """Runs the items of one planned batch; :meth:`run` returns when all are settled."""

    def __init__(
        self,
        settings: Settings,
        journal: Journal,
        template: Template,
        result: BatchResult,
        on_event: EventHook | None = None,
        *,
        detach: bool = False,
        allow_spend: bool = False,
    ) -> None:
        self.settings = settings
        # Consent to partner (paid API) nodes, checked once for the batch (spend.py).
        self.allow_spend = allow_spend
        # Submit every item and follow none (a sweep's --detach: wait SWEEP follows them).
        self.detach = detach
        self.journal = journal
        self.template = template
        self.result = result
        self.on_event = on_event
        self.started = time.monotonic()
        self.queue: deque[BatchItem] = deque(i for i in result.items if i.plan in ("run", "retry"))
        self.resumes: dict[str, deque[BatchItem]] = {}
        self.down: dict[str, ComfycineError] = {}
        # Set when outputs cannot be written at all: the batch stops taking items.
        self.blocked: OutputNotWritable | None = None
        self.clients: dict[str, ComfyClient] = {}
        self.in_flight = 0
        self.changed = asyncio.Event()

    # ------------------------------------------------------------------ events

    def emit(self, name: str, item: BatchItem | None = None, **extra: Any) -> None:
        """Hand one event to the caller's hook: the item, the totals and an ETA."""
        if self.on_event is None:
            return
        payload: dict[str, Any] = {"batch": self.result.batch}
        if item is not None:
            payload["item"] = item.to_dict()
        payload.update(extra)
        payload["totals"] = self.result.totals(time.monotonic() - self.started)
        self.on_event(name, payload)

    def _observer(self, item: BatchItem) -> Observer:
        def observe(progress: JobProgress, event: object) -> None:
            if progress.phase == "notice":
                # Outages, polling, stalls: a message of their own, not a progress state.
                name = "item_stalled" if progress.stalled else "item_notice"
                self.emit(name, item, message=progress.detail)
                return
            self.emit("item_progress", item, progress=progress.to_dict())

        return observe

    # ------------------------------------------------------------------ the run

    async def run(self, targets: list[Target], concurrency: dict[str, int], validate: bool) -> None:
        """Check each target once, then run every item; raise if no target could work.

        Ctrl-C (cancellation) stops the workers, leaves submitted jobs running on their
        server (the ledger keeps them ``queued``/``running`` for the next run to follow)
        and raises :class:`Interrupted`.
        """
        self.emit("batch_started", targets=[t.name for t in targets])
        for item in self.result.items:
            if item.plan == "skip":
                self.emit("item_skipped", item)
        tasks: list[asyncio.Task[None]] = []
        async with contextlib.AsyncExitStack() as stack:
            try:
                live = await self._open_targets(stack, targets, validate)
                self._route_resumes(live)
                tasks = [
                    asyncio.create_task(self._worker(target))
                    for target in live
                    for _ in range(concurrency.get(target.name, 1))
                ]
                await asyncio.gather(*tasks)
            except asyncio.CancelledError:
                # Ctrl-C: turned into Interrupted on purpose, so the cancel is consumed.
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
                await _stop(tasks)
                raise self._interrupted() from None
            except BaseException:
                await _stop(tasks)
                raise
        self.result.seconds = round(time.monotonic() - self.started, 3)
        self.emit("batch_finished")
        if self.blocked is not None:
            raise self._blocked_error(self.blocked)
        if self.down and (self.result.count("pending") or self.result.count("running")):
            raise next(iter(self.down.values()))

    async def _open_targets(
        self, stack: contextlib.AsyncExitStack, targets: list[Target], validate: bool
    ) -> list[Target]:
        """Reach each target and check the template on it once, before any item runs."""
        live: list[Target] = []
        first: ComfycineError | None = None
        for target in targets:
            try:
                client = await stack.enter_async_context(target.client())
                await self._check(client, validate)
            except (*TARGET_ERRORS, RejectedError) as exc:
                first = first or exc
                self.down[target.name] = exc
                self.emit("target_down", target=target.name, error=exc.to_dict())
                continue
            self.clients[target.name] = client
            live.append(target)
        if not live:
            assert first is not None
            raise first
        return live

    async def _check(self, client: ComfyClient, validate: bool) -> None:
        """Reachable (bounded), the spend gate, then the template rendered for one item
        is validated. A refused spend (ConsentRequired) stops the whole batch."""
        await client.reachable()
        sample = next((i.prepared for i in self.queue if i.prepared is not None), None)
        if sample is not None:
            await check_graph(
                client,
                self.settings.cache_dir,
                sample.graph_to_check(),
                allowed=self.allow_spend,
                label=self.template.name,
                notice=lambda text: self.emit("batch_notice", message=text),
            )
        if not validate or sample is None:
            return
        from ..preflight import preflight

        names = {name: path.name for name, path in sample.media.items()}
        try:
            await preflight(
                client,
                self.settings,
                sample.build(names),
                label=self.template.name,
                template=self.template,
                uploaded=set(names.values()),
            )
        except NoCatalog as exc:
            # A Comfy API v2 server: it validates each job on submission instead.
            self.emit("batch_notice", message=f"Validation skipped: {exc.message}")

    def _route_resumes(self, live: list[Target]) -> None:
        """Give each job to resume to its own target's workers, first.

        A job on a target not used this time goes to the front of the shared queue: any
        worker follows it there (following costs that server nothing more).
        """
        names = {t.name for t in live}
        foreign: list[BatchItem] = []
        for item in self.result.items:
            if item.plan != "resume" or item.resume is None:
                continue
            if item.resume.target in names:
                self.resumes.setdefault(item.resume.target, deque()).append(item)
            else:
                foreign.append(item)
        self.queue.extendleft(reversed(foreign))

    def _interrupted(self) -> Interrupted:
        for item in self.result.items:
            if item.status == "running":
                item.status = "pending"
        left = [i for i in self.result.items if i.status == "pending" and self._live(i)]
        for item in left:
            item.reason = f"submitted as job {(item.job or '')[:8]}: the next run follows it"
        counts = self.result.totals()
        return Interrupted(
            f"Batch {self.result.batch} stopped: {counts['succeeded']} succeeded, "
            f"{counts['failed']} failed, {counts['remaining']} not finished "
            f"({len(left)} submitted job(s) keep running on the server).",
            hint="Resume with the same command: comfycine batch FOLDER TEMPLATE",
            details=self.result.to_dict(),
        )

    def _blocked_error(self, exc: OutputNotWritable) -> OutputNotWritable:
        """The disk-full (or unwritable) error, with the batch's items and how to resume."""
        exc.details.update(self.result.to_dict())
        if exc.code == "disk_full":
            first = "Free some space on that disk"
        elif exc.details.get("file"):
            first = f"Move {exc.details['file']} away (or set COMFYCINE_OUTPUT_DIR)"
        else:
            first = "Make the output folder writable (or set COMFYCINE_OUTPUT_DIR)"
        exc.hint = f"{first}, then run the same batch again: it downloads what rendered."
        return exc

    def _live(self, item: BatchItem) -> bool:
        """Whether the ledger holds an unfinished job for this item (to follow later)."""
        if item.key is None:
            return False
        for record in self.journal.ledger.by_item_key(item.key):
            if not record.is_terminal:
                item.job = record.id
                return True
        return False

    # ----------------------------------------------------------------- workers

    async def _worker(self, target: Target) -> None:
        while (item := await self._take(target.name)) is not None:
            try:
                await self._process(item, target)
            finally:
                self.in_flight -= 1
                self.changed.set()

    async def _take(self, name: str) -> BatchItem | None:
        """The next item for a worker of ``name``: its resumes first, then the queue.

        A worker waits while other items are in flight: one whose target goes down comes
        back to the queue for the targets still up.
        """
        while name not in self.down and self.blocked is None:
            resumes = self.resumes.get(name)
            item = resumes.popleft() if resumes else (self.queue.popleft() if self.queue else None)
            if item is not None:
                self.in_flight += 1
                return item
            if self.in_flight == 0:
                return None
            self.changed.clear()
            await self.changed.wait()
        return None

    async def _process(self, item: BatchItem, target: Target) -> None:
        """Run (or follow) one item; its failure is recorded, never raised."""
        item.status, item.target = "running", target.name
        self.emit("item_started", item)
        began = time.monotonic()
        try:
            job = await self._run_one(item, target)
        except _ElsewhereUnreachable as exc:
            item.status, item.reason = "pending", exc.message
            return
        except TARGET_ERRORS as exc:
            item.status, item.reason = "pending", exc.message
            self._target_down(target, item, exc)
            return
        except OutputNotWritable as exc:
            # Disk full or folder unwritable: every further render would be stranded on
            # the server too. Stop taking items; the job stays rendered for the next run.
            item.status, item.reason = "pending", exc.message
            item.job = exc.details.get("job") or item.job
            self.blocked = self.blocked or exc
            self.changed.set()
            return
        except Interrupted:
            # run_prepared_on reports a cancelled follow as Interrupted: still Ctrl-C.
            item.status = "pending"
            raise asyncio.CancelledError from None
        except asyncio.CancelledError:
            item.status = "pending"
            raise
        except ComfycineError as exc:
            item.fail(exc)
        except Exception as exc:  # a bug in one item must not stop the others
            item.fail(ComfycineError(f"Unexpected error: {type(exc).__name__}: {exc}"))
        else:
            item.status, item.reason, item.error = "succeeded", None, None
            if self.detach and job.status != "succeeded":
                item.status = "queued"  # submitted and left running: wait SWEEP follows it
            item.job, item.target, item.outputs = job.job, job.target, list(job.outputs)
        item.seconds = round(time.monotonic() - began, 3)
        self.emit("item_succeeded" if item.status == "succeeded" else "item_failed", item)

    def _target_down(self, target: Target, item: BatchItem, exc: ComfycineError) -> None:
        """Stop giving ``target`` work; its item goes back to the queue unless submitted."""
        if target.name not in self.down:
            self.down[target.name] = exc
            self.emit("target_down", target=target.name, error=exc.to_dict())
        if item.plan != "resume" and not self._live(item):
            self.queue.appendleft(item)

    async def _run_one(self, item: BatchItem, target: Target) -> JobResult:
        if item.plan == "resume" and item.resume is not None and self.detach:
            return JobResult.from_record(item.resume)  # submitted already: nothing to send
        if item.plan == "resume" and item.resume is not None:
            try:
                return await self._follow(item, target)
            except JobLost:
                # Never sent (the run died before the POST) or lost in a restart: the
                # ledger now says lost, and the item runs afresh.
                item.plan = "run"
        assert item.prepared is not None
        item.prepared.allow_spend = self.allow_spend
        return await run_prepared_on(
            self.clients[target.name],
            self.journal,
            self.settings,
            item.prepared,
            target=target.name,
            detach=self.detach,
            observer=self._observer(item),
        )

    async def _follow(self, item: BatchItem, target: Target) -> JobResult:
        """Follow a job an earlier run submitted, on the server that has it."""
        record = item.resume
        assert record is not None
        own = record.target == target.name and self.clients[
            target.name
        ].base_url == record.server_url.rstrip("/")
        async with contextlib.AsyncExitStack() as stack:
            client = self.clients[target.name]
            if not own:
                client = await stack.enter_async_context(
                    client_for(self.settings, record.target, record.server_url)
                )
            runner = JobRunner(
                client,
                self.journal,
                target=record.target,
                output_dir=self.settings.output_dir,
                observer=self._observer(item),
                options=FollowOptions.from_settings(self.settings),
            )
            try:
                if needs_collection(record):  # rendered: download what is missing
                    return outcome_result(await runner.collect(record))
                return outcome_result(await runner.follow(record))
            except TARGET_ERRORS as exc:
                if own:
                    raise
                # Another server than this worker's: this target is fine.
                raise _ElsewhereUnreachable(
                    f"{exc.message} (job {record.id[:8]} stays on {record.target})"
                ) from exc


class _ElsewhereUnreachable(ComfycineError):
    """A job to resume lives on a server that cannot be reached now."""


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the workers and wait until each has cleaned up (sockets, ledger rows)."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
