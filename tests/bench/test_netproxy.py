"""The benchmark link proxy (bench/netproxy.py) passes bytes through unchanged."""

from __future__ import annotations

import asyncio
import importlib.util
import random
from pathlib import Path
from types import ModuleType


def _netproxy() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "netproxy.py"
    spec = importlib.util.spec_from_file_location("bench_netproxy", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(7000):
        writer.write(data)
        await writer.drain()
    writer.write_eof()


async def test_bytes_round_trip_in_order_and_end_of_stream_passes() -> None:
    """Random bytes in odd-sized writes come back identical, then EOF follows the close."""
    netproxy = _netproxy()
    payload = random.Random(7).randbytes(1_500_000)
    upstream = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = upstream.sockets[0].getsockname()[1]
    async with upstream, netproxy.NetProxy("127.0.0.1", port, rtt_ms=2, mbit=2000) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)

        async def send() -> None:
            sizes = random.Random(8)
            offset = 0
            while offset < len(payload):
                step = sizes.randrange(1, 50_000)
                writer.write(payload[offset : offset + step])
                await writer.drain()
                offset += step
            writer.write_eof()

        sending = asyncio.ensure_future(send())
        received = await asyncio.wait_for(reader.read(), timeout=10)
        await sending
        writer.close()
    assert received == payload
