"""The ledger seen from the event loop: every call runs on one dedicated thread.

SQLite calls block (up to the busy timeout when another comfycine process holds the
write lock); on the event loop that would stall socket pings and downloads. One thread
keeps the calls ordered and lets the runner overlap bookkeeping with network waits:
:meth:`Journal.later` queues a write without waiting, :meth:`Journal.flush` waits for
every queued write and re-raises the first failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from .ledger import JobRecord, Ledger

T = TypeVar("T")


class Journal:
    """An async facade over :class:`Ledger`, opened and used on its own thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._ledger: Ledger | None = None
        self._pending: list[asyncio.Future[Any]] = []

    async def __aenter__(self) -> Journal:
        await self.open()
        return self

    async def open(self) -> None:
        """Open the ledger on the journal's thread (idempotent)."""
        if self._ledger is None:
            await self.call(self._open)

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _open(self) -> None:
        self._ledger = Ledger.open(self.path)

    @property
    def ledger(self) -> Ledger:
        """The underlying ledger (only to be used from the journal's thread)."""
        if self._ledger is None:
            raise RuntimeError("journal not open")
        return self._ledger

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the ledger thread and wait for its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    def later(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Queue ``fn`` on the ledger thread without waiting (see :meth:`flush`)."""
        loop = asyncio.get_running_loop()
        self._pending.append(loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs)))

    async def flush(self) -> None:
        """Wait for every queued write; raise the first error any of them hit."""
        pending, self._pending = self._pending, []
        results = await asyncio.gather(*pending, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def add(self, record: JobRecord) -> JobRecord:
        """:meth:`Ledger.add`."""
        return await self.call(lambda: self.ledger.add(record))

    async def mark(self, job_id: str, status: str, **fields: Any) -> JobRecord:
        """:meth:`Ledger.mark`, after every queued write."""
        await self.flush()
        return await self.call(lambda: self.ledger.mark(job_id, status, **fields))

    def mark_later(self, job_id: str, status: str, **fields: Any) -> None:
        """:meth:`Ledger.mark` without waiting for it."""
        self.later(lambda: self.ledger.mark(job_id, status, **fields))

    async def update(self, job_id: str, **fields: Any) -> JobRecord:
        """:meth:`Ledger.update`, after every queued write."""
        await self.flush()
        return await self.call(lambda: self.ledger.update(job_id, **fields))

    async def find(self, ref: str) -> JobRecord:
        """:meth:`Ledger.find`."""
        return await self.call(lambda: self.ledger.find(ref))

    async def aclose(self) -> None:
        """Finish queued writes, close the ledger, stop the thread."""
        try:
            await self.flush()
        finally:
            if self._ledger is not None:
                await self.call(self._ledger.close)
                self._ledger = None
            self._executor.shutdown(wait=False)
