"""A loopback TCP proxy that fakes network faults, switched at run time from the test.

``FaultProxy`` listens on 127.0.0.1 (a free port) in front of an upstream server (the
real ComfyUI or the fake) and forwards bytes both ways; a test thread changes what the
"link" does while a client talks through it::

    with FaultProxy(fake.url) as proxy:          # or the ``fault_proxy`` fixture
        client = ComfyClient(proxy.url)
        proxy.blackhole()                        # the Wi-Fi goes away...
        proxy.restore()                          # ...and comes back
        assert proxy.count("GET", "/history/") >= 1

Faults (each a method; :meth:`set_mode` takes their names too):

* ``pass`` (:meth:`restore`) — forward everything, no fault active.
* :meth:`blackhole` — no byte moves either way. Open connections stay open; the proxy
  stops reading, so what was sent waits in the kernel buffers (TCP back-pressure), the
  way a real link's retransmissions hold it: nothing is dropped or reordered, and it
  flows again on :meth:`restore` unless ``restore(cut_existing=True)`` resets those
  connections instead (a NAT rebinding or a new Tailscale relay path). New connections
  are accepted by the kernel and then never get a byte (``connect="silent"``, the
  default), or are not accepted at all so that ``connect()`` times out
  (``connect="timeout"``: SYNs dropped, like a dead Tailscale peer).
* :meth:`refuse` — the server is down: the listener is closed (``connect()`` is refused)
  and open connections are reset; :meth:`restore` listens again on the same port.
* :meth:`cut` — reset every open connection now (RST through ``SO_LINGER`` 0, on the
  client's and the upstream's side); new connections pass. An action, not a mode.
* :meth:`refuse_upgrades` — plain HTTP passes; a request carrying
  ``Upgrade: websocket`` is answered ``403 Forbidden`` and never reaches upstream (a
  reverse proxy that does not pass WebSocket); ``cut_open=True`` also resets the
  WebSocket connections already open.
* :meth:`slow` — every chunk waits ``delay_ms`` and/or a bandwidth cap of ``mbit`` per
  direction, optionally split into ``chunk``-byte pieces (a dribble at the TCP level).
  This is a serial per-chunk delay, not a pipelined link: ``bench/netproxy.py`` models
  RTT and bandwidth faithfully when timing matters.

Faults combine: ``refuse_upgrades`` and ``slow`` are filters that stay on through a
blackhole; :meth:`restore` clears all of them.

Counters (read from any thread): :attr:`connections_accepted`, :attr:`open_connections`,
:attr:`bytes_up` (client → upstream), :attr:`bytes_down`, and the requests seen, parsed
from the request line of each plain HTTP/1.1 request on each connection
(:attr:`requests`, :meth:`count`, :meth:`wait_for`). A request is counted when the
proxy reads it, which may be just before a blackhole holds it back. A connection stops
being parsed once it asked for an upgrade, sent a chunked request body, or a head over
64 KiB (see :mod:`tests.faulthttp`).

Everything is bounded: at most :data:`MAX_CONNECTIONS` at once (more are reset), a
request log of :data:`LOG_SIZE` entries, a head buffer of :data:`MAX_HEAD`, every call
into the proxy's loop waits at most ``CALL_TIMEOUT``; :meth:`stop` resets every
connection and joins the thread.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import time
import urllib.parse
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Literal, TypeVar

import pytest

from tests.faulthttp import FORBIDDEN, Connection, RequestHead, reset
from tests.loopthread import CALL_TIMEOUT, LoopThread

T = TypeVar("T")
CHUNK = 64 * 1024
MAX_CONNECTIONS = 256
LOG_SIZE = 10_000
MAX_HEAD = 64 * 1024
UPSTREAM_CONNECT_TIMEOUT = 10.0
Mode = Literal["pass", "blackhole", "refuse"]


class FaultProxy(LoopThread):
    """A TCP proxy on 127.0.0.1 whose link can be cut, blackholed, refused or slowed."""

    thread_name = "faultproxy"

    def __init__(self, upstream_url: str) -> None:
        super().__init__()
        parsed = urllib.parse.urlsplit(upstream_url)
        if parsed.hostname is None:
            raise ValueError(f"no host in upstream URL {upstream_url!r}")
        default_port = 443 if parsed.scheme in ("https", "wss") else 80
        self.upstream = (parsed.hostname, parsed.port or default_port)
        self._scheme = "https" if parsed.scheme in ("https", "wss") else "http"
        self.port = 0
        self.mode: Mode = "pass"
        self.rejecting_upgrades = False
        self.delay = 0.0  # seconds per chunk
        self.rate: float | None = None  # bytes per second per direction
        self.piece: int | None = None  # split chunks into pieces of this size
        self.connections_accepted = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.upgrades_refused = 0
        self._requests: collections.Counter[tuple[str, str]] = collections.Counter()
        self._log: collections.deque[RequestHead] = collections.deque(maxlen=LOG_SIZE)
        self._server: asyncio.Server | None = None
        self._sink: list[socket.socket] = []  # listen(0) socket + filler: SYNs dropped
        self._flowing: asyncio.Event | None = None
        self._connections: set[Connection] = set()

    # Lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL through the proxy, e.g. ``http://127.0.0.1:41234``."""
        if not self.port:
            raise RuntimeError("FaultProxy is not started")
        return f"{self._scheme}://127.0.0.1:{self.port}"

    async def _boot(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        await self._listen()

    async def _shutdown(self) -> None:
        self._close_sink()
        if self._server is not None:
            self._server.close()
            self._server = None
        for connection in list(self._connections):
            connection.reset()
        tasks = [c.task for c in self._connections if c.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=CALL_TIMEOUT)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()  # open connections are left alone (3.11 semantics)
            self._server = None

    def _open_sink(self) -> None:
        """Hold the port with a full accept queue, so the kernel drops new SYNs."""
        sink = socket.socket()
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sink.bind(("127.0.0.1", self.port))
        sink.listen(0)
        filler = socket.socket()
        filler.settimeout(CALL_TIMEOUT)
        filler.connect(("127.0.0.1", self.port))  # takes the one slot listen(0) allows
        self._sink = [filler, sink]

    def _close_sink(self) -> None:
        for sock in self._sink:
            sock.close()
        self._sink = []

    def _call(self, action: Callable[[], T]) -> T:
        """Run ``action`` on the proxy's loop and return its result (bounded wait)."""

        async def run() -> T:
            return action()

        return self._await(run())

    def _await(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the proxy's loop and return its result (bounded wait)."""
        loop = self._loop
        if loop is None:
            coroutine.close()
            raise RuntimeError("FaultProxy is not started")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(CALL_TIMEOUT)

    # Faults ----------------------------------------------------------------------------

    def set_mode(self, mode: str, **options: Any) -> None:
        """Apply a fault by name: ``pass``, ``blackhole``, ``refuse``, ``cut``,
        ``refuse_upgrades`` or ``slow`` (``options`` go to that method)."""
        actions: dict[str, Callable[..., object]] = {
            "pass": self.restore,
            "blackhole": self.blackhole,
            "refuse": self.refuse,
            "cut": self.cut,
            "refuse_upgrades": self.refuse_upgrades,
            "slow": self.slow,
        }
        if mode not in actions:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(actions)}")
        actions[mode](**options)

    def blackhole(self, connect: Literal["silent", "timeout"] = "silent") -> None:
        """Stop every byte both ways; new connections get silence (see the module doc)."""

        def act() -> None:
            assert self._flowing is not None
            self._flowing.clear()
            self.mode = "blackhole"
            if connect == "timeout":
                self._close_listener()
                self._close_sink()
                self._open_sink()

        self._call(act)

    def refuse(self) -> None:
        """Close the listener (connections refused) and reset every open connection."""

        def act() -> None:
            assert self._flowing is not None
            self._close_listener()
            self._close_sink()
            self.mode = "refuse"
            for connection in list(self._connections):
                connection.reset()
            self._flowing.set()

        self._call(act)

    def restore(self, cut_existing: bool = False) -> None:
        """Back to a clean link: listening, bytes flowing, no filter and no slowness.

        Connections held through a blackhole carry on, or are reset with ``cut_existing``.
        """

        async def act() -> None:
            assert self._flowing is not None
            if cut_existing:
                for connection in list(self._connections):
                    connection.reset()
            self._close_sink()
            if self._server is None:
                await self._listen()
            self.mode = "pass"
            self.rejecting_upgrades = False
            self.delay, self.rate, self.piece = 0.0, None, None
            self._flowing.set()

        self._await(act())

    def cut(self) -> int:
        """Reset every open connection now (RST both sides); return how many were cut."""

        def act() -> int:
            connections = list(self._connections)
            for connection in connections:
                connection.reset()
            return len(connections)

        return self._call(act)

    def refuse_upgrades(self, on: bool = True, cut_open: bool = False) -> None:
        """Answer ``Upgrade: websocket`` requests with 403; ``cut_open`` resets open ones."""

        def act() -> None:
            self.rejecting_upgrades = on
            if cut_open:
                for connection in list(self._connections):
                    if connection.upgraded:
                        connection.reset()

        self._call(act)

    def slow(
        self, delay_ms: float = 0.0, mbit: float | None = None, chunk: int | None = None
    ) -> None:
        """Delay each chunk by ``delay_ms``, cap each direction at ``mbit``, split into
        ``chunk``-byte pieces; all zero/None means full speed."""
        if chunk is not None and chunk < 1:
            raise ValueError("chunk must be at least 1 byte")

        def act() -> None:
            self.delay = delay_ms / 1000.0
            self.rate = mbit * 1e6 / 8.0 if mbit else None
            self.piece = chunk

        self._call(act)

    # Counters --------------------------------------------------------------------------

    @property
    def open_connections(self) -> int:
        """Client connections open right now."""
        return self._call(lambda: len(self._connections))

    @property
    def requests(self) -> list[tuple[str, str]]:
        """The requests seen, oldest first, as ``(method, path)`` (path without query)."""
        return self._call(lambda: [(head.method, head.path) for head in self._log])

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        """How many requests matched ``method`` (any when None) and ``path_prefix``."""

        def act() -> int:
            return sum(
                n
                for (m, path), n in self._requests.items()
                if (method is None or m == method) and path.startswith(path_prefix)
            )

        return self._call(act)

    def wait_for(
        self, predicate: Callable[[FaultProxy], bool], timeout: float = CALL_TIMEOUT
    ) -> None:
        """Poll ``predicate(self)`` until it is true; raise TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise TimeoutError("FaultProxy: condition not reached in time")
            time.sleep(0.01)

    # Forwarding ------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_accepted += 1
        if len(self._connections) >= MAX_CONNECTIONS:
            reset(writer)
            return
        connection = Connection(writer, MAX_HEAD)
        connection.task = asyncio.current_task()
        self._connections.add(connection)
        try:
            await self._gate()  # blackholed: accepted, then silence
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.upstream), UPSTREAM_CONNECT_TIMEOUT
                )
            except (OSError, TimeoutError):
                reset(writer)  # upstream down: the client sees its connection reset
                return
            connection.upstream = up_writer
            await asyncio.gather(
                self._pump(connection, reader, up_writer, upward=True),
                self._pump(connection, up_reader, writer, upward=False),
            )
        except asyncio.CancelledError:
            pass  # cut, refused or stopped: the sockets are already reset
        finally:
            self._connections.discard(connection)
            for side in (connection.client, connection.upstream):
                if side is not None:
                    side.close()

    async def _gate(self) -> None:
        assert self._flowing is not None
        await self._flowing.wait()

    async def _pump(
        self,
        connection: Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        upward: bool,
    ) -> None:
        """Forward one direction until end of stream; a reset on one side resets both."""
        while True:
            await self._gate()
            try:
                data = await reader.read(CHUNK)
            except OSError:
                connection.reset()
                return
            if not data:
                with contextlib.suppress(OSError):
                    if writer.can_write_eof() and not writer.transport.is_closing():
                        writer.write_eof()
                return
            segments = connection.scanner.feed(data) if upward else [(data, None)]
            for segment, head in segments:
                if head is not None and not await self._admit(connection, head):
                    return
                await self._gate()  # a chunk read just before a blackhole waits too
                try:
                    await self._send(writer, segment, upward)
                except OSError:
                    connection.reset()
                    return

    async def _admit(self, connection: Connection, head: RequestHead) -> bool:
        """Count one request; answer 403 to an upgrade if asked (False: stop forwarding)."""
        self._requests[(head.method, head.path)] += 1
        self._log.append(head)
        if not head.upgrade:
            return True
        connection.upgraded = True
        if not self.rejecting_upgrades:
            return True
        self.upgrades_refused += 1
        with contextlib.suppress(OSError):
            connection.client.write(FORBIDDEN)
            await connection.client.drain()
        connection.client.close()
        reset(connection.upstream)
        return False

    async def _send(self, writer: asyncio.StreamWriter, data: bytes, upward: bool) -> None:
        size = self.piece or len(data)
        for start in range(0, len(data), size):
            piece = data[start : start + size]
            pause = self.delay + (len(piece) / self.rate if self.rate else 0.0)
            if pause > 0:
                await asyncio.sleep(pause)
            # Counted as handed over, before the drain: the peer may read the bytes (and
            # a test check the count) before drain() returns to this task.
            if upward:
                self.bytes_up += len(piece)
            else:
                self.bytes_down += len(piece)
            writer.write(piece)
            await writer.drain()


@pytest.fixture
def fault_proxy() -> Iterator[Callable[[str], FaultProxy]]:
    """A factory: ``fault_proxy(upstream_url)`` starts a :class:`FaultProxy` (``.url``).

    Every proxy it started is stopped at teardown, its connections reset.
    """
    started: list[FaultProxy] = []

    def start(upstream_url: str) -> FaultProxy:
        proxy = FaultProxy(upstream_url).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in reversed(started):
        proxy.stop()
