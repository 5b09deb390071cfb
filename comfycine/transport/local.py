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
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

import httpx

from ..errors import ComfycineError, RejectedError, ServerError, UsageError
from ..sanitize import clean_text, one_line
from ..urls import bare_url, check_url, credentials, shown_url
from .auth import OriginBoundAuth, TargetAuth
from .failures import (
    BODY_LIMIT,
    is_auth_refusal,
    map_http_errors,
    raise_for_server_error,
    read_json,
    target_auth_error,
    unreachable_error,
    validation_error,
)
from .reconnect import RETRY_DELAYS, is_retryable
from .records import (
    HistoryEntry,
    JobSighting,
    OutputRef,
    QueueState,
    parse_history_entry,
    queue_ids,
)

if TYPE_CHECKING:
    from .events import Event

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


class EventSource(Protocol):
    """A job's live events: the ComfyUI socket, or a v2 job's event stream."""

    async def connect(self) -> Any: ...

    async def recv(self) -> Event | None: ...

    async def close(self) -> None: ...


class ComfyClient:
    """Async client for one ComfyUI server's HTTP API.

    ``auth`` (the target's ``COMFYCINE_TARGET_<NAME>_TOKEN``, or ``_USER`` and
    ``_PASSWORD``) is sent on every request to the server's own origin and on the socket
    (:meth:`ws_headers`), never to another host. A ``user:password@`` in ``base_url`` (a
    server behind a proxy with basic auth) is sent the same way as basic auth when no
    ``auth`` is given; with both, ``auth`` wins and the URL's password is not sent.
    :attr:`base_url` is the URL without it, safe to show, store and compare;
    :attr:`auth` what is sent (its repr never shows the secret). ``target_name`` names
    the target in the error a refusal raises (:meth:`auth_error`).
    """

    # The server picks job ids (Comfy API v2): a job whose submission answer was lost
    # cannot be looked up under our id.
    server_minted_ids = False

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        auth: TargetAuth | None = None,
        target_name: str | None = None,
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
        if auth is None and self._credentials is not None:
            auth = TargetAuth.basic(*self._credentials, source="the URL's user:password")
        self.auth = auth
        self.target_name = target_name
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
            # Bound to the origin: an absolute URL elsewhere never gets the header.
            auth=OriginBoundAuth(auth, self.base_url) if auth is not None else None,
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

    async def locate(self, prompt_id: str) -> JobSighting:
        """One look: finished (with history), queued or running (with position), or absent.

        History is asked first: a job that ends between the two questions is then seen as
        absent, never as lost — the caller looks at history once more before concluding.
        """
        history = await self.history(prompt_id)
        if history is not None:
            return JobSighting("finished", history=history)
        if await self.job_in_flight(prompt_id):
            return JobSighting("going")  # a per-job status route: no position
        position = (await self.queue()).position(prompt_id)
        if position is None:
            return JobSighting("absent")
        return JobSighting("running" if position == 0 else "queued", position)

    async def find_submission(self, graph: dict[str, Any], since: float) -> str | None:
        """The id of a job made from ``graph`` whose submission answer was lost.

        Only servers that pick job ids need this (:attr:`server_minted_ids`); a ComfyUI
        keeps ours, so it is looked up by id instead.
        """
        return None

    async def reachable(self) -> None:
        """One cheap authenticated request: raises when the server cannot be used."""
        await self.queue()

    async def cancel(self, prompt_id: str, *, running: bool) -> None:
        """Stop one job: interrupt it when ``running``, else take it out of the queue."""
        if running:
            await self.interrupt(prompt_id)
        else:
            await self.delete_pending([prompt_id])

    def event_source(self, client_id: str, job_id: str | None) -> EventSource | None:
        """The live events of a job: this server's WebSocket for ``client_id``.

        Opened before the job is submitted (``job_id`` None), so nothing is missed.
        Servers whose streams are per job (Comfy API v2) answer None until they know it.
        """
        from .eventstream import EventStream

        return EventStream(
            self.base_url,
            client_id,
            query=self.ws_query(),
            headers=self.ws_headers(),
            auth_error=self.auth_error,
        )

    def api_parts(self) -> dict[str, str]:
        """Which API serves each part of the work (``targets``, ``doctor``)."""
        return {"jobs": "ComfyUI", "nodes": "ComfyUI", "events": "WebSocket"}

    def ws_query(self) -> dict[str, str]:
        """Extra query parameters for the WebSocket URL (none for a local ComfyUI)."""
        return {}

    def ws_headers(self) -> dict[str, str]:
        """Extra WebSocket handshake headers: the ``Authorization`` of :attr:`auth`.

        The socket's URL has the same host and port as :attr:`base_url`.
        """
        if self.auth is None:
            return {}
        return {"Authorization": self.auth.header_value()}

    def auth_error(self, status: int) -> ComfycineError | None:
        """The error for the server refusing this client's credentials with HTTP ``status``.

        A :class:`~comfycine.errors.TargetAuthError` (exit 7) naming the target and the
        variables to set. Subclasses that report refusals their own way (Comfy Cloud reads
        the answer's body) return None; the answer is then theirs to handle.
        """
        return target_auth_error(self.base_url, status, target=self.target_name, auth=self.auth)

    def _check_auth(self, response: httpx.Response) -> None:
        """Raise :meth:`auth_error` when ``response`` refuses the credentials."""
        if is_auth_refusal(response):
            error = self.auth_error(response.status_code)
            if error is not None:
                raise error

    def _raise_for_status(self, response: httpx.Response) -> None:
        """The error of an error answer: a refusal of the credentials, else the server's."""
        self._check_auth(response)
        raise_for_server_error(response)

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
        self._raise_for_status(response)
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
        self._raise_for_status(response)
        data = read_json(response)
        return [str(name) for name in data] if isinstance(data, list) else []

    async def models_in(self, folder: str) -> list[str] | None:
        """``/models/{folder}``: the files of one model folder, None when it does not exist."""
        response = await self._request("GET", f"/models/{folder}")
        if response.status_code == 404:
            return None
        self._raise_for_status(response)
        data = read_json(response)
        return [str(name) for name in data] if isinstance(data, list) else []

    async def first_json(self, paths: Sequence[str], *, timeout: float = 5.0) -> Any | None:
        """The JSON of the first of ``paths`` that answers 200, None when none does.

        For optional routes that differ between versions (ComfyUI-Manager v4 ``/v2/…``,
        then v3): a 404, an HTML page or a server error just means "not here".
        """
        for path in paths:
            response = await self._request("GET", path, timeout=timeout)
            self._check_auth(response)  # a refusal is never "not here"
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
        self._raise_for_status(response)

    async def list_userdata(self, directory: str) -> list[dict[str, Any]] | None:
        """Files under ``user/<user>/<directory>`` (recursive), None when it does not exist.

        Each item has ``path`` (relative to ``directory``) and, on servers that give
        them, ``size`` and ``modified`` (epoch seconds).
        """
        params = {"dir": directory, "recurse": "true", "full_info": "true"}
        response = await self._request("GET", "/api/userdata", params=params)
        if response.status_code == 404:
            return None
        self._raise_for_status(response)
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
        self._raise_for_status(response)
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
        self._raise_for_status(response)
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
        self._raise_for_status(response)

    async def delete_pending(self, prompt_ids: list[str]) -> None:
        """Remove pending prompts from the queue (running ones are not affected)."""
        response = await self._request("POST", "/queue", json={"delete": prompt_ids})
        self._raise_for_status(response)

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
        self._check_auth(response)
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
                    self._raise_for_status(response)
                yield response
