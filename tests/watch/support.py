"""Helpers for the watch tests: PNG bytes, a stand-in ledger row, the one time constant."""

from __future__ import annotations

import os
import struct
import zlib
from typing import Any

from comfycine.ledger import JobRecord

# Every wait in the watch tests scales with this (poll interval of the watcher).
TICK = 0.05


def png_bytes(width: int = 32, height: int = 32) -> bytes:
    """A valid RGB PNG of random pixels: each call differs (ComfyUI caches by content)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 1))
        + chunk(b"IEND", b"")
    )


def record(job: str, status: str, **fields: Any) -> JobRecord:
    """A ledger row for the decision tests."""
    return JobRecord(
        id=job, client_id="c", target="local", server_url="http://x", status=status, **fields
    )
