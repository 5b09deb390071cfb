"""The ledger as the job runner uses it: an async facade with deferred progress writes.

Every SQLite call is short (well under a millisecond without contention) and runs
inline: measured here, handing each call to a worker thread cost more in thread
switches than it saved. What the facade adds is *deferral*: progress states that only
matter for long jobs (queued, running) are written after :data:`PROGRESS_WRITE_DELAY`
if the job is still going, so a quick job pays for two writes (insert and outcome), not
four. Terminal states are always written at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from .ledger import JobRecord, Ledger

# A job still going after this long gets its queued/running state recorded.
PROGRESS_WRITE_DELAY = 0.5


class Journal:
    """An async facade over :class:`Ledger` for one command invocation."""

    def __init__(self, path: Path, *, secrets: tuple[str, ...] = ()) -> None:
        self.path = path
        self.secrets = secrets
        self._ledger: Ledger | None = None
        self._deferred: dict[str, tuple[asyncio.TimerHandle, str, dict[str, Any]]] = {}

    async def __aenter__(self) -> Journal:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Open the ledger (idempotent)."""
        if self._ledger is None:
            self._ledger = Ledger.open(self.path, secrets=self.secrets)

    @property
    def ledger(self) -> Ledger:
        """The underlying ledger."""
        if self._ledger is None:
            raise RuntimeError("journal not open")
        return self._ledger

    async def add(self, record: JobRecord) -> JobRecord:
        """:meth:`Ledger.add`."""
        return self.ledger.add(record)

    async def mark(self, job_id: str, status: str, **fields: Any) -> JobRecord:
        """:meth:`Ledger.mark` now (a pending deferred write for the job is merged in)."""
        pending = self._deferred.pop(job_id, None)
        if pending is not None:
            handle, _, earlier = pending
            handle.cancel()
            fields = {**earlier, **fields}
        return self.ledger.mark(job_id, status, **fields)

    def mark_later(self, job_id: str, status: str, **fields: Any) -> None:
        """Record a progress state if the job is still going after a short delay."""
        pending = self._deferred.pop(job_id, None)
        if pending is not None:
            pending[0].cancel()
            fields = {**pending[2], **fields}
        loop = asyncio.get_running_loop()
        handle = loop.call_later(PROGRESS_WRITE_DELAY, self._write_deferred, job_id)
        self._deferred[job_id] = (handle, status, fields)

    def _write_deferred(self, job_id: str) -> None:
        pending = self._deferred.pop(job_id, None)
        if pending is not None and self._ledger is not None:
            _, status, fields = pending
            self._ledger.mark(job_id, status, **fields)

    async def flush(self) -> None:
        """Write every deferred progress state now."""
        for job_id in list(self._deferred):
            self._deferred[job_id][0].cancel()
            self._write_deferred(job_id)

    async def rename(self, job_id: str, new_id: str) -> JobRecord:
        """:meth:`Ledger.rename`."""
        return self.ledger.rename(job_id, new_id)

    async def update(self, job_id: str, **fields: Any) -> JobRecord:
        """:meth:`Ledger.update`."""
        return self.ledger.update(job_id, **fields)

    async def find(self, ref: str) -> JobRecord:
        """:meth:`Ledger.find`."""
        return self.ledger.find(ref)

    async def aclose(self) -> None:
        """Write what is deferred, then close the ledger."""
        try:
            await self.flush()
        finally:
            if self._ledger is not None:
                self._ledger.close()
                self._ledger = None
