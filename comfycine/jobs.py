"""Run one job: upload inputs → submit → follow events → read history → download → record.

``generate``, ``wait`` (and later batch and watch) all go through :class:`JobRunner`:
one code path for one job. The socket is opened before the POST so no event is missed;
``/history`` is the source of truth for outputs; after a dropped socket the runner
reconnects with the same client id and reconciles through ``/history`` and ``/queue``.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    ComfycineError,
    JobFailed,
    JobLost,
    StillRunning,
    TargetUnreachable,
    recordable,
)
from .journal import Journal
from .ledger import JobRecord
from .outcomes import (
    JobOutcome,
    failure_from_payload,
    interrupted_on_server,
    lost_contact,
    node_titles,
    server_timing,
    still_downloading,
    submission_unknown,
)
from .progress import JobProgress
from .stall import DEFAULT_STALL_AFTER, StallWatch, stall_text
from .transport import ComfyClient, HistoryEntry, OutputRef
from .transport.polling import locate_job
from .transport.reconnect import DEFAULT_WINDOW, Link, OutageNotice, OutageTooLong, is_outage
from .transport.uploads import upload_media
from .transport.v2answers import IdempotencyKeyReused

if TYPE_CHECKING:
    from .settings import Settings
    from .transport import events as ev
    from .transport.updates import JobUpdates

# Without any event for this long, ask /history and /queue directly (missed events,
# a proxy that swallowed the socket); cheap on the server.
SILENCE_RECONCILE = 5.0
# During an outage, a stderr line when it starts and then every this many seconds.
OUTAGE_LINE_EVERY = 30.0
# execution_success is sent before history is written (PROTOCOL.md §2.6, race 1).
# After execution_success, how long to wait for `executing` null (sent once history is
# written) before asking /history directly.
END_MARKER_GRACE = 1.0
HISTORY_RETRIES = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5)

# The events module (15 dataclasses) loads only when a job is followed.
Observer = Callable[[JobProgress, "ev.Event | None"], None]


def new_ids() -> tuple[str, str]:
    """A fresh (prompt_id, client_id) pair."""
    return str(uuid.uuid4()), uuid.uuid4().hex


@dataclass
class _Follow:
    """Mutable state while following one prompt."""

    progress: JobProgress
    link: Link
    updates: JobUpdates
    stall: StallWatch
    terminal: ev.Event | None = None
    # execution_success/error/interrupted came: history follows within milliseconds and
    # `executing` null announces it, so wait for that marker until this loop time.
    ending_until: float | None = None
    error_payload: dict[str, Any] | None = None
    interrupted: bool = False
    # Set once the server said the job finished: a deadline past this point leaves a
    # download to finish, not a render.
    finished_on_server: bool = False
    last_outage_line: float = -1e9


@dataclass(frozen=True)
class FollowOptions:
    """How jobs are followed: outage window, socket or polling, stall threshold."""

    outage_window: float = DEFAULT_WINDOW
    transport: str = "auto"
    stall_after: float = DEFAULT_STALL_AFTER
    # Each output carries its recipe; a sidecar .json beside it unless turned off.
    recipes: bool = True
    sidecars: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> FollowOptions:
        """The options the settings (flag > environment > .env) ask for."""
        return cls(
            settings.outage_window,
            settings.transport,
            settings.stall_after,
            sidecars=settings.sidecars,
        )


class JobRunner:
    """Submits and follows jobs on one server, recording everything in the ledger."""

    def __init__(
        self,
        client: ComfyClient,
        ledger: Journal,
        *,
        target: str = "local",
        output_dir: Path,
        observer: Observer | None = None,
        options: FollowOptions | None = None,
        silence_reconcile: float = SILENCE_RECONCILE,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.target = target
        self.output_dir = output_dir
        self.observer = observer
        self.options = options or FollowOptions()
        self.silence_reconcile = silence_reconcile

    # ----------------------------------------------------------------- submitting

    async def open_updates(self, client_id: str) -> JobUpdates:
        """Connect the socket first: nothing the server sends after the POST is lost.

        With ``poll`` (or a socket refused in ``auto``), just check the server answers.
        """
        updates = self._updates(client_id)
        await updates.open_before_submit()
        return updates

    def _updates(self, client_id: str) -> JobUpdates:
        # Imported here: a detached submission needs neither the socket nor websockets.
        from .transport.updates import JobUpdates

        return JobUpdates(
            self.client, client_id, mode=self.options.transport, on_notice=self._notice
        )

    async def upload_media(self, media: dict[str, Path]) -> dict[str, str]:
        """Upload each media file; map parameter → the name the server gave it."""

        def uploading(path: Path) -> None:
            self._notify(JobProgress(job_id="", phase="uploading", detail=path.name))

        return await upload_media(self.client, media, on_file=uploading)

    async def record(
        self,
        graph: dict[str, Any],
        *,
        prompt_id: str,
        client_id: str,
        template: str | None,
        params: dict[str, Any],
        seeds: dict[str, int],
        batch_id: str | None = None,
        source_path: str | None = None,
        item_key: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> JobRecord:
        """Write the job into the ledger before anything is sent (status ``submitting``).

        Then :meth:`post` it. Recording first means a crash between the two leaves a
        trace that ``wait`` and ``status`` can reconcile with the server.
        """
        return await self.ledger.add(
            JobRecord(
                id=prompt_id,
                client_id=client_id,
                target=self.target,
                server_url=self.client.base_url,
                template=template,
                params=params,
                seeds=seeds,
                graph=graph,
                status="submitting",
                pid=os.getpid(),
                batch_id=batch_id,
                source_path=source_path,
                item_key=item_key,
                extra=dict(extra or {}),
            )
        )

    async def post(self, record: JobRecord) -> JobRecord:
        """POST a recorded job; mark it queued, or failed if the server refuses it.

        When the link fails after the request may have left (its answer lost), the job
        may be queued: the outage is waited out and the server asked, and the job is
        sent again only if the server does not know it — never queued twice.
        """
        try:
            answer = await self.client.submit(
                record.graph, prompt_id=record.id, client_id=record.client_id
            )
        except TargetUnreachable as exc:
            if exc.details.get("sent") is False:
                await self.ledger.mark(record.id, "failed", error=recordable(exc))
                raise
            answer = await self._recover_submission(record)
        except IdempotencyKeyReused:
            # The server holds a submission under this key already (a retry below us).
            answer = await self._find_submitted(record, self._link(record))
        except ComfycineError as exc:
            await self.ledger.mark(record.id, "failed", error=recordable(exc))
            raise
        remote_id = str(answer.get("prompt_id") or record.id)
        if remote_id != record.id:
            # A server that picks its own id (Comfy Cloud may): follow and record that one.
            record = replace(await self.ledger.rename(record.id, remote_id), status="submitting")
        extra = {**record.extra, "number": answer.get("number")}
        if answer.get("node_errors"):
            # A 200 with node_errors: some outputs were dropped by validation.
            extra["node_errors"] = answer["node_errors"]
        # Written only if the job is still going shortly (quick jobs skip the write).
        self.ledger.mark_later(record.id, "queued", extra=extra, submitted_at=time.time())
        return replace(record, status="queued", extra=extra)

    async def _recover_submission(self, record: JobRecord) -> dict[str, Any]:
        """The POST's answer was lost: find the job on the server, or send it again."""
        link = self._link(record)
        if self.client.server_minted_ids:
            return await self._resubmit_same_key(record, link)
        try:
            while True:
                sighting = await link.call(lambda: locate_job(self.client, record.id))
                if sighting.state != "absent":
                    return {"prompt_id": record.id}
                try:
                    return await self.client.submit(
                        record.graph, prompt_id=record.id, client_id=record.client_id
                    )
                except TargetUnreachable as exc:
                    if exc.details.get("sent") is not False and not is_outage(exc):
                        raise
                    await link.failed(exc)
        except OutageTooLong as exc:
            error = self._lost_contact(record, exc, submitting=True)
            raise error from None

    async def _adopt_submission(self, record: JobRecord) -> JobRecord:
        """A ``submitting`` job on a server that picks ids: its id, by its key."""
        answer = await self._resubmit_same_key(record, self._link(record))
        remote_id = str(answer.get("prompt_id") or record.id)
        if remote_id != record.id:
            record = await self.ledger.rename(record.id, remote_id)
        await self.ledger.mark(record.id, "queued", submitted_at=time.time())
        return replace(record, status="queued")

    async def _resubmit_same_key(self, record: JobRecord, link: Link) -> dict[str, Any]:
        """Send again under the same ``Idempotency-Key`` (Comfy API v2): never two jobs.

        If the first try never arrived, this one makes the job. If it did, the server
        refuses the key; v2 does not say the id of the job it holds, so the job is
        looked for in the server's list, and otherwise the error says how to find it.
        """
        try:
            while True:
                try:
                    return await self.client.submit(
                        record.graph, prompt_id=record.id, client_id=record.client_id
                    )
                except IdempotencyKeyReused:
                    break
                except TargetUnreachable as exc:
                    if exc.details.get("sent") is not False and not is_outage(exc):
                        raise
                    await link.failed(exc)
        except OutageTooLong as exc:
            raise self._lost_contact(record, exc, submitting=True) from None
        return await self._find_submitted(record, link)

    async def _find_submitted(self, record: JobRecord, link: Link) -> dict[str, Any]:
        """The job the server holds under our key: found in its list, or exit 3 saying how."""
        try:
            found = await link.call(
                lambda: self.client.find_submission(record.graph, record.created_at or time.time())
            )
        except OutageTooLong as exc:
            raise self._lost_contact(record, exc, submitting=True) from None
        if found is not None:
            self._notice(
                f"The submission's answer was lost; the job was found on the server as "
                f"{found[:8]}.",
                record.id,
            )
            return {"prompt_id": found}
        error = submission_unknown(self.client.base_url, record.id, self.target)
        await self.ledger.mark(record.id, "lost", error=recordable(error))
        raise error

    # ------------------------------------------------------------------ following

    def _notify(self, progress: JobProgress, event: ev.Event | None = None) -> None:
        if self.observer is not None:
            self.observer(progress, event)

    def notice(self, text: str, job_id: str = "") -> None:
        """A one-off message for the person following (stderr line, --events event)."""
        self._notice(text, job_id)

    def _notice(self, text: str, job_id: str = "") -> None:
        """A one-off message for the person following (stderr line, --events event)."""
        self._notify(JobProgress(job_id=job_id, phase="notice", detail=text))

    def _link(self, record: JobRecord) -> Link:
        def waiting(notice: OutageNotice) -> None:
            self._outage_line(record, notice)

        def back(lasted: float) -> None:
            self._notice(f"The server answers again (out of reach for {lasted:.0f} s).", record.id)

        return Link(self.options.outage_window, on_wait=waiting, on_back=back)

    def _outage_line(self, record: JobRecord, notice: OutageNotice) -> None:
        # One line when the outage starts, then one every OUTAGE_LINE_EVERY seconds.
        if notice.attempts > 1 and notice.seconds % OUTAGE_LINE_EVERY > notice.retry_in:
            return
        since = f" for {notice.seconds:.0f} s" if notice.attempts > 1 else ""
        self._notice(
            f"{self.client.base_url} is out of reach ({notice.reason}){since}; job "
            f"{record.id[:8]} goes on there. Trying again for {notice.remaining / 60:.0f} "
            "more min.",
            record.id,
        )

    async def follow(
        self,
        record: JobRecord,
        updates: JobUpdates | None = None,
        *,
        timeout: float | None = None,
        download: bool = True,
        attach: bool = True,
    ) -> JobOutcome:
        """Follow a submitted job to its end, then collect its outputs.

        ``timeout`` bounds everything, reads and downloads included: when it passes the
        job goes on and :class:`StillRunning` says how to wait again. Outages are
        waited out for the options' window, then an exit-3 error names the job.
        :class:`JobFailed` and subclasses when it failed, was interrupted or was lost.
        ``attach=False`` skips the first look at the server when the updates were
        opened before the submission (nothing can have been missed).
        """
        if record.status == "submitting" and self.client.server_minted_ids:
            # Recorded, but the server's id never came back (a crash, a lost answer): ask
            # again under the same Idempotency-Key, which can never make a second job.
            record = await self._adopt_submission(record)
        owns_updates = updates is None
        updates = updates or self._updates(record.client_id)
        updates.bind(record.id)
        state = _Follow(
            JobProgress.start(record.id, record.graph, record.started_at),
            link=self._link(record),
            updates=updates,
            stall=StallWatch(self.options.stall_after),
        )
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        bound = asyncio.timeout_at(deadline)
        try:
            async with bound:
                return await self._follow(record, state, attach=attach, download=download)
        except TimeoutError:
            if not bound.expired():
                raise
            raise self._still_running(record, state) from None
        except OutageTooLong as exc:
            raise self._lost_contact(record, exc) from None
        except TargetUnreachable as exc:
            # Reached the server before (a socket refused in ws mode, say): the job is
            # there, so never propose rendering it elsewhere.
            exc.details.update(job=record.id, submitted=True)
            exc.details.pop("fallback", None)
            raise
        finally:
            if owns_updates:
                await updates.close()

    async def _follow(
        self, record: JobRecord, state: _Follow, *, attach: bool, download: bool
    ) -> JobOutcome:
        from .transport.updates import Resync

        loop = asyncio.get_running_loop()
        titles = node_titles(record.graph)
        updates = state.updates
        if attach:
            await state.link.call(updates.open)
        state.progress.transport = updates.transport
        history = await self._reconcile(record, state) if attach else None
        while history is None and state.terminal is None:
            wait = updates.silence_limit(self.silence_reconcile)
            if state.ending_until is not None:
                wait = state.ending_until - loop.time()
                if wait <= 0:
                    break  # no end marker (older or cloud server): ask history
            self._watch_stall(record, state)
            if state.progress.phase == "running" and not state.stall.reported:
                # Wake up in time to report a stall (the socket may stay silent).
                wait = max(0.05, min(wait, state.stall.after - state.stall.silent_for))
            try:
                update = await updates.recv(wait)
            except TimeoutError:
                if state.ending_until is None:
                    history = await self._reconcile(record, state)
                continue
            if state.progress.transport != updates.transport:
                state.progress.transport = updates.transport
                self._notify(state.progress)
            if isinstance(update, Resync):
                history = await self._reconcile(record, state, after_drop=True)
            elif update is not None:
                await self._handle(record, state, update)
        if history is None:
            history = await state.link.call(lambda: self._history_with_retry(record.id))
        state.finished_on_server = history is not None
        return await self._finish(record, state, history, titles, download=download)

    async def _handle(self, record: JobRecord, state: _Follow, event: ev.Event) -> None:
        from .transport import events as ev

        prompt_id = ev.event_prompt_id(event)
        if isinstance(event, ev.Status):
            # Only worth a /queue request when others may be ahead of us.
            if state.progress.phase == "queued" and event.queue_remaining > 1:
                await self._update_position(record, state)
            return
        if isinstance(event, ev.Executing) and prompt_id is None and event.node is not None:
            # Sent right after a reconnect, without prompt_id: ours if we are running.
            if state.progress.phase == "running":
                state.progress.enter_node(event.node)
                self._moved(record, state)
                self._notify(state.progress, event)
            return
        if prompt_id is not None and prompt_id != record.id:
            return  # another client's job (Comfy Cloud sends every job of the user)
        if prompt_id == record.id:
            self._moved(record, state)
        if isinstance(event, ev.ExecutionStart):
            self.ledger.mark_later(record.id, "running", started_at=time.time())
        if isinstance(event, ev.ExecutionError):
            state.error_payload = event.data
        if isinstance(event, ev.ExecutionInterrupted):
            state.interrupted = True
        if isinstance(event, ev.TERMINAL_EVENTS) and event.prompt_id == record.id:
            state.ending_until = asyncio.get_running_loop().time() + END_MARKER_GRACE
        elif ev.ends_prompt(event, record.id):
            state.terminal = event
        state.progress.apply(event)
        self._notify(state.progress, event)

    async def _update_position(self, record: JobRecord, state: _Follow) -> None:
        queue = await state.link.call(self.client.queue)
        position = queue.position(record.id)
        if position is not None and position != state.progress.queue_position:
            state.progress.queue_position = position
            self._moved(record, state)
            self._notify(state.progress)

    def _moved(self, record: JobRecord, state: _Follow) -> None:
        """The job showed life: the stall clock restarts (and a reported stall ends)."""
        if state.stall.moved():
            state.progress.stalled = None
            self._notice(f"Job {record.id[:8]} is moving again.", record.id)
            self.ledger.ledger.update(record.id, extra=_without_stall(self.ledger, record.id))

    def _watch_stall(self, record: JobRecord, state: _Follow) -> None:
        running = state.progress.phase == "running"
        if not state.stall.check(running):
            return
        stalled = state.stall.to_dict()
        state.progress.stalled = stalled["seconds"]
        text = stall_text(
            record.id, stalled["seconds"], state.progress.node_title, state.updates.polling
        )
        self._notify(
            JobProgress(job_id=record.id, phase="notice", detail=text, stalled=stalled["seconds"])
        )
        self._notify(state.progress)
        current = self.ledger.ledger.get(record.id)
        extra = dict(current.extra) if current is not None else {}
        self.ledger.ledger.update(record.id, extra={**extra, "stalled": stalled})

    async def _reconcile(
        self, record: JobRecord, state: _Follow, *, after_drop: bool = False
    ) -> HistoryEntry | None:
        """Ask the server where the job is; history if finished, else None (still going)."""
        sighting = await state.link.call(lambda: locate_job(self.client, record.id))
        if sighting.history is not None:
            return sighting.history
        if sighting.state != "absent":
            progress = state.progress
            moved = sighting.position != progress.queue_position
            if sighting.state == "running" and progress.phase == "queued":
                progress.phase, moved = "running", True
                self.ledger.mark_later(record.id, "running", started_at=time.time())
            if sighting.position is not None:
                progress.queue_position = sighting.position
            if sighting.progress and _apply_snapshot(progress, sighting.progress):
                moved = True
            if moved:
                state.updates.changed()
                self._moved(record, state)
            self._notify(progress)
            return None
        # Neither history nor queue: either it finished between our two requests, or
        # the server lost it (restart wipes both). One more history look tells.
        history = await state.link.call(lambda: self._history_with_retry(record.id))
        if history is not None:
            return history
        lost = JobLost(
            f"Job {record.id[:8]} is no longer on {self.client.base_url}: neither queued, "
            "running nor in history. The server probably restarted"
            + (" while we were disconnected." if after_drop else "."),
            details={"job": record.id},
        )
        await self.ledger.mark(record.id, "lost", error=recordable(lost))
        raise lost

    async def _history_with_retry(self, prompt_id: str) -> HistoryEntry | None:
        for delay in HISTORY_RETRIES:
            if delay:
                await asyncio.sleep(delay)
            history = await self.client.history(prompt_id)
            if history is not None:
                return history
        return None

    def _still_running(self, record: JobRecord, state: _Follow) -> StillRunning:
        details: dict[str, Any] = {"job": record.id, "progress": state.progress.to_dict()}
        if state.stall.reported:
            details["stalled"] = state.stall.to_dict()
        if state.finished_on_server:
            return still_downloading(record.id, details)
        return StillRunning(
            f"Job {record.id[:8]} is still {state.progress.phase}.",
            hint=f"Wait again with: comfycine wait {record.id[:8]}",
            details=details,
        )

    def _lost_contact(
        self, record: JobRecord, outage: OutageTooLong, *, submitting: bool = False
    ) -> TargetUnreachable:
        return lost_contact(self.client.base_url, record.id, outage, submitting=submitting)

    # ----------------------------------------------------------------- collecting

    async def _finish(
        self,
        record: JobRecord,
        state: _Follow,
        history: HistoryEntry | None,
        titles: dict[str, str],
        *,
        download: bool,
    ) -> JobOutcome:
        if history is None:
            # Terminal event seen but history never written (server restarted right then).
            if state.error_payload is not None:
                raise await self._fail(record, failure_from_payload(state.error_payload, titles))
            if state.interrupted:
                raise await self._fail(record, interrupted_on_server(record), status="interrupted")
            lost = JobLost(f"Job {record.id[:8]} finished but the server kept no history of it.")
            raise await self._fail(record, lost, status="lost")
        if history.interrupted:
            raise await self._fail(record, interrupted_on_server(record), status="interrupted")
        if history.status != "success":
            payload = history.last_message("execution_error") or state.error_payload or {}
            raise await self._fail(record, failure_from_payload(payload, titles))
        refs = [ref for ref in history.outputs if ref.type == "output"]
        remote = [r.to_dict() for r in history.outputs]
        extra = {**record.extra, **server_timing(history)}
        paths: list[Path] = []
        if download:
            # Rendered first: a collector killed mid-download leaves a job `wait` finishes
            # from these records, even after the server lost its history.
            rendered = await self.ledger.mark(
                record.id, "rendered", remote_outputs=remote, extra=extra
            )

            # A failure leaves the job `rendered` (never failed) and names it; see collecting.
            from .collecting import collect_outputs

            paths = await collect_outputs(
                self.client,
                self.ledger,
                rendered,
                refs,
                output_dir=self.output_dir,
                link=state.link,
                on_file=self._downloading(record),
                stamp=self._stamp(rendered),
            )
        if paths and self.options.recipes:
            # Poster, contact sheet or thumbnail beside each output (data.previews):
            # something Claude Code and a phone can look at; never fails the job.
            extra["previews"] = await asyncio.to_thread(_previews, paths)
        final = await self.ledger.mark(
            record.id,
            "succeeded",
            outputs=[str(p) for p in paths],
            remote_outputs=remote,
            extra=extra,
            error=None,
        )
        self._notify(state.progress.finished())
        return JobOutcome(final, paths, history)

    def _stamp(self, record: JobRecord) -> Callable[[Path], None] | None:
        """What writes the job's recipe into each of its files (None: turned off)."""
        if not self.options.recipes:
            return None
        from .takes.stamp import stamp_output

        sidecar = self.options.sidecars
        return lambda path: stamp_output(path, record, sidecar=sidecar)

    def _downloading(self, record: JobRecord) -> Callable[[OutputRef], None]:
        def downloading(ref: OutputRef) -> None:
            self._notify(JobProgress(job_id=record.id, phase="downloading", detail=ref.filename))

        return downloading

    async def collect(self, record: JobRecord, *, timeout: float | None = None) -> JobOutcome:
        """Finish a job rendered on its server (:func:`~.collecting.needs_collection`).

        Downloads what is missing from the recorded outputs, following nothing: it
        works after a restart that wiped the server's history. Outages are waited out
        as in :meth:`follow`; ``timeout`` passing raises :class:`StillRunning`
        (``still_downloading``), the part files kept for the next ``wait``.
        """
        from .collecting import collect_rendered

        bound = asyncio.timeout(timeout)
        try:
            async with bound:
                final = await collect_rendered(
                    self.client,
                    self.ledger,
                    record,
                    output_dir=self.output_dir,
                    link=self._link(record),
                    on_file=self._downloading(record),
                    stamp=self._stamp(record),
                )
        except TimeoutError:
            if not bound.expired():
                raise
            raise still_downloading(record.id, {"job": record.id}) from None
        self._notify(JobProgress(job_id=record.id).finished())
        return JobOutcome(final, [Path(p) for p in final.outputs])

    async def _fail(
        self, record: JobRecord, error: JobFailed, *, status: str = "failed", **fields: Any
    ) -> JobFailed:
        error.details.setdefault("job", record.id)
        await self.ledger.mark(record.id, status, error=recordable(error), **fields)
        return error


