"""A TCP proxy on 127.0.0.1 that makes loopback look like a Tailscale link.

Each direction is a link of its own: bytes are serialised at ``mbit`` (the bandwidth
cap: a chunk leaves once the previous one has left, after ``size / rate`` seconds) and
arrive ``rtt_ms / 2`` later (the propagation delay). One writer per direction delivers
chunks in arrival order, so the byte stream is exactly the upstream's. The amount in
flight per direction is bounded (the one-way bandwidth-delay product plus a 256 KiB
router queue): a sender that outruns the link is slowed by TCP back-pressure, as on
a real link, instead of filling this process's memory. It is just TCP, so HTTP and
WebSocket both go through.

As a module::

    async with NetProxy("127.0.0.1", 8188, rtt_ms=20, mbit=100) as proxy:
        url = f"http://127.0.0.1:{proxy.port}"

As a script (prints ``listening on 127.0.0.1:PORT`` first, then serves until killed)::

    python bench/netproxy.py --upstream 127.0.0.1:8188 --rtt-ms 20 --mbit 100 [--port 0]
    python bench/netproxy.py --self-check      # measure the RTT and throughput achieved
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from types import TracebackType

CHUNK = 16 * 1024  # read size: ~1.3 ms of link time at 100 Mbit/s, smooth enough
QUEUE_BYTES = 256 * 1024  # the router queue on top of the bytes in propagation


class NetProxy:
    """Forward every connection to ``host:port`` through a delayed, rate-capped link."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        rtt_ms: float = 20.0,
        mbit: float = 100.0,
        port: int = 0,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.delay = rtt_ms / 2000.0
        self.rate = mbit * 1e6 / 8.0  # bytes per second, per direction
        self.port = port
        in_flight = self.rate * self.delay + QUEUE_BYTES
        self.max_chunks = max(4, int(in_flight // CHUNK) + 1)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> NetProxy:
        """Listen on 127.0.0.1 (a free port unless one was given); ``.port`` is set."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and drop every open connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> NetProxy:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                writer.close()
                return
            try:
                await asyncio.gather(
                    self._direction(reader, up_writer), self._direction(up_reader, writer)
                )
            finally:
                for w in (writer, up_writer):
                    w.close()
        except asyncio.CancelledError:
            pass  # close() ends connections this way; asyncio would log a cancelled handler
        finally:
            self._tasks.discard(task)

    async def _direction(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One direction of one connection: a reader feeding a link, a writer draining it."""
        link: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(self.max_chunks)
        sender = asyncio.ensure_future(self._transmit(reader, link))
        try:
            await self._deliver(link, writer)
        finally:
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender

    async def _transmit(
        self, reader: asyncio.StreamReader, link: asyncio.Queue[tuple[float, bytes]]
    ) -> None:
        """Stamp each chunk with the time it reaches the far end; b"" marks the end."""
        loop = asyncio.get_running_loop()
        link_free = 0.0  # when the link finishes serialising what it already holds
        while True:
            try:
                data = await reader.read(CHUNK)
            except OSError:
                data = b""
            now = loop.time()
            link_free = max(now, link_free) + len(data) / self.rate
            await link.put((link_free + self.delay, data))
            if not data:
                return

    async def _deliver(
        self, link: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
    ) -> None:
        """Write chunks at their arrival times, in order; pass the end of stream on."""
        loop = asyncio.get_running_loop()
        while True:
            due, data = await link.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
            except OSError:
                return


async def _serve(args: argparse.Namespace) -> None:
    host, _, port = args.upstream.rpartition(":")
    proxy = NetProxy(host, int(port), rtt_ms=args.rtt_ms, mbit=args.mbit, port=args.port)
    async with proxy:
        print(f"listening on 127.0.0.1:{proxy.port}", flush=True)
        await asyncio.Event().wait()


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Self-check upstream: ``p`` → pong; ``d<n>`` → n bytes down; ``u<n>`` → read n, ack."""
    try:
        while command := await reader.readline():
            kind, size = command[:1], int(command[1:].strip() or 0)
            if kind == b"p":
                writer.write(b"p")
            elif kind == b"d":
                block = b"\x5a" * CHUNK
                for start in range(0, size, CHUNK):
                    writer.write(block[: min(CHUNK, size - start)])
                    await writer.drain()
            elif kind == b"u":
                await reader.readexactly(size)
                writer.write(b"k")
            await writer.drain()
    finally:
        writer.close()


async def self_check(rtt_ms: float, mbit: float, megabytes: int) -> None:
    """Measure and print the round trip and the throughput the proxy really gives."""
    upstream = await asyncio.start_server(_echo, "127.0.0.1", 0)
    up_port = upstream.sockets[0].getsockname()[1]
    async with upstream, NetProxy("127.0.0.1", up_port, rtt_ms=rtt_ms, mbit=mbit) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        rtts = []
        for _ in range(30):
            start = time.perf_counter()
            writer.write(b"p\n")
            await reader.readexactly(1)
            rtts.append((time.perf_counter() - start) * 1000)
        size = megabytes * 1_000_000
        start = time.perf_counter()
        writer.write(b"d%d\n" % size)
        await reader.readexactly(size)
        down = size * 8 / (time.perf_counter() - start) / 1e6
        payload = b"\xa5" * size
        start = time.perf_counter()
        writer.write(b"u%d\n" % size + payload)
        await reader.readexactly(1)
        up = size * 8 / (time.perf_counter() - start) / 1e6
        writer.close()
    print(f"configured: rtt {rtt_ms:g} ms, {mbit:g} Mbit/s per direction")
    print(
        f"measured:   rtt median {statistics.median(rtts):.1f} ms "
        f"(min {min(rtts):.1f}, max {max(rtts):.1f}, n={len(rtts)})"
    )
    print(f"measured:   {megabytes} MB down {down:.1f} Mbit/s, up {up:.1f} Mbit/s (RTT included)")


def main() -> None:
    """Serve, or self-check."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--upstream", help="host:port to forward to")
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--mbit", type=float, default=100.0)
    parser.add_argument("--port", type=int, default=0, help="listen port (default: a free one)")
    parser.add_argument("--self-check", action="store_true")
    parser.add_argument("--megabytes", type=int, default=25, help="self-check transfer size")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        if args.self_check:
            asyncio.run(self_check(args.rtt_ms, args.mbit, args.megabytes))
        elif args.upstream:
            asyncio.run(_serve(args))
        else:
            parser.error("--upstream HOST:PORT or --self-check is required")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
