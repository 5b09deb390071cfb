"""The WebSocket side of the protocol: a thin socket loop feeding :mod:`comfycine.events`.

The server routes a prompt's execution messages only to the socket whose ``clientId``
equals the prompt's ``client_id``, and replays nothing after a reconnect: whoever uses
this stream must reconcile through ``/history`` and ``/queue`` after :meth:`reconnect`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from ..errors import ComfycineError, ServerError, SocketRefused
from ..sanitize import redact
from ..urls import bare_url, basic_authorization, credentials
from .events import Event, Status, parse_frame
from .failures import unreachable_error

OPEN_TIMEOUT = 2.5  # with start-up, an unreachable server is reported within 3 s
CLOSE_TIMEOUT = 0.5
# Reconnect delays (seconds); the last one repeats until the caller's deadline.
BACKOFF = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)


class StreamDropped(Exception):
    """The socket closed under us; reconnect with the same client id, then reconcile."""


def ws_url(base_url: str, client_id: str, extra: dict[str, str] | None = None) -> str:
    """``http://host:port/x`` → ``ws://host:port/x/ws?clientId=…``."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = urlencode({"clientId": client_id, **(extra or {})})
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", query, ""))


AuthError = Callable[[int], ComfycineError | None]


def _refused_auth(exc: InvalidStatus, auth_error: AuthError | None) -> ComfycineError | None:
    """The error for a handshake answered 401 (or 403 with a challenge), if any."""
    response = exc.response
    status = response.status_code
    challenged = status == 401 or (status == 403 and "WWW-Authenticate" in response.headers)
    return auth_error(status) if challenged and auth_error is not None else None


@contextmanager
def map_ws_errors(base_url: str, auth_error: AuthError | None = None) -> Iterator[None]:
    """Translate socket-opening failures into comfycine errors.

    A handshake refusing the credentials is ``auth_error(status)`` (the client's
    :meth:`~comfycine.transport.local.ComfyClient.auth_error`) when it gives one.
    """
    try:
        yield
    except ComfycineError:
        raise
    except InvalidStatus as exc:
        refused = _refused_auth(exc, auth_error)
        if refused is not None:
            raise refused from exc
        raise _socket_refused(base_url, exc) from exc
    except socket.gaierror as exc:
        raise unreachable_error(base_url, "dns") from exc
    except ConnectionRefusedError as exc:
        raise unreachable_error(base_url, "refused") from exc
    except TimeoutError as exc:
        raise unreachable_error(base_url, "timeout") from exc
    except InvalidURI as exc:
        text = redact(str(exc))
        raise ServerError(f"{base_url} has no usable WebSocket address: {text}.") from exc
    except InvalidHandshake as exc:
        raise _socket_refused(base_url, exc) from exc
    except OSError as exc:
        raise unreachable_error(base_url, "connect") from exc


def _socket_refused(base_url: str, exc: InvalidHandshake) -> SocketRefused:
    # A proxy that passes plain HTTP but not the upgrade, or not a ComfyUI at all.
    # The socket URL may carry a token (Comfy Cloud): never echo it.
    return SocketRefused(
        f"{base_url} refused the WebSocket at /ws ({redact(str(exc))}).",
        details={"url": base_url, "reason": "websocket_refused"},
    )


class EventStream:
    """One WebSocket to ``/ws?clientId=…``, yielding parsed events.

    ``headers`` go with the handshake (``ComfyClient.ws_headers()``: the target's
    credentials); a ``user:password@`` left in ``base_url`` is sent as basic auth too,
    never shown. ``auth_error`` (``ComfyClient.auth_error``) makes the error for a
    handshake refusing them (401); without it, that is a :class:`SocketRefused`.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        *,
        preview_metadata: bool = True,
        open_timeout: float = OPEN_TIMEOUT,
        query: dict[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth_error: AuthError | None = None,
    ) -> None:
        creds = credentials(base_url)
        self._headers = dict(headers or {})
        if creds is not None:
            self._headers.setdefault("Authorization", basic_authorization(creds))
        self.base_url = bare_url(base_url)
        self.client_id = client_id
        self.preview_metadata = preview_metadata
        self.open_timeout = open_timeout
        self._query = query
        self._auth_error = auth_error
        self._socket: ClientConnection | None = None
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        """Whether a socket is currently open."""
        return self._socket is not None

    async def connect(self) -> Status | None:
        """Open the socket, negotiate preview metadata, and return the first status."""
        url = ws_url(self.base_url, self.client_id, self._query)
        with map_ws_errors(self.base_url, self._auth_error):
            # max_size=None: executed/progress_state payloads and previews can pass 1 MiB.
            # No proxy for ws:// (LAN / tailnet), as for plain-http requests.
            proxy: Any = True if url.startswith("wss://") else None
            self._socket = await connect(
                url,
                open_timeout=self.open_timeout,
                # A job's socket is closed once its outputs are in: do not wait the default
                # 10 s for a busy server's closing frame (it stalled pipelined batches).
                close_timeout=CLOSE_TIMEOUT,
                max_size=None,
                compression=None,
                proxy=proxy,
                additional_headers=self._headers or None,
            )
        if self.preview_metadata:
            # Must be the first text frame; the server then sends type-4 previews with ids.
            flags = {"type": "feature_flags", "data": {"supports_preview_metadata": True}}
            await self._socket.send(json.dumps(flags))
        try:
            first = await asyncio.wait_for(self.recv(), self.open_timeout)
        except (StreamDropped, TimeoutError):
            return None
        return first if isinstance(first, Status) else None

    async def recv(self) -> Event | None:
        """The next frame, parsed (``None`` for frames we ignore)."""
        if self._socket is None:
            raise StreamDropped("not connected")
        try:
            frame = await self._socket.recv()
        except ConnectionClosed as exc:
            self._socket = None
            raise StreamDropped(str(exc)) from exc
        return parse_frame(frame)

    async def reconnect(self, deadline: float) -> None:
        """Reopen with the same client id, backing off until the loop time ``deadline``."""
        await self.close()
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            try:
                await self.connect()
                self.reconnects += 1
                return
            except ComfycineError:
                delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
                attempt += 1
                if loop.time() + delay > deadline:
                    raise
                await asyncio.sleep(delay)

    async def close(self) -> None:
        """Close the socket if open."""
        sock, self._socket = self._socket, None
        if sock is not None:
            # Closing a broken socket must not fail a job.
            with contextlib.suppress(Exception):
                await sock.close()

    async def send_json(self, message: dict[str, Any]) -> None:
        """Send a JSON text frame (unused by the local protocol beyond feature flags)."""
        if self._socket is None:
            raise StreamDropped("not connected")
        await self._socket.send(json.dumps(message))
