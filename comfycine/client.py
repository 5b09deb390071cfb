"""The HTTP side of the ComfyUI protocol, over an async httpx client.

Foreign exceptions (httpx transport errors, bad JSON, unexpected status codes) are
translated into :mod:`comfycine.errors` at one boundary, :func:`map_http_errors`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from .errors import (
    ComfycineError,
    RejectedError,
    ServerError,
    TargetUnreachable,
    ValidationFailed,
)
from .sanitize import clean_text

CONNECT_TIMEOUT = 2.5  # an unreachable PC must be reported within 3 s
READ_TIMEOUT = 60.0
# Delays before retrying an idempotent request that hit a transient transport error.
RETRY_DELAYS = (0.05, 0.2, 0.5)
logger = logging.getLogger(__name__)


def is_retryable(exc: BaseException, method: str) -> bool:
    """Whether a failed request may be sent again.

    A keep-alive connection closed by the server (restart, proxy) fails the next request
    on it; a GET can simply be repeated. A POST is repeated only when it never left
    (connection refused): POST /prompt twice would queue the job twice.
    """
    if isinstance(exc, httpx.ConnectError):
        return _unreachable_reason(exc) != "dns"  # a missing name will not appear in 1 s
    return method == "GET" and isinstance(
        exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError
    )


@dataclass(frozen=True, slots=True)
class OutputRef:
    """One file a prompt produced, as history lists it."""

    node: str
    kind: str  # the output key: images, gifs, videos, audio, ...
    filename: str
    subfolder: str = ""
    type: str = "output"
    animated: bool = False

    def query(self) -> dict[str, str]:
        """The ``/view`` query for this file."""
        return {"filename": self.filename, "subfolder": self.subfolder, "type": self.type}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form for the ledger."""
        return {
            "node": self.node,
            "kind": self.kind,
            "filename": self.filename,
            "subfolder": self.subfolder,
            "type": self.type,
            "animated": self.animated,
        }


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A finished prompt, from ``/history/{id}``."""

    prompt_id: str
    status: str  # success | error
    completed: bool
    outputs: tuple[OutputRef, ...]
    messages: tuple[tuple[str, dict[str, Any]], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)

    def last_message(self, name: str) -> dict[str, Any] | None:
        """The payload of the last status message called ``name``."""
        for kind, data in reversed(self.messages):
            if kind == name:
                return dict(data)
        return None

    @property
    def interrupted(self) -> bool:
        """``status_str`` is "error" for interruptions too; the last message tells."""
        return any(kind == "execution_interrupted" for kind, _ in self.messages)


@dataclass(frozen=True, slots=True)
class QueueState:
    """``/queue``: ids of the running and pending prompts, in queue order."""

    running: tuple[str, ...]
    pending: tuple[str, ...]

    def position(self, prompt_id: str) -> int | None:
        """0 when running, n when n prompts run or wait before it, None when absent."""
        if prompt_id in self.running:
            return 0
        if prompt_id in self.pending:
            return len(self.running) + self.pending.index(prompt_id)
        return None


def _is_file_item(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("filename"), str)


def parse_outputs(outputs: dict[str, Any]) -> tuple[OutputRef, ...]:
    """Every file item of a history ``outputs`` dict, whatever the key (images, gifs, ...)."""
    refs: list[OutputRef] = []
    for node, ui in outputs.items():
        if not isinstance(ui, dict):
            continue
        animated = any(bool(a) for a in ui.get("animated", ()) if isinstance(a, bool))
        for kind, items in ui.items():
            if not isinstance(items, list):
                continue
            for item in items:
                if _is_file_item(item):
                    refs.append(
                        OutputRef(
                            node=str(node),
                            kind=kind,
                            filename=item["filename"],
                            subfolder=str(item.get("subfolder") or ""),
                            type=str(item.get("type") or "output"),
                            animated=animated and kind == "images",
                        )
                    )
    return tuple(refs)


def parse_history_entry(prompt_id: str, entry: dict[str, Any]) -> HistoryEntry:
    """Turn one ``/history`` entry into a :class:`HistoryEntry`."""
    status = entry.get("status") or {}
    messages = tuple(
        (str(m[0]), m[1] if isinstance(m[1], dict) else {})
        for m in status.get("messages") or ()
        if isinstance(m, list) and len(m) == 2
    )
    return HistoryEntry(
        prompt_id=prompt_id,
        status=str(status.get("status_str") or ""),
        completed=bool(status.get("completed")),
        outputs=parse_outputs(entry.get("outputs") or {}),
        messages=messages,
        raw=entry,
    )


def _queue_ids(items: Any) -> tuple[str, ...]:
    # Items are [number, prompt_id, prompt, extra_data, outputs]; sort by number (queue order).
    rows = [i for i in items or () if isinstance(i, list) and len(i) >= 2]
    rows.sort(key=lambda i: i[0] if isinstance(i[0], int | float) else 0)
    return tuple(str(i[1]) for i in rows)


def _unreachable_reason(exc: httpx.TransportError) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return "dns"
        if isinstance(cause, ConnectionRefusedError) or (
            isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED
        ):
            return "refused"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    text = str(exc).lower()
    if "name or service not known" in text or "nodename nor servname" in text:
        return "dns"
    if "refused" in text:
        return "refused"
    return "connect"


_REASON_TEXT = {
    "dns": "the host name does not resolve",
    "refused": "the connection was refused "
    "(ComfyUI not running, or not listening beyond localhost)",
    "timeout": "no answer in time (PC off or asleep, firewall, or Tailscale down)",
    "connect": "the connection failed",
    "dropped": "the server closed the connection",
}


def unreachable_error(url: str, reason: str) -> TargetUnreachable:
    """A :class:`TargetUnreachable` with a plain reason and the next command."""
    host = urlsplit(url).hostname or url
    hint = "Check that ComfyUI runs with --listen and that COMFYUI_URL is right."
    if host.startswith("100.") or host.endswith(".ts.net"):
        hint = (
            "Check that Tailscale runs and is logged in on both machines, and that the PC is awake."
        )
    elif host in {"127.0.0.1", "localhost", "::1"}:
        hint = "Start ComfyUI (or the test server: comfycine server up), then retry."
    return TargetUnreachable(
        f"Cannot reach ComfyUI at {url}: {_REASON_TEXT.get(reason, reason)}.",
        hint=hint,
        details={"url": url, "reason": reason, "fallback": "cloud"},
    )


@contextmanager
def map_http_errors(url: str) -> Iterator[None]:
    """Translate httpx transport errors into comfycine errors (the one boundary)."""
    try:
        yield
    except ComfycineError:
        raise
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise unreachable_error(url, _unreachable_reason(exc)) from exc
    except httpx.TimeoutException as exc:
        raise unreachable_error(url, "timeout") from exc
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise unreachable_error(url, "dropped") from exc


def _raise_for_server_error(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    body = clean_text(response.text[:500]).strip()
    kind = response.headers.get("content-type", "").split(";")[0] or "no content type"
    raise ServerError(
        f"ComfyUI answered HTTP {response.status_code} ({kind}) to "
        f"{response.request.method} {response.request.url.path}: {body or '(empty body)'}",
        details={"status": response.status_code, "path": response.request.url.path},
    )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ServerError(
            f"{response.request.url.path} did not answer JSON: is this a ComfyUI server?",
            details={"status": response.status_code, "path": response.request.url.path},
        ) from None


def prompt_body(
    graph: dict[str, Any],
    *,
    prompt_id: str,
    client_id: str,
    extra_data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /prompt`` (local and Comfy Cloud alike), with our ids."""
    body: dict[str, Any] = {"prompt": graph, "client_id": client_id, "prompt_id": prompt_id}
    if extra_data:
        body["extra_data"] = extra_data
    return body