def _previews(paths: list[Path]) -> dict[str, dict[str, str]]:
    """Each output's previews (made beside it); an output they cannot be made of has none."""
    from .takes.reviewing import previews_of

    made = {str(path): previews_of(path) for path in paths}
    return {path: found for path, found in made.items() if found}


def _apply_snapshot(progress: JobProgress, snapshot: dict[str, Any]) -> bool:
    """Fold a server's progress snapshot (Comfy API v2) in; whether anything moved."""
    before = (progress.node, progress.step, progress.nodes_done)
    node = snapshot.get("current_node")
    if isinstance(node, str) and node and node != progress.node:
        progress.phase = "running"
        progress.enter_node(node)
    step, steps = snapshot.get("step"), snapshot.get("steps")
    if isinstance(step, int) and isinstance(steps, int) and steps > 0:
        progress.step, progress.steps = step, steps
    done = snapshot.get("nodes_done")
    if isinstance(done, int) and done > progress.nodes_done:
        progress.nodes_done = min(done, progress.nodes_total or done)
    return (progress.node, progress.step, progress.nodes_done) != before


def _without_stall(journal: Journal, job_id: str) -> dict[str, Any]:
    current = journal.ledger.get(job_id)
    extra = dict(current.extra) if current is not None else {}
    extra.pop("stalled", None)
    return extra
