"""The "still rendering" reminder: one notice once a job has run longer than a threshold.

It is a job :data:`~comfycine.jobs.Observer` (called inside the running event loop on
every progress update), so it needs no timer of its own: the first update that shows
the job queued or running past ``after`` seconds schedules the notice as a task on
that loop. Sending never blocks the job and never fails it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from .messages import stalled_notice, still_rendering_notice

if TYPE_CHECKING:
    from ..jobs import Observer
    from ..progress import JobProgress
    from ..transport.events import Event
    from .notifier import Notifier

DEFAULT_AFTER = 600.0
_GOING = frozenset({"queued", "running"})


class Reminder:
    """An observer that sends one still-rendering notice; see :func:`remind_when_long`."""

    def __init__(
        self,
        notifier: Notifier,
        *,
        after: float = DEFAULT_AFTER,
        inner: Observer | None = None,
        label: str | None = None,
    ) -> None:
        self.notifier = notifier
        self.after = after
        self.inner = inner
        self.label = label
        self.fired = False
        # Jobs whose stall was already notified (one notice per stalled job).
        self.stalls: set[str] = set()
        self.outcomes: list[dict[str, Any]] = []
        # Held so the event loop's weak reference is not the only one (the task would
        # be garbage-collected mid-send).
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, progress: JobProgress, event: Event | None) -> None:
        """Pass the update on to ``inner``, then send the reminder if it is due."""
        if self.inner is not None:
            self.inner(progress, event)
        if not self.notifier.enabled or not progress.job_id:
            return
        if progress.phase == "notice":
            if progress.stalled and progress.job_id not in self.stalls:
                self.stalls.add(progress.job_id)
                self._schedule(stalled_notice(self.label, progress.job_id, progress.detail or ""))
            return
        if self.fired:
            return
        if progress.phase not in _GOING or progress.elapsed < self.after:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # called outside a loop: nowhere to send from without blocking the job
        self.fired = True
        self._schedule(still_rendering_notice(self.label, progress.job_id, progress.elapsed), loop)

    def _schedule(self, notice: Any, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Send ``notice`` in the background of the running loop (nothing without one)."""
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
        task = loop.create_task(self._send(notice))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, notice: Any) -> None:
        with contextlib.suppress(Exception):
            self.outcomes.extend(await self.notifier.send(notice))

    @property
    def pending(self) -> bool:
        """Whether a reminder is still being sent."""
        return bool(self._tasks)

    async def drain(self) -> list[dict[str, Any]]:
        """Wait for the reminder being sent, if any; every outcome so far.

        Call it before the event loop ends (``asyncio.run`` cancels leftover tasks).
        """
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        return list(self.outcomes)


def remind_when_long(
    notifier: Notifier,
    *,
    after: float = DEFAULT_AFTER,
    inner: Observer | None = None,
    label: str | None = None,
) -> Reminder:
    """An observer sending one "still rendering" notice once a job passes ``after`` s.

    It calls ``inner`` (the CLI's progress view, say) first with every update. One
    reminder per returned observer: wrap each job's observer for one reminder per job.
    Await :meth:`Reminder.drain` at the end so a reminder being sent is not cut off.
    """
    return Reminder(notifier, after=after, inner=inner, label=label)