def validation_error(body: dict[str, Any]) -> ValidationFailed:
    """The error for a 400 answer to ``POST /prompt``, with the server's own reason."""
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    node_errors = body.get("node_errors") if isinstance(body.get("node_errors"), dict) else {}
    problems: list[dict[str, Any]] = []
    for node_id, node in (node_errors or {}).items():
        for err in (node or {}).get("errors", ()):
            extra = err.get("extra_info") or {}
            problems.append(
                {
                    "node": str(node_id),
                    "class_type": (node or {}).get("class_type"),
                    "input": extra.get("input_name"),
                    "code": err.get("type"),
                    "message": clean_text(f"{err.get('message', '')}: {err.get('details', '')}"),
                }
            )
    message = clean_text(str((error or {}).get("message") or "The server rejected the workflow"))
    details = clean_text(str((error or {}).get("details") or ""))
    if problems:
        reasons = "; ".join(f"node {p['node']} {p['message']}" for p in problems)
        text = f"{message}: {reasons}"
    else:
        text = f"{message} ({details})" if details else message
    # The server cannot tell a typo from a missing custom-node pack: unknown_node, as the
    # validator says when no template declares the pack.
    code = "unknown_node" if "does not exist" in message else "validation_failed"
    if any(p["code"] == "value_not_in_list" for p in problems):
        code = "missing_model" if all(p["code"] == "value_not_in_list" for p in problems) else code
    return ValidationFailed(
        text,
        code=code,
        details={"server_error": error, "problems": problems},
    )


