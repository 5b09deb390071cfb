"""Plumbing of the fault proxy (:mod:`tests.faultproxy`): request heads, connections.

:class:`RequestScanner` is sans-I/O: :meth:`~RequestScanner.feed` takes bytes as they
arrive and returns them cut into segments, each a complete request head (with its
parsed :class:`RequestHead`) or bytes that are not a head (bodies, or anything once the
stream is opaque). A head is held back until it is complete, so the proxy can refuse it
before upstream sees a byte.

The stream becomes opaque (everything passes as it comes, nothing more is parsed) when
it does not start like an HTTP request, after a request asking for an ``Upgrade``, after
a chunked request body (not parsed: clients here send ``Content-Length``), or when a
head grows past the size limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
from dataclasses import dataclass
from typing import Any

_REQUEST_LINE = re.compile(rb"([A-Z]{1,16}) (\S+) HTTP/1\.[01]\Z")


@dataclass(frozen=True)
class RequestHead:
    """One request's method, path (no query), and whether it asked for a WebSocket."""

    method: str
    path: str
    upgrade: bool


class RequestScanner:
    """Split one connection's client-to-server bytes into request heads and the rest."""

    def __init__(self, max_head: int) -> None:
        self.max_head = max_head
        self.opaque = False
        self._buffer = bytearray()
        self._body_left = 0

    def feed(self, data: bytes) -> list[tuple[bytes, RequestHead | None]]:
        """Return ``data`` (and any held-back head) as segments, in stream order."""
        out: list[tuple[bytes, RequestHead | None]] = []
        view = memoryview(data)
        while view:
            if self.opaque:
                out.append((bytes(view), None))
                break
            if self._body_left:
                take = min(self._body_left, len(view))
                out.append((bytes(view[:take]), None))
                self._body_left -= take
                view = view[take:]
                continue
            self._buffer += view
            view = memoryview(b"")
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > self.max_head or not self._plausible():
                    self._go_opaque(out)
                break
            raw = bytes(self._buffer[: end + 4])
            rest = bytes(self._buffer[end + 4 :])
            self._buffer.clear()
            head = self._parse(raw)
            if head is None:
                self._buffer += raw
                self._go_opaque(out)
                view = memoryview(rest)
                continue
            out.append((raw, head))
            view = memoryview(rest)
        return out

    def _plausible(self) -> bool:
        """Whether the bytes held so far can still be the start of a request line."""
        start = bytes(self._buffer[:18])
        space = start.find(b" ")
        method = start if space < 0 else start[:space]
        if len(method) > 16 or (method and not (method.isalpha() and method.isupper())):
            return False
        if space == 0:
            return False
        line_end = self._buffer.find(b"\r\n")
        return line_end < 0 or bool(_REQUEST_LINE.match(bytes(self._buffer[:line_end])))

    def _go_opaque(self, out: list[tuple[bytes, RequestHead | None]]) -> None:
        self.opaque = True
        if self._buffer:
            out.append((bytes(self._buffer), None))
            self._buffer.clear()

    def _parse(self, raw: bytes) -> RequestHead | None:
        lines = raw.split(b"\r\n")
        match = _REQUEST_LINE.match(lines[0])
        if match is None:
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if sep:
                headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        method = match.group(1).decode("ascii")
        path = match.group(2).decode("latin-1").split("?", 1)[0]
        upgrade = "websocket" in headers.get("upgrade", "").lower()
        if "upgrade" in headers or "chunked" in headers.get("transfer-encoding", "").lower():
            self.opaque = True
        else:
            try:
                self._body_left = max(0, int(headers.get("content-length", "0")))
            except ValueError:
                self.opaque = True
        return RequestHead(method, path, upgrade)


FORBIDDEN = (
    b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 36\r\nConnection: close\r\n\r\n"
    b"WebSocket upgrade refused by proxy.\n"
)


def reset(writer: asyncio.StreamWriter | None) -> None:
    """Close ``writer``'s connection with an RST (``SO_LINGER`` 0), dropping unsent data."""
    if writer is None or writer.transport.is_closing():
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Connection:
    """One client connection and its upstream half."""

    def __init__(self, client: asyncio.StreamWriter, max_head: int) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.scanner = RequestScanner(max_head)
        self.upgraded = False
        self.task: asyncio.Task[Any] | None = None

    def reset(self) -> None:
        """RST both sides and stop forwarding."""
        reset(self.client)
        reset(self.upstream)
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
