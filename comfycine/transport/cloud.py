"""Comfy Cloud (the v1 ComfyUI-compatible API) as a second target, behind ComfyClient.

:class:`CloudClient` speaks to ``https://cloud.comfy.org``-style servers: every call is
under ``/api/...`` and carries ``X-API-Key``. It keeps the :class:`ComfyClient`
interface so the job runner drives it unchanged. Differences from a local ComfyUI that
callers should know (PROTOCOL.md §5):

* ``POST /api/prompt`` may ignore our ``prompt_id``: use the one it answers.
* ``POST /api/interrupt`` stops **all** running jobs of the account, not one.
* Outputs come from ``/api/view`` as a 302 to a signed storage URL, fetched without the key.
* The WebSocket takes the key as ``token`` in its query (:meth:`CloudClient.ws_query`).

The key is never put in an error message, a repr or a log line.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from ..errors import CloudAccountError, DownloadFailed, ServerError, UsageError
from ..sanitize import clean_text, one_line, redact
from ..settings import DEFAULT_CLOUD_URL
from .failures import map_http_errors, validation_error
from .local import CONNECT_TIMEOUT, READ_TIMEOUT, ComfyClient, prompt_body
from .records import HistoryEntry, OutputRef, parse_history_entry, parse_outputs

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
# Legacy deployments send plan refusals as 429 with one of these types: not retryable.
PLAN_REFUSALS = frozenset(
    {
        "FREE_TIER_EXHAUSTED",
        "FREE_TIER_NOT_ALLOWED",
        "PAYMENT_REQUIRED",
        "CLOUD_SUBSCRIPTION_REQUIRED",
        "PARTNER_NODE_PAYMENT_REQUIRED",
        "MODEL_PAYMENT_REQUIRED",
    }
)
# Real backpressure: the job was not queued, sending it again later is safe.
QUEUE_FULL = frozenset({"QUEUE_LIMIT", "FREE_TIER_UNAVAILABLE"})
SUBMIT_TRIES = 3
MAX_RETRY_WAIT = 30.0
DEFAULT_RETRY_WAIT = 5.0
# Union of the raw states of /api/job/{id}/status and the friendly ones of /api/jobs.
TERMINAL_STATUSES = frozenset(
    {"success", "completed", "error", "non_retryable_error", "lost", "cancelled", "failed"}
)
_FAILED = frozenset({"error", "non_retryable_error", "lost", "failed"})
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_UPLOAD_EDGE = 16384
MAX_UPLOAD_PIXELS = 67_108_864  # "64 megapixels" as the spec counts them
_MEASURED_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})
# Where the spec's ExecutionError may carry node inputs (prompts, keys of partner nodes).
_UNSAFE_ERROR_KEYS = ("current_inputs", "current_outputs")

Sleep = Callable[[float], Awaitable[None]]


def is_terminal_status(status: str) -> bool:
    """Whether a Cloud job status (raw or friendly) means the job has ended.

    Anything not known as terminal counts as still in flight, so a new in-flight state
    added by the service never ends a wait early.
    """
    return status.strip().lower() in TERMINAL_STATUSES


def _error_body(response: httpx.Response) -> tuple[str | None, str]:
    """``(error.type, message)`` of a Cloud error body, whichever of its shapes it uses."""
    try:
        data = response.json()
    except ValueError:
        return None, response.text[:300]
    if not isinstance(data, dict):
        return None, str(data)[:300]
    error = data.get("error")
    if isinstance(error, dict):
        kind = error.get("type") or error.get("code")
        return (str(kind) if kind else None), str(error.get("message") or "")
    kind = data.get("type") or data.get("code")
    message = data.get("message") or (error if isinstance(error, str) else "")
    return (str(kind) if kind else None), str(message or "")


def retry_after(response: httpx.Response, default: float = DEFAULT_RETRY_WAIT) -> float:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date), capped."""
    value = response.headers.get("retry-after", "").strip()
    wait = default
    if value.isdigit():
        wait = float(value)
    elif value:
        try:
            wait = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            wait = default
    return min(max(wait, 0.0), MAX_RETRY_WAIT)


