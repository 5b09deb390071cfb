"""``FakeTelegram``: a fake Telegram Bot API server, for notification tests.

Speaks the shapes of PROTOCOL.md §6: ``POST /bot<token>/<method>`` with JSON, a form or
``multipart/form-data``; answers ``{"ok": true, "result": …}`` or ``{"ok": false,
"error_code", "description"[, "parameters": {"retry_after"}]}``. It checks the token
(401), the chat id (400 "chat not found"), text and caption lengths, and the upload
limits (413 "Request Entity Too Large"), which are small and configurable so tests
stay small::

    with FakeTelegram(photo_limit=2_000, upload_limit=10_000) as telegram:
        telegram.rate_limit(retry_after=3)      # the next call answers 429 once
        ...
        assert telegram.requests[-1].method == "sendMessage"
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from tests.loopthread import LoopThread

TOKEN = "123456789:AAfake-telegram-token-for-tests-0123"
CHAT_ID = "424242"
MB = 1024 * 1024
_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
_MEDIA = {"sendphoto": "photo", "sendvideo": "video", "senddocument": "document"}


@dataclass
class Upload:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    size: int
    head: bytes


@dataclass
class Received:
    """One request as the fake saw it, and its answer's status."""

    method: str
    token: str
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)
    status: int = 0


class FakeTelegram(LoopThread):
    """A Bot API server on 127.0.0.1 and a free port, in a background thread."""

    thread_name = "faketelegram"

    def __init__(
        self,
        *,
        token: str = TOKEN,
        chat_id: str = CHAT_ID,
        photo_limit: int = 10 * MB,
        upload_limit: int = 50 * MB,
    ) -> None:
        super().__init__()
        self.token = token
        self.chat_id = chat_id
        self.photo_limit = photo_limit
        self.upload_limit = upload_limit
        self._lock = threading.Lock()
        self._requests: list[Received] = []
        self._scripted: list[tuple[int, dict[str, Any]]] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._message_id = 0

    @property
    def url(self) -> str:
        """The Bot API base URL (``COMFYCINE_TELEGRAM_API_URL``)."""
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://127.0.0.1:{self._port}"

    async def _boot(self) -> None:
        app = web.Application(client_max_size=4 * self.upload_limit + MB)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # Scenarios ---------------------------------------------------------------------

    def rate_limit(self, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next ``times`` calls with 429 and ``parameters.retry_after``."""
        body = {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {retry_after}",
            "parameters": {"retry_after": retry_after},
        }
        with self._lock:
            self._scripted.extend([(429, body)] * times)

    def refuse_next(self, status: int, description: str, times: int = 1) -> None:
        """Answer the next ``times`` calls with ``status`` and ``description``."""
        body = {"ok": False, "error_code": status, "description": description}
        with self._lock:
            self._scripted.extend([(status, body)] * times)

    @property
    def requests(self) -> list[Received]:
        """Every request received, in order."""
        with self._lock:
            return list(self._requests)

    def methods(self) -> list[str]:
        """The method of every request, in order (``sendMessage``, ``sendPhoto``…)."""
        return [r.method for r in self.requests]

    # Handling ----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        match = _PATH.match(request.path)
        if match is None:
            return self._answer(
                None, 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            )
        received = Received(method=match["method"], token=match["token"])
        with self._lock:
            self._requests.append(received)
            scripted = self._scripted.pop(0) if self._scripted else None
        if scripted is not None:
            await request.read()
            return self._answer(received, *scripted)
        if received.token != self.token:
            return self._error(received, 401, "Unauthorized")
        limit = self.photo_limit if received.method.lower() == "sendphoto" else self.upload_limit
        try:
            await self._read(request, received)
        except ValueError as exc:
            return self._error(received, 400, f"Bad Request: {exc}")
        return self._respond(received, limit)

    async def _read(self, request: web.Request, received: Received) -> None:
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    raise ValueError("nested multipart")
                if part.filename:
                    data = await part.read()
                    received.files[str(part.name)] = Upload(
                        part.filename, part.headers.get("Content-Type", ""), len(data), data[:16]
                    )
                else:
                    received.fields[str(part.name)] = await part.text()
        elif request.content_type == "application/json":
            body = await request.json()
            received.fields = {str(k): str(v) for k, v in body.items()}
        else:
            received.fields = {str(k): str(v) for k, v in (await request.post()).items()}

    def _respond(self, received: Received, limit: int) -> web.Response:
        method, fields = received.method.lower(), received.fields
        if fields.get("chat_id") != self.chat_id:
            return self._error(received, 400, "Bad Request: chat not found")
        result: dict[str, Any] = {"message_id": self._next_id(), "date": int(time.time())}
        result["chat"] = {"id": int(self.chat_id), "type": "private"}
        if method == "sendmessage":
            text = fields.get("text", "")
            if not text:
                return self._error(received, 400, "Bad Request: message text is empty")
            if len(text) > 4096:
                return self._error(received, 400, "Bad Request: message is too long")
            return self._answer(received, 200, {"ok": True, "result": {**result, "text": text}})
        if method in _MEDIA:
            upload = received.files.get(_MEDIA[method])
            if upload is None:
                return self._error(received, 400, f"Bad Request: there is no {_MEDIA[method]}")
            if upload.size > limit:
                return self._error(received, 413, "Request Entity Too Large")
            if len(fields.get("caption", "")) > 1024:
                return self._error(received, 400, "Bad Request: message caption is too long")
            result[_MEDIA[method]] = {
                "file_id": f"file-{result['message_id']}",
                "file_size": upload.size,
            }
            return self._answer(received, 200, {"ok": True, "result": result})
        return self._error(received, 404, "Not Found: method not found")

    def _next_id(self) -> int:
        with self._lock:
            self._message_id += 1
            return self._message_id

    def _error(self, received: Received, status: int, description: str) -> web.Response:
        return self._answer(
            received, status, {"ok": False, "error_code": status, "description": description}
        )

    def _answer(self, received: Received | None, status: int, body: dict[str, Any]) -> web.Response:
        if received is not None:
            received.status = status
        return web.json_response(body, status=status)
