"""A server that runs on its own asyncio loop in a background thread (the fakes' base).

Subclasses provide ``_boot`` (start listening, start tasks) and ``_shutdown`` (close
connections); this class owns the thread, the loop, start/stop and the context manager.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from types import TracebackType
from typing import Self

CALL_TIMEOUT = 30.0


class LoopThread:
    """Start, stop and host one event loop in a daemon thread."""

    thread_name = "loopthread"

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def _boot(self) -> None:
        raise NotImplementedError

    async def _shutdown(self) -> None:
        raise NotImplementedError

    def _start_thread(self) -> None:
        """Run the loop in a new thread and return once ``_boot`` has finished."""
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name=self.thread_name, daemon=True
        )
        self._thread.start()
        ready.result(timeout=CALL_TIMEOUT)

    def _stop_thread(self) -> None:
        """Run ``_shutdown`` on the loop, stop it and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(CALL_TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(CALL_TIMEOUT)
        self._thread = self._loop = None

    def start(self) -> Self:
        """Start serving; return self once requests are accepted."""
        self._start_thread()
        return self

    def stop(self) -> None:
        """Close every connection and stop the thread."""
        self._stop_thread()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _serve(self, ready: concurrent.futures.Future[None]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._boot())
        except BaseException as exc:
            ready.set_exception(exc)
            loop.close()
            return
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.close()
