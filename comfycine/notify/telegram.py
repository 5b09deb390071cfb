"""The Telegram channel: a small Bot API client for a message and the result itself.

Facts (PROTOCOL.md §6): ``POST {api}/bot<token>/<method>``; uploads are
``multipart/form-data`` and capped at 10 MB for ``sendPhoto`` and 50 MB for
``sendVideo``/``sendDocument`` (2000 MB on a self-hosted Bot API server); a photo's width
plus height is at most 10000 and their ratio at most 20 (sendPhoto in
core.telegram.org/bots/api), so a wider picture goes as a document, whole; a message
holds 4096 characters, a caption 1024; flood control answers 429 with
``parameters.retry_after`` seconds.

The token sits in the URL path, and httpx puts the URL in its log lines, its exceptions
and ``response.url``. So the client only ever sees ``/bot<TOKEN>/…`` with a placeholder,
and :class:`_TokenTransport`, under httpx, swaps the real token in on the way out:
nothing httpx reports can hold it. Every detail returned is redacted again anyway.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ..sanitize import clean_text, redact
from .proxy import find_ffmpeg, make_proxy, media_kind

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
MB = 1024 * 1024
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# Flood control: wait what the server says, but never more than this, at most this often.
MAX_RETRY_AFTER = 60.0
RATE_LIMIT_RETRIES = 3
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_PLACEHOLDER = "TOKEN"
_FIELDS = {"sendPhoto": "photo", "sendVideo": "video", "sendDocument": "document"}
# sendPhoto's shape limits (see the module docstring): beyond them Telegram refuses the
# photo, and a wide grid sent as a photo would be shrunk past reading anyway.
PHOTO_EDGE_SUM = 10_000
PHOTO_RATIO = 20

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Limits:
    """Upload limits in bytes: photos, and every other file."""

    photo_bytes: int = 10 * MB
    upload_bytes: int = 50 * MB

    @classmethod
    def for_server(cls, api_url: str) -> Limits:
        """Telegram's limits, or a self-hosted Bot API server's (2000 MB uploads)."""
        if api_url.rstrip("/") == DEFAULT_API_URL:
            return cls()
        return cls(upload_bytes=2000 * MB)


class TelegramError(Exception):
    """The Bot API refused a call (its description), or answered something unusable."""

    def __init__(self, method: str, status: int, description: str) -> None:
        super().__init__(f"Telegram refused {method}: {description} (HTTP {status})")
        self.method = method
        self.status = status
        self.description = description


def image_size(path: Path) -> tuple[int, int] | None:
    """An image's ``(width, height)`` from its header (nothing decoded), or None."""
    try:
        from PIL import Image

        with Image.open(path) as image:
            width, height = image.size
    except Exception:  # no Pillow, not an image, a decompression bomb: size unknown
        return None
    return int(width), int(height)


def photo_shape_fits(width: int, height: int) -> bool:
    """Whether sendPhoto takes a picture of this shape (edges' sum and ratio)."""
    if width <= 0 or height <= 0:
        return False
    return width + height <= PHOTO_EDGE_SUM and max(width, height) <= PHOTO_RATIO * min(
        width, height
    )


def photo_fits(path: Path, size: int, limits: Limits) -> bool:
    """Whether ``path`` (``size`` bytes) can go as a photo: an image within every limit.

    Its shape is read from its header; when Pillow cannot read it, the bytes decide alone
    (Telegram's refusal then sends it as a document).
    """
    if media_kind(path) != "image" or size > limits.photo_bytes:
        return False
    shape = image_size(path)
    return shape is None or photo_shape_fits(*shape)


def choose_method(path: Path, size: int, limits: Limits) -> str | None:
    """The upload method for a file of ``size`` bytes, or None when it is too big.

    Images within the photo limits (bytes and shape, :func:`photo_fits`) go as photos
    (shown inline); MP4 up to the upload limit as video (played inline); anything else
    up to the upload limit as a document (a picture too wide for a photo stays whole).
    """
    kind = media_kind(path)
    if photo_fits(path, size, limits):
        return "sendPhoto"
    if size > limits.upload_bytes:
        return None
    if kind == "video" and path.suffix.lower() in {".mp4", ".m4v"}:
        return "sendVideo"
    return "sendDocument"