def check_upload(path: Path) -> None:
    """Raise :class:`UsageError` (cloud_upload_too_large) before sending a file Cloud refuses.

    Size is checked for every file; width, height and pixel count for PNG, JPEG and
    WebP when Pillow can read the header (videos are only size-checked).
    """
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise _too_large(path, f"{size / 1024 / 1024:.1f} MB, the limit is 50 MB")
    if path.suffix.lower() not in _MEASURED_SUFFIXES:
        return
    try:
        from PIL import Image
    except ImportError:  # Pillow is optional: the server checks again anyway
        return
    try:
        # Only the header is read. Pillow's bomb guard warns above ~89 MP and refuses
        # above ~179 MP: both are far past Cloud's 64 MP, so a refusal means too large.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        raise _too_large(path, "more than 64 megapixels") from None
    except (OSError, ValueError):
        return
    if max(width, height) > MAX_UPLOAD_EDGE:
        raise _too_large(path, f"{width}x{height} px, the limit is 16384 px per edge")
    if width * height > MAX_UPLOAD_PIXELS:
        raise _too_large(path, f"{width}x{height} px, the limit is 64 megapixels")


def _too_large(path: Path, why: str) -> UsageError:
    return UsageError(
        f"{path.name} is too large for Comfy Cloud: {why}.",
        code="cloud_upload_too_large",
        hint="Resize or re-encode the file, or render on the local ComfyUI.",
        details={"path": path.name},
    )


def _job_to_history(prompt_id: str, job: dict[str, Any]) -> HistoryEntry | None:
    """A finished ``/api/jobs/{id}`` body as a :class:`HistoryEntry`; None while in flight."""
    status = str(job.get("status") or "").lower()
    if not is_terminal_status(status):
        return None
    execution = job.get("execution_status")
    messages: list[tuple[str, dict[str, Any]]] = []
    if isinstance(execution, dict):
        messages = [
            (str(m[0]), m[1] if isinstance(m[1], dict) else {})
            for m in execution.get("messages") or ()
            if isinstance(m, list) and len(m) == 2
        ]
    kinds = {kind for kind, _ in messages}
    start, end = job.get("execution_start_time"), job.get("execution_end_time")
    if "execution_start" not in kinds and isinstance(start, int):
        messages.insert(0, ("execution_start", {"prompt_id": prompt_id, "timestamp": start}))
    failed = status in _FAILED
    if status == "cancelled" and "execution_interrupted" not in kinds:
        messages.append(("execution_interrupted", {"prompt_id": prompt_id}))
    elif failed and "execution_error" not in kinds:
        error = job.get("execution_error")
        payload = dict(error) if isinstance(error, dict) else {}
        if not payload:
            payload = {"exception_type": "CloudJobError", "exception_message": status}
        messages.append(("execution_error", {"prompt_id": prompt_id, **payload}))
    elif not failed and "execution_success" not in kinds and isinstance(end, int):
        messages.append(("execution_success", {"prompt_id": prompt_id, "timestamp": end}))
    messages = [(kind, _without_inputs(data)) for kind, data in messages]
    outputs = job.get("outputs")
    return HistoryEntry(
        prompt_id=prompt_id,
        status="success" if status in {"success", "completed"} else "error",
        completed=status in {"success", "completed"},
        outputs=parse_outputs(outputs) if isinstance(outputs, dict) else (),
        messages=tuple(messages),
        raw={k: v for k, v in job.items() if k not in {"workflow", "execution_error"}},
    )


def _without_inputs(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in _UNSAFE_ERROR_KEYS}


