"""Where a followed job's news comes from: the event socket while it works, polling otherwise.

:class:`JobUpdates` hides the choice from the job runner. The runner asks for the next
update with a silence limit; it gets a parsed event, ``None`` (a frame of no interest),
a :class:`Resync` (the socket dropped or came back: events may have been missed, ask
the server where the job is), or a ``TimeoutError`` when the limit passed in silence —
the runner then looks at ``/history`` and ``/queue`` itself. While polling, the limit is
the adaptive :class:`~.polling.PollSchedule` interval, so "silence" *is* the poll.

Modes (``--transport``, ``COMFYCINE_TRANSPORT``):

* ``auto`` — the socket; polling when it is refused (a proxy passing plain HTTP only),
  cannot be opened, or keeps dropping, with one notice saying why live progress is
  missing; the socket is tried again now and then, and taken back when it answers;
* ``ws`` — the socket only: a refused socket is an error (:class:`SocketRefused`);
* ``poll`` — never the socket: HTTP only, no live progress.

Reaching the server at all is not decided here: an unreachable server is an outage
that the runner's :class:`~.reconnect.Link` waits out through its HTTP questions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import SocketRefused, TargetUnreachable
from .events import Event
from .eventstream import StreamDropped
from .local import ComfyClient, EventSource
from .polling import PollSchedule
from .reconnect import BACKOFF

logger = logging.getLogger(__name__)

MODES = ("auto", "ws", "poll")
# A socket that drops this often in this many seconds is given up on for a while.
DROPS_TO_GIVE_UP = 3
DROP_SPAN = 120.0
# How long to poll before trying a refused or dropping socket again.
SOCKET_RETRY_AFTER = 60.0
REFUSED = "the server, or a proxy in front of it, refused the WebSocket"
POLL_ASKED = "polling was asked for (--transport poll)"
# With the socket open, silence checks space out to this (websockets' own keepalive
# pings notice a dead socket within about 40 s anyway).
SOCKET_SILENCE_MAX = 15.0
SOCKET_SILENCE_GROWTH = 1.5


@dataclass(frozen=True, slots=True)
class Resync:
    """The socket dropped or came back: the runner must ask where the job is."""

    reason: str  # dropped | reconnected | socket_back


class JobUpdates:
    """The updates of one followed job (one client id), by socket or by polling."""

    def __init__(
        self,
        client: ComfyClient,
        client_id: str,
        *,
        mode: str = "auto",
        stream: EventSource | None = None,
        on_notice: Callable[[str], None] | None = None,
        job_id: str | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown transport mode {mode!r}")
        self.client = client
        self.client_id = client_id
        # Known once submitted; servers with per-job streams (Comfy API v2) need it.
        self.job_id = job_id
        self.mode = mode
        self.stream = stream
        self.on_notice = on_notice
        self.schedule = PollSchedule()
        self.why_polling: str | None = None
        self._socket_retry_at = 0.0
        self._socket_failures = 0
        self._drops: deque[float] = deque()
        self._quiet: float | None = None
        self.drops = 0
        self.reconnects = 0

    @property
    def polling(self) -> bool:
        """Whether no socket is open (news come from the runner's own questions)."""
        return self.stream is None

    @property
    def transport(self) -> str:
        """``ws`` (the socket) or ``sse`` (a v2 job's stream) while open, ``poll`` otherwise."""
        if self.stream is None:
            return "poll"
        # A Comfy API v2 job's event stream (server-sent events over HTTP), or the socket.
        return "sse" if getattr(self.stream, "job_id", None) else "ws"

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _notice(self, text: str) -> None:
        logger.info("%s", text)
        if self.on_notice is not None:
            self.on_notice(text)

    async def open(self) -> None:
        """Open the socket unless it is open already or the mode is ``poll``.

        In ``auto`` a refused or unreachable socket is not an error: the job is polled,
        and an unreachable server is then met (and waited out) by the runner's questions.
        """
        if self.stream is not None:
            return
        if self.mode == "poll":
            self._poll_because(POLL_ASKED, retry=False)
            return
        await self._try_socket()

    def bind(self, job_id: str) -> None:
        """The job's id, once the server answered the submission."""
        self.job_id = job_id

    async def open_before_submit(self) -> None:
        """Like :meth:`open`, but an unreachable server raises: nothing is submitted yet.

        Opening the socket before the POST means no event of the job can be missed; it
        also checks, within seconds, that the server is there at all. A server whose
        streams are per job is only checked (one authenticated request); its stream is
        opened at the first :meth:`recv` after :meth:`bind`.
        """
        if self.mode != "poll" and self._new_stream() is None:
            await self.client.reachable()
            return
        if self.mode != "poll":
            try:
                if await self._connect():
                    return
            except SocketRefused:
                if self.mode == "ws":
                    raise
        # Polling: is plain HTTP there at all? (bounded like the socket)
        await self.client.reachable()
        self._poll_because(POLL_ASKED if self.mode == "poll" else REFUSED)

    async def recv(self, wait: float) -> Event | Resync | None:
        """The next update within ``wait`` seconds; ``TimeoutError`` after silence."""
        if self.stream is None:
            due = self.mode != "poll" and self._now() >= self._socket_retry_at
            if due and await self._try_socket():
                return Resync("socket_back")
            await asyncio.sleep(max(0.0, wait))
            raise TimeoutError
        try:
            # asyncio.timeout, not wait_for: no task per frame (dozens per job).
            async with asyncio.timeout(max(0.0, wait)):
                event = await self.stream.recv()
            self._quiet = None  # the socket speaks: the next silence check comes early
            return event
        except StreamDropped:
            await self._close_stream()
            self._dropped()
            if self._now() >= self._socket_retry_at and await self._try_socket():
                self.reconnects += 1
                return Resync("reconnected")
            return Resync("dropped")

    def silence_limit(self, socket_silence: float) -> float:
        """How long to wait for news before looking at the server directly.

        While polling: the adaptive poll interval. With the socket: ``socket_silence``
        at first, growing while the socket stays quiet (a long node that sends no
        events: VAE decode, video encode) up to :data:`SOCKET_SILENCE_MAX`, so a healthy
        socket does not cost as many requests as polling.
        """
        if self.stream is None and self.mode != "ws":
            return self.schedule.next_interval()
        if self._quiet is None:
            self._quiet = socket_silence
        current = self._quiet
        self._quiet = min(SOCKET_SILENCE_MAX, self._quiet * SOCKET_SILENCE_GROWTH)
        return current

    def changed(self) -> None:
        """The job moved (queued → running, position, an event): look again soon."""
        self.schedule.changed()
        self._quiet = None

    async def close(self) -> None:
        """Close the socket if open."""
        await self._close_stream()

    # ------------------------------------------------------------------ internals

    def _new_stream(self) -> EventSource | None:
        return self.client.event_source(self.client_id, self.job_id)

    async def _connect(self) -> bool:
        """Open the stream; False when there is none to open yet (job id unknown)."""
        stream = self._new_stream()
        if stream is None:
            return False
        try:
            await stream.connect()
        except BaseException:
            with contextlib.suppress(Exception):
                await stream.close()
            raise
        self.stream = stream
        return True

    async def _close_stream(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                await stream.close()

    async def _try_socket(self) -> bool:
        """Try to (re)open the socket once; False (and polling meanwhile) when it fails."""
        try:
            if not await self._connect():
                return False
        except SocketRefused as exc:
            if self.mode == "ws":
                raise
            if exc.details.get("permanent"):
                # Not served at all (v2's 501): asking again every minute is no use.
                self._poll_because(f"{exc.message.rstrip('.')}", retry=False)
                self._socket_retry_at = float("inf")
            else:
                self._poll_because(REFUSED)
            return False
        except TargetUnreachable as exc:
            delay = BACKOFF[min(self._socket_failures, len(BACKOFF) - 1)]
            self._socket_failures += 1
            self._socket_retry_at = self._now() + delay
            if self.mode == "auto" and self._socket_failures == 2:
                self._poll_because(f"the WebSocket cannot be opened ({_reason(exc)})")
            return False
        self._socket_failures = 0
        if self.why_polling is not None:
            self.why_polling = None
            self._notice("The WebSocket is back: live progress again.")
        return True

    def _dropped(self) -> None:
        now = self._now()
        self.drops += 1
        self._drops.append(now)
        while self._drops and now - self._drops[0] > DROP_SPAN:
            self._drops.popleft()
        if self.mode == "auto" and len(self._drops) >= DROPS_TO_GIVE_UP:
            self._drops.clear()
            self._poll_because(
                f"the WebSocket keeps dropping ({DROPS_TO_GIVE_UP} times in {DROP_SPAN:.0f} s)"
            )

    def _poll_because(self, why: str, *, retry: bool = True) -> None:
        """Poll from now on (the socket is tried again later); say why, once."""
        self.schedule.changed()
        if retry:
            self._socket_retry_at = self._now() + SOCKET_RETRY_AFTER
        if self.why_polling is None:
            self.why_polling = why
            self._notice(
                f"No live progress: {why}. Following the job over HTTP instead "
                "(queue position, running, done)."
            )


def _reason(exc: TargetUnreachable) -> str:
    return str(exc.details.get("reason") or "unreachable")