def _megabytes(size: int) -> str:
    return f"{size / MB:.1f} MB"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _with_tail(text: str, tail: str) -> str:
    """``text`` shortened so that ``tail`` (a file's path) fits in one message."""
    tail = tail[: TEXT_LIMIT // 2]
    return _cut(text, TEXT_LIMIT - len(tail)) + tail


class _TokenTransport(httpx.AsyncBaseTransport):
    """Puts the real token into the URL below httpx, so httpx never holds it."""

    def __init__(self, token: str, inner: httpx.AsyncBaseTransport) -> None:
        self._segment = f"/bot{quote(token, safe=':')}/".encode()
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path.replace(f"/bot{_PLACEHOLDER}/".encode(), self._segment, 1)
        real = httpx.Request(
            request.method,
            request.url.copy_with(raw_path=raw_path),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return await self._inner.handle_async_request(real)

    async def aclose(self) -> None:
        await self._inner.aclose()


class TelegramClient:
    """Sends notices to one chat through the Bot API.

    ``limits``, ``ffmpeg`` (a command name looked up on PATH, a path, or None for none),
    ``sleep`` (how a 429 wait is spent) and ``transport`` are there for tests and for a
    self-hosted Bot API server.
    """

    def __init__(
        self,
        token: str,
        chat_id: str,
        *,
        api_url: str = DEFAULT_API_URL,
        limits: Limits | None = None,
        ffmpeg: str | None = "ffmpeg",
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._token = token
        self.chat_id = chat_id
        self.api_url = api_url.rstrip("/")
        self.limits = limits or Limits.for_server(self.api_url)
        self.ffmpeg = ffmpeg
        self._sleep = sleep
        self._transport = transport

    def _http(self) -> httpx.AsyncClient:
        inner = self._transport or httpx.AsyncHTTPTransport()
        return httpx.AsyncClient(
            base_url=self.api_url,
            transport=_TokenTransport(self._token, inner),
            timeout=TIMEOUT,
            follow_redirects=False,
        )

    def safe(self, text: str) -> str:
        """``text`` without the token (by value, URL-quoted, and by shape)."""
        return redact(clean_text(text), (self._token, quote(self._token, safe=":")))

    async def send(self, text: str, attachment: Path | None = None) -> dict[str, Any]:
        """Send ``text`` (and the file, as photo, video or document); the outcome.

        Never raises (cancellation aside): the outcome is
        ``{"channel": "telegram", "ok": bool, "detail": str}``, the token never in it.
        """
        try:
            async with self._http() as http:
                detail = await self._deliver(http, text, attachment)
        except TelegramError as exc:
            return self._outcome(False, str(exc))
        except httpx.HTTPError as exc:
            reason = str(exc) or "no answer"
            return self._outcome(False, f"Telegram unreachable: {type(exc).__name__}: {reason}")
        except Exception as exc:
            return self._outcome(False, f"{type(exc).__name__}: {exc}")
        return self._outcome(True, detail)

    def _outcome(self, ok: bool, detail: str) -> dict[str, Any]:
        return {"channel": "telegram", "ok": ok, "detail": self.safe(detail)}

    async def _deliver(self, http: httpx.AsyncClient, text: str, attachment: Path | None) -> str:
        if attachment is None:
            await self.call(http, "sendMessage", {"text": _cut(text, TEXT_LIMIT)})
            return "sendMessage"
        try:
            size = attachment.stat().st_size
        except OSError:
            await self.call(http, "sendMessage", {"text": _with_tail(text, f"\n{attachment}")})
            return "sendMessage (the file could not be read; its path was sent)"
        with tempfile.TemporaryDirectory(prefix="comfycine-telegram-") as workdir:
            path, method, note = attachment, choose_method(attachment, size, self.limits), ""
            if method is None:
                path, method, note = await self._proxy(attachment, Path(workdir))
            if method is None:
                limit = _megabytes(self.limits.upload_bytes)
                tail = f"\n{attachment} ({_megabytes(size)}, above the {limit} upload limit)"
                await self.call(http, "sendMessage", {"text": _with_tail(text, tail)})
                return f"sendMessage with the path ({note})"
            return await self._upload(http, text, path, method, original=attachment) + note

    async def _proxy(self, source: Path, workdir: Path) -> tuple[Path, str | None, str]:
        ffmpeg = find_ffmpeg(self.ffmpeg)
        if ffmpeg is None:
            return source, None, "no ffmpeg for a smaller proxy"
        proxy, why = await make_proxy(ffmpeg, source, workdir, limit=self.limits.upload_bytes)
        if proxy is None:
            return source, None, why
        return proxy, choose_method(proxy, proxy.stat().st_size, self.limits), f", {why}"

    async def _upload(
        self, http: httpx.AsyncClient, text: str, path: Path, method: str, *, original: Path
    ) -> str:
        """Upload ``path``; a refused photo or video is tried as a document, then as words."""
        caption = text
        if len(text) > CAPTION_LIMIT:
            await self.call(http, "sendMessage", {"text": _cut(text, TEXT_LIMIT)})
            caption = ""
        methods = [method]
        if method != "sendDocument" and path.stat().st_size <= self.limits.upload_bytes:
            methods.append("sendDocument")
        reason = "refused"
        for candidate in methods:
            try:
                await self.call(http, candidate, {"caption": caption}, file=path)
            except TelegramError as exc:
                if exc.status in (401, 404, 429) or "chat not found" in exc.description.lower():
                    raise  # the same would happen to any other call
                reason = exc.description
                continue
            except (httpx.WriteError, httpx.WriteTimeout, httpx.RemoteProtocolError) as exc:
                # A server may cut an oversize upload short instead of answering 413.
                reason = f"{type(exc).__name__} while uploading"
                break
            return f"{candidate} {path.name} ({_megabytes(path.stat().st_size)})"
        tail = f"\n{original} (upload refused: {reason})"
        await self.call(http, "sendMessage", {"text": _with_tail(text, tail)})
        return f"sendMessage with the path (upload refused: {reason})"

    async def call(
        self,
        http: httpx.AsyncClient,
        method: str,
        params: dict[str, str],
        *,
        file: Path | None = None,
    ) -> Any:
        """One Bot API call (waiting out 429s); its ``result``, else :class:`TelegramError`."""
        fields = {"chat_id": self.chat_id, **{k: v for k, v in params.items() if v}}
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            response = await self._post(http, method, fields, file)
            try:
                body = response.json()
            except ValueError:
                body = {}
            if not isinstance(body, dict):
                body = {}
            if response.status_code == 200 and body.get("ok"):
                return body.get("result")
            description = str(body.get("description") or response.reason_phrase or "no reason")
            retry_after = _retry_after(response, body)
            if response.status_code == 429 and attempt < RATE_LIMIT_RETRIES:
                wait = min(max(retry_after or 1.0, 0.0), MAX_RETRY_AFTER)
                logger.info("telegram %s: flood control, retrying in %.0f s", method, wait)
                await self._sleep(wait)
                continue
            raise TelegramError(method, response.status_code, self.safe(description)[:300])
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(
        self, http: httpx.AsyncClient, method: str, fields: dict[str, str], file: Path | None
    ) -> httpx.Response:
        url = f"/bot{_PLACEHOLDER}/{method}"
        if file is None:
            return await http.post(url, json=fields)
        mime = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        # Opened per attempt: a retried upload sends the whole file again.
        with file.open("rb") as handle:
            return await http.post(
                url, data=fields, files={_FIELDS[method]: (file.name, handle, mime)}
            )


def _retry_after(response: httpx.Response, body: dict[str, Any]) -> float | None:
    parameters = body.get("parameters")
    value = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if value is None:
        value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