class ComfyClient:
    """Async client for one ComfyUI server's HTTP API."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        # Loading the CA bundle costs ~30 ms per client; plain http never uses it, and
        # redirects are not followed, so no request of this client can turn into https.
        secure = self.base_url.startswith("https://")
        # A plain-http ComfyUI is on the LAN or the tailnet: a proxy from the environment
        # (HTTP_PROXY) would only break it, and looking one up costs time per request.
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            verify=secure,
            trust_env=secure,
            follow_redirects=False,
            headers={"User-Agent": "comfycine"},
        )

    async def __aenter__(self) -> ComfyClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def job_in_flight(self, prompt_id: str) -> bool | None:
        """Whether the server says the job is still going; None: ask ``/queue`` instead.

        A local ComfyUI has no per-job status route; Comfy Cloud overrides this.
        """
        return None

    def ws_query(self) -> dict[str, str]:
        """Extra query parameters for the WebSocket URL (none for a local ComfyUI)."""
        return {}

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with map_http_errors(self.base_url):
            for delay in RETRY_DELAYS:
                try:
                    return await self._http.request(method, path, **kwargs)
                except httpx.TransportError as exc:
                    if not is_retryable(exc, method) or "files" in kwargs:
                        raise
                    logger.info("retrying %s %s in %.2f s after %r", method, path, delay, exc)
                    await asyncio.sleep(delay)
            return await self._http.request(method, path, **kwargs)

    async def _get_json(self, path: str, **kwargs: Any) -> Any:
        response = await self._request("GET", path, **kwargs)
        _raise_for_server_error(response)
        return _json(response)

    async def system_stats(self) -> dict[str, Any]:
        """``/system_stats``: versions, devices, memory."""
        data = await self._get_json("/system_stats")
        if not isinstance(data, dict) or "system" not in data:
            raise ServerError(f"{self.base_url} answered /system_stats but is not ComfyUI.")
        return data

    async def object_info(self, node_class: str | None = None) -> dict[str, Any]:
        """``/object_info`` (all node schemas) or one class (``{}`` when not installed)."""
        path = "/object_info" if node_class is None else f"/object_info/{node_class}"
        data = await self._get_json(path)
        return data if isinstance(data, dict) else {}

    async def model_folders(self) -> list[str]:
        """``/models``: the names of the server's model folders ([] without the route)."""
        response = await self._request("GET", "/models")
        if response.status_code == 404:
            return []
        _raise_for_server_error(response)
        data = _json(response)
        return [str(name) for name in data] if isinstance(data, list) else []

    async def models_in(self, folder: str) -> list[str] | None:
        """``/models/{folder}``: the files of one model folder, None when it does not exist."""
        response = await self._request("GET", f"/models/{folder}")
        if response.status_code == 404:
            return None
        _raise_for_server_error(response)
        data = _json(response)
        return [str(name) for name in data] if isinstance(data, list) else []

    async def first_json(self, paths: Sequence[str], *, timeout: float = 5.0) -> Any | None:
        """The JSON of the first of ``paths`` that answers 200, None when none does.

        For optional routes that differ between versions (ComfyUI-Manager v4 ``/v2/…``,
        then v3): a 404, an HTML page or a server error just means "not here".
        """
        for path in paths:
            response = await self._request("GET", path, timeout=timeout)
            if response.status_code != 200:
                continue
            try:
                return response.json()
            except ValueError:
                continue
        return None

    async def free_memory(self, *, unload_models: bool = True) -> None:
        """``POST /free``: release cached memory (and unload the models, by default)."""
        body = {"unload_models": unload_models, "free_memory": True}
        response = await self._request("POST", "/free", json=body)
        _raise_for_server_error(response)

    async def list_userdata(self, directory: str) -> list[dict[str, Any]] | None:
        """Files under ``user/<user>/<directory>`` (recursive), None when it does not exist.

        Each item has ``path`` (relative to ``directory``) and, on servers that give
        them, ``size`` and ``modified`` (epoch seconds).
        """
        params = {"dir": directory, "recurse": "true", "full_info": "true"}
        response = await self._request("GET", "/api/userdata", params=params)
        if response.status_code == 404:
            return None
        _raise_for_server_error(response)
        data = _json(response)
        if not isinstance(data, list):
            raise ServerError("/api/userdata did not answer a list: is this ComfyUI?")
        # Without full_info support an older server lists bare path strings.
        return [
            item if isinstance(item, dict) else {"path": str(item)}
            for item in data
            if isinstance(item, dict | str)
        ]

    async def get_userdata(self, path: str) -> Any:
        """The JSON of one user file (``path`` relative to the user dir), None on 404.

        The whole path is one URL segment with "/" sent as %2F: the server's route does
        not match a literal slash.
        """
        response = await self._request("GET", f"/api/userdata/{quote(path, safe='')}")
        if response.status_code == 404:
            return None
        _raise_for_server_error(response)
        try:
            return response.json()
        except ValueError:
            raise ServerError(
                f"The user file {clean_text(path)} on the server is not valid JSON.",
                details={"path": path},
            ) from None

    async def submit(
        self,
        graph: dict[str, Any],
        *,
        prompt_id: str,
        client_id: str,
        extra_data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``POST /prompt`` with our own ids; raises :class:`ValidationFailed` on a 400."""
        body = prompt_body(graph, prompt_id=prompt_id, client_id=client_id, extra_data=extra_data)
        response = await self._request("POST", "/prompt", json=body)
        if response.status_code == 400:
            data = _json(response)
            raise validation_error(data if isinstance(data, dict) else {})
        _raise_for_server_error(response)
        data = _json(response)
        if not isinstance(data, dict) or "prompt_id" not in data:
            raise ServerError("POST /prompt answered without a prompt_id: is this ComfyUI?")
        return data

    async def history(self, prompt_id: str) -> HistoryEntry | None:
        """The finished prompt, or ``None`` while queued, running or unknown."""
        data = await self._get_json(f"/history/{prompt_id}")
        entry = data.get(prompt_id) if isinstance(data, dict) else None
        return parse_history_entry(prompt_id, entry) if isinstance(entry, dict) else None

    async def queue(self) -> QueueState:
        """``/queue``: running and pending prompt ids."""
        data = await self._get_json("/queue")
        if not isinstance(data, dict):
            raise ServerError("/queue did not answer an object: is this ComfyUI?")
        return QueueState(
            _queue_ids(data.get("queue_running")), _queue_ids(data.get("queue_pending"))
        )

    async def interrupt(self, prompt_id: str | None = None) -> None:
        """Interrupt ``prompt_id`` if it is running (or whatever runs, with None)."""
        body = {"prompt_id": prompt_id} if prompt_id else {}
        response = await self._request("POST", "/interrupt", json=body)
        _raise_for_server_error(response)

    async def delete_pending(self, prompt_ids: list[str]) -> None:
        """Remove pending prompts from the queue (running ones are not affected)."""
        response = await self._request("POST", "/queue", json={"delete": prompt_ids})
        _raise_for_server_error(response)

    async def upload_image(
        self, path: Path, *, subfolder: str = "", overwrite: bool = False
    ) -> dict[str, str]:
        """Upload a local file to the server's ``input`` folder; returns name/subfolder/type.

        The server may rename the file (``name (1).png``): always use the returned name.
        """
        data: dict[str, str] = {"type": "input"}
        if subfolder:
            data["subfolder"] = subfolder
        if overwrite:
            data["overwrite"] = "true"
        with path.open("rb") as handle:
            files = {"image": (path.name, handle, "application/octet-stream")}
            response = await self._request("POST", "/upload/image", data=data, files=files)
        if response.status_code >= 400:
            raise RejectedError(
                f"Upload of {path.name} refused: HTTP {response.status_code} "
                f"{clean_text(response.text[:200])}",
                code="upload_failed",
                hint="Check the file is an image or video ComfyUI can read.",
            )
        body = _json(response)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise ServerError("/upload/image answered without a file name: is this ComfyUI?")
        return {
            "name": body["name"],
            "subfolder": str(body.get("subfolder") or ""),
            "type": str(body.get("type") or "input"),
        }

    @asynccontextmanager
    async def stream_output(self, ref: OutputRef) -> AsyncIterator[httpx.Response]:
        """Open a streamed ``GET /view`` for one output; the caller reads the body."""
        with map_http_errors(self.base_url):
            async with self._http.stream("GET", "/view", params=ref.query()) as response:
                if response.status_code >= 400:
                    await response.aread()
                    _raise_for_server_error(response)
                yield response