class CloudClient(ComfyClient):
    """Async client for Comfy Cloud's ComfyUI-compatible API (``/api/...`` + ``X-API-Key``).

    Account refusals on any call raise :class:`CloudAccountError` with code
    ``cloud_auth`` (401/403), ``cloud_credits`` (402), ``cloud_plan`` (429 plan refusal)
    or ``cloud_queue_full`` (429 backpressure, after the retries of :meth:`submit`).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_CLOUD_URL,
        *,
        api_key: str,
        transport: httpx.AsyncBaseTransport | None = None,
        storage_transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        if not api_key:
            raise UsageError(
                "No Comfy Cloud API key.",
                code="cloud_auth",
                hint="Create a key at platform.comfy.org and set it in the settings.",
            )
        super().__init__(
            base_url,
            transport=transport,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self._api_key = api_key
        self._http.headers[API_KEY_HEADER] = api_key
        self._storage_transport = storage_transport if storage_transport else transport
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"CloudClient({self.base_url!r})"

    def ws_query(self) -> dict[str, str]:
        """Extra WebSocket query (``token``) for ``EventStream(query=...)``.

        Cloud ignores ``clientId`` and sends every message of the account on each socket:
        filter events by ``prompt_id``.
        """
        return {"token": self._api_key}

    # ------------------------------------------------------------------ plumbing

    def _redact(self, text: str) -> str:
        return clean_text(redact(text, [self._api_key]))

    def _account_error(self, response: httpx.Response) -> CloudAccountError | None:
        """The account refusal a response carries, if any (429 backpressure included)."""
        status = response.status_code
        kind, message = _error_body(response)
        said = self._redact(message.strip()) or "(no message)"
        details: dict[str, Any] = {"status": status, "type": kind}
        # A 403 is an auth failure only with a challenge (OAuth scope); otherwise it is a
        # resource refusal ("job does not belong to user") and stays a server error.
        if status == 401 or (status == 403 and "www-authenticate" in response.headers):
            return CloudAccountError(
                f"Comfy Cloud refused the API key (HTTP {status}): {said}",
                code="cloud_auth",
                hint="Check the key at platform.comfy.org and the setting that holds it.",
                details=details,
            )
        if status == 402:
            return CloudAccountError(
                f"Comfy Cloud: not enough credits ({said}).",
                code="cloud_credits",
                hint="Add credits at platform.comfy.org, or render on the local ComfyUI.",
                details=details,
            )
        if status == 429 and kind in QUEUE_FULL:
            return CloudAccountError(
                f"Comfy Cloud's queue is full for this account ({kind}): {said}",
                code="cloud_queue_full",
                hint="Wait for running jobs to finish, then submit again.",
                details=details,
            )
        if status == 429:
            return CloudAccountError(
                f"Comfy Cloud refused the job for this plan ({kind or 'no type'}): {said}",
                code="cloud_plan",
                hint="API access needs an active Standard, Creator or Pro subscription.",
                details=details,
            )
        return None

    def _server_error(self, response: httpx.Response) -> ServerError:
        _, message = _error_body(response)
        said = self._redact(message.strip())
        return ServerError(
            f"Comfy Cloud answered HTTP {response.status_code} to "
            f"{response.request.method} {response.request.url.path}: "
            f"{one_line(said) or '(empty body)'}",
            details={
                "status": response.status_code,
                "path": response.request.url.path,
                "body": said,
            },
        )

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API call with the ``/api`` prefix and no status handling."""
        if not path.startswith("/api/"):
            path = "/api" + path
        return await super()._request(method, path, **kwargs)

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Every inherited call goes here: account refusals and 5xx raise, 400/404 return."""
        response = await self._send(method, path, **kwargs)
        if response.status_code in {401, 402, 403, 429}:
            await response.aread()
            error = self._account_error(response)
            if error is not None:
                raise error
        if response.status_code >= 500:
            raise self._server_error(response)
        return response

    def _json_of(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise self._server_error(response)
        try:
            return response.json()
        except ValueError:
            raise ServerError(
                f"{response.request.url.path} did not answer JSON: is this Comfy Cloud?",
                details={"status": response.status_code, "path": response.request.url.path},
            ) from None

    # ------------------------------------------------------------------ the API

    async def submit(
        self,
        graph: dict[str, Any],
        *,
        prompt_id: str,
        client_id: str,
        extra_data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``POST /api/prompt``; the answer's ``prompt_id`` is the one to follow.

        A full queue (429 QUEUE_LIMIT / FREE_TIER_UNAVAILABLE) is retried after
        ``Retry-After`` (at most :data:`SUBMIT_TRIES` tries, each wait capped at
        :data:`MAX_RETRY_WAIT` s), then raises ``cloud_queue_full``.
        """
        body = prompt_body(graph, prompt_id=prompt_id, client_id=client_id, extra_data=extra_data)
        for attempt in range(1, SUBMIT_TRIES + 1):
            response = await self._send("POST", "/api/prompt", json=body)
            error = self._account_error(response) if response.status_code >= 401 else None
            if error is None or error.code != "cloud_queue_full" or attempt == SUBMIT_TRIES:
                break
            wait = retry_after(response)
            logger.info("Comfy Cloud queue full; try %d again in %.1f s", attempt + 1, wait)
            await self._sleep(wait)
        if error is not None:
            error.details["tries"] = attempt
            raise error
        if response.status_code == 400:
            try:
                data = response.json()
            except ValueError:
                raise self._server_error(response) from None
            raise validation_error(data if isinstance(data, dict) else {})
        data = self._json_of(response)
        if not isinstance(data, dict) or not isinstance(data.get("prompt_id"), str):
            raise ServerError("POST /api/prompt answered without a prompt_id.")
        if data["prompt_id"] != prompt_id:
            logger.info("Comfy Cloud assigned prompt_id %s", data["prompt_id"])
        return data

    async def job_status(self, prompt_id: str) -> str:
        """The raw state from ``/api/job/{id}/status`` (see :func:`is_terminal_status`)."""
        response = await self._request("GET", f"/api/job/{prompt_id}/status")
        data = self._json_of(response)
        if not isinstance(data, dict) or not isinstance(data.get("status"), str):
            raise ServerError(f"/api/job/{prompt_id}/status answered without a status.")
        return str(data["status"])

    async def job_in_flight(self, prompt_id: str) -> bool | None:
        """The lightweight status poll: anything not known as terminal is still going."""
        return not is_terminal_status(await self.job_status(prompt_id))

    async def history(self, prompt_id: str) -> HistoryEntry | None:
        """The finished job from ``/api/jobs/{id}``, or None while in flight or unknown.

        Falls back to the deprecated ``/api/history_v2/{id}`` when the jobs route
        answers 404 (older deployments, or a job not yet indexed there).
        """
        response = await self._request("GET", f"/api/jobs/{prompt_id}")
        if response.status_code != 404:
            data = self._json_of(response)
            return _job_to_history(prompt_id, data) if isinstance(data, dict) else None
        response = await self._request("GET", f"/api/history_v2/{prompt_id}")
        if response.status_code == 404:
            return None
        data = self._json_of(response)
        entry = data.get(prompt_id) if isinstance(data, dict) else None
        if not isinstance(entry, dict):
            return None
        history = parse_history_entry(prompt_id, entry)
        return history if history.completed or history.status else None

    async def interrupt(self, prompt_id: str | None = None) -> None:
        """``POST /api/interrupt``: Cloud stops **every** running job of the account.

        The id is sent but Cloud's API takes none; to stop one job only, it must be
        the only one running (pending jobs are removed with :meth:`delete_pending`).
        """
        await super().interrupt(prompt_id)

    async def free_memory(self, *, unload_models: bool = True) -> None:
        """Comfy Cloud manages its GPUs itself: there is nothing to free."""
        raise UsageError(
            "Comfy Cloud frees its GPU memory itself; /free is for your own ComfyUI.",
            hint="Free the PC's memory with: comfycine free --target local",
            code="not_on_cloud",
        )

    async def object_info(self, node_class: str | None = None) -> dict[str, Any]:
        """``/api/object_info``; one class is picked from the full answer if need be.

        ``/api/object_info/{class}`` is not in Cloud's spec, so a 404 there falls back.
        """
        if node_class is not None:
            response = await self._request("GET", f"/api/object_info/{node_class}")
            if response.status_code != 404:
                data = self._json_of(response)
                return data if isinstance(data, dict) else {}
        data = self._json_of(await self._request("GET", "/api/object_info"))
        if not isinstance(data, dict):
            return {}
        if node_class is None:
            return data
        return {node_class: data[node_class]} if node_class in data else {}

    async def model_folders(self) -> list[str]:
        """Model folder names from ``/api/experiment/models`` (``[{name, folders}]``)."""
        response = await self._request("GET", "/api/experiment/models")
        if response.status_code == 404:
            return []
        data = self._json_of(response)
        items = data if isinstance(data, list) else []
        return [str(i["name"]) for i in items if isinstance(i, dict) and "name" in i]

    async def models_in(self, folder: str) -> list[str] | None:
        """Model files of one folder (``[{name, pathIndex}]``), None when it does not exist."""
        response = await self._request("GET", f"/api/experiment/models/{folder}")
        if response.status_code == 404:
            return None
        data = self._json_of(response)
        items = data if isinstance(data, list) else []
        return [str(i["name"]) for i in items if isinstance(i, dict) and "name" in i]

    async def upload_image(
        self, path: Path, *, subfolder: str = "", overwrite: bool = False
    ) -> dict[str, str]:
        """Check Cloud's upload limits locally, then ``POST /api/upload/image``."""
        check_upload(path)
        return await super().upload_image(path, subfolder=subfolder, overwrite=overwrite)

    @asynccontextmanager
    async def stream_output(
        self, ref: OutputRef, *, headers: dict[str, str] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """Stream one output: ``/api/view`` answers 302 to signed storage, fetched keyless.

        The storage request goes through a separate client with no key header and no
        cookies; following the redirect with the API client would send the key along.
        ``headers`` (a ``Range`` to resume) go to storage only: ``/api/view`` just
        redirects, and a direct 200 from it is the whole file, which the caller sees.
        """
        with map_http_errors(self.base_url):
            async with self._http.stream("GET", "/api/view", params=ref.query()) as response:
                if response.status_code == 200:
                    yield response
                    return
                await response.aread()
                if response.status_code in {401, 402, 403, 429}:
                    raise self._account_error(response) or self._server_error(response)
                location = response.headers.get("location")
                if not response.is_redirect or not location:
                    raise self._server_error(response)
                target = response.request.url.join(location)
        async with self._storage_stream(target, ref, headers or {}) as storage:
            yield storage

    @asynccontextmanager
    async def _storage_stream(
        self, url: httpx.URL, ref: OutputRef, headers: dict[str, str]
    ) -> AsyncIterator[httpx.Response]:
        async with httpx.AsyncClient(
            transport=self._storage_transport,
            timeout=self._timeout,
            follow_redirects=True,
            headers={"User-Agent": "comfycine"},
        ) as storage:
            # Only a Range goes along: nothing of the API client's headers.
            extra = {k: v for k, v in headers.items() if k.lower() == "range"}
            request = storage.build_request("GET", url, headers=extra)
            # The key must never reach storage: not as a header, not echoed into the URL.
            leaked = API_KEY_HEADER.lower() in {k.lower() for k in request.headers} or (
                self._api_key in str(request.url)
            )
            if leaked or "cookie" in request.headers:
                raise DownloadFailed(
                    f"Refused to fetch {ref.filename}: the storage request would carry the key.",
                    details={"filename": ref.filename},
                )
            with map_http_errors(f"{url.scheme}://{url.host}"):
                response = await storage.send(request, stream=True)
                try:
                    if response.status_code >= 400:
                        await response.aread()
                        raise DownloadFailed(
                            f"Storage answered HTTP {response.status_code} for {ref.filename}.",
                            details={"filename": ref.filename, "status": response.status_code},
                        )
                    yield response
                finally:
                    await response.aclose()
