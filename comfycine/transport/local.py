"""The HTTP side of the ComfyUI protocol for one server, over an async httpx client.

Foreign exceptions (httpx transport errors, bad JSON, unexpected status codes) are
translated into :mod:`comfycine.errors` at one boundary,
:func:`~comfycine.transport.failures.map_http_errors`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ..errors import RejectedError, ServerError, UsageError
from ..sanitize import clean_text, one_line
from ..urls import bare_url, basic_authorization, check_url, credentials, shown_url
from .failures import (
    BODY_LIMIT,
    map_http_errors,
    raise_for_server_error,
    read_json,
    unreachable_error,
    validation_error,
)
from .reconnect import RETRY_DELAYS, is_retryable
from .records import HistoryEntry, OutputRef, QueueState, parse_history_entry, queue_ids

CONNECT_TIMEOUT = 2.5  # an unreachable PC must be reported within 3 s
READ_TIMEOUT = 60.0
# The longest a whole request may take, answer included. A link that cannot carry a
# /history answer (a few KB; /queue lists whole graphs) in this time is down for us.
REQUEST_DEADLINE = 15.0
# /object_info of a big install is megabytes: over a relayed link it takes longer.
CATALOG_DEADLINE = 120.0
# Uploads carry media (video plates of hundreds of MB).
UPLOAD_DEADLINE = 1800.0


def _deadline_for(path: str) -> float:
    return CATALOG_DEADLINE if "object_info" in path else REQUEST_DEADLINE


logger = logging.getLogger(__name__)


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


class ComfyClient:
    """Async client for one ComfyUI server's HTTP API.

    A ``user:password@`` in ``base_url`` (a server behind a proxy with basic auth) is
    sent as basic auth on every request and on the socket (:meth:`ws_headers`);
    :attr:`base_url` is the URL without it, safe to show, store and compare.
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        try:
            url = check_url(base_url)
        except ValueError as exc:
            raise UsageError(
                f"Invalid server URL {shown_url(base_url.strip())!r}: {exc}.",
                code="invalid_setting",
                hint="Fix the URL (it looks like http://100.64.1.2:8188): see comfycine targets",
            ) from None
        self._credentials = credentials(url)
        self.base_url = bare_url(url)
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
            auth=httpx.BasicAuth(*self._credentials) if self._credentials else None,
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

    def ws_headers(self) -> dict[str, str]:
        """Extra WebSocket handshake headers: basic auth when the URL carries a password."""
        if self._credentials is None:
            return {}
        return {"Authorization": basic_authorization(self._credentials)}

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        # httpx's timeouts are per read: a server dribbling its answer a byte at a time
        # would never time out. The whole request, body included, gets one bound.
        bound = UPLOAD_DEADLINE if "files" in kwargs else _deadline_for(path)
        with map_http_errors(self.base_url):
            try:
                async with asyncio.timeout(bound):
                    return await self._send_retrying(method, path, **kwargs)
            except TimeoutError:
                raise unreachable_error(self.base_url, "timeout") from None

    async def _send_retrying(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
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
        raise_for_server_error(response)
        return read_json(response)

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
        raise_for_server_error(response)
        data = read_json(response)
        return [str(name) for name in data] if isinstance(data, list) else []

    async def models_in(self, folder: str) -> list[str] | None:
        """``/models/{folder}``: the files of one model folder, None when it does not exist."""
        response = await self._request("GET", f"/models/{folder}")
        if response.status_code == 404:
            return None
        raise_for_server_error(response)
        data = read_json(response)
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
        raise_for_server_error(response)

    async def list_userdata(self, directory: str) -> list[dict[str, Any]] | None:
        """Files under ``user/<user>/<directory>`` (recursive), None when it does not exist.

        Each item has ``path`` (relative to ``directory``) and, on servers that give
        them, ``size`` and ``modified`` (epoch seconds).
        """
        params = {"dir": directory, "recurse": "true", "full_info": "true"}
        response = await self._request("GET", "/api/userdata", params=params)
        if response.status_code == 404:
            return None
        raise_for_server_error(response)
        data = read_json(response)
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
        raise_for_server_error(response)
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
            data = read_json(response)
            raise validation_error(data if isinstance(data, dict) else {})
        raise_for_server_error(response)
        data = read_json(response)
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
            queue_ids(data.get("queue_running")), queue_ids(data.get("queue_pending"))
        )

    async def interrupt(self, prompt_id: str | None = None) -> None:
        """Interrupt ``prompt_id`` if it is running (or whatever runs, with None)."""
        body = {"prompt_id": prompt_id} if prompt_id else {}
        response = await self._request("POST", "/interrupt", json=body)
        raise_for_server_error(response)

    async def delete_pending(self, prompt_ids: list[str]) -> None:
        """Remove pending prompts from the queue (running ones are not affected)."""
        response = await self._request("POST", "/queue", json={"delete": prompt_ids})
        raise_for_server_error(response)

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
            said = clean_text(response.text[:BODY_LIMIT]).strip()
            raise RejectedError(
                f"Upload of {path.name} refused: HTTP {response.status_code} {one_line(said)}",
                code="upload_failed",
                hint="Check the file is an image or video ComfyUI can read.",
                details={"status": response.status_code, "path": path.name, "body": said},
            )
        body = read_json(response)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise ServerError("/upload/image answered without a file name: is this ComfyUI?")
        return {
            "name": body["name"],
            "subfolder": str(body.get("subfolder") or ""),
            "type": str(body.get("type") or "input"),
        }

    @asynccontextmanager
    async def stream_output(
        self, ref: OutputRef, *, headers: dict[str, str] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """Open a streamed ``GET /view`` for one output; the caller reads the body.

        ``headers`` may ask for a ``Range`` (ComfyUI's ``/view`` answers 206).
        """
        with map_http_errors(self.base_url):
            request = self._http.stream("GET", "/view", params=ref.query(), headers=headers)
            async with request as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise_for_server_error(response)
                yield response
