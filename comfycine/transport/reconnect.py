"""The one reconnect policy: which failures are retried, and for how long.

Requests, the event socket, polling and downloads all use it, so a blinking link is
treated the same way wherever it is met. Two scales:

* :func:`is_retryable` — a request that failed on a stale keep-alive connection is sent
  again at once (:data:`RETRY_DELAYS`, well under a second);
* :class:`Link` — while a job is followed, any failure to reach the server is an
  *outage*: it is waited out, trying again on :data:`BACKOFF`, until the outage has
  lasted the policy's window (minutes: hotel Wi-Fi, relayed Tailscale). Each wait is
  announced through a callback (the CLI prints one stderr line). Only when the window
  is spent does :class:`OutageTooLong` go up, and the job runner turns it into an
  exit-3 error that names the job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

from ..errors import ComfycineError, ServerError, TargetUnreachable
from .failures import unreachable_reason

logger = logging.getLogger(__name__)

# Delays before retrying an idempotent request that hit a transient transport error.
RETRY_DELAYS = (0.05, 0.2, 0.5)
# Delays between tries while the server is out of reach; the last one repeats.
BACKOFF = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
DEFAULT_WINDOW = 600.0
# A reverse proxy in front of ComfyUI (Tailscale Serve, nginx) answers these while the
# server behind it is down or restarting: the same outage as a refused connection.
GATEWAY_STATUSES = frozenset({502, 503, 504})

T = TypeVar("T")


def is_retryable(exc: BaseException, method: str) -> bool:
    """Whether a failed request may be sent again at once.

    A keep-alive connection closed by the server (restart, proxy) fails the next request
    on it; a GET can simply be repeated. A POST is repeated only when it never left
    (connection refused): POST /prompt twice would queue the job twice.
    """
    if isinstance(exc, httpx.ConnectError):
        return unreachable_reason(exc) != "dns"  # a missing name will not appear in 1 s
    return method == "GET" and isinstance(
        exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError
    )


def is_outage(exc: BaseException) -> bool:
    """Whether a failure means "the server is out of reach for now" (worth waiting out).

    Every way of not reaching it counts (DNS, refused, timeout, reset, a dropped
    answer), and a gateway's 502/503/504. A server that answers with anything else has
    been reached: that is not an outage.
    """
    if isinstance(exc, TargetUnreachable):
        return True
    if isinstance(exc, ServerError):
        return exc.details.get("status") in GATEWAY_STATUSES
    return False


@dataclass(frozen=True, slots=True)
class OutageNotice:
    """One wait during an outage, for the stderr line: how long so far, and why."""

    seconds: float  # since the first failure of this outage
    window: float  # how long the outage may last in all
    retry_in: float  # seconds until the next try
    reason: str  # the failure's reason: dns, refused, timeout, dropped, http_502...
    attempts: int

    @property
    def remaining(self) -> float:
        """Seconds left before giving up."""
        return max(0.0, self.window - self.seconds)


class OutageTooLong(Exception):
    """The server stayed out of reach for the whole window; ``error`` is the last failure."""

    def __init__(self, error: ComfycineError, seconds: float) -> None:
        super().__init__(error.message)
        self.error = error
        self.seconds = seconds


def outage_reason(exc: ComfycineError) -> str:
    """A short name for why the server could not be reached."""
    status = exc.details.get("status")
    if isinstance(exc, ServerError) and status is not None:
        return f"http_{status}"
    return str(exc.details.get("reason") or exc.code)


class Link:
    """The state of the link to one server while a job is followed.

    An outage starts at the first failure and ends at the first success; its length
    is measured across every call made through the link (a failed poll, then a failed
    socket reconnect, then a failed poll are one outage).
    """

    def __init__(
        self,
        window: float = DEFAULT_WINDOW,
        *,
        on_wait: Callable[[OutageNotice], None] | None = None,
        on_back: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        delays: tuple[float, ...] = BACKOFF,
    ) -> None:
        self.window = window
        self.on_wait = on_wait
        self.on_back = on_back
        self.clock = clock
        self.sleep = sleep
        self.delays = delays
        self.down_since: float | None = None
        self.attempts = 0
        self.outages = 0

    @property
    def is_down(self) -> bool:
        """Whether the last call through the link failed."""
        return self.down_since is not None

    def up(self) -> None:
        """Record a success: an outage in progress is over."""
        if self.down_since is not None:
            lasted = self.clock() - self.down_since
            self.down_since, self.attempts = None, 0
            logger.info("link back after %.1f s", lasted)
            if self.on_back is not None:
                self.on_back(lasted)

    async def failed(self, exc: ComfycineError) -> None:
        """Record a failure that :func:`is_outage` accepts, then wait before the next try.

        Raises :class:`OutageTooLong` once the outage has lasted the window.
        """
        now = self.clock()
        if self.down_since is None:
            self.down_since = now
            self.outages += 1
        lasted = now - self.down_since
        delay = self.delays[min(self.attempts, len(self.delays) - 1)]
        self.attempts += 1
        if lasted + delay > self.window:
            raise OutageTooLong(exc, lasted)
        if self.on_wait is not None:
            notice = OutageNotice(lasted, self.window, delay, outage_reason(exc), self.attempts)
            self.on_wait(notice)
        await self.sleep(delay)

    async def call(self, make: Callable[[], Awaitable[T]]) -> T:
        """``await make()``, trying again through outages until the window is spent."""
        while True:
            try:
                result = await make()
            except ComfycineError as exc:
                if not is_outage(exc):
                    raise
                await self.failed(exc)
                continue
            self.up()
            return result
